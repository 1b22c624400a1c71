//! The request sent to Copilot's `/responses`, whichever client API it came from: the body's
//! frame, the input items and the settings every pair writes the same way.

use serde_json::{json, Map, Value};

/// A body for `model` with `instructions` (when there are any) and `input`.
pub fn body(model: &str, instructions: Option<String>, input: Vec<Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(model.into()));
    if let Some(i) = instructions.filter(|i| !i.is_empty()) {
        out.insert("instructions".into(), Value::String(i));
    }
    out.insert("input".into(), Value::Array(input));
    out
}

/// The last keys: Copilot keeps no state, so nothing may refer back to a stored response
/// (reasoning survives the next turn only as encrypted content); the gateway always streams.
pub fn finish(mut out: Map<String, Value>) -> Map<String, Value> {
    out.insert("store".into(), Value::Bool(false));
    out.insert("stream".into(), Value::Bool(true));
    out
}

pub fn message(role: &str, content: Value) -> Value {
    json!({"type": "message", "role": role, "content": content})
}

pub fn output_text(text: String) -> Value {
    json!({"type": "output_text", "text": text})
}

pub fn function_call(call_id: String, name: String, arguments: String) -> Value {
    json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments})
}

/// A `function_call_output` item; `failed`: the call reported an error.
pub fn call_output(call_id: String, output: Value, failed: bool) -> Value {
    let mut item = json!({"type": "function_call_output", "call_id": call_id, "output": output});
    if failed {
        item["status"] = json!("incomplete");
    }
    item
}

/// A reasoning item replayed from its encrypted payload. `n` numbers it by its place in the
/// history, so its id is the same on every replay.
pub fn reasoning(n: usize, text: Option<String>, encrypted: String) -> Value {
    let summary = match text {
        Some(t) => json!([{"type": "summary_text", "text": t}]),
        None => json!([]),
    };
    json!({"type": "reasoning", "id": format!("rs_{n}"), "summary": summary, "encrypted_content": encrypted})
}

/// `max_output_tokens`: at least `floor` (what the pair's clients need to get an answer), at
/// most the model's `limit`, which Copilot enforces.
pub fn insert_max_output_tokens(
    out: &mut Map<String, Value>,
    requested: u64,
    floor: u64,
    limit: Option<u64>,
) {
    let limit = limit.unwrap_or(u64::MAX);
    let value = requested.max(floor.min(limit)).min(limit);
    out.insert("max_output_tokens".into(), json!(value));
}

/// `reasoning` with its effort and, when `summary`, readable summaries. Unless reasoning is
/// off (`none`), its encrypted content comes back so the next turn can replay it.
pub fn insert_reasoning(out: &mut Map<String, Value>, effort: Option<&str>, summary: bool) {
    let mut r = Map::new();
    if let Some(e) = effort {
        r.insert("effort".into(), Value::String(e.into()));
    }
    if summary {
        r.insert("summary".into(), json!("auto"));
    }
    out.insert("reasoning".into(), Value::Object(r));
    if effort != Some("none") {
        out.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_output_tokens_is_floored_and_capped_by_the_model() {
        let max = |requested, floor, limit| {
            let mut out = Map::new();
            insert_max_output_tokens(&mut out, requested, floor, limit);
            out["max_output_tokens"].as_u64().unwrap()
        };
        assert_eq!(max(1, 16, Some(128)), 16);
        assert_eq!(max(500, 16, Some(128)), 128);
        assert_eq!(max(1, 12800, Some(8000)), 8000);
        assert_eq!(max(1, 12800, None), 12800);
    }

    #[test]
    fn reasoning_off_asks_for_no_encrypted_content() {
        let mut out = Map::new();
        insert_reasoning(&mut out, Some("none"), false);
        assert_eq!(out["reasoning"], json!({"effort": "none"}));
        assert!(out.get("include").is_none());
        insert_reasoning(&mut out, Some("low"), false);
        assert_eq!(out["include"], json!(["reasoning.encrypted_content"]));
    }
}
