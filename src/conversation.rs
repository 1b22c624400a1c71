//! Which conversation a request belongs to. With several GitHub accounts, a conversation
//! that had to move to another account stays there: thinking signatures and prompt
//! caches are bound to the account that made them.

use serde_json::{Map, Value};

use crate::auth::sha256_hex;
use crate::protocol::Api;

/// A stable, opaque key (32 hex digits) for the request's conversation, when one can be
/// told: the client's own session id (Claude Code's `metadata.user_id`, Codex's
/// `prompt_cache_key`), else the conversation's opening (system prompt and first user
/// turn), which every later turn repeats.
pub fn key(api: Api, body: &Map<String, Value>) -> Option<String> {
    let explicit = match api {
        Api::Messages => body
            .get("metadata")
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
            .map(|u| match serde_json::from_str::<Value>(u) {
                // Claude Code ≥ 2.1 sends a JSON string with a session id inside.
                Ok(v) => v
                    .get("session_id")
                    .and_then(Value::as_str)
                    .map_or_else(|| u.to_string(), str::to_string),
                Err(_) => u.to_string(),
            }),
        Api::Responses | Api::ChatCompletions => body
            .get("prompt_cache_key")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if let Some(id) = explicit.filter(|s| !s.is_empty()) {
        return Some(digest(&format!("session:{id}")));
    }
    let opening = opening(api, body)?;
    Some(digest(&format!("opening:{opening}")))
}

fn digest(s: &str) -> String {
    sha256_hex(s)[..32].to_string()
}

/// System prompt and first user turn, as JSON text, capped so hashing stays cheap.
fn opening(api: Api, body: &Map<String, Value>) -> Option<String> {
    const CAP: usize = 8192;
    let (system, first_user) = match api {
        Api::Messages => (
            body.get("system"),
            body.get("messages")?
                .as_array()?
                .iter()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user")),
        ),
        Api::ChatCompletions => {
            let msgs = body.get("messages")?.as_array()?;
            let role = |m: &&Value, r: &str| m.get("role").and_then(Value::as_str) == Some(r);
            (
                msgs.iter()
                    .find(|m| role(m, "system") || role(m, "developer")),
                msgs.iter().find(|m| role(m, "user")),
            )
        }
        Api::Responses => match body.get("input")? {
            Value::String(_) => (body.get("instructions"), body.get("input")),
            Value::Array(items) => (
                body.get("instructions"),
                items
                    .iter()
                    .find(|i| i.get("role").and_then(Value::as_str) == Some("user")),
            ),
            _ => return None,
        },
    };
    let first_user = first_user?;
    let mut s = system.map(Value::to_string).unwrap_or_default();
    s.push('\u{1}');
    s.push_str(&first_user.to_string());
    let mut end = s.len().min(CAP);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claude_code_session_is_the_key() {
        let f: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/claude-code.messages.request.json"
        ))
        .unwrap();
        let next: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/claude-code.messages.tool_result.request.json"
        ))
        .unwrap();
        let a = key(Api::Messages, f["body"].as_object().unwrap()).unwrap();
        let b = key(Api::Messages, next["body"].as_object().unwrap()).unwrap();
        assert_eq!(a, b, "two turns of one Claude Code session");
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn codex_prompt_cache_key_is_the_key() {
        let f: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/codex.responses.request.json"
        ))
        .unwrap();
        let next: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/codex.responses.tool_output.request.json"
        ))
        .unwrap();
        assert_eq!(
            key(Api::Responses, f["body"].as_object().unwrap()),
            key(Api::Responses, next["body"].as_object().unwrap())
        );
    }

    #[test]
    fn opening_identifies_conversations_without_ids() {
        let turn1 = obj(
            json!({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}),
        );
        let turn2 = obj(
            json!({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"},
            {"role":"assistant","content":"hello"},{"role":"user","content":"more"}]}),
        );
        let other = obj(
            json!({"messages":[{"role":"system","content":"s"},{"role":"user","content":"bye"}]}),
        );
        let k = |b| key(Api::ChatCompletions, b);
        assert_eq!(k(&turn1), k(&turn2));
        assert_ne!(k(&turn1), k(&other));
        assert_eq!(key(Api::Responses, &obj(json!({"input": []}))), None);
        assert!(key(Api::Responses, &obj(json!({"input": "hi"}))).is_some());
    }
}
