//! Facts about tool definitions that hold across the three APIs.

use serde_json::{json, Value};

/// The schema of a tool that takes no arguments, for a tool defined without one (the
/// Messages API requires `input_schema`; the OpenAI APIs read none as this).
pub fn empty_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

/// A freeform (custom) tool as a function: Copilot runs no freeform tools, so the tool
/// takes its raw text as one `input` string.
pub fn freeform_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
        "additionalProperties": false,
    })
}
