//! A local input-token estimate for `count_tokens` when Copilot cannot count: cheap,
//! table-free (a real BPE vocabulary would add megabytes to the wasm), and on the high
//! side so agents compact a little early rather than overflow.

use serde_json::Value;

/// Anthropic's tool-use system prompt, added whenever tools are offered.
const TOOLS_OVERHEAD: u64 = 300;
const PER_MESSAGE: u64 = 4;
/// Claude bills an image by area, up to about 1600 tokens at the largest size.
const PER_IMAGE: u64 = 1600;

/// Estimated input tokens of a Messages request body.
pub fn messages_input_tokens(body: &Value) -> u64 {
    let mut total = 0u64;
    if let Some(system) = body.get("system") {
        total += text_tokens_in(system);
    }
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for m in messages {
            total += PER_MESSAGE + m.get("content").map_or(0, text_tokens_in);
        }
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        if !tools.is_empty() {
            total += TOOLS_OVERHEAD;
        }
        for t in tools {
            // Names, descriptions and schemas all reach the prompt, as JSON.
            total += tokens_of_text(&t.to_string());
        }
    }
    total.max(1)
}

/// Tokens of the text inside content: strings, text/thinking blocks, tool inputs and
/// results; images at a flat rate. Block framing JSON is not counted.
fn text_tokens_in(v: &Value) -> u64 {
    match v {
        Value::String(s) => tokens_of_text(s),
        Value::Array(items) => items.iter().map(text_tokens_in).sum(),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("image") | Some("document") => PER_IMAGE,
            Some("tool_use") => {
                tokens_of_text(o.get("name").and_then(Value::as_str).unwrap_or(""))
                    + o.get("input").map_or(0, |i| tokens_of_text(&i.to_string()))
            }
            Some("redacted_thinking") => 0,
            _ => ["text", "thinking", "content"]
                .iter()
                .filter_map(|k| o.get(*k))
                .map(text_tokens_in)
                .sum(),
        },
        _ => 0,
    }
}

/// About four ASCII characters per token, one token per other character (CJK text and
/// symbols tokenise far denser than English).
pub fn tokens_of_text(s: &str) -> u64 {
    let mut ascii = 0u64;
    let mut other = 0u64;
    for c in s.chars() {
        if c.is_ascii() {
            ascii += 1;
        } else {
            other += 1;
        }
    }
    ascii.div_ceil(4) + other
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_grow_with_content() {
        let small = json!({"messages": [{"role":"user","content":"hello"}]});
        let n = messages_input_tokens(&small);
        assert_eq!(n, PER_MESSAGE + 2);
        let with_system =
            json!({"system": "x".repeat(400), "messages": [{"role":"user","content":"hello"}]});
        assert_eq!(messages_input_tokens(&with_system), n + 100);
        let cjk = json!({"messages": [{"role":"user","content":"你好世界"}]});
        assert_eq!(messages_input_tokens(&cjk), PER_MESSAGE + 4);
        let image = json!({"messages": [{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"A".repeat(100000)}}]}]});
        assert_eq!(messages_input_tokens(&image), PER_MESSAGE + PER_IMAGE);
        assert_eq!(messages_input_tokens(&json!({})), 1);
    }

    #[test]
    fn claude_code_request_estimate_is_plausible() {
        let f: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/claude-code.messages.request.json"
        ))
        .unwrap();
        let n = messages_input_tokens(&f["body"]);
        // ~123 KB of mostly English JSON and prose: a real tokenizer says roughly 25-35k.
        assert!((20_000..45_000).contains(&n), "{n}");
    }
}
