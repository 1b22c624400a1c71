//! A Chat Completions client served by Copilot's `/responses` (Responses-only models such
//! as gpt-5.1-codex).
//!
//! `request` turns chat messages into Responses input items; `ChatToResponsesStream`
//! turns Responses events back into chat chunks.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use super::stream::{event_type, PairStream};
use super::wire::chat_request::{self, Assistant, AssistantText, Content, Message};
use super::wire::chat_stream::{ChatStreamWriter, ChatText, ChatUsage};
use super::wire::responses_upstream_request as upstream_request;
use super::wire::responses_upstream_stream::{self as upstream, Event};
use super::wire::{insert_tools, responses};
use super::{
    cannot_carry, carry, event_json, is_openai_encrypted, OutEvent, ResponsesDelta, TranslateCtx,
    Usage, WhitespaceGuard,
};
use crate::protocol::error::ApiError;
use crate::protocol::usage::openai_usage_into;
use crate::sse::SseEvent;

/// The Responses API rejects `max_output_tokens` below this.
const MIN_OUTPUT_TOKENS: u64 = 16;

/// Chat Completions body → Responses body.
pub fn request(
    mut body: Map<String, Value>,
    ctx: &TranslateCtx,
) -> Result<Map<String, Value>, ApiError> {
    chat_request::refuse_choices(&body)?;
    let messages = chat_request::read_messages(&mut body)?;

    let (instructions, input) = input_items(messages)?;
    let mut out = upstream_request::body(&ctx.model, instructions, input);

    let allowed = take_allowed_tools(&mut body);
    let tools = chat_request::read_tools(&mut body, true)?;
    if !tools.defs.is_empty() {
        insert_tools(
            tools,
            &mut out,
            responses::write_tool,
            responses::write_tool_choice,
        );
        if let Some(tc) = allowed {
            out.insert("tool_choice".into(), tc);
        }
        carry(
            &mut body,
            "parallel_tool_calls",
            &mut out,
            "parallel_tool_calls",
        );
    }
    carry(&mut body, "temperature", &mut out, "temperature");
    carry(&mut body, "top_p", &mut out, "top_p");
    carry(&mut body, "metadata", &mut out, "metadata");
    carry(&mut body, "prompt_cache_key", &mut out, "prompt_cache_key");

    if let Some(max) = chat_request::read_max_tokens(&mut body) {
        upstream_request::insert_max_output_tokens(
            &mut out,
            max,
            MIN_OUTPUT_TOKENS,
            ctx.max_output_tokens,
        );
    }
    if let Some(Value::String(effort)) = body.remove("reasoning_effort") {
        // The summary and encrypted payload come back as reasoning_text / reasoning_opaque.
        upstream_request::insert_reasoning(&mut out, Some(&effort), effort != "none");
    }

    let mut text = Map::new();
    if let Some(rf) = chat_request::read_response_format(&mut body)? {
        text.insert("format".into(), text_format(rf)?);
    }
    carry(&mut body, "verbosity", &mut text, "verbosity");
    if !text.is_empty() {
        out.insert("text".into(), Value::Object(text));
    }

    Ok(upstream_request::finish(out))
}

/// `(instructions, input items)`. The leading run of system/developer messages becomes
/// `instructions`; later ones stay in place as developer messages.
fn input_items(
    messages: impl ExactSizeIterator<Item = Result<Message, ApiError>>,
) -> Result<(Option<String>, Vec<Value>), ApiError> {
    let mut instructions: Vec<String> = Vec::new();
    let mut leading = true;
    let mut input = Vec::with_capacity(messages.len());
    for (i, m) in messages.enumerate() {
        match m? {
            Message::System(text) => {
                if !leading {
                    input.push(upstream_request::message("developer", Value::String(text)));
                } else if !text.is_empty() {
                    instructions.push(text);
                }
                continue;
            }
            Message::User(content) => {
                input.push(upstream_request::message("user", input_content(content)))
            }
            Message::Assistant(a) => assistant_items(i, a, &mut input),
            Message::Tool { call_id, content } => input.push(upstream_request::call_output(
                call_id,
                input_content(content),
                false,
            )),
        }
        leading = false;
    }
    let instructions = (!instructions.is_empty()).then(|| instructions.join("\n\n"));
    Ok((instructions, input))
}

/// User or tool content as Responses input content: a string, or input parts.
fn input_content(content: Content) -> Value {
    match content {
        Content::Text(t) => Value::String(t),
        Content::Parts(parts) => parts.into_iter().map(responses::write_part).collect(),
    }
}

/// An assistant message: reasoning item, text message, then function calls.
fn assistant_items(i: usize, a: Assistant, input: &mut Vec<Value>) {
    // Only OpenAI-minted payloads mean anything to this target; without one a reasoning
    // item cannot be replayed (store is false), so readable-only reasoning is dropped.
    if let Some(opaque) = a.reasoning_opaque.filter(|o| is_openai_encrypted(o)) {
        input.push(upstream_request::reasoning(i, a.reasoning_text, opaque));
    }

    let mut parts: Vec<Value> = (a.content.into_iter())
        .map(|p| match p {
            AssistantText::Text(t) => upstream_request::output_text(t),
            AssistantText::Refusal(r) => json!({"type": "refusal", "refusal": r}),
        })
        .collect();
    // Refusal parts have no `text`, so they count as content.
    let has_content = parts.iter().any(|p| p["text"] != "");
    // An assistant turn without calls is kept even when empty: it marks the turn boundary.
    if has_content || a.tool_calls.is_empty() {
        if parts.is_empty() {
            parts.push(upstream_request::output_text(String::new()));
        }
        input.push(upstream_request::message("assistant", Value::Array(parts)));
    }
    for c in a.tool_calls {
        input.push(upstream_request::function_call(c.id, c.name, c.arguments));
    }
}

/// An `allowed_tools` choice (Responses has the same form, with flat tool names), taken
/// from `body`; any other choice is left for `read_tools`.
fn take_allowed_tools(body: &mut Map<String, Value>) -> Option<Value> {
    let tc = body.get("tool_choice")?;
    if tc.get("type").and_then(Value::as_str) != Some("allowed_tools") {
        return None;
    }
    let tc = body.remove("tool_choice")?;
    let a = tc.get("allowed_tools")?;
    let named = |t: &Value| {
        let kind = t.get("type").and_then(Value::as_str)?;
        let name = t.get(kind)?.get("name")?.as_str()?;
        Some(json!({"type": "function", "name": name}))
    };
    let tools: Vec<Value> = a
        .get("tools")?
        .as_array()?
        .iter()
        .filter_map(named)
        .collect();
    let mode = a.get("mode").cloned().unwrap_or(json!("auto"));
    Some(json!({"type": "allowed_tools", "mode": mode, "tools": tools}))
}

/// `response_format` → `text.format` (json_schema's nested object becomes flat).
fn text_format(mut rf: Map<String, Value>) -> Result<Value, ApiError> {
    match rf.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => Ok(json!({"type": "text"})),
        "json_object" => Ok(json!({"type": "json_object"})),
        "json_schema" => {
            let mut out = Map::new();
            out.insert("type".into(), json!("json_schema"));
            if let Some(Value::Object(mut s)) = rf.remove("json_schema") {
                for k in ["name", "schema", "strict", "description"] {
                    carry(&mut s, k, &mut out, k);
                }
            }
            Ok(Value::Object(out))
        }
        other => Err(cannot_carry(
            "response_format.type",
            format!("format type {other:?} is not supported for this model"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Stream: Responses events → Chat chunks.

/// What has been sent for one upstream output item (keyed by `output_index`: Copilot
/// changes `item.id` between `.added` and `.done`).
#[derive(Default)]
struct ItemState {
    /// Summary / content part indexes whose text was streamed.
    streamed: HashSet<u64>,
    /// The chat tool-call index of a function call.
    tool: Option<u64>,
    args_sent: bool,
    guard: WhitespaceGuard,
    done: bool,
}

/// Copilot `/responses` events → Chat Completions chunks.
pub struct ChatToResponsesStream {
    chat: ChatStreamWriter,
    seed: String,
    items: BTreeMap<u64, ItemState>,
    reasoning_sent: bool,
    content_sent: bool,
    opaque_sent: bool,
    usage: Usage,
}

impl ChatToResponsesStream {
    pub fn new(ctx: &TranslateCtx) -> Self {
        ChatToResponsesStream {
            chat: ChatStreamWriter::new(ctx),
            seed: ctx.id_seed.clone(),
            items: BTreeMap::new(),
            reasoning_sent: false,
            content_sent: false,
            opaque_sent: false,
            usage: Usage::default(),
        }
    }

    fn streamed(&self, oi: u64, part: u64) -> bool {
        self.items
            .get(&oi)
            .is_some_and(|s| s.streamed.contains(&part))
    }

    /// Reasoning summary text; parts after the first are separated by a blank line.
    fn reasoning(&mut self, out: &mut Vec<OutEvent>, oi: u64, part: u64, text: &str) {
        if text.is_empty() {
            return;
        }
        let first = self.items.entry(oi).or_default().streamed.insert(part);
        let text = if first && self.reasoning_sent {
            Cow::Owned(format!("\n\n{text}"))
        } else {
            Cow::Borrowed(text)
        };
        self.reasoning_sent = true;
        self.chat.text(ChatText::Reasoning, &text, out);
    }

    /// Message text or a refusal; text parts after the first are separated by a blank line.
    fn content(&mut self, out: &mut Vec<OutEvent>, oi: u64, part: u64, text: &str, kind: ChatText) {
        if text.is_empty() {
            return;
        }
        let first = self.items.entry(oi).or_default().streamed.insert(part);
        let content = kind == ChatText::Content;
        let text = if first && self.content_sent && content {
            Cow::Owned(format!("\n\n{text}"))
        } else {
            Cow::Borrowed(text)
        };
        self.content_sent |= content;
        self.chat.text(kind, &text, out);
    }

    /// Opens the chat tool call for a function_call item (once).
    fn open_call(&mut self, out: &mut Vec<OutEvent>, oi: u64, item: &Value) {
        if self.items.get(&oi).is_some_and(|s| s.tool.is_some()) {
            return;
        }
        let s = |k: &str| item.get(k).and_then(Value::as_str);
        let args = s("arguments").unwrap_or("");
        let call_id = s("call_id").map_or_else(
            || format!("call_{}_{}", self.seed, self.chat.tool_calls()),
            str::to_string,
        );
        let index = self
            .chat
            .open_tool_call(&call_id, s("name").unwrap_or(""), args, out);
        let st = self.items.entry(oi).or_default();
        st.tool = Some(index);
        st.args_sent = !args.is_empty();
    }

    fn args(&mut self, out: &mut Vec<OutEvent>, oi: u64, delta: &str) {
        let Some(st) = self.items.get_mut(&oi) else {
            return;
        };
        let Some(index) = st.tool else { return };
        if delta.is_empty() {
            return;
        }
        if st.guard.tripped_by(delta) {
            self.fail(WhitespaceGuard::MESSAGE, out);
            return;
        }
        st.args_sent = true;
        self.chat.tool_arguments(index, delta, out);
    }

    /// A finished output item: sends whatever of it was not streamed.
    fn item_done(&mut self, out: &mut Vec<OutEvent>, oi: u64, item: &Value) {
        let already = self.items.get(&oi).is_some_and(|s| s.done);
        match item.get("type").and_then(Value::as_str) {
            // The payload is still taken from the terminal response if `.done` lacked it.
            Some("reasoning") => {
                let summary = upstream::summary_parts(item).filter(|_| !already);
                for (si, text) in summary {
                    if !self.streamed(oi, si) {
                        self.reasoning(out, oi, si, text);
                    }
                }
                // One opaque slot per chat message: the first payload wins.
                if let Some(o) = item.get("encrypted_content").and_then(Value::as_str) {
                    if !self.opaque_sent && !o.is_empty() {
                        self.opaque_sent = true;
                        self.chat.text(ChatText::ReasoningOpaque, o, out);
                    }
                }
            }
            _ if already => {}
            Some("message") => {
                for (ci, text, refusal) in upstream::content_parts(item) {
                    if !self.streamed(oi, ci) {
                        let kind = [ChatText::Content, ChatText::Refusal][refusal as usize];
                        self.content(out, oi, ci, text, kind);
                    }
                }
            }
            Some("function_call") => {
                if self.items.get(&oi).is_some_and(|s| s.tool.is_some()) {
                    let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                    if !self.items[&oi].args_sent {
                        self.args(out, oi, args);
                    }
                } else {
                    self.open_call(out, oi, item);
                }
            }
            _ => {}
        }
        if !self.chat.terminated() {
            self.items.entry(oi).or_default().done = true;
        }
    }

    fn complete(&mut self, out: &mut Vec<OutEvent>, data: &Value, incomplete: bool) {
        let response = &data["response"];
        // Items the stream never delivered (a created+completed-only stream) come from here.
        let output = response.get("output").and_then(Value::as_array);
        for (oi, item) in output.into_iter().flatten().enumerate() {
            self.item_done(out, oi as u64, item);
            if self.chat.terminated() {
                return;
            }
        }
        let stop = upstream::stop_reason(data, incomplete, self.chat.tool_calls() > 0, false);
        let u = response.get("usage").filter(|u| u.is_object());
        let n = |p: &str| u.and_then(|u| u.pointer(p)).and_then(Value::as_u64);
        openai_usage_into(&mut self.usage, u.unwrap_or(&Value::Null));
        let usage = ChatUsage {
            usage: self.usage,
            total: n("/total_tokens"),
            reasoning_tokens: Some(n("/output_tokens_details/reasoning_tokens").unwrap_or(0)),
        };
        self.chat.finish(stop, usage, out);
    }
}

impl PairStream for ChatToResponsesStream {
    const ENDED_EARLY: &'static str =
        "The upstream Responses stream ended before the response was complete.";

    fn terminated(&self) -> bool {
        self.chat.terminated()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.chat.fail(message, out);
    }

    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        let Some(d) = ResponsesDelta::read(ev) else {
            return false;
        };
        let oi = d.output_index;
        match d.kind.as_ref() {
            ResponsesDelta::TEXT => {
                self.content(out, oi, d.content_index, &d.delta, ChatText::Content)
            }
            ResponsesDelta::SUMMARY => self.reasoning(out, oi, d.summary_index, &d.delta),
            _ => self.args(out, oi, &d.delta),
        }
        true
    }

    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        let Some(v) = event_json(ev) else { return };
        let oi = v.get("output_index").and_then(Value::as_u64).unwrap_or(0);
        match upstream::read(&v, event_type(&v, ev)) {
            Event::Started(_) => self.chat.start(out),
            Event::ItemAdded(item) => {
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    self.open_call(out, oi, item);
                } else {
                    self.items.entry(oi).or_default();
                    self.chat.start(out);
                }
            }
            Event::Summary(part, text, done) if !(done && self.streamed(oi, part)) => {
                self.reasoning(out, oi, part, text)
            }
            Event::Text(part, text, refusal, done) if !(done && self.streamed(oi, part)) => {
                let kind = [ChatText::Content, ChatText::Refusal][refusal as usize];
                self.content(out, oi, part, text, kind);
            }
            Event::Arguments(text, done)
                if !done || self.items.get(&oi).is_some_and(|st| !st.args_sent) =>
            {
                self.args(out, oi, text)
            }
            Event::ItemDone(Some(item)) => self.item_done(out, oi, item),
            Event::Completed(data, incomplete) => self.complete(out, data, incomplete),
            Event::Failed(message) => self.fail(message, out),
            _ => {}
        }
    }

    fn usage_seen(&self) -> Usage {
        self.usage
    }
}

// The tests read the placeholder through `super::*`.
#[cfg(test)]
use super::THINKING_PLACEHOLDER;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use crate::translate::StreamTranslator;

    fn ctx() -> TranslateCtx {
        TranslateCtx {
            model: "gpt-5.1-codex".into(),
            max_output_tokens: Some(128000),
            id_seed: "0123456789abcdef01234567".into(),
            now_secs: 1_700_000_000,
            include_usage: true,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn translate(body: Value) -> Value {
        Value::Object(request(obj(body), &ctx()).unwrap())
    }

    fn err(body: Value) -> ApiError {
        request(obj(body), &ctx()).unwrap_err()
    }

    const SIG: &str = "gAAAAABoMockEncryptedReasoning==";

    // ---- request ----

    // ---- one rule per concept (carry it or refuse it, never drop it) ----

    fn with_messages(messages: Value) -> Value {
        json!({"model": "m", "messages": messages})
    }

    #[test]
    fn files_are_converted_or_refused() {
        let out = translate(with_messages(json!([{"role": "user", "content": [
            {"type": "file", "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
            {"type": "file", "file": {"file_id": "file-1"}}]}])));
        assert_eq!(
            out["input"][0]["content"],
            json!([
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "r.pdf"},
                {"type": "input_file", "file_id": "file-1"}])
        );
        let e = err(with_messages(
            json!([{"role": "user", "content": [{"type": "file", "file": {"filename": "x"}}]}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[0].file"))
        );
        // A file returned by a tool rides in the output's part array.
        let out = translate(with_messages(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}])));
        assert_eq!(
            out["input"][2]["output"],
            json!([{"type": "input_file", "file_id": "file-1"}])
        );
    }

    #[test]
    fn unknown_parts_are_refused_everywhere() {
        // Responses has no audio input part.
        let e = err(with_messages(json!([{"role": "user", "content": [
            {"type": "text", "text": "listen"}, {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[1].type"))
        );
        assert!(e.message.contains("\"input_audio\""), "{}", e.message);
        let e = err(with_messages(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "hologram"}]}])));
        assert_eq!(e.param.as_deref(), Some("messages[2].content[0].type"));
        let e = err(with_messages(json!([{"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "hologram"}]}])));
        assert_eq!(e.param.as_deref(), Some("messages[1].content[0].type"));
    }

    #[test]
    fn json_output_is_carried_or_refused() {
        let rf = |f: Value| {
            let mut b = with_messages(json!([{"role": "user", "content": "x"}]));
            b["response_format"] = f;
            b
        };
        assert_eq!(
            translate(rf(json!({"type": "json_object"})))["text"],
            json!({"format": {"type": "json_object"}})
        );
        assert_eq!(
            translate(rf(
                json!({"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}})
            ))["text"],
            json!({"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}})
        );
        let e = err(rf(json!({"type": "yaml"})));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("response_format.type"))
        );
    }

    #[test]
    fn sdk_fixture() {
        let v: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/openai-sdk.chat.request.json"
        ))
        .unwrap();
        let out = Value::Object(request(obj(v["body"].clone()), &ctx()).unwrap());
        assert_eq!(
            out,
            json!({
                "model": "gpt-5.1-codex",
                "input": [{"type": "message", "role": "user", "content": "Hello via chat completions to gpt-4.1"}],
                "store": false,
                "stream": true,
            })
        );
    }

    /// A realistic agent turn: system prompt, tools, an image, parallel calls and results.
    fn agent_request() -> Value {
        json!({
            "model": "gpt-5.1-codex",
            "messages": [
                {"role": "system", "content": "You are a coding agent."},
                {"role": "developer", "content": [{"type": "text", "text": "Prefer small diffs."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "What does this screenshot show? Then list files."},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/s.png", "detail": "high"}},
                ]},
                {"role": "assistant", "content": "Let me look.",
                 "reasoning_text": "Need both tools.", "reasoning_opaque": SIG,
                 "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "list_files", "arguments": "{\"dir\":\".\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"}},
                 ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\nb.txt"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "hello"}]},
                {"role": "system", "content": "Reminder: be concise."},
                {"role": "user", "content": "thanks", "name": "dev"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "list_files", "description": "List files",
                  "parameters": {"type": "object", "properties": {"dir": {"type": "string"}}, "required": ["dir"]}}},
                {"type": "function", "function": {"name": "read_file", "strict": true,
                  "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "noop"}},
            ],
            "tool_choice": {"type": "function", "function": {"name": "read_file"}},
            "parallel_tool_calls": true,
            "max_tokens": 5,
            "temperature": 1,
            "top_p": 0.5,
            "reasoning_effort": "high",
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true,
                                "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "stop": ["END"],
            "user": "user-1",
            "safety_identifier": "sid",
            "n": 1,
            "stream": true,
            "stream_options": {"include_usage": true},
            "seed": 7,
            "logprobs": false,
        })
    }

    #[test]
    fn agent_turn_translates_every_part_in_order() {
        let out = translate(agent_request());
        assert_eq!(
            out,
            json!({
                "model": "gpt-5.1-codex",
                "instructions": "You are a coding agent.\n\nPrefer small diffs.",
                "input": [
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "What does this screenshot show? Then list files."},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                        {"type": "input_image", "image_url": "https://example.com/s.png", "detail": "high"},
                    ]},
                    {"type": "reasoning", "id": "rs_3", "summary": [{"type": "summary_text", "text": "Need both tools."}],
                     "encrypted_content": SIG},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
                    {"type": "function_call", "call_id": "call_1", "name": "list_files", "arguments": "{\"dir\":\".\"}"},
                    {"type": "function_call", "call_id": "call_2", "name": "read_file", "arguments": "{\"path\":\"a.txt\"}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\nb.txt"},
                    {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "hello"}]},
                    {"type": "message", "role": "developer", "content": "Reminder: be concise."},
                    {"type": "message", "role": "user", "content": "thanks"},
                ],
                "tools": [
                    {"type": "function", "name": "list_files", "description": "List files", "strict": false,
                     "parameters": {"type": "object", "properties": {"dir": {"type": "string"}}, "required": ["dir"]}},
                    {"type": "function", "name": "read_file", "strict": true,
                     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}},
                    {"type": "function", "name": "noop", "strict": false,
                     "parameters": {"type": "object", "properties": {}}},
                ],
                "tool_choice": {"type": "function", "name": "read_file"},
                "parallel_tool_calls": true,
                "max_output_tokens": 16,
                "temperature": 1,
                "top_p": 0.5,
                "reasoning": {"effort": "high", "summary": "auto"},
                "include": ["reasoning.encrypted_content"],
                "text": {"format": {"type": "json_schema", "name": "answer", "strict": true,
                                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "store": false,
                "stream": true,
            })
        );
    }

    #[test]
    fn reasoning_payloads_are_vendor_bound() {
        let turn = |extra: Value| {
            let mut a = json!({"role": "assistant", "content": "A"});
            for (k, v) in obj(extra) {
                a[k] = v;
            }
            translate(json!({"model": "m", "messages": [{"role": "user", "content": "q"}, a]}))
                ["input"]
                .clone()
        };
        // Anthropic signature: dropped entirely (it would be rejected upstream).
        let input = turn(json!({"reasoning_text": "t", "reasoning_opaque": "EqQBCkYIBxgCKkD"}));
        assert_eq!(input.as_array().unwrap().len(), 2);
        assert_eq!(input[1]["type"], "message");
        // Readable-only reasoning cannot be replayed without state: dropped.
        let input = turn(json!({"reasoning_text": "t"}));
        assert_eq!(input.as_array().unwrap().len(), 2);
        // Payload without text: no summary, payload unchanged.
        let input = turn(json!({"reasoning_opaque": SIG}));
        assert_eq!(
            input[1],
            json!({"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": SIG})
        );
        // The placeholder is not a summary.
        let input = turn(json!({"reasoning_text": THINKING_PLACEHOLDER, "reasoning_opaque": SIG}));
        assert_eq!(input[1]["summary"], json!([]));
    }

    #[test]
    fn assistant_shapes() {
        let out = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "refusal", "refusal": "no"}]},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c2", "type": "custom", "custom": {"name": "patch", "input": "diff"}}]},
            {"role": "tool", "tool_call_id": "c2", "content": "ok"},
        ]}));
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "user", "content": "q"},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
                {"type": "function_call_output", "call_id": "c1", "output": "r"},
                {"type": "message", "role": "assistant", "content": [
                    {"type": "output_text", "text": "x"}, {"type": "refusal", "refusal": "no"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ""}]},
                {"type": "function_call", "call_id": "c2", "name": "patch", "arguments": "{\"input\":\"diff\"}"},
                {"type": "function_call_output", "call_id": "c2", "output": "ok"},
            ])
        );
        assert!(out.get("instructions").is_none());
    }

    #[test]
    fn untranslatable_requests_name_the_field() {
        let e = err(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "content": "r"},
        ]}));
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("messages[2].tool_call_id"));
        let e = err(json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "q"}]}));
        assert_eq!(e.param.as_deref(), Some("n"));
        let e = err(json!({"model": "m"}));
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = err(
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "r"}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = err(
            json!({"model": "m", "messages": [{"role": "assistant", "content": null,
            "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
        );
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].id"));
    }

    #[test]
    fn parameter_variants() {
        let out = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "q"}],
            "max_completion_tokens": 2000, "max_tokens": 10, "reasoning_effort": "none",
            "response_format": {"type": "json_object"}, "verbosity": "low",
            "tool_choice": "required", "metadata": {"k": "v"}, "prompt_cache_key": "pk"}),
        );
        assert_eq!(out["max_output_tokens"], 2000);
        assert_eq!(out["reasoning"], json!({"effort": "none"}));
        assert!(out.get("include").is_none());
        assert_eq!(
            out["text"],
            json!({"format": {"type": "json_object"}, "verbosity": "low"})
        );
        assert!(out.get("tool_choice").is_none(), "no tools, no tool_choice");
        assert_eq!(out["metadata"], json!({"k": "v"}));
        assert_eq!(out["prompt_cache_key"], "pk");

        let out = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "q"}],
            "tools": [{"type": "custom", "custom": {"name": "grammar_tool", "description": "d"}}],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required",
                "tools": [{"type": "custom", "custom": {"name": "grammar_tool"}}]}}}),
        );
        assert_eq!(out["tools"][0]["name"], "grammar_tool");
        assert_eq!(out["tools"][0]["parameters"]["required"], json!(["input"]));
        assert_eq!(
            out["tool_choice"],
            json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "grammar_tool"}]})
        );
    }

    // ---- stream ----

    fn ev(v: Value) -> String {
        format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap())
    }

    /// Copilot-shaped Responses events, numbered; `.done` items carry another id than
    /// `.added` (Copilot quirk).
    fn numbered(events: Vec<Value>) -> Vec<String> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                v["sequence_number"] = json!(i);
                ev(v)
            })
            .collect()
    }

    fn response(status: &str, output: Value, usage: Value) -> Value {
        json!({"id": "resp_up", "object": "response", "created_at": 1, "status": status,
               "model": "gpt-5.1-codex", "output": output, "usage": usage,
               "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null }})
    }

    fn usage() -> Value {
        json!({"input_tokens": 900, "input_tokens_details": {"cached_tokens": 512},
               "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 940})
    }

    fn run_with(c: TranslateCtx, frames: &[String], split: usize) -> (Vec<OutEvent>, Usage) {
        let raw = frames.concat();
        let mut parser = SseParser::new();
        let mut t = ChatToResponsesStream::new(&c);
        let mut out = Vec::new();
        let mut evs = Vec::new();
        for piece in raw.as_bytes().chunks(split) {
            parser.feed(piece, &mut evs);
            for e in evs.drain(..) {
                t.on_event(&e, &mut out);
            }
        }
        parser.finish(&mut evs);
        for e in evs.drain(..) {
            t.on_event(&e, &mut out);
        }
        t.on_end(&mut out);
        (out, t.usage())
    }

    fn run(frames: &[String]) -> Vec<OutEvent> {
        let (a, _) = run_with(ctx(), frames, 9);
        let (b, _) = run_with(ctx(), frames, 1 << 20);
        assert_eq!(a, b, "byte splitting must not change the output");
        a
    }

    /// Chunks as (delta or "finish:<reason>" / "usage" / "DONE" / "error") for compact asserts.
    fn deltas(out: &[OutEvent]) -> Vec<Value> {
        out.iter()
            .map(|e| match &e.clone().into_value() {
                OutEvent::Raw { .. } => unreachable!("normalized"),
                OutEvent::Done => json!("DONE"),
                OutEvent::Event { name, data } => {
                    assert_eq!(*name, None, "chat chunks are unnamed");
                    if data.get("error").is_some() {
                        return json!({"error": data["error"]["message"]});
                    }
                    assert_eq!(data["object"], "chat.completion.chunk");
                    assert_eq!(data["id"], "chatcmpl-0123456789abcdef01234567");
                    assert_eq!(data["model"], "gpt-5.1-codex");
                    assert_eq!(data["created"], 1_700_000_000);
                    let choices = data["choices"].as_array().unwrap();
                    if choices.is_empty() {
                        return json!({"usage": data["usage"]});
                    }
                    assert_eq!(choices.len(), 1);
                    assert_eq!(choices[0]["index"], 0);
                    assert!(choices[0]["logprobs"].is_null());
                    match choices[0]["finish_reason"].as_str() {
                        Some(f) => json!({"finish": f, "delta": choices[0]["delta"]}),
                        None => choices[0]["delta"].clone(),
                    }
                }
            })
            .collect()
    }

    fn reasoning_then_text() -> Vec<String> {
        let summary = "**Mock reasoning**\n\nDeciding how to reply.";
        let msg_done = json!({"id": "bXNnX2RvbmU=", "type": "message", "status": "completed", "role": "assistant",
                              "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Echo: hi ✓"}]});
        let rs_done = json!({"id": "cnNfZG9uZQ==", "type": "reasoning",
                             "summary": [{"type": "summary_text", "text": summary}], "encrypted_content": SIG});
        numbered(vec![
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "cnNfYWRkZWQ=", "type": "reasoning", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "item_id": "cnNfYWRkZWQ=", "output_index": 0,
                   "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "cnNfYWRkZWQ=", "output_index": 0,
                   "summary_index": 0, "delta": "**Mock reasoning**\n\n"}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "cnNfYWRkZWQ=", "output_index": 0,
                   "summary_index": 0, "delta": "Deciding how to reply."}),
            json!({"type": "response.reasoning_summary_text.done", "item_id": "cnNfYWRkZWQ=", "output_index": 0,
                   "summary_index": 0, "text": summary}),
            json!({"type": "response.reasoning_summary_part.done", "item_id": "cnNfYWRkZWQ=", "output_index": 0,
                   "summary_index": 0, "part": {"type": "summary_text", "text": summary}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": rs_done}),
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"id": "bXNnX2FkZGVk", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}),
            json!({"type": "response.content_part.added", "item_id": "bXNnX2FkZGVk", "output_index": 1, "content_index": 0,
                   "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
            json!({"type": "response.output_text.delta", "item_id": "bXNnX2FkZGVk", "output_index": 1, "content_index": 0,
                   "delta": "Echo: ", "logprobs": []}),
            json!({"type": "response.output_text.delta", "item_id": "bXNnX2FkZGVk", "output_index": 1, "content_index": 0,
                   "delta": "hi ✓", "logprobs": []}),
            json!({"type": "response.output_text.done", "item_id": "bXNnX2FkZGVk", "output_index": 1, "content_index": 0,
                   "text": "Echo: hi ✓", "logprobs": []}),
            json!({"type": "response.content_part.done", "item_id": "bXNnX2FkZGVk", "output_index": 1, "content_index": 0,
                   "part": msg_done["content"][0]}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": msg_done}),
            json!({"type": "response.completed", "response": response("completed", json!([rs_done, msg_done]), usage())}),
        ])
    }

    #[test]
    fn reasoning_and_text_stream() {
        let (out, usage) = run_with(ctx(), &reasoning_then_text(), 9);
        assert_eq!(
            deltas(&out),
            [
                json!({"role": "assistant", "content": ""}),
                json!({"reasoning_text": "**Mock reasoning**\n\n"}),
                json!({"reasoning_text": "Deciding how to reply."}),
                json!({"reasoning_opaque": SIG}),
                json!({"content": "Echo: "}),
                json!({"content": "hi ✓"}),
                json!({"finish": "stop", "delta": {}}),
                json!({"usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940,
                                 "prompt_tokens_details": {"cached_tokens": 512},
                                 "completion_tokens_details": {"reasoning_tokens": 12}}}),
                json!("DONE"),
            ]
        );
        assert_eq!(
            usage,
            Usage {
                input_tokens: 900,
                output_tokens: 40,
                cache_read_tokens: 512,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
        // Without include_usage: no usage chunk, still exactly one Done.
        let (out, _) = run_with(
            TranslateCtx {
                include_usage: false,
                ..ctx()
            },
            &reasoning_then_text(),
            64,
        );
        let d = deltas(&out);
        assert_eq!(d.len(), 8);
        assert_eq!(d[6]["finish"], "stop");
        assert_eq!(d[7], "DONE");
    }

    #[test]
    fn stream_round_trips_into_the_next_request() {
        let out = run(&reasoning_then_text());
        let d = deltas(&out);
        let field = |k: &str| -> String {
            d.iter()
                .filter_map(|x| x.get(k).and_then(Value::as_str))
                .collect()
        };
        let next = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": field("content"), "reasoning_text": field("reasoning_text"),
             "reasoning_opaque": field("reasoning_opaque")},
            {"role": "user", "content": "again"},
        ]}));
        assert_eq!(
            next["input"][1],
            json!({"type": "reasoning", "id": "rs_1",
                   "summary": [{"type": "summary_text", "text": "**Mock reasoning**\n\nDeciding how to reply."}],
                   "encrypted_content": SIG})
        );
        assert_eq!(next["input"][2]["content"][0]["text"], "Echo: hi ✓");
    }

    fn call_events(oi: u64, call_id: &str, name: &str, pieces: &[&str]) -> (Vec<Value>, Value) {
        let args: String = pieces.concat();
        let added_id = format!("ZmNfYWRkZWRf{oi}");
        let done = json!({"id": format!("ZmNfZG9uZV8{oi}"), "type": "function_call", "status": "completed",
                          "arguments": args, "call_id": call_id, "name": name});
        let mut evs = vec![
            json!({"type": "response.output_item.added", "output_index": oi,
            "item": {"id": added_id, "type": "function_call", "status": "in_progress", "arguments": "",
                     "call_id": call_id, "name": name}}),
        ];
        for p in pieces {
            evs.push(
                json!({"type": "response.function_call_arguments.delta", "item_id": added_id,
                            "output_index": oi, "delta": p}),
            );
        }
        evs.push(
            json!({"type": "response.function_call_arguments.done", "item_id": added_id,
                        "output_index": oi, "arguments": args}),
        );
        evs.push(json!({"type": "response.output_item.done", "output_index": oi, "item": done}));
        (evs, done)
    }

    #[test]
    fn function_calls_stream_as_tool_calls() {
        let (mut evs, a) = call_events(0, "call_A", "exec_command", &["{\"cmd\":", "\"ls\"}"]);
        let (b_evs, b) = call_events(1, "call_B", "read_file", &["{\"path\"", ":\"x\"}"]);
        // Parallel calls interleave: B starts before A's arguments finish.
        let tail = evs.split_off(2);
        evs.extend(b_evs[..2].iter().cloned());
        evs.extend(tail);
        evs.extend(b_evs[2..].iter().cloned());
        let mut all = vec![
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        ];
        all.extend(evs);
        all.push(json!({"type": "response.completed", "response": response("completed", json!([a, b]), usage())}));
        let d = deltas(&run(&numbered(all)));
        assert_eq!(
            d,
            [
                json!({"role": "assistant", "content": ""}),
                json!({"tool_calls": [{"index": 0, "id": "call_A", "type": "function",
                                       "function": {"name": "exec_command", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]}),
                json!({"tool_calls": [{"index": 1, "id": "call_B", "type": "function",
                                       "function": {"name": "read_file", "arguments": ""}}]}),
                json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"path\""}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}),
                json!({"tool_calls": [{"index": 1, "function": {"arguments": ":\"x\"}"}}]}),
                json!({"finish": "tool_calls", "delta": {}}),
                json!({"usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940,
                                 "prompt_tokens_details": {"cached_tokens": 512},
                                 "completion_tokens_details": {"reasoning_tokens": 12}}}),
                json!("DONE"),
            ]
        );
    }

    #[test]
    fn huge_usage_saturates() {
        // total_tokens, when upstream gave none, was input + output: an overflow.
        let big = json!({"input_tokens": u64::MAX, "output_tokens": 1});
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.completed", "response": response("completed", json!([]), big)}),
        ])));
        assert_eq!(d[2]["usage"]["total_tokens"], u64::MAX);
    }

    #[test]
    fn incomplete_is_length() {
        let msg = json!({"id": "m", "type": "message", "status": "incomplete", "role": "assistant",
                         "content": [{"type": "output_text", "text": "cut"}]});
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "m0", "type": "message", "content": []}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "cut"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": msg}),
            json!({"type": "response.incomplete", "response": response("incomplete", json!([msg]), usage())}),
        ])));
        assert_eq!(d[1], json!({"content": "cut"}));
        assert_eq!(d[2], json!({"finish": "length", "delta": {}}));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn terminal_only_stream_is_converted_whole() {
        let output = json!([
            {"id": "r", "type": "reasoning", "summary": [{"type": "summary_text", "text": "a"},
                                                       {"type": "summary_text", "text": "b"}], "encrypted_content": SIG},
            {"id": "m", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]},
            {"id": "f", "type": "function_call", "call_id": "c9", "name": "f", "arguments": "{}"},
        ]);
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.completed", "response": response("completed", output, usage())}),
        ])));
        assert_eq!(
            d[..6],
            [
                json!({"role": "assistant", "content": ""}),
                json!({"reasoning_text": "a"}),
                json!({"reasoning_text": "\n\nb"}),
                json!({"reasoning_opaque": SIG}),
                json!({"content": "Hi"}),
                json!({"tool_calls": [{"index": 0, "id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            ]
        );
        assert_eq!(d[6], json!({"finish": "tool_calls", "delta": {}}));
        assert_eq!(d.last().unwrap(), "DONE");
    }

    #[test]
    fn second_reasoning_item_adds_text_but_not_a_second_payload() {
        let r = |id: &str, text: &str, enc: &str| {
            json!({"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}],
                   "encrypted_content": enc})
        };
        let output = json!([
            r("r1", "first", SIG),
            {"id": "f", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            r("r2", "second", "gAAAAsecond"),
        ]);
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.completed", "response": response("completed", output, usage())}),
        ])));
        let opaque: Vec<&Value> = d.iter().filter_map(|x| x.get("reasoning_opaque")).collect();
        assert_eq!(opaque, [&json!(SIG)], "chat carries one payload: the first");
        let text: String = d
            .iter()
            .filter_map(|x| x["reasoning_text"].as_str())
            .collect();
        assert_eq!(text, "first\n\nsecond");
    }

    #[test]
    fn payload_only_in_the_terminal_response_is_still_sent() {
        let bare = json!({"id": "r", "type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]});
        let mut full = bare.clone();
        full["encrypted_content"] = json!(SIG);
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "a", "type": "reasoning", "summary": []}}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "t"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": bare}),
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"id": "f", "type": "function_call", "call_id": null, "name": "f", "arguments": ""}}),
            json!({"type": "response.completed", "response": response("completed", json!([full]), usage())}),
        ])));
        assert_eq!(
            d[..4],
            [
                json!({"role": "assistant", "content": ""}),
                json!({"reasoning_text": "t"}),
                json!({"tool_calls": [{"index": 0, "id": "call_0123456789abcdef01234567_0", "type": "function",
                                       "function": {"name": "f", "arguments": ""}}]}),
                json!({"reasoning_opaque": SIG}),
            ]
        );
    }

    #[test]
    fn done_only_text_is_sent_once() {
        let msg = json!({"id": "m", "type": "message", "content": [{"type": "output_text", "text": "whole"}]});
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "a", "type": "message", "content": []}}),
            json!({"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "whole"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": msg}),
            json!({"type": "response.completed", "response": response("completed", json!([msg]), usage())}),
        ])));
        assert_eq!(
            d[..3],
            [
                json!({"role": "assistant", "content": ""}),
                json!({"content": "whole"}),
                json!({"finish": "stop", "delta": {}})
            ]
        );
    }

    #[test]
    fn upstream_failures_become_error_chunks_without_done() {
        let d = deltas(&run(&numbered(vec![
            json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "par"}),
            json!({"type": "response.failed", "response": {"status": "failed",
                   "error": {"code": "server_error", "message": "The model crashed."}}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "tial"}),
        ])));
        assert_eq!(
            d,
            [
                json!({"role": "assistant", "content": ""}),
                json!({"content": "par"}),
                json!({"error": "The model crashed."})
            ]
        );
        let d = deltas(&run(&numbered(vec![
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down.", "param": null}),
        ])));
        assert_eq!(d, [json!({"error": "Slow down."})]);
    }

    #[test]
    fn truncated_stream_is_one_error() {
        let mut frames = reasoning_then_text();
        frames.truncate(12);
        let d = deltas(&run(&frames));
        assert_eq!(
            d.last().unwrap()["error"]
                .as_str()
                .map(|s| s.contains("ended")),
            Some(true)
        );
        assert_eq!(d.iter().filter(|x| x.get("error").is_some()).count(), 1);
        assert!(!d.contains(&json!("DONE")));
        assert!(!d.iter().any(|x| x.get("finish").is_some()));

        let mut t = ChatToResponsesStream::new(&ctx());
        let mut out = Vec::new();
        t.on_error("reset by peer", &mut out);
        t.on_end(&mut out);
        t.on_error("again", &mut out);
        assert_eq!(deltas(&out), [json!({"error": "reset by peer"})]);
    }

    #[test]
    fn degenerate_arguments_abort() {
        let pieces: Vec<&str> = std::iter::once("{")
            .chain(std::iter::repeat_n("\n\t\n\t\n", 5))
            .collect();
        let (evs, done) = call_events(0, "c", "f", &pieces);
        let mut all = evs;
        all.push(json!({"type": "response.completed", "response": response("completed", json!([done]), usage())}));
        let d = deltas(&run(&numbered(all)));
        assert_eq!(
            d.last().unwrap(),
            &json!({"error": WhitespaceGuard::MESSAGE})
        );
        assert!(!d.contains(&json!("DONE")));
    }
}
