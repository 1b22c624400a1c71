//! A Chat Completions client's request, read: its messages, tools and tool choice, and
//! the parameters every upstream reads the same way. The pairs serving a Chat client
//! (`chat_to_messages`, `chat_to_responses`) write what is read here in their upstream's
//! form; a rule about reading a Chat request is fixed here, once.

use serde_json::{Map, Value};

use super::super::json::{invalid, take_string};
use super::super::{unconvertible, THINKING_PLACEHOLDER};
use super::chat::{read_part, read_tool};
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::tools::{ToolChoice, Tools};

/// One message of `messages`.
#[derive(Debug, PartialEq)]
pub enum Message {
    /// A system or developer message: its text, parts joined as one text.
    System(String),
    User(Content),
    Assistant(Assistant),
    /// A tool result for the call `call_id`.
    Tool {
        call_id: String,
        content: Content,
    },
}

/// User or tool content: a plain string (empty when absent), or parts (those with nothing
/// to carry left out).
#[derive(Debug, PartialEq)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, PartialEq)]
pub enum AssistantText {
    Text(String),
    Refusal(String),
}

/// An assistant message. Reasoning is Copilot's extension of Chat: readable text (the
/// placeholder for none is left out) and an opaque payload, both non-empty when present.
#[derive(Debug, Default, PartialEq)]
pub struct Assistant {
    pub reasoning_text: Option<String>,
    pub reasoning_opaque: Option<String>,
    /// A string content is one `Text` (none when empty).
    pub content: Vec<AssistantText>,
    pub tool_calls: Vec<ToolCall>,
}

/// A tool call of an assistant message. A custom (freeform) tool's call reads as a
/// function call taking its raw text as one `input` string.
#[derive(Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments' JSON text as sent (`{}` when absent).
    pub arguments: String,
}

fn missing(param: String) -> ApiError {
    invalid(format!("Missing required parameter: '{param}'."), param)
}

/// Refuses `n` > 1: every upstream a Chat client is translated to returns one choice.
pub fn refuse_choices(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.get("n").and_then(Value::as_u64) {
        Some(n) if n > 1 => Err(invalid(
            "n greater than 1 is not supported for this model: it returns one choice",
            "n",
        )),
        _ => Ok(()),
    }
}

/// The output limit asked for (`max_completion_tokens`, else the legacy `max_tokens`).
pub fn read_max_tokens(body: &mut Map<String, Value>) -> Option<u64> {
    let newer = body.remove("max_completion_tokens");
    let legacy = body.remove("max_tokens");
    [newer, legacy]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_u64())
}

/// `response_format`, taken from `body` (None: absent or null).
pub fn read_response_format(
    body: &mut Map<String, Value>,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.remove("response_format") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(rf)) => Ok(Some(rf)),
        Some(_) => Err(invalid(
            "response_format must be an object",
            "response_format",
        )),
    }
}

/// `messages`, taken from `body`, read one at a time: each is read as its pair writes
/// the one before it out, so a message's JSON is freed as its translation is built.
pub fn read_messages(
    body: &mut Map<String, Value>,
) -> Result<impl ExactSizeIterator<Item = Result<Message, ApiError>>, ApiError> {
    let input = match body.remove("messages") {
        Some(Value::Array(m)) => m,
        None => return Err(missing("messages".into())),
        Some(_) => return Err(invalid("messages must be an array", "messages")),
    };
    Ok(input
        .into_iter()
        .enumerate()
        .map(|(i, m)| read_message(i, m)))
}

fn read_message(i: usize, msg: Value) -> Result<Message, ApiError> {
    let Value::Object(mut msg) = msg else {
        return Err(invalid(
            "each message must be an object",
            format!("messages[{i}]"),
        ));
    };
    let role = take_string(msg.remove("role")).unwrap_or_default();
    let content = msg.remove("content").unwrap_or(Value::Null);
    Ok(match role.as_str() {
        "system" | "developer" => Message::System(system_text(content)),
        "user" => Message::User(user_content(i, content)?),
        "assistant" => Message::Assistant(assistant(i, msg, content)?),
        "tool" => {
            let Some(call_id) = take_string(msg.remove("tool_call_id")) else {
                return Err(missing(format!("messages[{i}].tool_call_id")));
            };
            let content = match content {
                Value::Array(parts) => Content::Parts(parts_of(i, parts)?),
                Value::String(t) => Content::Text(t),
                Value::Null => Content::Text(String::new()),
                // Carried as its JSON text rather than dropped.
                other => Content::Text(other.to_string()),
            };
            Message::Tool { call_id, content }
        }
        _ => {
            return Err(invalid(
                format!("Unsupported message role {role:?}."),
                format!("messages[{i}].role"),
            ))
        }
    })
}

/// A system or developer message's text. Parts of one message are one text, as OpenAI
/// reads them.
fn system_text(content: Value) -> String {
    match content {
        Value::String(t) => t,
        Value::Array(parts) => {
            let mut text = String::new();
            for p in parts {
                match p {
                    Value::Object(mut p) => {
                        text.push_str(&take_string(p.remove("text")).unwrap_or_default())
                    }
                    Value::String(t) => text.push_str(&t),
                    _ => {}
                }
            }
            text
        }
        _ => String::new(),
    }
}

fn parts_of(i: usize, parts: Vec<Value>) -> Result<Vec<Part>, ApiError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.into_iter().enumerate() {
        out.extend(read_part(p, || format!("messages[{i}].content[{j}]"))?);
    }
    Ok(out)
}

fn user_content(i: usize, content: Value) -> Result<Content, ApiError> {
    match content {
        Value::String(t) => Ok(Content::Text(t)),
        Value::Array(parts) => Ok(Content::Parts(parts_of(i, parts)?)),
        Value::Null => Ok(Content::Text(String::new())),
        _ => Err(invalid(
            "content must be a string or an array of parts",
            format!("messages[{i}].content"),
        )),
    }
}

fn assistant(i: usize, mut msg: Map<String, Value>, content: Value) -> Result<Assistant, ApiError> {
    let mut a = Assistant {
        reasoning_text: take_string(msg.remove("reasoning_text"))
            .filter(|t| !t.is_empty() && t != THINKING_PLACEHOLDER),
        reasoning_opaque: take_string(msg.remove("reasoning_opaque")).filter(|o| !o.is_empty()),
        ..Assistant::default()
    };
    match content {
        // An empty string says nothing to either upstream (and costs no allocation).
        Value::String(t) if t.is_empty() => {}
        Value::String(t) => a.content.push(AssistantText::Text(t)),
        Value::Array(parts) => {
            for (j, p) in parts.into_iter().enumerate() {
                let mut p = match p {
                    Value::Object(p) => p,
                    Value::String(t) => {
                        a.content.push(AssistantText::Text(t));
                        continue;
                    }
                    _ => continue,
                };
                match p.get("type").and_then(Value::as_str).unwrap_or("") {
                    "text" => a
                        .content
                        .extend(take_string(p.remove("text")).map(AssistantText::Text)),
                    "refusal" => a
                        .content
                        .extend(take_string(p.remove("refusal")).map(AssistantText::Refusal)),
                    other => unconvertible(other, || format!("messages[{i}].content[{j}]"))?,
                }
            }
        }
        _ => {}
    }
    if let Some(Value::Array(calls)) = msg.remove("tool_calls") {
        for (j, call) in calls.into_iter().enumerate() {
            a.tool_calls.push(tool_call(call, || {
                format!("messages[{i}].tool_calls[{j}]")
            })?);
        }
    }
    Ok(a)
}

/// One entry of `tool_calls` (`at`: its param, formatted only for an error).
fn tool_call(call: Value, at: impl Fn() -> String) -> Result<ToolCall, ApiError> {
    let Value::Object(mut call) = call else {
        return Err(invalid("a tool call must be an object", at()));
    };
    let Some(id) = take_string(call.remove("id")) else {
        return Err(missing(at() + ".id"));
    };
    let (name, arguments) = match (call.remove("function"), call.remove("custom")) {
        (Some(Value::Object(mut f)), _) => {
            let args = match f.remove("arguments") {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) => "{}".into(),
                Some(v) => v.to_string(),
            };
            (take_string(f.remove("name")), args)
        }
        (_, Some(Value::Object(mut f))) => {
            let input = f.remove("input").unwrap_or(Value::String(String::new()));
            let args = Value::Object(Map::from_iter([("input".to_string(), input)]));
            (take_string(f.remove("name")), args.to_string())
        }
        _ => (None, String::new()),
    };
    let Some(name) = name else {
        return Err(missing(at() + ".function.name"));
    };
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

/// `tools` and `tool_choice`, taken from `body`, and whether `parallel_tool_calls` is false
/// (left in `body` for a pair that carries it as sent). Function tools are
/// read; a custom (freeform) tool becomes a function taking its raw text when the pair
/// can carry it (`custom`), else it is refused like any other kind. No choice without a
/// tool to go with it.
pub fn read_tools(body: &mut Map<String, Value>, custom: bool) -> Result<Tools, ApiError> {
    let mut tools = Tools::default();
    let choice = body.remove("tool_choice");
    let Some(Value::Array(defs)) = body.remove("tools") else {
        return Ok(tools);
    };
    for (i, tool) in defs.into_iter().enumerate() {
        let kind = match tool.get("type").and_then(Value::as_str) {
            _ if !tool.is_object() => {
                return Err(invalid("a tool must be an object", format!("tools[{i}]")))
            }
            Some("function") => "function",
            Some("custom") if custom => "custom",
            _ => {
                return Err(invalid(
                    "only function tools are supported for this model",
                    format!("tools[{i}].type"),
                ))
            }
        };
        match read_tool(i, tool)? {
            Some(def) => tools.defs.push(def),
            None => return Err(missing(format!("tools[{i}].{kind}"))),
        }
    }
    if tools.defs.is_empty() {
        return Ok(tools);
    }
    tools.choice = choice.as_ref().and_then(read_tool_choice);
    tools.serial = body.get("parallel_tool_calls") == Some(&Value::Bool(false));
    Ok(tools)
}

/// A `tool_choice` in one of its common forms (`allowed_tools` is the Responses pair's).
pub fn read_tool_choice(tc: &Value) -> Option<ToolChoice> {
    match tc {
        Value::String(mode) => match mode.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => None,
        },
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str)?;
            if !matches!(kind, "function" | "custom") {
                return None;
            }
            let name = o.get(kind)?.get("name")?.as_str()?;
            Some(ToolChoice::Named(name.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { panic!() };
        m
    }

    fn messages(v: Value) -> Result<Vec<Message>, ApiError> {
        read_messages(&mut body(json!({ "messages": v })))?.collect()
    }

    fn messages_err(body: &mut Map<String, Value>) -> ApiError {
        read_messages(body).err().expect("refused")
    }

    #[test]
    fn each_role_reads_into_one_form() {
        let read = messages(json!([
            {"role": "developer", "content": [{"type": "text", "text": "a "}, "b"]},
            {"role": "user", "content": null},
            {"role": "assistant", "content": ["x", {"type": "refusal", "refusal": "no"}],
             "reasoning_text": "Thinking...", "reasoning_opaque": "",
             "tool_calls": [{"id": "c1", "type": "custom", "custom": {"name": "patch", "input": "d"}},
                            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": 7},
        ]))
        .unwrap();
        let call = |id: &str, name: &str, arguments: &str| ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        };
        assert_eq!(
            read,
            vec![
                Message::System("a b".into()),
                Message::User(Content::Text(String::new())),
                Message::Assistant(Assistant {
                    reasoning_text: None,
                    reasoning_opaque: None,
                    content: vec![
                        AssistantText::Text("x".into()),
                        AssistantText::Refusal("no".into())
                    ],
                    tool_calls: vec![
                        call("c1", "patch", r#"{"input":"d"}"#),
                        call("c2", "f", r#"{"a":1}"#)
                    ],
                }),
                Message::Tool {
                    call_id: "c1".into(),
                    content: Content::Text("7".into())
                },
            ]
        );
    }

    #[test]
    fn what_cannot_be_read_is_refused_with_its_param() {
        let param = |v: Value| messages(v).unwrap_err().param;
        assert_eq!(
            messages_err(&mut Map::new()).message,
            "Missing required parameter: 'messages'."
        );
        assert_eq!(param(json!({})).as_deref(), Some("messages"));
        assert_eq!(param(json!([1])).as_deref(), Some("messages[0]"));
        assert_eq!(
            param(json!([{"role": "user", "content": 1}])).as_deref(),
            Some("messages[0].content")
        );
        assert_eq!(
            param(json!([{"role": "assistant", "tool_calls": ["c"]}])).as_deref(),
            Some("messages[0].tool_calls[0]")
        );
        assert_eq!(
            param(json!([{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]))
                .as_deref(),
            Some("messages[0].tool_calls[0].function.name")
        );
        assert_eq!(
            param(json!([{"role": "function", "content": "r"}])).as_deref(),
            Some("messages[0].role")
        );
        assert!(refuse_choices(&body(json!({"n": 1}))).is_ok());
        assert_eq!(
            refuse_choices(&body(json!({"n": 2})))
                .unwrap_err()
                .param
                .as_deref(),
            Some("n")
        );
    }

    #[test]
    fn tools_are_read_or_refused() {
        let custom = json!({"type": "custom", "custom": {"name": "g"}});
        let mut b = body(json!({"tools": [custom], "tool_choice": "required",
                                "parallel_tool_calls": false}));
        let tools = read_tools(&mut b, true).unwrap();
        assert_eq!(tools.defs[0].name, "g");
        assert_eq!(tools.choice, Some(ToolChoice::Required));
        assert!(tools.serial);
        assert!(b.contains_key("parallel_tool_calls"), "left for the pair");

        let e = read_tools(&mut body(json!({"tools": [custom]})), false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        for (tools, param) in [
            (json!(["f"]), "tools[0]"),
            (json!([{"type": "web_search"}]), "tools[0].type"),
            (json!([{"type": "function"}]), "tools[0].function"),
        ] {
            let e = read_tools(&mut body(json!({ "tools": tools })), true).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
        }
        // No choice without a tool to go with it.
        let tools = read_tools(&mut body(json!({"tool_choice": "required"})), true).unwrap();
        assert_eq!(tools.choice, None);
    }

    #[test]
    fn tool_choice_forms() {
        for (tc, want) in [
            (json!("auto"), Some(ToolChoice::Auto)),
            (json!("none"), Some(ToolChoice::None)),
            (json!("required"), Some(ToolChoice::Required)),
            (json!("sometimes"), None),
            (
                json!({"type": "function", "function": {"name": "f"}}),
                Some(ToolChoice::Named("f".into())),
            ),
            (
                json!({"type": "custom", "custom": {"name": "g"}}),
                Some(ToolChoice::Named("g".into())),
            ),
            (json!({"type": "function"}), None),
            (json!({"type": "allowed_tools"}), None),
        ] {
            assert_eq!(read_tool_choice(&tc), want, "{tc}");
        }
    }

    #[test]
    fn limits_and_formats() {
        let mut b = body(json!({"max_tokens": 10, "max_completion_tokens": 20}));
        assert_eq!(read_max_tokens(&mut b), Some(20));
        assert!(b.is_empty());
        let mut b = body(json!({"max_completion_tokens": null, "max_tokens": 10}));
        assert_eq!(read_max_tokens(&mut b), Some(10));
        let mut b = body(json!({"response_format": null}));
        assert_eq!(read_response_format(&mut b), Ok(None));
        let mut b = body(json!({"response_format": "json"}));
        assert_eq!(
            read_response_format(&mut b).unwrap_err().param.as_deref(),
            Some("response_format")
        );
    }
}
