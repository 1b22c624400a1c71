//! A Responses client's request, read once for every upstream: the instructions, the
//! input items, the tools and tool choice, the end user and the output format. The pair
//! translators write what is read here in their upstream's words.

use serde_json::{Map, Value};

use super::super::content_text;
use super::super::json::{invalid, take_string};
use super::responses::{read_part, read_tool};
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::tools::{ToolChoice, Tools};

/// Who speaks in a message item (`developer` is the newer name of `system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    System,
}

/// One input item, in no upstream's words.
#[derive(Debug, PartialEq)]
pub enum InputItem {
    /// `content`: a string or an array of parts, as sent.
    Message { role: Role, content: Value },
    /// A function or custom tool call. `arguments` is JSON text; a custom (freeform)
    /// tool's raw text becomes `{"input": …}`, the form the tool is offered in.
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
    /// A tool's output (`incomplete`: the call did not finish).
    Output {
        call_id: String,
        output: Option<Value>,
        incomplete: bool,
    },
    /// Reasoning: the non-empty texts of its summary and of its content, and its opaque
    /// payload (non-empty).
    Reasoning {
        summary: Vec<String>,
        content: Vec<String>,
        encrypted: Option<String>,
    },
}

fn missing(param: String) -> ApiError {
    invalid(format!("Missing required parameter: '{param}'."), param)
}

/// `instructions`: a string, or parts whose texts join with blank lines (None: empty).
pub fn instructions(body: &mut Map<String, Value>) -> Option<String> {
    let text = match body.remove("instructions")? {
        Value::String(s) => s,
        v @ Value::Array(_) => content_text(&v, "\n\n"),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// `input`, each item with its index: a string is one user message; an array is read
/// item by item (kinds no upstream can take, hosted-tool calls, item references,
/// compaction, are left out).
pub fn input(body: &mut Map<String, Value>) -> Result<Vec<(usize, InputItem)>, ApiError> {
    match body.remove("input") {
        Some(Value::String(s)) => Ok(vec![(
            0,
            InputItem::Message {
                role: Role::User,
                content: Value::String(s),
            },
        )]),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.extend(input_item(i, item)?.map(|item| (i, item)));
            }
            Ok(out)
        }
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(invalid(
            "`input` must be a string or an array of items.",
            "input",
        )),
    }
}

fn input_item(i: usize, item: Value) -> Result<Option<InputItem>, ApiError> {
    let Value::Object(mut item) = item else {
        return Err(invalid(
            "Input items must be objects.",
            format!("input[{i}]"),
        ));
    };
    let kind = match item.get("type").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None if item.contains_key("role") => "message".to_string(),
        None => return Err(missing(format!("input[{i}].type"))),
    };
    // Call ids pair calls with their outputs: an empty one pairs nothing.
    let mut required = |f: &str| match item.remove(f) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(missing(format!("input[{i}].{f}"))),
    };
    Ok(Some(match kind.as_str() {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system" | "developer") => Role::System,
                _ => {
                    return Err(invalid(
                        "message `role` must be user, assistant, system or developer",
                        format!("input[{i}].role"),
                    ))
                }
            };
            let content = match item.remove("content") {
                Some(c @ (Value::String(_) | Value::Array(_))) => c,
                _ => {
                    return Err(invalid(
                        "message `content` must be a string or an array of parts",
                        format!("input[{i}].content"),
                    ))
                }
            };
            InputItem::Message { role, content }
        }
        "function_call" | "custom_tool_call" => {
            let call_id = required("call_id")?;
            let name = required("name")?;
            let arguments = if kind == "custom_tool_call" {
                let input = item.remove("input").unwrap_or(Value::String(String::new()));
                Value::Object(Map::from_iter([("input".into(), input)])).to_string()
            } else {
                match item.remove("arguments") {
                    Some(Value::String(s)) => s,
                    None | Some(Value::Null) => "{}".to_string(),
                    Some(v) => v.to_string(),
                }
            };
            InputItem::Call {
                call_id,
                name,
                arguments,
            }
        }
        "function_call_output" | "custom_tool_call_output" => InputItem::Output {
            call_id: required("call_id")?,
            output: item.remove("output").filter(|o| !o.is_null()),
            incomplete: item.get("status").and_then(Value::as_str) == Some("incomplete"),
        },
        "reasoning" => {
            let mut texts = |k: &str| match item.remove(k) {
                Some(Value::Array(parts)) => parts
                    .into_iter()
                    .filter_map(|p| match p {
                        Value::Object(mut p) => take_string(p.remove("text")),
                        _ => None,
                    })
                    .filter(|t| !t.is_empty())
                    .collect(),
                _ => Vec::new(),
            };
            InputItem::Reasoning {
                summary: texts("summary"),
                content: texts("content"),
                encrypted: take_string(item.remove("encrypted_content")).filter(|e| !e.is_empty()),
            }
        }
        _ => return Ok(None),
    }))
}

/// The parts of a content or output array (`at(j)`: part `j`'s param); parts that are not
/// objects carry nothing.
pub fn parts(parts: Vec<Value>, at: impl Fn(usize) -> String) -> Result<Vec<Part>, ApiError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.into_iter().enumerate() {
        if let Value::Object(p) = p {
            out.extend(read_part(p, || at(j))?);
        }
    }
    Ok(out)
}

/// `tools` and `tool_choice`, taken from `body`, and whether calls must come one at a
/// time (`parallel_tool_calls: false`, left in `body`). Hosted tools have no counterpart
/// and are left out; a choice of a hosted tool, of a tool not offered, or of a kind not
/// known is None.
pub fn tools(body: &mut Map<String, Value>) -> Result<Tools, ApiError> {
    let mut tools = Tools::default();
    if let Some(Value::Array(defs)) = body.remove("tools") {
        for (i, t) in defs.into_iter().enumerate() {
            tools.defs.extend(read_tool(i, t)?);
        }
    }
    tools.choice = match body.remove("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "required" => Some(ToolChoice::Required),
            "none" => Some(ToolChoice::None),
            _ => None,
        },
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => o
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| tools.defs.iter().any(|d| d.name == *n))
                .map(|n| ToolChoice::Named(n.to_string())),
            Some("allowed_tools") => match o.get("mode").and_then(Value::as_str) {
                Some("auto") => Some(ToolChoice::Auto),
                Some("required") => Some(ToolChoice::Required),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    tools.serial = body.get("parallel_tool_calls") == Some(&Value::Bool(false));
    Ok(tools)
}

/// The end user: `safety_identifier`, else the deprecated `user` (non-empty strings).
pub fn end_user(body: &mut Map<String, Value>) -> Option<String> {
    [body.remove("safety_identifier"), body.remove("user")]
        .into_iter()
        .find_map(|v| take_string(v).filter(|s| !s.is_empty()))
}

/// `text.format`, taken from `body` (None: absent).
pub fn text_format(body: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    match body.remove("text")? {
        Value::Object(mut text) => match text.remove("format")? {
            Value::Object(f) => Some(f),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("an object"),
        }
    }

    fn read(items: Value) -> Result<Vec<(usize, InputItem)>, ApiError> {
        input(&mut body(json!({ "input": items })))
    }

    #[test]
    fn items_read_with_their_index() {
        let items = read(json!([
            {"type": "item_reference", "id": "x"},
            {"role": "developer", "content": "be brief"},
            {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "*** x"},
            {"type": "function_call", "call_id": "d", "name": "f"},
            {"type": "function_call_output", "call_id": "d", "output": "ok", "status": "incomplete"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": ""},
                {"type": "summary_text", "text": "a"}], "encrypted_content": ""},
        ]))
        .unwrap();
        assert_eq!(
            items,
            [
                (
                    1,
                    InputItem::Message {
                        role: Role::System,
                        content: json!("be brief")
                    }
                ),
                (
                    2,
                    InputItem::Call {
                        call_id: "c".into(),
                        name: "apply_patch".into(),
                        arguments: r#"{"input":"*** x"}"#.into()
                    }
                ),
                (
                    3,
                    InputItem::Call {
                        call_id: "d".into(),
                        name: "f".into(),
                        arguments: "{}".into()
                    }
                ),
                (
                    4,
                    InputItem::Output {
                        call_id: "d".into(),
                        output: Some(json!("ok")),
                        incomplete: true
                    }
                ),
                (
                    5,
                    InputItem::Reasoning {
                        summary: vec!["a".into()],
                        content: vec![],
                        encrypted: None
                    }
                ),
            ]
        );
        assert_eq!(read(Value::Null).unwrap(), []);
    }

    #[test]
    fn malformed_items_are_a_400_naming_the_field() {
        for (items, param) in [
            (json!("x"), None),
            (json!(3), Some("input")),
            (json!([1]), Some("input[0]")),
            (json!([{"content": "x"}]), Some("input[0].type")),
            (
                json!([{"type": "message", "content": "x"}]),
                Some("input[0].role"),
            ),
            (
                json!([{"role": "user", "content": null}]),
                Some("input[0].content"),
            ),
            (
                json!([{"type": "function_call", "call_id": "", "name": "f"}]),
                Some("input[0].call_id"),
            ),
            (
                json!([{"type": "function_call_output", "output": "x"}]),
                Some("input[0].call_id"),
            ),
        ] {
            let got = read(items.clone()).err().and_then(|e| e.param);
            assert_eq!(got.as_deref(), param, "{items}");
        }
    }

    #[test]
    fn tools_and_choice() {
        let mut b = body(json!({
            "tools": [{"type": "function", "name": "f"}, {"type": "web_search"},
                      {"type": "custom", "name": "apply_patch"}],
            "tool_choice": {"type": "custom", "name": "apply_patch"},
            "parallel_tool_calls": false,
        }));
        let t = tools(&mut b).unwrap();
        assert_eq!(t.defs.len(), 2);
        assert_eq!(t.choice, Some(ToolChoice::Named("apply_patch".into())));
        assert!(t.serial && b.contains_key("parallel_tool_calls"));
        let choice = |c: Value| {
            let mut b =
                body(json!({"tools": [{"type": "function", "name": "f"}], "tool_choice": c}));
            tools(&mut b).unwrap().choice
        };
        assert_eq!(choice(json!("required")), Some(ToolChoice::Required));
        assert_eq!(choice(json!({"type": "function", "name": "g"})), None);
        assert_eq!(
            choice(json!({"type": "allowed_tools", "mode": "auto", "tools": []})),
            Some(ToolChoice::Auto)
        );
        assert_eq!(choice(json!({"type": "web_search"})), None);
        let e = tools(&mut body(json!({"tools": [{"type": "function"}]}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].name"));
    }

    #[test]
    fn instructions_user_and_format() {
        let mut b = body(json!({
            "instructions": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}],
            "safety_identifier": "", "user": "u",
            "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        }));
        assert_eq!(instructions(&mut b).as_deref(), Some("a\n\nb"));
        assert_eq!(end_user(&mut b).as_deref(), Some("u"));
        assert_eq!(
            text_format(&mut b),
            Some(body(json!({"type": "json_object"})))
        );
        assert_eq!(instructions(&mut body(json!({"instructions": ""}))), None);
    }
}
