//! Fixes for bodies sent to Copilot's `/responses`.

use serde_json::{Map, Value};

use crate::models::ModelInfo;

/// Copilot's `/responses` rejects small output limits that Claude Code uses for side
/// requests (e.g. 512 for titles).
pub const MIN_OUTPUT_TOKENS_FROM_MESSAGES: u64 = 12_800;

/// Copilot's `/responses` refuses `max_output_tokens` below this (OpenAI's minimum too).
pub const MIN_OUTPUT_TOKENS: u64 = 16;

pub fn apply(body: &mut Map<String, Value>, model: &ModelInfo) {
    body.remove("service_tier");
    describe_namespaces(body);
    strip_codex_metadata(body);
    raise_output_limit(body);
    // Effort on a model that does not reason is a 400; the catalog lists the efforts.
    let effort = body
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str);
    if let Some(effort) = effort {
        if !model.reasoning_effort.is_empty() && !model.reasoning_effort.iter().any(|e| e == effort)
        {
            if let Some(fallback) = nearest_effort(effort, &model.reasoning_effort) {
                body["reasoning"]["effort"] = Value::String(fallback);
            }
        }
    }
}

/// Copilot refuses a namespace tool whose `description` is empty ("Expected a string with
/// minimum length 1"), which Codex sends for its default `functions` namespace (in
/// `additional_tools` input items) and for MCP servers without instructions.
fn describe_namespaces(body: &mut Map<String, Value>) {
    let fix = |tools: &mut Value| {
        let Some(tools) = tools.as_array_mut() else {
            return;
        };
        for tool in tools {
            if tool.get("type").and_then(Value::as_str) != Some("namespace") {
                continue;
            }
            let described = tool
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            if described {
                continue;
            }
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            let description = format!("Tools of the {name} namespace.");
            tool["description"] = Value::String(description);
        }
    };
    if let Some(tools) = body.get_mut("tools") {
        fix(tools);
    }
    if let Some(Value::Array(items)) = body.get_mut("input") {
        for item in items {
            if let Some(tools) = item.get_mut("tools") {
                fix(tools);
            }
        }
    }
}

/// Codex keeps `internal_chat_message_metadata_passthrough` on its items when it takes
/// the provider for OpenAI (a provider named "OpenAI", the one that gets remote
/// compaction); Copilot refuses it as an unknown parameter.
fn strip_codex_metadata(body: &mut Map<String, Value>) {
    if let Some(Value::Array(items)) = body.get_mut("input") {
        for item in items {
            if let Some(o) = item.as_object_mut() {
                o.remove("internal_chat_message_metadata_passthrough");
            }
        }
    }
}

/// Claude Code checks a model with a one-token request (`max_tokens: 1`) when the user
/// picks it; below Copilot's minimum the limit is raised to it, so the check gets the
/// first words of an answer instead of a 400.
fn raise_output_limit(body: &mut Map<String, Value>) {
    if let Some(Value::Number(n)) = body.get("max_output_tokens") {
        if n.as_f64().is_some_and(|n| n < MIN_OUTPUT_TOKENS as f64) {
            body.insert("max_output_tokens".into(), Value::from(MIN_OUTPUT_TOKENS));
        }
    }
}

/// The supported effort closest to the requested one, preferring the next lower.
fn nearest_effort(wanted: &str, supported: &[String]) -> Option<String> {
    const ORDER: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];
    let rank = |e: &str| ORDER.iter().position(|o| *o == e);
    let w = rank(wanted)?;
    let mut best: Option<(usize, &String)> = None;
    for s in supported {
        let Some(r) = rank(s) else { continue };
        // Lower efforts first (distance w-r), then higher ones after every lower one.
        let score = if r <= w { w - r } else { ORDER.len() + (r - w) };
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, s));
        }
    }
    best.map(|(_, s)| s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn effort_falls_back_to_a_supported_one() {
        let model = ModelInfo {
            reasoning_effort: vec!["low".into(), "medium".into(), "high".into()],
            ..Default::default()
        };
        let mut b = json!({"reasoning": {"effort": "max"}, "service_tier": "flex"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "high");
        assert!(!b.contains_key("service_tier"));
        let mut b = json!({"reasoning": {"effort": "minimal"}})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "low");
        let mut b = json!({"reasoning": {"effort": "medium"}})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "medium");
    }

    #[test]
    fn empty_namespace_descriptions_are_filled() {
        let ns = |d: Value| json!({"type": "namespace", "name": "functions", "description": d, "tools": []});
        let mut b = json!({
            "tools": [ns(json!("")), ns(json!("Sub-agents.")), {"type": "function", "name": "f", "description": ""}],
            "input": [
                {"type": "additional_tools", "role": "developer", "tools": [ns(json!(" ")), {"type": "namespace", "name": "mcp__x", "tools": []}]},
                {"type": "message", "role": "user", "content": "hi"}
            ]
        })
        .as_object()
        .unwrap()
        .clone();
        apply(&mut b, &ModelInfo::default());
        assert_eq!(
            b["tools"][0]["description"],
            "Tools of the functions namespace."
        );
        assert_eq!(b["tools"][1]["description"], "Sub-agents.");
        assert_eq!(b["tools"][2]["description"], "", "only namespaces");
        assert_eq!(
            b["input"][0]["tools"][0]["description"],
            "Tools of the functions namespace."
        );
        assert_eq!(
            b["input"][0]["tools"][1]["description"],
            "Tools of the mcp__x namespace."
        );
        assert_eq!(b["input"][1]["content"], "hi");
    }

    #[test]
    fn codex_item_metadata_is_stripped() {
        let mut b = json!({"input": [
            {"type": "message", "role": "user", "content": "hi",
             "internal_chat_message_metadata_passthrough": {"turn_id": "t1", "content_item_kinds": ["user.text"]}},
            {"type": "compaction_trigger"}
        ]})
        .as_object()
        .unwrap()
        .clone();
        apply(&mut b, &ModelInfo::default());
        assert_eq!(
            b["input"],
            json!([{"type": "message", "role": "user", "content": "hi"}, {"type": "compaction_trigger"}])
        );
    }

    #[test]
    fn one_token_probes_get_the_minimum_output_limit() {
        let model = ModelInfo::default();
        for (asked, sent) in [
            (json!(1), json!(16)),
            (json!(0), json!(16)),
            (json!(-3), json!(16)),
            (json!(2.5), json!(16)),
            (json!(16), json!(16)),
            (json!(512), json!(512)),
            (json!(20.5), json!(20.5)),
        ] {
            let mut b = json!({"max_output_tokens": asked})
                .as_object()
                .unwrap()
                .clone();
            apply(&mut b, &model);
            assert_eq!(b["max_output_tokens"], sent, "{asked}");
        }
        // Absent or not a number: left for Copilot to judge.
        let mut b = json!({"max_output_tokens": "1"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["max_output_tokens"], "1");
        let mut b = Map::new();
        apply(&mut b, &model);
        assert!(!b.contains_key("max_output_tokens"));
    }
}

/// Copilot's `/responses` item ids are opaque blobs bound to the connection that minted
/// them; replayed on another connection they fail with "input item ID does not belong to
/// this connection". Such ids are long and base64.
pub fn is_connection_bound(id: &str) -> bool {
    id.len() >= 20
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        && !id.contains('_')
}

pub fn is_connection_mismatch(error_body: &str) -> bool {
    error_body.contains("does not belong to this connection")
}

/// Item ids of `input` that Copilot may reject.
pub fn connection_bound_ids(body: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(items)) = body.get("input") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| i.get("id").and_then(Value::as_str))
        .filter(|id| is_connection_bound(id))
        .map(str::to_string)
        .collect()
}

/// The same replacement for the same id every time (so prompt caching still sees a
/// stable prefix): the item type's prefix and 16 hex digits of the id's SHA-256.
pub fn replacement_id(item_type: &str, id: &str) -> String {
    let prefix = match item_type {
        "reasoning" => "rs",
        "function_call" | "custom_tool_call" => "fc",
        _ => "msg",
    };
    format!("{prefix}_{}", &crate::auth::sha256_hex(id)[..16])
}

/// Rewrites the ids in `spotted`; returns how many changed.
pub fn rewrite_ids(body: &mut Map<String, Value>, spotted: &dyn Fn(&str) -> bool) -> usize {
    let Some(Value::Array(items)) = body.get_mut("input") else {
        return 0;
    };
    let mut n = 0;
    for item in items.iter_mut() {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            continue;
        };
        if !spotted(id) {
            continue;
        }
        let ty = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        let new = replacement_id(ty, id);
        item["id"] = Value::String(new);
        n += 1;
    }
    n
}

#[cfg(test)]
mod connection_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_connection_bound_ids_deterministically() {
        let long = "TJ7T0d1p0nhv7Mf8d5k3bq3ZbEo+F9vQ2l1mC8Yx0bA=";
        let mut body = json!({"input": [
            {"type":"message","role":"user","content":"hi","id":"msg_1"},
            {"type":"reasoning","id": long, "summary": []},
            {"type":"function_call","id": long.replace('T', "Q"), "call_id":"c","name":"f","arguments":"{}"}
        ]})
        .as_object()
        .unwrap()
        .clone();
        let ids = connection_bound_ids(&body);
        assert_eq!(ids.len(), 2, "short prefixed ids are ours, not Copilot's");
        let n = rewrite_ids(&mut body, &|id| ids.iter().any(|s| s == id));
        assert_eq!(n, 2);
        assert_eq!(body["input"][0]["id"], "msg_1");
        let rs = body["input"][1]["id"].as_str().unwrap();
        assert!(rs.starts_with("rs_") && rs.len() == 19);
        assert_eq!(rs, replacement_id("reasoning", long));
        assert!(body["input"][2]["id"].as_str().unwrap().starts_with("fc_"));
        assert!(is_connection_mismatch(
            r#"{"error":{"message":"input item ID does not belong to this connection"}}"#
        ));
    }
}
