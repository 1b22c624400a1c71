//! Reading a Messages client's request: the system text, the turns and their content
//! blocks, in no other API's form. The pairs that serve a Messages client from another
//! API (`messages_to_chat`, `messages_to_responses`) write what this reads; a rule about
//! which Messages blocks mean what is here, once.

use serde_json::{Map, Value};

use super::super::json::{invalid, take_string};
use super::super::{block_text, content_text, server_tool_output, unconvertible, READ_AS_TEXT};
use super::super::{is_openai_encrypted, THINKING_PLACEHOLDER};
use super::messages::read_media;
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;

/// One turn of the conversation.
#[derive(Debug, PartialEq)]
pub enum Turn {
    /// A user turn given as one string.
    UserText(String),
    User(Vec<UserBlock>),
    /// An assistant turn given as one string.
    AssistantText(String),
    Assistant(Vec<AssistantBlock>),
    /// A system message inside the conversation (Claude Code sends its agent list that
    /// way): it applies from its place on. Never empty.
    System(String),
}

#[derive(Debug, PartialEq)]
pub enum UserBlock {
    /// Text (never empty), an image or a file. A plain-text document and the blocks that
    /// read as text (`READ_AS_TEXT`) are text.
    Part(Part),
    ToolResult {
        id: String,
        /// Its content, text (never empty) and media in order.
        content: Vec<Part>,
        is_error: bool,
    },
}

#[derive(Debug, PartialEq)]
pub enum AssistantBlock {
    /// Never empty.
    Text(String),
    /// A `thinking` or `redacted_thinking` block that carries something.
    Thinking(Thinking),
    /// A tool call (client, server or MCP tool: resent calls replay as calls).
    ToolUse {
        id: String,
        name: String,
        /// The input as JSON text.
        arguments: String,
    },
    /// A server tool's result (web search …) answering a `server_tool_use` above.
    ServerToolResult {
        id: String,
        output: String,
        /// The tool reported an error.
        failed: bool,
    },
}

/// Reasoning from an earlier turn.
#[derive(Debug, PartialEq)]
pub struct Thinking {
    /// Readable thinking (None: empty or Claude Code's placeholder, not real thinking).
    pub text: Option<String>,
    /// The signature, or a redacted block's data (None: empty or absent).
    pub opaque: Option<String>,
}

impl Thinking {
    /// The payload when OpenAI minted it (`is_openai_encrypted`): only then does an
    /// OpenAI model read it.
    pub fn openai_opaque(&self) -> Option<&str> {
        self.opaque.as_deref().filter(|o| is_openai_encrypted(o))
    }
}

/// The request's `system`, taken from `body`: its text blocks' text joined with blank
/// lines (empty: no system).
pub fn take_system(body: &mut Map<String, Value>) -> Result<String, ApiError> {
    match body.remove("system") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(Value::Array(blocks)) => {
            let texts: Vec<String> = blocks
                .into_iter()
                .filter_map(|b| match b {
                    Value::String(s) => Some(s),
                    Value::Object(mut b)
                        if matches!(b.get("type").and_then(Value::as_str), None | Some("text")) =>
                    {
                        take_string(b.remove("text"))
                    }
                    _ => None,
                })
                .filter(|t| !t.is_empty())
                .collect();
            Ok(join_texts(texts))
        }
        Some(_) => Err(invalid(
            "system must be a string or an array of text blocks",
            "system",
        )),
    }
}

/// The request's `messages`, taken from `body`, as turns read one by one (as the pair
/// writes them: what has been read is freed before the next is read).
pub fn take_turns(
    body: &mut Map<String, Value>,
) -> Result<impl Iterator<Item = Result<Turn, ApiError>>, ApiError> {
    let Some(Value::Array(messages)) = body.remove("messages") else {
        return Err(invalid("messages must be an array", "messages"));
    };
    Ok(messages
        .into_iter()
        .enumerate()
        .filter_map(|(i, msg)| read_turn(i, msg).transpose()))
}

/// Message `i` as a turn (None: a system message without text).
fn read_turn(i: usize, msg: Value) -> Result<Option<Turn>, ApiError> {
    let Value::Object(mut msg) = msg else {
        return Err(invalid(
            "each message must be an object",
            format!("messages[{i}]"),
        ));
    };
    let content = msg.remove("content").unwrap_or(Value::Null);
    let assistant = match msg.get("role").and_then(Value::as_str) {
        Some("user") => false,
        Some("assistant") => true,
        Some("system") => {
            let text = content_text(&content, "\n\n");
            return Ok((!text.is_empty()).then_some(Turn::System(text)));
        }
        _ => {
            return Err(invalid(
                "role must be \"user\", \"assistant\" or \"system\"",
                format!("messages[{i}].role"),
            ))
        }
    };
    let blocks = match content {
        Value::String(s) if assistant => return Ok(Some(Turn::AssistantText(s))),
        Value::String(s) => return Ok(Some(Turn::UserText(s))),
        Value::Array(blocks) => blocks,
        // An assistant turn may be empty (a prefill placeholder): nothing to carry.
        Value::Null if assistant => Vec::new(),
        _ => {
            return Err(invalid(
                "content must be a string or an array of blocks",
                format!("messages[{i}].content"),
            ))
        }
    };
    // A block's param is written only when something names it (most never are).
    let blocks = blocks.into_iter().enumerate().filter_map(|(j, b)| match b {
        Value::Object(b) => Some((j, b)),
        _ => None,
    });
    Ok(Some(if assistant {
        let mut out = Vec::with_capacity(blocks.size_hint().0);
        for (j, b) in blocks {
            out.extend(assistant_block(b, &|| {
                format!("messages[{i}].content[{j}]")
            })?);
        }
        Turn::Assistant(out)
    } else {
        let mut out = Vec::with_capacity(blocks.size_hint().0);
        for (j, b) in blocks {
            out.extend(user_block(b, &|| format!("messages[{i}].content[{j}]"))?);
        }
        Turn::User(out)
    }))
}

/// Where a block is in the request (its param), written on demand.
type At<'a> = &'a dyn Fn() -> String;

/// The block's `type`, taken out of it.
fn take_kind(block: &mut Map<String, Value>) -> String {
    take_string(block.remove("type")).unwrap_or_default()
}

/// A block of user content or of a tool result (`kind`: its type, taken out) as a part
/// (None: left out).
fn part(kind: String, mut block: Map<String, Value>, at: At) -> Result<Option<Part>, ApiError> {
    Ok(match kind.as_str() {
        "text" => take_string(block.remove("text"))
            .filter(|t| !t.is_empty())
            .map(Part::Text),
        "image" | "document" => Some(read_media(&kind, block, &at())?),
        k if READ_AS_TEXT.contains(&k) => {
            block.insert("type".into(), Value::String(kind));
            Some(Part::Text(block_text(&block)))
        }
        k => {
            unconvertible(k, at)?;
            None
        }
    })
}

fn user_block(mut block: Map<String, Value>, at: At) -> Result<Option<UserBlock>, ApiError> {
    let kind = take_kind(&mut block);
    if kind != "tool_result" {
        return Ok(part(kind, block, at)?.map(UserBlock::Part));
    }
    let at = at();
    let Some(id) = take_string(block.remove("tool_use_id")).filter(|id| !id.is_empty()) else {
        return Err(invalid(
            "tool_result needs a tool_use_id",
            format!("{at}.tool_use_id"),
        ));
    };
    let is_error = block.get("is_error").and_then(Value::as_bool) == Some(true);
    let content = match block.remove("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => nonempty_text(s),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, b) in blocks.into_iter().enumerate() {
                match b {
                    Value::Object(mut b) => {
                        let kind = take_kind(&mut b);
                        parts.extend(part(kind, b, &|| format!("{at}.content[{k}]"))?)
                    }
                    Value::String(s) => parts.extend(nonempty_text(s)),
                    other => parts.push(Part::Text(other.to_string())),
                }
            }
            parts
        }
        Some(other) => vec![Part::Text(other.to_string())],
    };
    Ok(Some(UserBlock::ToolResult {
        id,
        content,
        is_error,
    }))
}

/// Texts joined with blank lines; a single one is moved, not copied (a tool result is
/// often one large text).
pub fn join_texts(mut texts: Vec<String>) -> String {
    match texts.len() {
        1 => texts.pop().unwrap_or_default(),
        _ => texts.join("\n\n"),
    }
}

fn nonempty_text(s: String) -> Vec<Part> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![Part::Text(s)]
    }
}

fn assistant_block(
    mut block: Map<String, Value>,
    at: At,
) -> Result<Option<AssistantBlock>, ApiError> {
    let kind = take_kind(&mut block);
    let required = |block: &mut Map<String, Value>, field: &str| {
        take_string(block.remove(field))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(
                    format!("{kind} needs a {field}"),
                    format!("{}.{field}", at()),
                )
            })
    };
    Ok(Some(match kind.as_str() {
        "text" => match take_string(block.remove("text")).filter(|t| !t.is_empty()) {
            Some(t) => AssistantBlock::Text(t),
            None => return Ok(None),
        },
        "thinking" | "redacted_thinking" => {
            let (text, opaque) = if kind == "redacted_thinking" {
                (None, take_string(block.remove("data")))
            } else {
                let text = take_string(block.remove("thinking"))
                    .filter(|t| !t.is_empty() && t != THINKING_PLACEHOLDER);
                (text, take_string(block.remove("signature")))
            };
            let opaque = opaque.filter(|o| !o.is_empty());
            if text.is_none() && opaque.is_none() {
                return Ok(None);
            }
            AssistantBlock::Thinking(Thinking { text, opaque })
        }
        "tool_use" | "server_tool_use" | "mcp_tool_use" => {
            let id = required(&mut block, "id")?;
            let name = required(&mut block, "name")?;
            let arguments = match block.remove("input") {
                None | Some(Value::Null) => "{}".to_string(),
                Some(input) => input.to_string(),
            };
            AssistantBlock::ToolUse {
                id,
                name,
                arguments,
            }
        }
        k if k.ends_with("_tool_result") => {
            let id = required(&mut block, "tool_use_id")?;
            let content = block.remove("content").unwrap_or(Value::Null);
            let failed = content
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("_error"));
            AssistantBlock::ServerToolResult {
                id,
                output: server_tool_output(content),
                failed,
            }
        }
        k => {
            unconvertible(k, at)?;
            return Ok(None);
        }
    }))
}

/// `output_config.effort` on the scale the OpenAI APIs share (`low`/`medium`/`high`:
/// `xhigh` and `none` are not accepted by every model behind them).
pub fn read_effort(body: &Map<String, Value>) -> Option<&'static str> {
    let effort = body
        .get("output_config")
        .and_then(|c| c.get("effort"))
        .and_then(Value::as_str)?;
    match effort {
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" | "xhigh" | "max" => Some("high"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turns(messages: Value) -> Result<Vec<Turn>, ApiError> {
        let mut body = json!({ "messages": messages }).as_object().unwrap().clone();
        take_turns(&mut body)?.collect()
    }

    #[test]
    fn system_joins_its_nonempty_text_blocks() {
        let mut body =
            json!({"system": [{"type": "text", "text": "a"}, {"type": "text", "text": ""},
            {"type": "image"}, {"text": "b"}]})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(take_system(&mut body).unwrap(), "a\n\nb");
        let mut body = json!({"system": 1}).as_object().unwrap().clone();
        assert_eq!(
            take_system(&mut body).unwrap_err().param.as_deref(),
            Some("system")
        );
    }

    #[test]
    fn blocks_read_by_role_and_incomplete_calls_refused() {
        let t = turns(json!([
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "q"},
                {"type": "tool_result", "tool_use_id": "t", "is_error": true,
                 "content": [{"type": "text", "text": "x"}, "y", {"type": "thinking"}]}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": THINKING_PLACEHOLDER},
                {"type": "redacted_thinking", "data": "gAAAAz"}]},
            {"role": "assistant", "content": null},
        ]))
        .unwrap();
        assert_eq!(
            t,
            [
                Turn::User(vec![
                    UserBlock::Part(Part::Text("q".into())),
                    UserBlock::ToolResult {
                        id: "t".into(),
                        content: vec![Part::Text("x".into()), Part::Text("y".into())],
                        is_error: true
                    }
                ]),
                Turn::Assistant(vec![AssistantBlock::Thinking(Thinking {
                    text: None,
                    opaque: Some("gAAAAz".into())
                })]),
                Turn::Assistant(vec![]),
            ]
        );
        let e =
            turns(json!([{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]))
                .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].id"));
        let e = turns(json!([{"role": "user", "content": [{"type": "tool_use", "id": "x"}]}]))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
    }
}
