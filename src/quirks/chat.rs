//! Fixes for bodies sent to Copilot's `/chat/completions`.

use serde_json::{Map, Value};

use crate::models::ModelInfo;

pub fn apply(body: &mut Map<String, Value>, model: &ModelInfo) {
    body.remove("service_tier");
    if uses_max_completion_tokens(&model.id) {
        if let Some(v) = body.remove("max_tokens") {
            body.entry("max_completion_tokens").or_insert(v);
        }
    }
    // Effort on a model that does not reason is a 400; the catalog lists the efforts.
    if let Some(effort) = body.get("reasoning_effort").and_then(Value::as_str) {
        if !model.reasoning_effort.iter().any(|e| e == effort) {
            body.remove("reasoning_effort");
        }
    }
}

/// Claude models on Copilot's chat API answer in several choices (text in one, tool calls
/// in another); a non-stream completion is folded into one choice.
pub fn merge_choices(completion: &mut Value) {
    let Some(choices) = completion.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    // Only well-formed choices are merged; anything else is passed on as it came.
    let mergeable = |c: &Value| {
        c.is_object()
            && c.get("message")
                .is_none_or(|m| m.is_object() || m.is_null())
    };
    if choices.len() < 2 || !choices.iter().all(mergeable) {
        return;
    }
    let mut merged = choices.remove(0);
    merged["index"] = Value::from(0);
    for c in choices.drain(..) {
        let msg = &c["message"];
        if let Some(text) = msg
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let existing = merged["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string();
            merged["message"]["content"] = Value::String(existing + text);
        }
        if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
            match merged["message"]
                .get_mut("tool_calls")
                .and_then(Value::as_array_mut)
            {
                Some(existing) => existing.extend(calls.iter().cloned()),
                None => merged["message"]["tool_calls"] = Value::Array(calls.clone()),
            }
        }
        if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
            if f == "tool_calls" || merged["finish_reason"].is_null() {
                merged["finish_reason"] = Value::String(f.to_string());
            }
        }
    }
    choices.push(merged);
}

/// OpenAI's reasoning models reject `max_tokens` on chat ("Use 'max_completion_tokens'").
fn uses_max_completion_tokens(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("gpt-5") || m.starts_with("o1") || m.starts_with("o3") || m.starts_with("o4")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(id: &str, efforts: &[&str]) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            reasoning_effort: efforts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn renames_max_tokens_for_reasoning_models() {
        let mut b = json!({"max_tokens": 100, "service_tier": "auto"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model("gpt-5-mini", &["low"]));
        assert_eq!(b.get("max_tokens"), None);
        assert_eq!(b["max_completion_tokens"], 100);
        assert!(!b.contains_key("service_tier"));
        let mut b = json!({"max_tokens": 100}).as_object().unwrap().clone();
        apply(&mut b, &model("gpt-4.1", &[]));
        assert_eq!(b["max_tokens"], 100);
    }

    #[test]
    fn claude_choices_are_merged() {
        let mut c = json!({"choices": [
            {"index":0,"message":{"role":"assistant","content":"I'll use the tool."},"finish_reason":"stop"},
            {"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}
        ]});
        merge_choices(&mut c);
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
        assert_eq!(c["choices"][0]["message"]["content"], "I'll use the tool.");
        assert_eq!(c["choices"][0]["message"]["tool_calls"][0]["id"], "t");
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn odd_choices_are_left_alone() {
        // Indexing into a non-object choice or message panicked (the Worker aborts).
        for choices in [
            json!([[1], {"message": {"content": "a"}}]),
            json!([{"message": "a"}, {"message": {"content": "b"}}]),
            json!([{"message": {"content": "a"}}, 7]),
        ] {
            let mut c = json!({ "choices": choices.clone() });
            merge_choices(&mut c);
            assert_eq!(c["choices"], choices);
        }
    }

    #[test]
    fn drops_unsupported_effort() {
        let mut b = json!({"reasoning_effort": "high"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model("gemini-2.5-pro", &[]));
        assert!(!b.contains_key("reasoning_effort"));
        let mut b = json!({"reasoning_effort": "low"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model("gpt-5-mini", &["low", "medium"]));
        assert_eq!(b["reasoning_effort"], "low");
    }
}
