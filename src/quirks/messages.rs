//! Fixes for bodies sent to Copilot's Anthropic `/v1/messages`, whatever API the client
//! spoke: each one answers a way real traffic breaks there.

use serde_json::{Map, Value};

use crate::protocol::api::DEFAULT_MAX_TOKENS;
use crate::translate::{is_openai_encrypted, THINKING_PLACEHOLDER};

const INTERLEAVED: &str = "interleaved-thinking-2025-05-14";
const CONTEXT_MANAGEMENT: &str = "context-management-2025-06-27";

/// Applies every body fix; returns the `anthropic-beta` header to send.
pub fn apply(
    body: &mut Map<String, Value>,
    model_max_output: Option<u64>,
    client_beta: Option<&str>,
) -> Option<String> {
    clean(body);
    fit_max_tokens(body, model_max_output);
    beta_header(body, client_beta)
}

/// The fixes `count_tokens` needs too (it takes no `max_tokens`); returns the beta header.
pub fn apply_for_count(body: &mut Map<String, Value>, client_beta: Option<&str>) -> Option<String> {
    clean(body);
    body.remove("max_tokens");
    body.remove("stream");
    beta_header(body, client_beta)
}

fn clean(body: &mut Map<String, Value>) {
    strip_billing_header(body);
    strip_cache_control_scope(body);
    fix_tools(body);
    body.remove("service_tier");
    drop_invalid_thinking(body);
}

/// Claude Code puts `x-anthropic-billing-header: cc_version=…; cch=<hash>;` in the system
/// prompt. The hash changes every turn, so the prompt prefix never repeats and prompt
/// caching never hits. Only `system` is touched: message text is the user's.
fn strip_billing_header(body: &mut Map<String, Value>) {
    let Some(system) = body.get_mut("system") else {
        return;
    };
    let empty = match system {
        Value::String(s) => {
            *s = without_billing(s);
            s.is_empty()
        }
        Value::Array(blocks) => {
            for b in blocks.iter_mut() {
                if let Some(Value::String(t)) = b.get_mut("text") {
                    if t.contains("x-anthropic-billing-header") || t.contains("cch=") {
                        *t = without_billing(t);
                    }
                }
            }
            blocks.retain(|b| {
                b.get("type").and_then(Value::as_str) != Some("text")
                    || b.get("text")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.is_empty())
            });
            blocks.is_empty()
        }
        _ => false,
    };
    if empty {
        body.remove("system");
    }
}

fn without_billing(text: &str) -> String {
    if !text.contains("x-anthropic-billing-header") && !text.contains("cch=") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        let kept = match line.find("x-anthropic-billing-header") {
            Some(p) => &line[..p],
            None => line,
        };
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&strip_cch(kept));
    }
    out.trim().to_string()
}

/// Removes `cch=<5+ hex digits>` and a following `;`.
fn strip_cch(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find("cch=") {
        let after = &rest[p + 4..];
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex >= 5 {
            out.push_str(&rest[..p]);
            let mut tail = &after[hex..];
            tail = tail.strip_prefix(';').unwrap_or(tail);
            rest = tail;
        } else {
            out.push_str(&rest[..p + 4]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `cache_control.scope` (Claude Code's prompt-caching-scope beta) is a 400 on Copilot.
fn strip_cache_control_scope(body: &mut Map<String, Value>) {
    fn visit(v: &mut Value) {
        match v {
            Value::Array(items) => items.iter_mut().for_each(visit),
            Value::Object(o) => {
                if let Some(Value::Object(cc)) = o.get_mut("cache_control") {
                    cc.remove("scope");
                }
                if let Some(c) = o.get_mut("content") {
                    if c.is_array() {
                        visit(c);
                    }
                }
            }
            _ => {}
        }
    }
    for key in ["system", "tools"] {
        if let Some(v) = body.get_mut(key) {
            visit(v);
        }
    }
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for m in messages {
            if let Some(c) = m.get_mut("content") {
                visit(c);
            }
        }
    }
}

/// `eager_input_streaming` on a tool is a 400; Anthropic's hosted web search is refused
/// ("The use of the web search tool is not supported"), so it is dropped rather than
/// failing the whole turn.
fn fix_tools(body: &mut Map<String, Value>) {
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return;
    };
    tools.retain(|t| {
        !t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty == "web_search" || ty.starts_with("web_search_"))
    });
    for t in tools.iter_mut() {
        if let Some(o) = t.as_object_mut() {
            o.remove("eager_input_streaming");
        }
    }
    if tools.is_empty() {
        body.remove("tools");
        if body
            .get("tool_choice")
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t != "none")
        {
            body.remove("tool_choice");
        }
    }
}

/// Copilot rejects thinking blocks that are empty or the placeholder other paths use when
/// a model gave no readable summary, and a GPT reasoning payload is not a Claude signature.
fn drop_invalid_thinking(body: &mut Map<String, Value>) {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return;
    };
    for m in messages.iter_mut() {
        if m.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(Value::Array(blocks)) = m.get_mut("content") else {
            continue;
        };
        blocks.retain(|b| {
            if b.get("type").and_then(Value::as_str) != Some("thinking") {
                return true;
            }
            let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
            let foreign = b
                .get("signature")
                .and_then(Value::as_str)
                .is_some_and(is_openai_encrypted);
            !text.trim().is_empty() && text != THINKING_PLACEHOLDER && !foreign
        });
        if blocks.is_empty() {
            blocks.push(serde_json::json!({"type": "text", "text": "(no content)"}));
        }
    }
}

/// `max_tokens` is required; a missing one comes from the model's limit, and one above
/// the limit is lowered to it (Claude Code asks for 32000 whatever the model). A thinking
/// budget must stay below `max_tokens`.
fn fit_max_tokens(body: &mut Map<String, Value>, model_max_output: Option<u64>) {
    let requested = body.get("max_tokens").and_then(Value::as_u64);
    let max = match (requested, model_max_output) {
        (Some(r), Some(limit)) => r.min(limit),
        (Some(r), None) => r,
        (None, Some(limit)) => limit,
        (None, None) => DEFAULT_MAX_TOKENS,
    };
    body.insert("max_tokens".into(), Value::from(max));
    if let Some(Value::Object(thinking)) = body.get_mut("thinking") {
        if let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64) {
            if budget >= max {
                thinking.insert(
                    "budget_tokens".into(),
                    Value::from(max.saturating_sub(1).max(1024)),
                );
            }
        }
        let budget = thinking.get("budget_tokens").and_then(Value::as_u64);
        if budget.is_some_and(|b| b >= max) {
            // No valid budget fits under this model's limit: answer without thinking.
            body.remove("thinking");
        }
    }
}

/// The beta values Copilot accepts, plus the ones the body needs: interleaved thinking
/// with a budget (not with adaptive thinking), context management when the body uses it.
fn beta_header(body: &Map<String, Value>, client_beta: Option<&str>) -> Option<String> {
    let mut betas: Vec<String> = filter_anthropic_beta(client_beta)
        .map(|b| b.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let thinking_type = body
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str);
    let has_budget = body
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .is_some();
    if thinking_type == Some("adaptive") {
        betas.retain(|b| b != INTERLEAVED);
    } else if thinking_type == Some("enabled")
        && has_budget
        && !betas.iter().any(|b| b == INTERLEAVED)
    {
        betas.push(INTERLEAVED.to_string());
    }
    if body.contains_key("context_management") && !betas.iter().any(|b| b == CONTEXT_MANAGEMENT) {
        betas.push(CONTEXT_MANAGEMENT.to_string());
    }
    (!betas.is_empty()).then(|| betas.join(","))
}

/// The `anthropic-beta` values Copilot's `/v1/messages` accepts; any other value is a 400
/// there (Claude Code sends several it does not know).
pub const ACCEPTED_BETAS: [&str; 3] = [
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "advanced-tool-use-2025-11-20",
];

/// The client's `anthropic-beta` header reduced to accepted, de-duplicated values.
pub fn filter_anthropic_beta(raw: Option<&str>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for b in raw.unwrap_or("").split(',').map(str::trim) {
        if ACCEPTED_BETAS.contains(&b) && !kept.contains(&b) {
            kept.push(b);
        }
    }
    (!kept.is_empty()).then(|| kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn claude_code_body() -> Map<String, Value> {
        let f: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/claude-code.messages.request.json"
        ))
        .unwrap();
        obj(f["body"].clone())
    }

    #[test]
    fn claude_code_request_is_made_acceptable() {
        let mut body = claude_code_body();
        // Claude Code 2.1.332's betas: adaptive thinking takes no interleaved-thinking beta.
        let beta = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24";
        let sent = apply(&mut body, Some(16000), Some(beta));
        assert_eq!(
            sent.as_deref(),
            Some("context-management-2025-06-27,advanced-tool-use-2025-11-20")
        );
        let system = serde_json::to_string(&body["system"]).unwrap();
        assert!(!system.contains("x-anthropic-billing-header"));
        assert!(
            system.starts_with(r#"[{"type":"text","text":"You are a Claude agent"#),
            "{}",
            &system[..80]
        );
        assert_eq!(body["max_tokens"], 16000);
        // Adaptive thinking and its `display` pass as sent (Copilot takes both).
        assert_eq!(
            body["thinking"],
            serde_json::json!({"type": "adaptive", "display": "omitted"})
        );
        // Deferred tools (tool search) pass with their flag; the system turn stays in place.
        let tools = body["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 12);
        assert!(tools
            .iter()
            .any(|t| t["name"] == "DeferredToolPlaceholder" && t["defer_loading"] == true));
        assert_eq!(body["messages"][1]["role"], "system");
        assert!(body.contains_key("context_management"));
        assert_eq!(body["output_config"]["effort"], "high");
    }

    #[test]
    fn billing_line_variants() {
        assert_eq!(
            without_billing("x-anthropic-billing-header: cc_version=1; cch=abcdef12;"),
            ""
        );
        assert_eq!(
            without_billing("keep\nx-anthropic-billing-header: a=b\nthis"),
            "keep\n\nthis"
        );
        assert_eq!(without_billing("pre cch=0a1b2c3d; post"), "pre  post");
        assert_eq!(without_billing("cch=zz stays"), "cch=zz stays");
        let mut body =
            obj(json!({"system": "x-anthropic-billing-header: cch=12345;", "messages": []}));
        strip_billing_header(&mut body);
        assert!(!body.contains_key("system"));
        // Message text is the user's and stays as sent.
        let mut body =
            obj(json!({"messages": [{"role":"user","content":"x-anthropic-billing-header"}]}));
        apply(&mut body, None, None);
        assert_eq!(body["messages"][0]["content"], "x-anthropic-billing-header");
    }

    #[test]
    fn removes_fields_copilot_refuses() {
        let mut body = obj(json!({
            "service_tier": "auto",
            "system": [{"type":"text","text":"s","cache_control":{"type":"ephemeral","scope":"global"}}],
            "messages": [{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral","scope":"x","ttl":"1h"}},
                {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r","cache_control":{"type":"ephemeral","scope":"y"}}]}]}],
            "tools": [{"name":"a","input_schema":{},"eager_input_streaming":true},{"type":"web_search_20250305","name":"web_search"}],
            "max_tokens": 100
        }));
        apply(&mut body, None, None);
        assert!(!body.contains_key("service_tier"));
        assert_eq!(
            body["system"][0]["cache_control"],
            json!({"type":"ephemeral"})
        );
        assert_eq!(
            body["messages"][0]["content"][0]["cache_control"],
            json!({"type":"ephemeral","ttl":"1h"})
        );
        assert_eq!(
            body["messages"][0]["content"][1]["content"][0]["cache_control"],
            json!({"type":"ephemeral"})
        );
        assert_eq!(body["tools"], json!([{"name":"a","input_schema":{}}]));
    }

    #[test]
    fn drops_placeholder_empty_and_foreign_thinking() {
        let mut body = obj(json!({"messages": [
            {"role":"user","content":"q"},
            {"role":"assistant","content":[
                {"type":"thinking","thinking":"","signature":"s1"},
                {"type":"thinking","thinking":"Thinking...","signature":"s2"},
                {"type":"thinking","thinking":"real","signature":"gAAAAxyz"},
                {"type":"thinking","thinking":"kept","signature":"ErcBCkgIBx"},
                {"type":"redacted_thinking","data":"d"},
                {"type":"text","text":"a"}]},
            {"role":"assistant","content":[{"type":"thinking","thinking":"","signature":"s"}]}
        ]}));
        apply(&mut body, None, None);
        let blocks = body["messages"][1]["content"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["thinking"], "kept");
        assert_eq!(blocks[1]["type"], "redacted_thinking");
        assert_eq!(
            body["messages"][2]["content"],
            json!([{"type":"text","text":"(no content)"}])
        );
    }

    #[test]
    fn max_tokens_filled_and_capped() {
        let mut b = obj(json!({"messages": []}));
        fit_max_tokens(&mut b, Some(32000));
        assert_eq!(b["max_tokens"], 32000);
        let mut b = obj(json!({"messages": []}));
        fit_max_tokens(&mut b, None);
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        let mut b =
            obj(json!({"max_tokens": 500, "thinking": {"type":"enabled","budget_tokens":4000}}));
        fit_max_tokens(&mut b, Some(16000));
        assert_eq!(b["max_tokens"], 500);
        assert!(
            !b.contains_key("thinking"),
            "no budget >= 1024 fits under 500"
        );
    }

    #[test]
    fn beta_follows_thinking_mode() {
        let b = obj(json!({"thinking": {"type":"adaptive"}}));
        assert_eq!(
            beta_header(&b, Some("interleaved-thinking-2025-05-14")),
            None
        );
        let b = obj(json!({"thinking": {"type":"enabled","budget_tokens":2000}}));
        assert_eq!(beta_header(&b, None).as_deref(), Some(INTERLEAVED));
        let b = obj(json!({"context_management": {"edits": []}}));
        assert_eq!(
            beta_header(&b, Some("context-1m-2025-08-07")).as_deref(),
            Some(CONTEXT_MANAGEMENT)
        );
    }

    #[test]
    fn beta_filter_keeps_only_accepted_values() {
        let claude_code = "claude-code-20250219,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,\
            context-management-2025-06-27,prompt-caching-scope-2026-01-05,interleaved-thinking-2025-05-14";
        assert_eq!(
            filter_anthropic_beta(Some(claude_code)).as_deref(),
            Some("interleaved-thinking-2025-05-14,context-management-2025-06-27")
        );
        assert_eq!(filter_anthropic_beta(Some("context-1m-2025-08-07")), None);
        assert_eq!(filter_anthropic_beta(None), None);
    }
}
