//! A Responses client (Codex CLI, openai SDK) served by Copilot's `/chat/completions`
//! (chat-only models: gemini, gpt-4.1, legacy models).
//!
//! `request` turns the item list into chat messages: one assistant message per run of
//! assistant-side items (reasoning, text, calls), tool messages for call outputs.
//! `ResponsesToChatStream` turns chat chunks back into Responses events.

use serde_json::{json, Map, Value};

use super::wire::chat;
use super::wire::chat_upstream_request as w;
use super::wire::chat_upstream_stream::ChatEvents;
use super::wire::responses_request::{self as read, InputItem, Role};
use super::wire::responses_stream::{usage_value, ResponsesStreamWriter};
use super::{
    cannot_carry, content_text, nonempty, ChatToolCall, OutEvent, TranslateCtx, Usage,
    WhitespaceGuard, THINKING_PLACEHOLDER,
};
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;
use crate::protocol::usage::openai_usage_into;

const ASSISTANT_TEXT_ONLY: &str = "an assistant message holds only text on this model";

/// Responses body → Chat Completions body.
pub fn request(
    mut body: Map<String, Value>,
    ctx: &TranslateCtx,
) -> Result<Map<String, Value>, ApiError> {
    let mut b = MessageBuilder::default();
    if let Some(s) = read::instructions(&mut body) {
        b.push(w::message("system", s));
    }
    for (i, item) in read::input(&mut body)? {
        b.item(i, item)?;
    }
    let messages = b.finish();

    let mut out = w::body(&ctx.model, messages);
    let tools = read::tools(&mut body)?;
    // Chat rejects parallel_tool_calls without tools; with them, true is carried too.
    if !tools.defs.is_empty() {
        super::carry(
            &mut body,
            "parallel_tool_calls",
            &mut out,
            "parallel_tool_calls",
        );
    }
    w::insert_tools(tools, &mut out);

    super::carry(&mut body, "max_output_tokens", &mut out, "max_tokens");
    super::carry(&mut body, "temperature", &mut out, "temperature");
    super::carry(&mut body, "top_p", &mut out, "top_p");
    if let Some(Value::Object(mut reasoning)) = body.remove("reasoning") {
        super::carry(&mut reasoning, "effort", &mut out, "reasoning_effort");
    }
    if let Some(format) = read::text_format(&mut body) {
        if let Some(rf) = response_format(format)? {
            out.insert("response_format".into(), rf);
        }
    }
    // Chat has only the deprecated `user`.
    if let Some(user) = read::end_user(&mut body) {
        out.insert("user".into(), Value::String(user));
    }
    w::insert_stream(&mut out);
    Ok(out)
}

/// Collects chat messages; assistant-side items accumulate until a non-assistant item.
#[derive(Default)]
struct MessageBuilder {
    messages: Vec<Value>,
    turn: Option<w::Assistant>,
    /// Images and files returned by tool outputs: tool messages cannot hold them, so they
    /// follow the run of tool messages as a user message.
    tool_images: Vec<Value>,
}

impl MessageBuilder {
    fn push(&mut self, msg: Value) {
        self.flush_turn();
        self.flush_images();
        self.messages.push(msg);
    }

    fn turn(&mut self) -> &mut w::Assistant {
        self.flush_images();
        self.turn.get_or_insert_with(w::Assistant::default)
    }

    fn flush_images(&mut self) {
        if !self.tool_images.is_empty() {
            let parts = std::mem::take(&mut self.tool_images);
            self.messages.push(w::message("user", parts));
        }
    }

    fn flush_turn(&mut self) {
        let Some(t) = self.turn.take() else { return };
        // Reasoning alone has nothing to attach to in Chat.
        if t.text.is_none() && t.tool_calls.is_empty() {
            return;
        }
        self.messages.extend(t.write());
    }

    fn finish(mut self) -> Vec<Value> {
        self.flush_turn();
        self.flush_images();
        self.messages
    }

    fn item(&mut self, i: usize, item: InputItem) -> Result<(), ApiError> {
        match item {
            InputItem::Call {
                call_id,
                name,
                arguments,
            } => self
                .turn()
                .tool_calls
                .push(w::tool_call(call_id, name, arguments)),
            InputItem::Output {
                call_id, output, ..
            } => {
                self.flush_turn();
                let content = tool_output(i, output, &mut self.tool_images)?;
                self.messages.push(w::tool_message(call_id, content));
            }
            InputItem::Reasoning {
                summary,
                content,
                encrypted,
            } => self.reasoning(summary, content, encrypted),
            InputItem::Message { role, content } => self.message(i, role, content)?,
        }
        Ok(())
    }

    fn message(&mut self, i: usize, role: Role, content: Value) -> Result<(), ApiError> {
        match role {
            Role::Assistant => {
                let text = match content {
                    Value::Array(parts) => {
                        let mut text = String::new();
                        for part in read::parts(parts, |j| format!("input[{i}].content[{j}]"))? {
                            match part {
                                Part::Text(t) => text.push_str(&t),
                                Part::Image(m) | Part::File(m) => {
                                    return Err(cannot_carry(m.at, ASSISTANT_TEXT_ONLY))
                                }
                            }
                        }
                        text
                    }
                    Value::String(s) => s,
                    _ => String::new(),
                };
                append(&mut self.turn().text, text);
            }
            // Copilot's chat models may not know `developer`.
            Role::System => {
                let text = content_text(&content, "\n\n");
                self.push(w::message("system", text));
            }
            Role::User => {
                let content = user_content(i, content)?;
                self.push(w::message("user", content));
            }
        }
        Ok(())
    }

    fn reasoning(&mut self, summary: Vec<String>, content: Vec<String>, opaque: Option<String>) {
        let readable = |t: &String| t != THINKING_PLACEHOLDER;
        let mut parts: Vec<String> = summary.into_iter().filter(readable).collect();
        if parts.is_empty() {
            parts = content.into_iter().filter(readable).collect();
        }
        let turn = self.turn();
        if !parts.is_empty() {
            append(&mut turn.reasoning_text, parts.join("\n\n"));
        }
        // One opaque slot per chat message: the first payload of the turn wins.
        if turn.reasoning_opaque.is_none() {
            turn.reasoning_opaque = opaque;
        }
    }
}

/// Adds a run's text to what the assistant turn has, a blank line between.
fn append(slot: &mut Option<String>, text: String) {
    match slot {
        Some(t) => {
            if !t.is_empty() && !text.is_empty() {
                t.push_str("\n\n");
            }
            t.push_str(&text);
        }
        None => *slot = Some(text),
    }
}

/// User content: a string stays a string; parts map to chat parts; a lone text part
/// collapses to a string.
fn user_content(i: usize, content: Value) -> Result<Value, ApiError> {
    let Value::Array(parts) = content else {
        return Ok(content);
    };
    let out = read::parts(parts, |j| format!("input[{i}].content[{j}]"))?
        .into_iter()
        .map(chat::write_part)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match out.as_slice() {
        [] => json!(""),
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(out),
    })
}

/// A tool output as chat tool content (text); images and files go to `media` (tool
/// messages hold text only).
fn tool_output(
    i: usize,
    output: Option<Value>,
    media: &mut Vec<Value>,
) -> Result<String, ApiError> {
    Ok(match output {
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => w::tool_content(
            read::parts(parts, |j| format!("input[{i}].output[{j}]"))?,
            media,
        )?,
        None => String::new(),
        Some(v) => v.to_string(),
    })
}

/// `text.format` → `response_format`; plain text is Chat's default and is omitted.
fn response_format(mut f: Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match f.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => Ok(None),
        "json_object" => Ok(Some(json!({"type": "json_object"}))),
        "json_schema" => {
            let mut schema = Map::new();
            for k in ["name", "schema", "strict", "description"] {
                super::carry(&mut f, k, &mut schema, k);
            }
            Ok(Some(w::json_schema_format(schema)))
        }
        other => Err(cannot_carry(
            "text.format.type",
            format!("format type {other:?} is not supported for this model"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Stream: Chat chunks → Responses events.

/// A tool call as Chat streams it.
struct Call {
    /// Its output index.
    idx: usize,
    /// Chat choice index and tool-call index this call streams under.
    key: (u64, u64),
    call_id: String,
    guard: WhitespaceGuard,
}

/// The open reasoning or message item (calls stay open until the end).
#[derive(Clone, Copy)]
enum Current {
    Reasoning { idx: usize, payload: bool },
    Message { idx: usize },
}

/// Copilot `/chat/completions` chunks → Responses stream events.
pub struct ResponsesToChatStream {
    seed: String,
    w: ResponsesStreamWriter,
    calls: Vec<Call>,
    current: Option<Current>,
    finish: Option<StopReason>,
    usage: Option<Value>,
    totals: Usage,
}

impl ResponsesToChatStream {
    pub fn new(ctx: &TranslateCtx) -> Self {
        ResponsesToChatStream {
            seed: ctx.id_seed.clone(),
            w: ResponsesStreamWriter::new(ctx),
            calls: Vec::new(),
            current: None,
            finish: None,
            usage: None,
            totals: Usage::default(),
        }
    }

    fn close_current(&mut self, out: &mut Vec<OutEvent>) {
        match self.current.take() {
            Some(Current::Reasoning { idx, .. } | Current::Message { idx }) => {
                self.w.close(idx, out)
            }
            None => {}
        }
    }

    fn open_reasoning(&mut self, out: &mut Vec<OutEvent>) -> usize {
        self.close_current(out);
        let idx = self.w.open_reasoning(None, out);
        self.current = Some(Current::Reasoning {
            idx,
            payload: false,
        });
        idx
    }

    fn call_delta(&mut self, choice: u64, tc: &ChatToolCall, out: &mut Vec<OutEvent>) {
        let key = (choice, tc.index.unwrap_or(0));
        let new_id = nonempty(&tc.id);
        let function = tc.function.as_ref();
        let name = function.and_then(|f| nonempty(&f.name));
        // The latest call under this key, unless a different id says a new call began
        // (some models reuse index 0 for every call).
        let existing = self
            .calls
            .iter()
            .rposition(|c| c.key == key && new_id.is_none_or(|id| id == c.call_id));
        let call = match existing {
            Some(i) => {
                if let Some(name) = name {
                    self.w.name_call(self.calls[i].idx, name);
                }
                i
            }
            None => {
                self.close_current(out);
                let n = self.w.next_index();
                let call_id =
                    new_id.map_or_else(|| format!("call_{}_{n}", self.seed), str::to_string);
                let name = name.unwrap_or("").to_string();
                let idx = self.w.open_call(call_id.clone(), name, String::new(), out);
                self.calls.push(Call {
                    idx,
                    key,
                    call_id,
                    guard: WhitespaceGuard::default(),
                });
                self.calls.len() - 1
            }
        };
        let delta = function.and_then(|f| f.arguments.as_deref()).unwrap_or("");
        if delta.is_empty() {
            return;
        }
        let call = &mut self.calls[call];
        if call.guard.tripped_by(delta) {
            self.w.fail(WhitespaceGuard::MESSAGE, None, out);
            return;
        }
        self.w.delta(call.idx, delta, out);
    }
}

impl ChatEvents for ResponsesToChatStream {
    const ENDED_EARLY: &'static str =
        "The upstream Chat Completions stream ended before the response was complete.";

    fn finish(&mut self) -> &mut Option<StopReason> {
        &mut self.finish
    }

    fn ended(&self) -> bool {
        self.w.terminated()
    }

    fn error(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.w.fail(message, None, out);
    }

    fn start(&mut self, out: &mut Vec<OutEvent>) {
        self.w.start(out);
    }

    fn record_usage(&mut self, u: &Value) {
        self.totals = Usage::default();
        openai_usage_into(&mut self.totals, u);
        let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
        let reasoning = n("/completion_tokens_details/reasoning_tokens").unwrap_or(0);
        self.usage = Some(usage_value(&self.totals, reasoning, n("/total_tokens")));
    }

    fn usage_totals(&self) -> Usage {
        self.totals
    }

    fn reasoning_text(&mut self, delta: &str, out: &mut Vec<OutEvent>) {
        let idx = match self.current {
            Some(Current::Reasoning { idx, .. }) => idx,
            _ => self.open_reasoning(out),
        };
        self.w.delta(idx, delta, out);
    }

    fn reasoning_opaque(&mut self, opaque: &str, out: &mut Vec<OutEvent>) {
        let idx = match self.current {
            Some(Current::Reasoning {
                idx,
                payload: false,
            }) => idx,
            // Opaque after the answer started (or a second one): its own reasoning item.
            _ => self.open_reasoning(out),
        };
        self.w.reasoning_payload(idx, opaque);
        self.current = Some(Current::Reasoning { idx, payload: true });
    }

    fn text(&mut self, delta: &str, out: &mut Vec<OutEvent>) {
        let idx = match self.current {
            Some(Current::Message { idx }) => idx,
            _ => {
                self.close_current(out);
                let idx = self.w.open_message(out);
                self.current = Some(Current::Message { idx });
                idx
            }
        };
        self.w.delta(idx, delta, out);
    }

    fn tool_call(&mut self, choice: u64, _pos: u64, tc: &ChatToolCall, out: &mut Vec<OutEvent>) {
        self.call_delta(choice, tc, out);
    }

    fn answer(&mut self, stop: Option<StopReason>, out: &mut Vec<OutEvent>) {
        let usage = self.usage.clone().unwrap_or(Value::Null);
        self.w
            .finish(stop.unwrap_or(StopReason::EndTurn), usage, out);
    }

    fn skip_deltas(&mut self) {
        self.w.skip_deltas();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseEvent;
    use crate::sse::SseParser;
    use crate::translate::StreamTranslator;

    fn ctx() -> TranslateCtx {
        TranslateCtx {
            model: "gemini-2.5-pro".into(),
            max_output_tokens: Some(64000),
            id_seed: "0123456789abcdef01234567".into(),
            now_secs: 1_700_000_000,
            include_usage: false,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn fixture(raw: &str) -> Map<String, Value> {
        let v: Value = serde_json::from_str(raw).unwrap();
        obj(v["body"].clone())
    }

    fn translate(body: Value) -> Value {
        Value::Object(request(obj(body), &ctx()).unwrap())
    }

    // ---- request ----

    // ---- one rule per concept (carry it or refuse it, never drop it) ----

    fn user(content: Value) -> Value {
        json!({"model": "x", "input": [{"role": "user", "content": content}]})
    }

    fn err(body: Value) -> ApiError {
        request(obj(body), &ctx()).expect_err("refused")
    }

    #[test]
    fn files_are_converted_or_refused() {
        let out = translate(user(json!([
            {"type": "input_file", "filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
            {"type": "input_file", "file_id": "file-1"}])));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "r.pdf"}},
                {"type": "file", "file": {"file_id": "file-1"}}])
        );
        // Chat carries files only inline or by id: a URL file is refused, naming it.
        let e = err(user(json!([{"type": "input_text", "text": "read"},
            {"type": "input_file", "file_url": "https://x.test/d.pdf"}])));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("input[0].content[1].file_url"))
        );
        assert!(e.message.contains("URL"), "{}", e.message);
        // Chat images are URLs: an image known only by file id cannot be sent.
        let e = err(user(json!([{"type": "input_image", "file_id": "file-1"}])));
        assert_eq!(e.param.as_deref(), Some("input[0].content[0].image_url"));
        // A file from a tool output follows the tool message, like an image.
        let out = translate(json!({"model": "x", "input": [
            {"role": "user", "content": "read"},
            {"type": "function_call", "call_id": "c1", "name": "read", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": [
                {"type": "input_text", "text": "attached"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0="}]}]}));
        assert_eq!(
            out["messages"][2],
            json!({"role": "tool", "tool_call_id": "c1", "content": "attached"})
        );
        assert_eq!(
            out["messages"][3],
            json!({"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]})
        );
    }

    #[test]
    fn unknown_parts_are_refused_everywhere() {
        let e = err(user(
            json!([{"type": "input_text", "text": "hi"}, {"type": "input_audio", "input_audio": {}}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("input[0].content[1].type"))
        );
        assert!(e.message.contains("\"input_audio\""), "{}", e.message);
        let e = err(
            json!({"model": "x", "input": [{"role": "user", "content": "q"},
            {"type": "message", "role": "assistant", "content": [{"type": "hologram"}]}]}),
        );
        assert_eq!(e.param.as_deref(), Some("input[1].content[0].type"));
        let e = err(json!({"model": "x", "input": [
            {"role": "user", "content": "read"},
            {"type": "function_call", "call_id": "c1", "name": "read", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": [{"type": "hologram"}]}]}));
        assert_eq!(e.param.as_deref(), Some("input[2].output[0].type"));
    }

    #[test]
    fn json_output_is_carried_or_refused() {
        let format = |f: Value| {
            let mut b = user(json!("x"));
            b["text"] = json!({ "format": f });
            b
        };
        assert_eq!(
            translate(format(json!({"type": "json_object"})))["response_format"],
            json!({"type": "json_object"})
        );
        assert_eq!(
            translate(format(
                json!({"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": false})
            ))["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": false}})
        );
        assert!(translate(format(json!({"type": "text"})))
            .get("response_format")
            .is_none());
        let e = err(format(json!({"type": "yaml"})));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("text.format.type"))
        );
    }

    #[test]
    fn codex_first_turn_keeps_system_prompt_tools_and_order() {
        let body = fixture(include_str!(
            "../../tests/fixtures/codex.responses.request.json"
        ));
        let input = body["input"].as_array().unwrap().clone();
        let tools_in = body["tools"].as_array().unwrap().clone();
        let out = Value::Object(request(body, &ctx()).unwrap());

        assert_eq!(out["model"], "gemini-2.5-pro");
        assert_eq!(out["stream"], true);
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), input.len());
        // Codex's developer messages become system messages, text unchanged, in order.
        for (m, item) in msgs.iter().zip(&input) {
            let role = match item["role"].as_str().unwrap() {
                "developer" => "system",
                r => r,
            };
            assert_eq!(m["role"], role);
            let parts: Vec<&str> = item["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["text"].as_str().unwrap())
                .collect();
            assert_eq!(m["content"], parts.join("\n\n"));
        }
        assert!(msgs[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("You are a coding agent running in the Codex CLI"));

        // Every function tool survives with its schema; namespace and web_search cannot.
        let tools = out["tools"].as_array().unwrap();
        let fns: Vec<&Value> = tools_in
            .iter()
            .filter(|t| t["type"] == "function")
            .collect();
        assert_eq!(tools.len(), fns.len());
        for (t, f) in tools.iter().zip(fns) {
            assert_eq!(t["type"], "function");
            assert_eq!(t["function"]["name"], f["name"]);
            assert_eq!(t["function"]["description"], f["description"]);
            assert_eq!(t["function"]["parameters"], f["parameters"]);
            assert!(
                t["function"].get("strict").is_none(),
                "strict:false is the default"
            );
        }
        assert_eq!(out["tool_choice"], "auto");
        assert_eq!(out["parallel_tool_calls"], true);
        for k in [
            "input",
            "store",
            "include",
            "prompt_cache_key",
            "client_metadata",
            "reasoning",
            "reasoning_effort",
            "instructions",
        ] {
            assert!(out.get(k).is_none(), "{k} must not reach Chat");
        }
    }

    #[test]
    fn codex_tool_turn_merges_reasoning_and_call_into_one_assistant_message() {
        let body = fixture(include_str!(
            "../../tests/fixtures/codex.responses.tool_output.request.json"
        ));
        let out = Value::Object(request(body, &ctx()).unwrap());
        let msgs = out["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["system", "system", "user", "user", "assistant", "tool"]
        );
        let a = &msgs[4];
        assert_eq!(a["content"], Value::Null);
        assert_eq!(
            a["reasoning_text"],
            "**Mock reasoning**\n\nDeciding how to reply."
        );
        assert_eq!(
            a["reasoning_opaque"],
            "gAAAAmockbW9jay1yZWFzb25pbmc6cmVzcF9tb2NrMDAwMDM3NTk1OWEwZTgwODBhNzU3Yw=="
        );
        assert_eq!(
            a["tool_calls"],
            json!([{"id": "call_mock000037b0bfb4215e7684", "type": "function",
                    "function": {"name": "exec_command",
                                 "arguments": "{\"cmd\": \"printf %s 'hello from mock' > /home/user/project/out/b.txt\"}"}}])
        );
        assert_eq!(msgs[5]["tool_call_id"], "call_mock000037b0bfb4215e7684");
        assert!(msgs[5]["content"]
            .as_str()
            .unwrap()
            .starts_with("Chunk ID: b574c7"));
    }

    #[test]
    fn sdk_string_input_is_one_user_message() {
        let body = fixture(include_str!(
            "../../tests/fixtures/openai-sdk.responses.request.json"
        ));
        let out = Value::Object(request(body, &ctx()).unwrap());
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": "Hello via the Responses API"}])
        );
        assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    }

    #[test]
    fn instructions_multi_turn_and_images() {
        let out = translate(json!({
            "model": "x",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "hi"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello!"}]},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "What is in these?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                    {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "high"},
                ]},
            ],
        }));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
                ]},
            ])
        );
    }

    #[test]
    fn parallel_calls_outputs_and_tool_images_keep_order() {
        let out = translate(json!({
            "model": "x",
            "input": [
                {"role": "user", "content": "look at both"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": "{\"path\":\"a.png\"}"},
                {"type": "function_call", "call_id": "c2", "name": "shell", "arguments": "{\"cmd\":\"ls\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": [
                    {"type": "input_text", "text": "image follows"},
                    {"type": "input_image", "image_url": "data:image/png;base64,BBBB"},
                ]},
                {"type": "function_call_output", "call_id": "c2", "output": "a.png\nb.png"},
                {"role": "user", "content": [{"type": "input_text", "text": "and now?"}]},
            ],
        }));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": "look at both"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "view_image", "arguments": "{\"path\":\"a.png\"}"}},
                    {"id": "c2", "type": "function", "function": {"name": "shell", "arguments": "{\"cmd\":\"ls\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "image follows"},
                {"role": "tool", "tool_call_id": "c2", "content": "a.png\nb.png"},
                // Tool messages cannot carry images: they follow the tool results.
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,BBBB"}}]},
                {"role": "user", "content": "and now?"},
            ])
        );
    }

    #[test]
    fn custom_tools_and_calls_become_functions_with_input() {
        let out = translate(json!({
            "model": "x",
            "tools": [
                {"type": "custom", "name": "apply_patch", "description": "Edit files", "format": {"type": "grammar"}},
                {"type": "web_search"},
                {"type": "local_shell"},
                {"type": "image_generation"},
                {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true},
            ],
            "tool_choice": {"type": "custom", "name": "apply_patch"},
            "input": [
                {"role": "user", "content": "patch it"},
                {"type": "custom_tool_call", "call_id": "p1", "name": "apply_patch", "input": "*** Begin Patch"},
                {"type": "custom_tool_call_output", "call_id": "p1", "output": "Done"},
            ],
        }));
        assert_eq!(
            out["tools"],
            json!([
                {"type": "function", "function": {"name": "apply_patch", "description": "Edit files",
                  "parameters": {"type": "object", "properties": {"input": {"type": "string"}},
                                 "required": ["input"], "additionalProperties": false}}},
                {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": true}},
            ])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "function", "function": {"name": "apply_patch"}})
        );
        assert_eq!(
            out["messages"][1]["tool_calls"][0]["function"],
            json!({"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\"}"})
        );
        assert_eq!(
            out["messages"][2],
            json!({"role": "tool", "tool_call_id": "p1", "content": "Done"})
        );
    }

    #[test]
    fn hosted_only_tools_leave_no_tool_fields() {
        let out = translate(json!({
            "model": "x", "input": "hi",
            "tools": [{"type": "web_search"}, {"type": "namespace", "name": "n", "tools": []}],
            "tool_choice": "required", "parallel_tool_calls": false,
        }));
        for k in ["tools", "tool_choice", "parallel_tool_calls"] {
            assert!(out.get(k).is_none(), "{k}");
        }
        // A named choice for a tool that did not survive is left to the default.
        let out = translate(json!({
            "model": "x", "input": "hi",
            "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "gone"},
        }));
        assert!(out.get("tool_choice").is_none());
        let out = translate(json!({
            "model": "x", "input": "hi",
            "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": []},
        }));
        assert_eq!(out["tool_choice"], "required");
    }

    #[test]
    fn parameters_map_or_drop() {
        let out = translate(json!({
            "model": "x", "input": "hi",
            "max_output_tokens": 300, "temperature": 0.2, "top_p": 0.9,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "safety_identifier": "u-1", "user": "legacy",
            "metadata": {"a": "b"}, "store": true, "include": ["reasoning.encrypted_content"],
            "previous_response_id": "resp_1", "prompt_cache_key": "k", "truncation": "auto",
            "service_tier": "priority", "background": false,
        }));
        let mut expected = json!({
            "model": "gemini-2.5-pro",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 300, "temperature": 0.2, "top_p": 0.9,
            "reasoning_effort": "high",
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": true}},
            "user": "u-1",
            "stream": true, "stream_options": {"include_usage": true},
        });
        assert_eq!(out, expected);

        let out = translate(json!({"model": "x", "input": "hi", "user": "legacy",
                                   "text": {"format": {"type": "text"}}}));
        expected = json!({"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}],
                          "user": "legacy", "stream": true, "stream_options": {"include_usage": true}});
        assert_eq!(out, expected);
        let out = translate(
            json!({"model": "x", "input": "hi", "text": {"format": {"type": "json_object"}}}),
        );
        assert_eq!(out["response_format"], json!({"type": "json_object"}));
    }

    #[test]
    fn reasoning_attaches_to_its_turn_and_placeholders_are_not_thinking() {
        let out = translate(json!({
            "model": "x",
            "input": [
                {"role": "user", "content": "q"},
                // Orphan reasoning before a user message is dropped.
                {"type": "reasoning", "id": "rs_a", "summary": [], "encrypted_content": "gAAAAold"},
                {"role": "user", "content": "q2"},
                {"type": "reasoning", "id": "rs_b", "summary": [{"type": "summary_text", "text": "Thinking..."}],
                 "encrypted_content": "sig-b"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A"}]},
                // A late payload in the same turn: the first one is kept, the text joins.
                {"type": "reasoning", "id": "rs_c", "summary": [{"type": "summary_text", "text": "more"}],
                 "encrypted_content": "sig-c"},
                {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "item_reference", "id": "msg_old"},
            ],
        }));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": "q"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "A\n\nNo.", "reasoning_text": "more", "reasoning_opaque": "sig-b"},
            ])
        );
        // A thinking text without payload never gains one.
        let out = translate(json!({"model": "x", "input": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t1"}, {"type": "summary_text", "text": "t2"}]},
            {"type": "message", "role": "assistant", "content": "B"},
        ]}));
        assert_eq!(
            out["messages"],
            json!([{"role": "assistant", "content": "B", "reasoning_text": "t1\n\nt2"}])
        );
    }

    #[test]
    fn untranslatable_input_names_the_field() {
        let e = request(
            obj(json!({"model": "x", "input": [
                {"role": "user", "content": "q"},
                {"type": "function_call_output", "output": "x"},
            ]})),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("input[1].call_id"));
        let e = request(
            obj(json!({"model": "x", "input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]})),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].name"));
        let e = request(obj(json!({"model": "x", "input": 5})), &ctx()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input"));
        let e = request(
            obj(json!({"model": "x", "input": [{"role": "critic", "content": "x"}]})),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].role"));
    }

    // ---- stream ----

    fn frame(v: Value) -> String {
        format!("data: {v}\n\n")
    }

    fn chunk(model: &str, choices: Value) -> String {
        frame(
            json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1,
                     "model": model, "choices": choices}),
        )
    }

    fn delta(model: &str, index: u64, d: Value) -> String {
        chunk(
            model,
            json!([{"index": index, "delta": d, "finish_reason": null}]),
        )
    }

    fn finish(model: &str, index: u64, reason: &str) -> String {
        chunk(
            model,
            json!([{"index": index, "delta": {}, "finish_reason": reason}]),
        )
    }

    fn usage_chunk(model: &str) -> String {
        frame(
            json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
                     "choices": [], "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                     "prompt_tokens_details": {"cached_tokens": 100},
                     "completion_tokens_details": {"reasoning_tokens": 7}}}),
        )
    }

    /// The Azure-backed models' first chunk: no choices, only filter results.
    fn filter_chunk() -> String {
        frame(
            json!({"choices": [], "created": 0, "id": "", "prompt_filter_results": [
            {"content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}, "prompt_index": 0}]}),
        )
    }

    const DONE: &str = "data: [DONE]\n\n";

    /// Runs raw upstream SSE text through the SSE parser in `split`-byte pieces (cutting
    /// frames and UTF-8 sequences, as the network does) and then the translator.
    fn run_split(frames: &[String], split: usize, end: bool) -> (Vec<OutEvent>, Usage) {
        let raw = frames.concat();
        let mut parser = SseParser::new();
        let mut t = ResponsesToChatStream::new(&ctx());
        let mut out = Vec::new();
        let mut evs = Vec::new();
        for piece in raw.as_bytes().chunks(split) {
            parser.feed(piece, &mut evs);
            for e in evs.drain(..) {
                t.on_event(&e, &mut out);
            }
        }
        if end {
            parser.finish(&mut evs);
            for e in evs.drain(..) {
                t.on_event(&e, &mut out);
            }
            t.on_end(&mut out);
        }
        (out, t.usage())
    }

    fn run(frames: &[String]) -> Vec<OutEvent> {
        let (a, _) = run_split(frames, 7, true);
        let (b, _) = run_split(frames, 1 << 20, true);
        assert_eq!(a, b, "byte splitting must not change the output");
        a
    }

    fn names(out: &[OutEvent]) -> Vec<&'static str> {
        out.iter()
            .map(|e| match e {
                OutEvent::Event { name, .. } | OutEvent::Raw { name, .. } => {
                    name.expect("responses events are named")
                }
                OutEvent::Done => panic!("Responses streams have no [DONE]"),
            })
            .collect()
    }

    fn data(e: &OutEvent) -> Value {
        match e.clone().into_value() {
            OutEvent::Event { data, .. } => data,
            _ => panic!("no data"),
        }
    }

    fn check_sequence(out: &[OutEvent]) {
        for (i, e) in out.iter().enumerate() {
            let d = data(e);
            assert_eq!(d["sequence_number"], i as u64, "event {i}");
            if let OutEvent::Event { name: Some(n), .. } = e {
                assert_eq!(d["type"], *n);
            }
        }
    }

    #[test]
    fn text_stream_from_an_azure_model() {
        let m = "gpt-4.1-2025-04-14";
        let (out, usage) = run_split(
            &[
                filter_chunk(),
                delta(m, 0, json!({"role": "assistant", "content": ""})),
                delta(m, 0, json!({"content": "Héllo"})),
                delta(m, 0, json!({"content": " wörld ✓"})),
                finish(m, 0, "stop"),
                usage_chunk(m),
                DONE.into(),
            ],
            5,
            true,
        );
        check_sequence(&out);
        assert_eq!(
            names(&out),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let id = "msg_0123456789abcdef01234567_0";
        assert_eq!(data(&out[0])["response"]["status"], "in_progress");
        assert_eq!(
            data(&out[0])["response"]["id"],
            "resp_0123456789abcdef01234567"
        );
        assert_eq!(data(&out[2])["item"]["id"], id);
        assert_eq!(data(&out[4])["delta"], "Héllo");
        assert_eq!(data(&out[4])["item_id"], id);
        assert_eq!(data(&out[6])["text"], "Héllo wörld ✓");
        assert_eq!(data(&out[8])["item"]["id"], id);
        let r = &data(&out[9])["response"].clone();
        assert_eq!(r["status"], "completed");
        assert_eq!(r["model"], "gemini-2.5-pro");
        assert_eq!(r["created_at"], 1_700_000_000);
        assert_eq!(
            r["output"],
            json!([{"id": id, "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Héllo wörld ✓"}]}])
        );
        assert_eq!(
            r["usage"],
            json!({"input_tokens": 120, "input_tokens_details": {"cached_tokens": 100},
                   "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 7}, "total_tokens": 150})
        );
        assert_eq!(
            usage,
            Usage {
                input_tokens: 120,
                output_tokens: 30,
                cache_read_tokens: 100,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
    }

    #[test]
    fn claude_split_choices_are_one_answer() {
        let m = "claude-sonnet-4.5";
        let out = run(&[
            delta(
                m,
                0,
                json!({"role": "assistant", "content": "I'll use the Read tool."}),
            ),
            delta(
                m,
                1,
                json!({"tool_calls": [{"index": 0, "id": "toolu_vrtx_01A", "type": "function",
                                             "function": {"name": "Read", "arguments": ""}}]}),
            ),
            delta(
                m,
                1,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"file_pa"}}]}),
            ),
            delta(
                m,
                1,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "th\":\"a\"}"}}]}),
            ),
            finish(m, 1, "tool_calls"),
            usage_chunk(m),
            DONE.into(),
        ]);
        check_sequence(&out);
        assert_eq!(
            names(&out),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(data(&out[8])["output_index"], 1);
        assert_eq!(
            data(&out[8])["item"],
            json!({"id": "fc_0123456789abcdef01234567_1", "type": "function_call", "status": "in_progress",
                   "arguments": "", "call_id": "toolu_vrtx_01A", "name": "Read"})
        );
        assert_eq!(data(&out[11])["arguments"], "{\"file_path\":\"a\"}");
        let r = &data(&out[13])["response"].clone();
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output"][1]["arguments"], "{\"file_path\":\"a\"}");
        assert_eq!(r["output"][1]["status"], "completed");
    }

    #[test]
    fn parallel_calls_by_index_and_by_id() {
        let m = "gpt-4.1";
        // OpenAI style: distinct indexes.
        let out = run(&[
            delta(
                m,
                0,
                json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
            ),
            delta(
                m,
                0,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":1}"}}]}),
            ),
            delta(
                m,
                0,
                json!({"tool_calls": [
                {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}),
            ),
            finish(m, 0, "tool_calls"),
            DONE.into(),
        ]);
        check_sequence(&out);
        let r = &data(out.last().unwrap())["response"];
        assert_eq!(r["output"].as_array().unwrap().len(), 2);
        assert_eq!(r["output"][0]["call_id"], "call_a");
        assert_eq!(r["output"][0]["arguments"], "{\"x\":1}");
        assert_eq!(r["output"][1]["call_id"], "call_b");
        assert_eq!(r["output"][1]["name"], "g");
        assert_eq!(r["usage"], Value::Null, "no usage chunk, no usage");
        // Gemini style: every call at index 0, told apart by id, all in one chunk.
        let out = run(&[
            delta(
                "gemini-2.5-pro",
                0,
                json!({"role": "assistant", "tool_calls": [
                {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                {"index": 0, "id": "c2", "type": "function", "function": {"name": "f", "arguments": "{\"a\":2}"}}]}),
            ),
            finish("gemini-2.5-pro", 0, "tool_calls"),
            DONE.into(),
        ]);
        let r = &data(out.last().unwrap())["response"];
        let calls: Vec<(&str, &str)> = r["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["call_id"].as_str().unwrap(),
                    i["arguments"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(calls, [("c1", "{\"a\":1}"), ("c2", "{\"a\":2}")]);
        // Each item's added/done ids agree.
        let added: Vec<Value> = out
            .iter()
            .filter(|e| names(std::slice::from_ref(e))[0] == "response.output_item.added")
            .map(|e| data(e)["item"]["id"].clone())
            .collect();
        let done: Vec<Value> = out
            .iter()
            .filter(|e| names(std::slice::from_ref(e))[0] == "response.output_item.done")
            .map(|e| data(e)["item"]["id"].clone())
            .collect();
        assert_eq!(added, done);
    }

    #[test]
    fn reasoning_stream_keeps_payload_and_round_trips() {
        let m = "gemini-2.5-pro";
        let out = run(&[
            delta(
                m,
                0,
                json!({"role": "assistant", "reasoning_text": "Let me"}),
            ),
            delta(m, 0, json!({"reasoning_text": " think."})),
            delta(m, 0, json!({"reasoning_opaque": "opaque-1"})),
            delta(m, 0, json!({"content": "Answer"})),
            finish(m, 0, "stop"),
            DONE.into(),
        ]);
        check_sequence(&out);
        assert_eq!(
            names(&out)[2..],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(
            data(&out[8])["item"],
            json!({"id": "rs_0123456789abcdef01234567_0", "type": "reasoning",
                   "summary": [{"type": "summary_text", "text": "Let me think."}],
                   "encrypted_content": "opaque-1"})
        );
        // The client sends the output back next turn: one assistant message again.
        let output = data(out.last().unwrap())["response"]["output"].clone();
        let mut input = vec![json!({"role": "user", "content": "q"})];
        input.extend(output.as_array().unwrap().iter().cloned());
        input.push(json!({"role": "user", "content": "q2"}));
        let back = translate(json!({"model": "x", "input": input}));
        assert_eq!(
            back["messages"][1],
            json!({"role": "assistant", "content": "Answer", "reasoning_text": "Let me think.",
                   "reasoning_opaque": "opaque-1"})
        );
    }

    #[test]
    fn late_opaque_and_text_only_reasoning() {
        let m = "gemini-2.5-pro";
        // The payload arrives with the last content: its own item, still the same turn.
        let out = run(&[
            delta(m, 0, json!({"role": "assistant", "content": "Ans"})),
            chunk(
                m,
                json!([{"index": 0, "delta": {"content": "wer", "reasoning_opaque": "late"}, "finish_reason": "stop"}]),
            ),
            DONE.into(),
        ]);
        check_sequence(&out);
        let output = data(out.last().unwrap())["response"]["output"].clone();
        assert_eq!(output[0]["content"][0]["text"], "Ans");
        assert_eq!(
            output[1],
            json!({"id": "rs_0123456789abcdef01234567_1", "type": "reasoning", "summary": [], "encrypted_content": "late"})
        );
        assert_eq!(output[2]["content"][0]["text"], "wer");
        let back = translate(json!({"model": "x", "input": output}));
        assert_eq!(
            back["messages"],
            json!([{"role": "assistant", "content": "Ans\n\nwer", "reasoning_opaque": "late"}])
        );
        // Readable reasoning without a payload never gains encrypted_content.
        let out = run(&[
            delta(m, 0, json!({"reasoning_text": "hmm"})),
            delta(m, 0, json!({"content": "ok"})),
            finish(m, 0, "stop"),
            DONE.into(),
        ]);
        let r = &data(out.last().unwrap())["response"];
        assert_eq!(
            r["output"][0],
            json!({"id": "rs_0123456789abcdef01234567_0", "type": "reasoning",
                                          "summary": [{"type": "summary_text", "text": "hmm"}]})
        );
    }

    #[test]
    fn huge_usage_saturates() {
        // total_tokens, when upstream gave none, was input + output: an overflow.
        let m = "gpt-4.1";
        let out = run(&[
            delta(m, 0, json!({"content": "x"})),
            finish(m, 0, "stop"),
            frame(
                json!({"choices": [], "usage": {"prompt_tokens": u64::MAX, "completion_tokens": 1}}),
            ),
            DONE.into(),
        ]);
        let r = &data(out.last().unwrap())["response"];
        assert_eq!(r["usage"]["total_tokens"], u64::MAX);
    }

    #[test]
    fn length_is_incomplete() {
        let m = "gpt-4.1";
        let out = run(&[
            delta(m, 0, json!({"role": "assistant", "content": "cut"})),
            finish(m, 0, "length"),
            usage_chunk(m),
            DONE.into(),
        ]);
        check_sequence(&out);
        assert_eq!(*names(&out).last().unwrap(), "response.incomplete");
        let r = &data(out.last().unwrap())["response"];
        assert_eq!(r["status"], "incomplete");
        assert_eq!(
            r["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(r["output"][0]["status"], "incomplete");
        let out = run(&[
            delta(m, 0, json!({"content": "x"})),
            finish(m, 0, "content_filter"),
            DONE.into(),
        ]);
        let r = &data(out.last().unwrap())["response"];
        assert_eq!(r["incomplete_details"], json!({"reason": "content_filter"}));
    }

    #[test]
    fn finish_then_end_without_done_completes() {
        let m = "gpt-4.1";
        let out = run(&[
            delta(m, 0, json!({"content": "x"})),
            finish(m, 0, "stop"),
            usage_chunk(m),
        ]);
        check_sequence(&out);
        assert_eq!(*names(&out).last().unwrap(), "response.completed");
        assert_eq!(
            data(out.last().unwrap())["response"]["usage"]["input_tokens"],
            120
        );
    }

    #[test]
    fn truncated_stream_ends_with_one_error() {
        let m = "gpt-4.1";
        let (mut out, _) = run_split(
            &[
                delta(m, 0, json!({"role": "assistant", "content": "partial"})),
                // cut mid-frame
                "data: {\"choices\":[{\"index\":0,\"del".into(),
            ],
            3,
            true,
        );
        check_sequence(&out);
        let n = names(&out);
        assert_eq!(n.iter().filter(|x| **x == "error").count(), 1);
        assert_eq!(*n.last().unwrap(), "error");
        assert!(!n.contains(&"response.completed"));
        let last = data(out.last().unwrap()).clone();
        assert_eq!(last["code"], "api_error");
        // A stream cut after some output: the error is the last event, and nothing
        // (end, network error, late [DONE]) follows it.
        let before = out.len();
        let mut t = ResponsesToChatStream::new(&ctx());
        t.on_event(
            &SseEvent {
                event: None,
                data: json!({"choices": [{"index": 0, "delta": {"content": "x"}}]}).to_string(),
            },
            &mut out,
        );
        t.on_end(&mut out);
        assert_eq!(
            names(&out[before..]),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "error"
            ]
        );
        let len = out.len();
        t.on_end(&mut out);
        t.on_error("again", &mut out);
        t.on_event(
            &SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
            &mut out,
        );
        assert_eq!(out.len(), len);
    }

    #[test]
    fn upstream_error_chunk_becomes_error_event() {
        let m = "gpt-4.1";
        let out = run(&[
            delta(m, 0, json!({"content": "a"})),
            frame(
                json!({"error": {"message": "rate limited upstream", "type": "rate_limit_error"}}),
            ),
            delta(m, 0, json!({"content": "b"})),
            DONE.into(),
        ]);
        check_sequence(&out);
        let n = names(&out);
        assert_eq!(*n.last().unwrap(), "error");
        assert_eq!(
            n.iter()
                .filter(|x| x.starts_with("response.output_text.delta"))
                .count(),
            1
        );
        assert_eq!(
            data(out.last().unwrap())["message"],
            "rate limited upstream"
        );
    }

    #[test]
    fn malformed_chunks_are_skipped_and_network_errors_reported_once() {
        let m = "gpt-4.1";
        let out = run(&[
            "data: {not json\n\n".into(),
            delta(m, 0, json!({"content": "ok"})),
            finish(m, 0, "stop"),
            DONE.into(),
        ]);
        check_sequence(&out);
        assert_eq!(*names(&out).last().unwrap(), "response.completed");

        let mut t = ResponsesToChatStream::new(&ctx());
        let mut out = Vec::new();
        t.on_error("connection reset", &mut out);
        t.on_error("connection reset", &mut out);
        t.on_end(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(data(&out[0])["message"], "connection reset");
        assert_eq!(data(&out[0])["sequence_number"], 0);
    }

    #[test]
    fn degenerate_tool_arguments_abort() {
        let m = "gpt-4.1";
        let mut frames = vec![delta(
            m,
            0,
            json!({"tool_calls": [
            {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}]}),
        )];
        for _ in 0..5 {
            frames.push(delta(
                m,
                0,
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\n\n\n\n\n"}}]}),
            ));
        }
        frames.push(finish(m, 0, "tool_calls"));
        frames.push(DONE.into());
        let out = run(&frames);
        check_sequence(&out);
        let n = names(&out);
        assert_eq!(*n.last().unwrap(), "error");
        assert!(!n.contains(&"response.completed"));
        assert_eq!(
            data(out.last().unwrap())["message"],
            WhitespaceGuard::MESSAGE
        );
    }
}
