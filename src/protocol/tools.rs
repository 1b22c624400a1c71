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

/// A tool the client offers, in no API's form.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    pub name: String,
    pub description: Option<String>,
    /// The JSON schema of its arguments (None: the client gave none).
    pub schema: Option<Value>,
    pub strict: Option<bool>,
}

/// Which tool the model must call, if any.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    Required,
    None,
    Named(String),
}

/// A request's tools: the definitions, the choice, and whether calls must come one at a
/// time (no parallel tool calls).
#[derive(Debug, Default)]
pub struct Tools {
    pub defs: Vec<ToolDef>,
    pub choice: Option<ToolChoice>,
    pub serial: bool,
}

/// Tool-call arguments as a JSON object. Models sometimes stream invalid or non-object
/// JSON; the raw text is kept instead of failing the turn.
pub fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "raw_arguments": raw }),
    }
}
