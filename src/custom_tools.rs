//! Responses "custom" (freeform) tools, such as Codex's `apply_patch`. Copilot only takes
//! function tools, so a custom tool goes upstream as a function with one string
//! parameter, `input`, and its calls come back to the client as `custom_tool_call` items
//! again, the shape the client registered and expects.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::translate::parse_arguments;

/// Names of the custom tools a request declared, and the response-side rewrite state.
#[derive(Debug, Default, Clone)]
pub struct CustomTools {
    names: HashSet<String>,
    /// Output indexes whose item is a converted call.
    converted: HashSet<u64>,
    /// Renumbering, because dropped argument deltas would leave gaps.
    next_sequence: u64,
}

impl CustomTools {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Request side: custom tools become function tools, and history items of custom
    /// calls become function calls and outputs.
    pub fn from_request(body: &mut Map<String, Value>) -> CustomTools {
        let mut names = HashSet::new();
        if let Some(Value::Array(tools)) = body.get_mut("tools") {
            for tool in tools.iter_mut() {
                if tool.get("type").and_then(Value::as_str) != Some("custom") {
                    continue;
                }
                let Some(name) = tool.get("name").and_then(Value::as_str).map(str::to_string)
                else {
                    continue;
                };
                *tool = as_function_tool(tool, &name);
                names.insert(name);
            }
        }
        if let Some(Value::Object(choice)) = body.get_mut("tool_choice") {
            if choice.get("type").and_then(Value::as_str) == Some("custom") {
                choice.insert("type".into(), json!("function"));
            }
        }
        if let Some(Value::Array(items)) = body.get_mut("input") {
            for item in items.iter_mut() {
                convert_history_item(item);
            }
        }
        CustomTools {
            names,
            ..Default::default()
        }
    }

    /// Response side, for one client Responses event: converts calls of custom tools
    /// back; false means drop the event (their JSON argument deltas mean nothing to a
    /// client expecting freeform input).
    pub fn rewrite_event(&mut self, name: &str, data: &mut Value) -> bool {
        let index = data.get("output_index").and_then(Value::as_u64);
        let keep = match name {
            "response.output_item.added" | "response.output_item.done" => {
                if let (Some(i), Some(item)) = (index, data.get_mut("item")) {
                    if self.convert_item(item) {
                        self.converted.insert(i);
                    }
                }
                true
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                !index.is_some_and(|i| self.converted.contains(&i))
            }
            "response.completed"
            | "response.incomplete"
            | "response.failed"
            | "response.created"
            | "response.in_progress" => {
                if let Some(Value::Array(output)) = data.pointer_mut("/response/output") {
                    for item in output.iter_mut() {
                        self.convert_item(item);
                    }
                }
                true
            }
            _ => true,
        };
        if keep && data.get("sequence_number").is_some() {
            data["sequence_number"] = json!(self.next_sequence);
            self.next_sequence += 1;
        }
        keep
    }

    /// A whole (non-stream) Responses object.
    pub fn rewrite_response(&mut self, response: &mut Value) {
        if let Some(Value::Array(output)) = response.get_mut("output") {
            for item in output.iter_mut() {
                self.convert_item(item);
            }
        }
    }

    fn convert_item(&self, item: &mut Value) -> bool {
        let is_call = item.get("type").and_then(Value::as_str) == Some("function_call");
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        if !is_call || !self.names.contains(name) {
            return false;
        }
        let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
        let input = match parse_arguments(args).get("input") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let mut custom = json!({
            "type": "custom_tool_call",
            "call_id": item.get("call_id").cloned().unwrap_or(Value::Null),
            "name": name,
            "input": input,
        });
        for key in ["id", "status"] {
            if let Some(v) = item.get(key) {
                custom[key] = v.clone();
            }
        }
        *item = custom;
        true
    }
}

fn as_function_tool(tool: &Value, name: &str) -> Value {
    let mut description = tool
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(format) = tool
        .get("format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("grammar"))
    {
        let syntax = format
            .get("syntax")
            .and_then(Value::as_str)
            .unwrap_or("grammar");
        if let Some(def) = format.get("definition").and_then(Value::as_str) {
            description.push_str(&format!(
                "\n\nThe `input` string must follow this {syntax} grammar:\n{def}"
            ));
        }
    }
    json!({
        "type": "function",
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": { "input": { "type": "string", "description": "The raw input of the tool call." } },
            "required": ["input"],
            "additionalProperties": false,
        },
        "strict": false,
    })
}

fn convert_history_item(item: &mut Value) {
    match item.get("type").and_then(Value::as_str) {
        Some("custom_tool_call") => {
            let input = item.get("input").and_then(Value::as_str).unwrap_or("");
            let mut call = json!({
                "type": "function_call",
                "call_id": item.get("call_id").cloned().unwrap_or(Value::Null),
                "name": item.get("name").cloned().unwrap_or(Value::Null),
                "arguments": json!({ "input": input }).to_string(),
            });
            for key in ["id", "status"] {
                if let Some(v) = item.get(key) {
                    call[key] = v.clone();
                }
            }
            *item = call;
        }
        Some("custom_tool_call_output") => {
            if let Some(o) = item.as_object_mut() {
                o.insert("type".into(), json!("function_call_output"));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_patch_request() -> Map<String, Value> {
        json!({
            "model": "gpt-5.1-codex",
            "tools": [
                {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                {"type": "custom", "name": "apply_patch", "description": "Edit files.",
                 "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}}
            ],
            "input": [
                {"type": "message", "role": "user", "content": "fix it"},
                {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin Patch", "status": "completed"},
                {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done!"}
            ]
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn request_side_conversion() {
        let mut body = apply_patch_request();
        let tools = CustomTools::from_request(&mut body);
        assert!(!tools.is_empty());
        let t = &body["tools"][1];
        assert_eq!(t["type"], "function");
        assert_eq!(t["name"], "apply_patch");
        assert_eq!(t["parameters"]["required"], json!(["input"]));
        assert!(t["description"]
            .as_str()
            .unwrap()
            .contains("lark grammar:\nstart: begin_patch"));
        assert_eq!(body["tools"][0]["name"], "exec_command");
        assert_eq!(body["input"][1]["type"], "function_call");
        assert_eq!(
            body["input"][1]["arguments"],
            r#"{"input":"*** Begin Patch"}"#
        );
        assert_eq!(body["input"][1]["id"], "ctc_1");
        assert_eq!(body["input"][2]["type"], "function_call_output");
    }

    #[test]
    fn response_side_conversion() {
        let mut body = apply_patch_request();
        let mut tools = CustomTools::from_request(&mut body);
        let mut added = json!({"type":"response.output_item.added","output_index":1,"sequence_number":5,
            "item":{"type":"function_call","id":"fc_1","call_id":"call_9","name":"apply_patch","arguments":"","status":"in_progress"}});
        assert!(tools.rewrite_event("response.output_item.added", &mut added));
        assert_eq!(added["item"]["type"], "custom_tool_call");
        assert_eq!(added["item"]["input"], "");
        assert_eq!(added["sequence_number"], 0);
        let mut delta = json!({"type":"response.function_call_arguments.delta","output_index":1,"delta":"{\"in","sequence_number":6});
        assert!(!tools.rewrite_event("response.function_call_arguments.delta", &mut delta));
        let mut done = json!({"type":"response.output_item.done","output_index":1,"sequence_number":7,
            "item":{"type":"function_call","id":"fc_1","call_id":"call_9","name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n\"}","status":"completed"}});
        assert!(tools.rewrite_event("response.output_item.done", &mut done));
        assert_eq!(
            done["item"],
            json!({"type":"custom_tool_call","id":"fc_1","call_id":"call_9","name":"apply_patch","input":"*** Begin Patch\n","status":"completed"})
        );
        assert_eq!(
            done["sequence_number"], 1,
            "renumbered without the dropped delta"
        );
        // Ordinary function calls are untouched.
        let mut other = json!({"type":"response.function_call_arguments.delta","output_index":2,"delta":"{}","sequence_number":8});
        assert!(tools.rewrite_event("response.function_call_arguments.delta", &mut other));
        let mut completed = json!({"type":"response.completed","sequence_number":9,"response":{"output":[
            {"type":"function_call","name":"exec_command","call_id":"c","arguments":"{}"},
            {"type":"function_call","name":"apply_patch","call_id":"call_9","arguments":"{\"input\":\"p\"}"}]}});
        tools.rewrite_event("response.completed", &mut completed);
        assert_eq!(completed["response"]["output"][0]["type"], "function_call");
        assert_eq!(
            completed["response"]["output"][1]["type"],
            "custom_tool_call"
        );
        assert_eq!(completed["response"]["output"][1]["input"], "p");
    }
}
