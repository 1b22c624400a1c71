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
