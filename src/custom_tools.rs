//! Responses tool shapes Copilot's APIs lack, and their calls turned back into the shapes
//! the client registered.
//!
//! "Custom" (freeform) tools, such as Codex's `apply_patch`: Copilot only takes function
//! tools, so a custom tool goes upstream as a function with one string parameter,
//! `input`, and its calls come back to the client as `custom_tool_call` items again.
//!
//! Namespaces (`{"type":"namespace","name","tools":[...]}`: Codex's MCP servers and
//! multi-agent tools): Copilot's `/responses` takes them, the Messages and Chat APIs have
//! no such thing. On the way to those, each tool of a namespace becomes a top-level
//! function named `<namespace>__<tool>`, and its calls come back as calls of `<tool>`
//! with `namespace` set, as Codex dispatches them.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::protocol::tools::parse_arguments;

/// Names of the custom tools a request declared, and the response-side rewrite state.
#[derive(Debug, Default, Clone)]
pub struct CustomTools {
    names: HashSet<String>,
    /// Flattened namespaced tools: upstream name → (namespace, tool name).
    namespaced: HashMap<String, (String, String)>,
    /// Output indexes whose item is a converted call.
    converted: HashSet<u64>,
    /// Renumbering, because dropped argument deltas would leave gaps.
    next_sequence: u64,
}

impl CustomTools {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.namespaced.is_empty()
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

    /// For an upstream API without namespaces (Messages, Chat): every function (or
    /// custom) tool of a namespace becomes a top-level tool named by `flat_name`, in the
    /// namespace's place; history calls and a `tool_choice` that name a namespace follow.
    /// Other tools inside a namespace (hosted ones) go the way of hosted tools.
    pub fn flatten_namespaces(&mut self, body: &mut Map<String, Value>) {
        if let Some(Value::Array(tools)) = body.get_mut("tools") {
            if tools.iter().any(is_namespace) {
                let taken: HashSet<String> = tools
                    .iter()
                    .filter(|t| !is_namespace(t))
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect();
                let mut flat = Vec::with_capacity(tools.len());
                for tool in std::mem::take(tools) {
                    if !is_namespace(&tool) {
                        flat.push(tool);
                        continue;
                    }
                    let namespace = tool.get("name").and_then(Value::as_str).unwrap_or("");
                    let Some(Value::Array(inner)) = tool.get("tools") else {
                        continue;
                    };
                    for t in inner {
                        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
                        let Some(name) = t.get("name").and_then(Value::as_str) else {
                            continue;
                        };
                        if !matches!(kind, "function" | "custom") {
                            continue;
                        }
                        let mut upstream = flat_name(namespace, name);
                        if taken.contains(&upstream) || self.namespaced.contains_key(&upstream) {
                            upstream = hashed_name(namespace, name);
                        }
                        let mut t = t.clone();
                        if kind == "custom" {
                            t = as_function_tool(&t, &upstream);
                            self.names.insert(upstream.clone());
                        } else {
                            t["type"] = json!("function");
                            t["name"] = json!(upstream);
                        }
                        self.namespaced
                            .insert(upstream, (namespace.to_string(), name.to_string()));
                        flat.push(t);
                    }
                }
                *tools = flat;
            }
        }
        let upstream_of = |namespace: &str, name: &str| {
            self.namespaced
                .iter()
                .find(|(_, (ns, n))| ns == namespace && n == name)
                .map(|(flat, _)| flat.clone())
                .unwrap_or_else(|| flat_name(namespace, name))
        };
        if let Some(Value::Object(choice)) = body.get_mut("tool_choice") {
            if let (Some(Value::String(ns)), Some(Value::String(name))) =
                (choice.get("namespace"), choice.get("name"))
            {
                let flat = upstream_of(ns, name);
                choice.remove("namespace");
                choice.insert("name".into(), json!(flat));
            }
        }
        if let Some(Value::Array(items)) = body.get_mut("input") {
            for item in items.iter_mut() {
                let Some(o) = item.as_object_mut() else {
                    continue;
                };
                let is_call = matches!(
                    o.get("type").and_then(Value::as_str),
                    Some("function_call" | "custom_tool_call")
                );
                let named = match (o.get("namespace"), o.get("name")) {
                    (Some(Value::String(ns)), Some(Value::String(n))) if is_call => {
                        Some(upstream_of(ns, n))
                    }
                    _ => None,
                };
                if let Some(flat) = named {
                    o.remove("namespace");
                    o.insert("name".into(), json!(flat));
                }
            }
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

    /// Turns a call item back into the client's shape; true when it became a custom call
    /// (whose JSON argument deltas the client must not see).
    fn convert_item(&self, item: &mut Value) -> bool {
        let custom = self.custom_call(item);
        self.unflatten(item);
        custom
    }

    fn unflatten(&self, item: &mut Value) {
        let is_call = matches!(
            item.get("type").and_then(Value::as_str),
            Some("function_call" | "custom_tool_call")
        );
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        let Some((namespace, tool)) = self.namespaced.get(name).filter(|_| is_call) else {
            return;
        };
        item["name"] = json!(tool);
        item["namespace"] = json!(namespace);
    }

    fn custom_call(&self, item: &mut Value) -> bool {
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

fn is_namespace(tool: &Value) -> bool {
    tool.get("type").and_then(Value::as_str) == Some("namespace")
}

/// The Messages and Chat APIs take tool names of at most 64 of `[A-Za-z0-9_-]`.
const MAX_NAME: usize = 64;

/// `<namespace>__<tool>` (Codex's own spelling of an MCP tool's full name; a namespace
/// such as `mcp__server__` that already ends in `_` is not doubled); `hashed_name` when
/// that is too long or has other characters.
fn flat_name(namespace: &str, name: &str) -> String {
    let joined = format!("{}__{name}", namespace.trim_end_matches('_'));
    if joined.len() <= MAX_NAME && joined.bytes().all(is_name_byte) {
        joined
    } else {
        hashed_name(namespace, name)
    }
}

/// A valid name unique to (namespace, tool) and the same every turn: the start of
/// `<namespace>__<tool>` (other characters as `_`) and 8 hex digits of a hash of both.
fn hashed_name(namespace: &str, name: &str) -> String {
    let hash = crate::auth::sha256_hex(&format!("{namespace}\u{0}{name}"));
    let joined = format!("{}__{name}", namespace.trim_end_matches('_'));
    let mut head: String = joined
        .bytes()
        .map(|b| if is_name_byte(b) { b as char } else { '_' })
        .take(MAX_NAME - 9)
        .collect();
    head.push('_');
    head.push_str(&hash[..8]);
    head
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
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
            for key in ["id", "status", "namespace"] {
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

    fn codex_namespaced_request() -> Map<String, Value> {
        json!({
            "model": "claude-sonnet-5",
            "tools": [
                {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
                {"type": "namespace", "name": "multi_agent_v1", "description": "Sub-agents.", "tools": [
                    {"type": "function", "name": "spawn_agent", "description": "Spawn one.", "parameters": {"type": "object"}},
                    {"type": "function", "name": "wait_agent", "parameters": {"type": "object"}}
                ]},
                {"type": "namespace", "name": "mcp__probe__", "description": "", "tools": [
                    {"type": "function", "name": "echo", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}},
                    {"type": "custom", "name": "exec", "description": "Run code."},
                    {"type": "web_search"}
                ]},
                {"type": "web_search"}
            ],
            "tool_choice": {"type": "function", "namespace": "mcp__probe__", "name": "echo"},
            "input": [
                {"type": "message", "role": "user", "content": "go"},
                {"type": "function_call", "call_id": "c1", "namespace": "multi_agent_v1", "name": "spawn_agent", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "spawned"},
                {"type": "custom_tool_call", "call_id": "c2", "namespace": "mcp__probe__", "name": "exec", "input": "1+1"},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": "2"},
                {"type": "function_call", "call_id": "c3", "name": "exec_command", "arguments": "{}"}
            ]
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn namespaces_flatten_into_named_functions() {
        let mut body = codex_namespaced_request();
        let mut tools = CustomTools::from_request(&mut body);
        assert!(tools.is_empty(), "no top-level custom tool");
        tools.flatten_namespaces(&mut body);
        assert!(!tools.is_empty());
        let names: Vec<&str> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap_or("(hosted)"))
            .collect();
        assert_eq!(
            names,
            [
                "exec_command",
                "multi_agent_v1__spawn_agent",
                "multi_agent_v1__wait_agent",
                "mcp__probe__echo",
                "mcp__probe__exec",
                "(hosted)"
            ]
        );
        let spawn = &body["tools"][1];
        assert_eq!(spawn["type"], "function");
        assert_eq!(spawn["description"], "Spawn one.");
        let exec = &body["tools"][4];
        assert_eq!(
            exec["type"], "function",
            "a custom tool in a namespace is one too"
        );
        assert_eq!(exec["parameters"]["required"], json!(["input"]));
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "name": "mcp__probe__echo"})
        );
        let input = body["input"].as_array().unwrap();
        assert_eq!(input[1]["name"], "multi_agent_v1__spawn_agent");
        assert!(input[1].get("namespace").is_none());
        assert_eq!(input[3]["type"], "function_call");
        assert_eq!(input[3]["name"], "mcp__probe__exec");
        assert_eq!(input[5]["name"], "exec_command");
    }

    #[test]
    fn namespaced_calls_come_back_with_their_namespace() {
        let mut body = codex_namespaced_request();
        let mut tools = CustomTools::from_request(&mut body);
        tools.flatten_namespaces(&mut body);
        let mut added = json!({"type":"response.output_item.added","output_index":0,"sequence_number":3,
            "item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"multi_agent_v1__spawn_agent","arguments":"","status":"in_progress"}});
        assert!(tools.rewrite_event("response.output_item.added", &mut added));
        assert_eq!(added["item"]["name"], "spawn_agent");
        assert_eq!(added["item"]["namespace"], "multi_agent_v1");
        let mut delta =
            json!({"type":"response.function_call_arguments.delta","output_index":0,"delta":"{}"});
        assert!(
            tools.rewrite_event("response.function_call_arguments.delta", &mut delta),
            "a namespaced function keeps its argument deltas"
        );
        let mut answer = json!({"output": [
            {"type":"function_call","call_id":"call_2","name":"mcp__probe__exec","arguments":"{\"input\":\"2*3\"}"},
            {"type":"function_call","call_id":"call_3","name":"exec_command","arguments":"{}"}
        ]});
        tools.rewrite_response(&mut answer);
        assert_eq!(
            answer["output"][0],
            json!({"type":"custom_tool_call","call_id":"call_2","name":"exec","input":"2*3","namespace":"mcp__probe__"})
        );
        assert_eq!(answer["output"][1]["name"], "exec_command");
        assert!(answer["output"][1].get("namespace").is_none());
    }

    #[test]
    fn flat_names_stay_valid_unique_and_stable() {
        assert_eq!(
            flat_name("multi_agent_v1", "spawn_agent"),
            "multi_agent_v1__spawn_agent"
        );
        assert_eq!(flat_name("mcp__srv__", "t"), "mcp__srv__t");
        let long = flat_name(&"n".repeat(60), "tool");
        assert_eq!(long.len(), 64);
        assert_eq!(long, flat_name(&"n".repeat(60), "tool"), "stable");
        assert_ne!(long, flat_name(&"n".repeat(60), "tool2"));
        let odd = flat_name("my.server", "do it");
        assert!(odd.bytes().all(is_name_byte), "{odd}");
        assert!(odd.starts_with("my_server__do_it_"));
        // A namespaced tool whose plain name is taken gets the hashed one.
        let mut body = json!({"tools": [
            {"type": "function", "name": "ns__t"},
            {"type": "namespace", "name": "ns", "description": "d", "tools": [{"type": "function", "name": "t"}]}
        ], "input": [{"type": "function_call", "call_id": "c", "namespace": "ns", "name": "t", "arguments": "{}"}]})
        .as_object()
        .unwrap()
        .clone();
        let mut tools = CustomTools::default();
        tools.flatten_namespaces(&mut body);
        let second = body["tools"][1]["name"].as_str().unwrap().to_string();
        assert_ne!(second, "ns__t");
        assert!(second.starts_with("ns__t_"));
        assert_eq!(body["input"][0]["name"], second.as_str(), "history follows");
    }
}
