//! Each API's wire forms, read into and written from `protocol::content`: one module per
//! API, used by every pair that has that API on either side.

pub mod chat;
pub mod chat_request;
pub mod chat_stream;
pub mod chat_upstream_request;
pub mod chat_upstream_stream;
pub mod messages;
pub mod messages_request;
pub mod messages_stream;
pub mod messages_upstream_request;
pub mod messages_upstream_stream;
pub mod responses;
pub mod responses_request;
pub mod responses_stream;
pub mod responses_upstream_request;
pub mod responses_upstream_stream;

use serde_json::{Map, Value};

use crate::protocol::tools::{ToolChoice, ToolDef, Tools};

/// Puts `tools` into an OpenAI request body (Chat or Responses, by the writers given): no
/// choice and no `parallel_tool_calls` without a tool to go with them.
pub fn insert_tools(
    tools: Tools,
    out: &mut Map<String, Value>,
    write_tool: fn(ToolDef) -> Value,
    write_choice: fn(ToolChoice) -> Value,
) {
    if tools.defs.is_empty() {
        return;
    }
    let defs = tools.defs.into_iter().map(write_tool).collect();
    out.insert("tools".into(), Value::Array(defs));
    if let Some(choice) = tools.choice {
        out.insert("tool_choice".into(), write_choice(choice));
    }
    if tools.serial {
        out.insert("parallel_tool_calls".into(), Value::Bool(false));
    }
}
