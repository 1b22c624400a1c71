//! The Chat Completions request the gateway sends Copilot, written the same way for every
//! client API served by `/chat/completions`: the messages of each role, tools, and the
//! streaming fields. The pairs keep what is theirs (turn order, which reasoning travels).

use serde_json::{json, Map, Value};

use super::chat;
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::tools::Tools;

/// A message holding one string (system, user or assistant text).
pub fn message(role: &str, content: impl Into<Value>) -> Value {
    json!({"role": role, "content": content.into()})
}

/// A tool result; Chat tool messages hold text only.
pub fn tool_message(call_id: String, content: String) -> Value {
    json!({"role": "tool", "tool_call_id": call_id, "content": content})
}

/// A tool result's parts: the text (blank lines between), with images and files written
/// to `media`, which the caller sends after the run of tool messages as user content (a
/// user message inside the run would be rejected).
pub fn tool_content(parts: Vec<Part>, media: &mut Vec<Value>) -> Result<String, ApiError> {
    let mut texts = Vec::new();
    for part in parts {
        match part {
            Part::Text(t) => texts.push(t),
            part => media.push(chat::write_part(part)?),
        }
    }
    Ok(texts.join("\n\n"))
}

/// An entry of an assistant message's `tool_calls`.
pub fn tool_call(id: String, name: String, arguments: String) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

/// What one assistant message carries; Copilot reads reasoning from `reasoning_text` and
/// `reasoning_opaque`.
#[derive(Default)]
pub struct Assistant {
    pub text: Option<String>,
    pub tool_calls: Vec<Value>,
    pub reasoning_text: Option<String>,
    pub reasoning_opaque: Option<String>,
}

impl Assistant {
    /// The message, None when it carries nothing. Content is null beside tool calls and
    /// never otherwise (OpenAI rejects a null content without tool calls).
    pub fn write(self) -> Option<Value> {
        let calls = !self.tool_calls.is_empty();
        let (text, opaque) = (self.reasoning_text, self.reasoning_opaque);
        if self.text.is_none() && !calls && text.is_none() && opaque.is_none() {
            return None;
        }
        let content = self
            .text
            .map_or(if calls { Value::Null } else { json!("") }, Value::String);
        let mut m = json!({"role": "assistant", "content": content});
        let fields = [
            ("tool_calls", calls.then(|| Value::Array(self.tool_calls))),
            ("reasoning_text", text.map(Value::String)),
            ("reasoning_opaque", opaque.map(Value::String)),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                m[k] = v;
            }
        }
        Some(m)
    }
}

/// The body's start: the model and its messages.
pub fn body(model: &str, messages: Vec<Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(model.into()));
    out.insert("messages".into(), Value::Array(messages));
    out
}

/// `tools` and `tool_choice` in Chat's form (none of them without a tool).
pub fn insert_tools(tools: Tools, out: &mut Map<String, Value>) {
    super::insert_tools(tools, out, chat::write_tool, chat::write_tool_choice);
}

/// A `json_schema` response format around `spec` (name, schema, strict, description).
pub fn json_schema_format(spec: Map<String, Value>) -> Value {
    json!({"type": "json_schema", "json_schema": spec})
}

/// The gateway always streams from Copilot, with the usage chunk at the end.
pub fn insert_stream(out: &mut Map<String, Value>) {
    out.insert("stream".into(), Value::Bool(true));
    out.insert("stream_options".into(), json!({"include_usage": true}));
}
