//! Translator pair: an Anthropic Messages client served by Copilot's Responses API
//! (Responses-only models such as gpt-5.1-codex).
//!
//! `request` turns a Messages body into a Responses body; `MessagesToResponsesStream`
//! turns the Responses event stream back into Anthropic Messages events.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{json, Map, Value};

use super::stream::{event_type, PairStream};
use super::wire::messages_request::{
    join_texts, read_effort, take_system, take_turns, AssistantBlock, Turn, UserBlock,
};
use super::wire::messages_stream::{Block, MessagesStreamWriter, MessagesUsage};
use super::wire::responses_upstream_request as upstream_request;
use super::wire::responses_upstream_stream::{self as upstream, Event};
use super::wire::{self, messages, responses};
use super::{event_json, OutEvent, ResponsesDelta, TranslateCtx, Usage, WhitespaceGuard};
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::usage::openai_usage_into;
use crate::sse::SseEvent;

/// Copilot's /responses rejects the small limits Claude Code sends (e.g. 512 for quick
/// side calls); reasoning also eats into the limit, so small values starve the answer.
const MIN_OUTPUT_TOKENS: u64 = 12800;

/// Messages request body → Responses request body.
pub fn request(
    mut body: Map<String, Value>,
    ctx: &TranslateCtx,
) -> Result<Map<String, Value>, ApiError> {
    let system = take_system(&mut body)?;
    let mut input = InputBuilder::default();
    for turn in take_turns(&mut body)? {
        match turn? {
            Turn::UserText(s) => input.message("user", Value::String(s)),
            Turn::User(blocks) => input.user_blocks(blocks),
            Turn::AssistantText(s) => input.message("assistant", Value::String(s)),
            Turn::Assistant(blocks) => input.assistant_blocks(blocks),
            // A developer message at the system message's place.
            Turn::System(text) => input.message("developer", Value::String(text)),
        }
    }
    let mut out = upstream_request::body(&ctx.model, Some(system), input.items);

    if let Some(max) = body.get("max_tokens").and_then(Value::as_u64) {
        upstream_request::insert_max_output_tokens(
            &mut out,
            max,
            MIN_OUTPUT_TOKENS,
            ctx.max_output_tokens,
        );
    }
    for key in ["temperature", "top_p"] {
        super::carry(&mut body, key, &mut out, key);
    }
    if let Some(Value::Object(meta)) = body.remove("metadata") {
        if !meta.is_empty() {
            out.insert("metadata".into(), Value::Object(meta));
        }
    }

    wire::insert_tools(
        messages::read_tools(&mut body),
        &mut out,
        responses::write_tool,
        responses::write_tool_choice,
    );
    reasoning(&mut body, &mut out);
    text_format(&mut body, &mut out)?;
    Ok(upstream_request::finish(out))
}

#[derive(Default)]
struct InputBuilder {
    items: Vec<Value>,
    reasoning_n: usize,
}

impl InputBuilder {
    fn message(&mut self, role: &str, content: Value) {
        self.items.push(upstream_request::message(role, content));
    }

    fn flush(&mut self, role: &str, parts: &mut Vec<Value>) {
        if !parts.is_empty() {
            self.message(role, Value::Array(std::mem::take(parts)));
        }
    }

    /// User text around `tool_result` blocks is split into separate messages so the
    /// order the client wrote survives.
    fn user_blocks(&mut self, blocks: Vec<UserBlock>) {
        let mut parts = Vec::new();
        for block in blocks {
            match block {
                UserBlock::Part(part) => parts.push(responses::write_part(part)),
                UserBlock::ToolResult {
                    id,
                    content,
                    is_error,
                } => {
                    self.flush("user", &mut parts);
                    let output = tool_output(content);
                    self.items
                        .push(upstream_request::call_output(id, output, is_error));
                }
            }
        }
        self.flush("user", &mut parts);
    }

    fn assistant_blocks(&mut self, blocks: Vec<AssistantBlock>) {
        let mut parts = Vec::new();
        for block in blocks {
            if !matches!(block, AssistantBlock::Text(_)) {
                self.flush("assistant", &mut parts);
            }
            match block {
                AssistantBlock::Text(t) => parts.push(upstream_request::output_text(t)),
                // Only an OpenAI-minted payload means anything to /responses; a thinking
                // block from Claude (or one without signature) is dropped.
                AssistantBlock::Thinking(t) => {
                    if t.openai_opaque().is_some() {
                        if let Some(opaque) = t.opaque {
                            let item =
                                upstream_request::reasoning(self.reasoning_n, t.text, opaque);
                            self.items.push(item);
                            self.reasoning_n += 1;
                        }
                    }
                }
                AssistantBlock::ToolUse {
                    id,
                    name,
                    arguments,
                } => (self.items).push(upstream_request::function_call(id, name, arguments)),
                AssistantBlock::ServerToolResult { id, output, failed } => {
                    let output = Value::String(output);
                    self.items
                        .push(upstream_request::call_output(id, output, failed))
                }
            }
        }
        self.flush("assistant", &mut parts);
    }
}

/// `tool_result.content` → `function_call_output.output`: text stays a string; images
/// and files (e.g. Claude Code's Read of a picture or a PDF) need the part-array form.
fn tool_output(content: Vec<Part>) -> Value {
    if content.iter().all(|p| matches!(p, Part::Text(_))) {
        let texts: Vec<String> = content
            .into_iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t),
                _ => None,
            })
            .collect();
        return Value::String(join_texts(texts));
    }
    Value::Array(content.into_iter().map(responses::write_part).collect())
}

/// A thinking budget onto an effort: Claude Code's default budget (31999) is "think hard".
fn budget_effort(budget: u64) -> &'static str {
    match budget {
        0..4096 => "low",
        4096..16384 => "medium",
        _ => "high",
    }
}

fn reasoning(body: &mut Map<String, Value>, out: &mut Map<String, Value>) {
    let thinking = body.remove("thinking").unwrap_or(Value::Null);
    let explicit = read_effort(body);
    let kind = thinking.get("type").and_then(Value::as_str);
    let on = matches!(kind, Some("enabled") | Some("adaptive"));
    let effort = explicit.or(match kind {
        Some("enabled") => Some(budget_effort(
            thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        )),
        // Not every Responses-only model accepts `none`; `low` is the floor they share.
        Some("disabled") => Some("low"),
        _ => None,
    });
    if effort.is_none() && !on {
        return;
    }
    // Readable thinking for the client, unless it asked for thinking to be omitted.
    let omitted = thinking.get("display").and_then(Value::as_str) == Some("omitted");
    upstream_request::insert_reasoning(out, effort, on && !omitted);
}

/// Structured output (`output_config.format` or the older `output_format`) → `text.format`.
fn text_format(
    body: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(schema) = super::take_messages_schema(body)? {
        out.insert(
            "text".into(),
            json!({"format": {"type": "json_schema", "name": "output", "schema": schema, "strict": true}}),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Stream: Responses events → Messages events.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Thinking,
    Text,
    ToolUse,
}

/// The block open now: which output item it shows, and what of it.
#[derive(Debug, Clone, Copy)]
struct OpenBlock {
    output_index: u64,
    kind: BlockKind,
}

#[derive(Debug, Default)]
struct ItemState {
    done: bool,
    /// Summary / content part indexes whose text was already emitted.
    parts_seen: BTreeSet<u64>,
    /// The last part that emitted thinking text (parts are joined with a blank line).
    last_part: Option<u64>,
    /// Any thinking or text emitted for this item.
    emitted: bool,
    tool_opened: bool,
    args_emitted: bool,
    guard: WhitespaceGuard,
}

/// Copilot Responses stream → Anthropic Messages stream.
pub struct MessagesToResponsesStream {
    w: MessagesStreamWriter,
    seed: String,
    open: Option<OpenBlock>,
    items: BTreeMap<u64, ItemState>,
    /// Events of a later output item held back while an earlier one is still open.
    deferred: VecDeque<(u64, Value)>,
    /// How many events of each output item are in `deferred` (a scan per event was
    /// quadratic when parallel items interleave for long).
    deferred_per_item: BTreeMap<u64, usize>,
    saw_tool_use: bool,
    saw_refusal: bool,
}

impl MessagesToResponsesStream {
    pub fn new(ctx: &TranslateCtx) -> Self {
        let mut w = MessagesStreamWriter::new(ctx);
        // Responses reports cache reads and no cache writes: both fields, always.
        w.usage = MessagesUsage::full(Usage::default());
        MessagesToResponsesStream {
            w,
            seed: ctx.id_seed.clone(),
            open: None,
            items: BTreeMap::new(),
            deferred: VecDeque::new(),
            deferred_per_item: BTreeMap::new(),
            saw_tool_use: false,
            saw_refusal: false,
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        if usage.is_object() {
            let mut u = Usage::default();
            openai_usage_into(&mut u, usage);
            self.w.usage = MessagesUsage::full(u);
        }
    }

    fn close_block(&mut self, out: &mut Vec<OutEvent>) {
        self.open = None;
        self.w.close(out);
    }

    /// Makes the block for (item, kind) the open one, opening it if needed.
    fn block(&mut self, idx: u64, kind: BlockKind, start: Block, out: &mut Vec<OutEvent>) {
        if self
            .open
            .is_some_and(|b| b.output_index == idx && b.kind == kind)
        {
            return;
        }
        self.w.open(start, out);
        self.open = Some(OpenBlock {
            output_index: idx,
            kind,
        });
    }

    /// Whether the open block is item `idx`'s of `kind`.
    fn is_open(&self, idx: u64, kind: BlockKind) -> bool {
        self.open
            .is_some_and(|b| b.output_index == idx && b.kind == kind)
    }

    fn thinking(&mut self, idx: u64, part: u64, text: &str, out: &mut Vec<OutEvent>) {
        if text.is_empty() {
            return;
        }
        let st = self.items.entry(idx).or_default();
        st.parts_seen.insert(part);
        let sep = matches!(st.last_part, Some(p) if p != part);
        st.last_part = Some(part);
        st.emitted = true;
        self.block(idx, BlockKind::Thinking, Block::Thinking, out);
        let text = if sep {
            Cow::Owned(format!("\n\n{text}"))
        } else {
            Cow::Borrowed(text)
        };
        self.w.thinking(&text, out);
    }

    fn text(&mut self, idx: u64, part: u64, text: &str, out: &mut Vec<OutEvent>) {
        let st = self.items.entry(idx).or_default();
        st.parts_seen.insert(part);
        if text.is_empty() {
            return;
        }
        st.emitted = true;
        self.block(idx, BlockKind::Text, Block::Text, out);
        self.w.text(text, out);
    }

    /// Opens the tool_use block of a function_call item; false once it was closed (a
    /// second block with the same id would be a duplicate call).
    fn open_tool(&mut self, idx: u64, item: &Value, out: &mut Vec<OutEvent>) -> bool {
        let st = self.items.entry(idx).or_default();
        if st.tool_opened {
            return self.is_open(idx, BlockKind::ToolUse);
        }
        st.tool_opened = true;
        self.saw_tool_use = true;
        let id = match item.get("call_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("call_{}_{idx}", self.seed),
        };
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("function");
        self.block(
            idx,
            BlockKind::ToolUse,
            Block::ToolUse { id: &id, name },
            out,
        );
        true
    }

    /// Emits tool arguments; false when the whitespace guard tripped (stream ended).
    fn arguments(&mut self, idx: u64, item: &Value, args: &str, out: &mut Vec<OutEvent>) -> bool {
        if !self.open_tool(idx, item, out) {
            return true;
        }
        let st = self.items.entry(idx).or_default();
        if args.is_empty() {
            return true;
        }
        st.args_emitted = true;
        if st.guard.tripped_by(args) {
            self.fail(WhitespaceGuard::MESSAGE, out);
            return false;
        }
        self.w.input_json(args, out);
        true
    }

    /// Whether an earlier output item is still open (Anthropic blocks cannot interleave).
    fn blocked(&self, idx: u64) -> bool {
        self.items.range(..idx).any(|(_, s)| !s.done)
    }

    fn undefer(&mut self, idx: u64) {
        if let Some(n) = self.deferred_per_item.get_mut(&idx) {
            *n -= 1;
            if *n == 0 {
                self.deferred_per_item.remove(&idx);
            }
        }
    }

    fn replay(&mut self, out: &mut Vec<OutEvent>) {
        while !self.w.terminated() {
            let Some(pos) = self.deferred.iter().position(|(i, _)| !self.blocked(*i)) else {
                break;
            };
            if let Some((idx, data)) = self.deferred.remove(pos) {
                self.undefer(idx);
                self.item_event(idx, &data, out);
            }
        }
    }

    fn item_event(&mut self, idx: u64, data: &Value, out: &mut Vec<OutEvent>) {
        if self.items.get(&idx).is_some_and(|s| s.done) {
            return;
        }
        let ty = data.get("type").and_then(Value::as_str).unwrap_or("");
        match upstream::read(data, ty) {
            Event::ItemAdded(item) => {
                self.items.entry(idx).or_default();
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                    self.arguments(idx, item, args, out);
                }
            }
            Event::Summary(part, text, done) if !(done && self.seen(idx, part)) => {
                self.thinking(idx, part, text, out)
            }
            Event::Text(part, text, refusal, done) if !(done && self.seen(idx, part)) => {
                self.saw_refusal |= refusal;
                self.text(idx, part, text, out)
            }
            Event::Arguments(text, done)
                if !(done && self.items.get(&idx).is_some_and(|s| s.args_emitted)) =>
            {
                self.arguments(idx, &Value::Null, text, out);
            }
            Event::ItemDone(item) => self.item_done(idx, item.unwrap_or(&Value::Null), out),
            _ => {}
        }
    }

    fn seen(&self, idx: u64, part: u64) -> bool {
        self.items
            .get(&idx)
            .is_some_and(|s| s.parts_seen.contains(&part))
    }

    /// Completes an item from its final form, emitting whatever no delta carried.
    fn item_done(&mut self, idx: u64, item: &Value, out: &mut Vec<OutEvent>) {
        self.items.entry(idx).or_default();
        match item.get("type").and_then(Value::as_str) {
            Some("reasoning") => {
                for (p, text) in upstream::summary_parts(item) {
                    if !self.seen(idx, p) {
                        self.thinking(idx, p, text, out);
                    }
                }
                let encrypted = item.get("encrypted_content").and_then(Value::as_str);
                let emitted = self.items.get(&idx).is_some_and(|s| s.emitted);
                match (emitted, encrypted) {
                    (true, Some(sig)) if self.is_open(idx, BlockKind::Thinking) => {
                        self.w.signature(sig, out);
                    }
                    (false, Some(data)) => {
                        self.close_block(out);
                        self.w.open(Block::Redacted(data), out);
                        self.w.close(out);
                    }
                    // Neither summary nor payload: nothing the client could use or send back.
                    _ => {}
                }
            }
            Some("message") => {
                for (p, text, refusal) in upstream::content_parts(item) {
                    if !self.seen(idx, p) {
                        self.saw_refusal |= refusal;
                        self.text(idx, p, text, out);
                    }
                }
            }
            Some("function_call") => {
                self.open_tool(idx, item, out);
                if !self.items.get(&idx).is_some_and(|s| s.args_emitted) {
                    let args = item.get("arguments").and_then(Value::as_str).unwrap_or("");
                    if !self.arguments(idx, item, args, out) {
                        return;
                    }
                }
            }
            _ => {}
        }
        if self.open.is_some_and(|b| b.output_index == idx) {
            self.close_block(out);
        }
        if let Some(st) = self.items.get_mut(&idx) {
            st.done = true;
        }
    }

    fn finish(&mut self, data: &Value, incomplete: bool, out: &mut Vec<OutEvent>) {
        let resp = &data["response"];
        self.read_usage(&resp["usage"]);
        self.w.start(out);
        // Whatever is still held back goes out in arrival order.
        while let Some((idx, ev)) = self.deferred.pop_front() {
            self.undefer(idx);
            self.item_event(idx, &ev, out);
            if self.w.terminated() {
                return;
            }
        }
        // Items the stream never finished (or never announced: "created + completed
        // only" streams) are projected from the terminal response.
        if let Some(output) = resp.get("output").and_then(Value::as_array) {
            for (i, item) in output.iter().enumerate() {
                let i = i as u64;
                if !self.items.get(&i).is_some_and(|s| s.done) {
                    self.item_done(i, item, out);
                    if self.w.terminated() {
                        return;
                    }
                }
            }
        }
        self.close_block(out);

        let stop = upstream::stop_reason(data, incomplete, self.saw_tool_use, self.saw_refusal);
        self.w.finish(stop, out);
    }
}

impl PairStream for MessagesToResponsesStream {
    const ENDED_EARLY: &'static str = "Upstream Responses stream ended without a terminal event.";

    fn terminated(&self) -> bool {
        self.w.terminated()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.deferred.clear();
        self.deferred_per_item.clear();
        self.w.fail(message, out);
    }

    /// Deltas (nearly every event) without building a `Value`, unless the item must wait.
    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        let Some(d) = ResponsesDelta::read(ev) else {
            return false;
        };
        let idx = d.output_index;
        if self.blocked(idx) || self.deferred.iter().any(|(i, _)| *i == idx) {
            return false;
        }
        if self.items.get(&idx).is_some_and(|s| s.done) {
            return true;
        }
        match d.kind.as_ref() {
            ResponsesDelta::TEXT => self.text(idx, d.content_index, &d.delta, out),
            ResponsesDelta::SUMMARY => self.thinking(idx, d.summary_index, &d.delta, out),
            _ => {
                self.arguments(idx, &Value::Null, &d.delta, out);
            }
        }
        true
    }

    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        let Some(data) = event_json(ev) else {
            return;
        };
        let ty = event_type(&data, ev);
        match upstream::read(&data, ty) {
            Event::Started(response) => {
                self.read_usage(&response["usage"]);
                self.w.start(out);
            }
            Event::Completed(data, incomplete) => self.finish(data, incomplete, out),
            Event::Failed(message) => self.fail(message, out),
            _ => {
                let Some(idx) = data.get("output_index").and_then(Value::as_u64) else {
                    return;
                };
                if self.blocked(idx) || self.deferred_per_item.contains_key(&idx) {
                    *self.deferred_per_item.entry(idx).or_default() += 1;
                    self.deferred.push_back((idx, data));
                    return;
                }
                let done = ty == "response.output_item.done";
                self.item_event(idx, &data, out);
                if done {
                    self.replay(out);
                }
            }
        }
    }

    fn usage_seen(&self) -> Usage {
        self.w.usage.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Api;
    use crate::sse::{write_event, SseParser};
    use crate::translate::{error_event, StreamTranslator};

    const ENC: &str = "gAAAAABpZmFrZS1lbmNyeXB0ZWQtcmVhc29uaW5n";

    fn ctx() -> TranslateCtx {
        TranslateCtx {
            model: "gpt-5.1-codex".into(),
            max_output_tokens: Some(128000),
            id_seed: "0123456789abcdef01234567".into(),
            now_secs: 1_700_000_000,
            include_usage: false,
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn req(v: Value) -> Value {
        Value::Object(request(body(v), &ctx()).expect("translates"))
    }

    fn fixture(text: &str) -> Map<String, Value> {
        let v: Value = serde_json::from_str(text).unwrap();
        body(v["body"].clone())
    }

    // ---- one rule per concept (carry it or refuse it, never drop it) ----

    fn user(content: Value) -> Value {
        json!({"max_tokens": 100, "messages": [{"role": "user", "content": content}]})
    }

    fn req_err(v: Value) -> ApiError {
        request(body(v), &ctx()).expect_err("refused")
    }

    #[test]
    fn documents_are_converted_or_refused() {
        let out = req(user(json!([
            {"type": "document", "title": "r.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
            {"type": "document", "source": {"type": "url", "url": "https://x.test/d.pdf"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}])));
        assert_eq!(
            out["input"][0]["content"],
            json!([
                {"type": "input_file", "filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
                {"type": "input_file", "file_url": "https://x.test/d.pdf"},
                {"type": "input_text", "text": "plain words"},
                {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"}])
        );
        let e = req_err(user(
            json!([{"type": "document", "source": {"type": "file", "file_id": "file_1"}}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[0].source.type"))
        );
        let e = req_err(user(
            json!([{"type": "document", "source": {"type": "content", "content": []}}]),
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].source.type")
        );
        // Inside a tool result: files need the part-array output.
        let out = req(json!({"max_tokens": 100, "messages": [
            {"role": "user", "content": "read it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "text", "text": "ok"},
                {"type": "document", "source": {"type": "url", "url": "https://x.test/d.pdf"}}]}]}]}));
        assert_eq!(
            out["input"][2]["output"],
            json!([{"type": "input_text", "text": "ok"}, {"type": "input_file", "file_url": "https://x.test/d.pdf"}])
        );
    }

    #[test]
    fn unknown_blocks_are_refused_and_reasoning_dropped_by_design() {
        let e = req_err(user(
            json!([{"type": "text", "text": "hi"}, {"type": "container_upload", "file_id": "f"}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[1].type"))
        );
        assert!(e.message.contains("\"container_upload\""), "{}", e.message);
        let e = req_err(json!({"max_tokens": 100, "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "hologram"}]}]}));
        assert_eq!(e.param.as_deref(), Some("messages[1].content[0].type"));
        let e = req_err(
            json!({"max_tokens": 100, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "hologram"}]}]}]}),
        );
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].content[0].type")
        );
        // Claude Code's tool search answers with tool references: the name, as text.
        let out = req(json!({"max_tokens": 100, "messages": [
            {"role": "user", "content": "find"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "tool_reference", "tool_name": "mcp__db__query"}]}]}]}));
        assert_eq!(out["input"][2]["output"], "Tool available: mcp__db__query");
        // Claude-signed thinking cannot go to an OpenAI model: dropped by design, not refused.
        let out = req(json!({"max_tokens": 100, "messages": [
            {"role": "user", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "search_result", "title": "T", "source": "https://s.test", "content": [{"type": "text", "text": "body"}]}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "claude-sig"},
                {"type": "redacted_thinking", "data": "claude-data"}, {"type": "text", "text": "a"}]}]}));
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "T\nhttps://s.test\nbody"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]}])
        );
    }

    #[test]
    fn resent_server_tool_blocks_become_a_call_and_readable_results() {
        let out = req(json!({"max_tokens": 100, "messages": [
            {"role": "user", "content": "search"},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                    {"type": "web_search_result", "title": "A", "url": "https://a.test", "encrypted_content": "opaque"}]},
                {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_fetch", "input": {"url": "https://a.test"}},
                {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_2", "content": {"type": "web_fetch_tool_error", "error_code": "unavailable"}}]},
            {"role": "user", "content": "thanks"}]}));
        let items = out["input"].as_array().unwrap();
        assert_eq!(items[1]["type"], "function_call");
        assert_eq!(
            items[2],
            json!({"type": "function_call_output", "call_id": "srvtoolu_1", "output": "A\nhttps://a.test"})
        );
        // Every server tool result answers its call (a call without output is refused upstream).
        assert_eq!(items[4]["call_id"], "srvtoolu_2");
        assert_eq!(items[4]["status"], "incomplete");
    }

    #[test]
    fn json_output_is_carried_or_refused() {
        let format = |f: Value| {
            let mut b = user(json!("x"));
            b["output_config"] = json!({"effort": "low", "format": f});
            b
        };
        let out = req(format(
            json!({"type": "json_schema", "schema": {"type": "object"}}),
        ));
        assert_eq!(out["text"]["format"]["schema"], json!({"type": "object"}));
        assert_eq!(
            out["reasoning"]["effort"], "low",
            "the rest of output_config still applies"
        );
        let mut beta = user(json!("x"));
        beta["output_format"] = json!({"type": "json_schema", "schema": {"type": "array"}});
        assert_eq!(
            req(beta)["text"]["format"]["schema"],
            json!({"type": "array"})
        );
        let e = req_err(format(json!({"type": "json_object"})));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("output_config.format.type"))
        );
        let e = req_err(format(json!({"type": "json_schema"})));
        assert_eq!(e.param.as_deref(), Some("output_config.format.schema"));
    }

    #[test]
    fn text_and_string_system() {
        let out = req(json!({
            "model": "x", "max_tokens": 512, "system": "Be terse.", "temperature": 0.5,
            "stop_sequences": ["END"], "top_k": 5, "metadata": {"user_id": "u1"},
            "messages": [{"role": "user", "content": "hi"}],
        }));
        assert_eq!(
            out,
            json!({
                "model": "gpt-5.1-codex", "instructions": "Be terse.",
                "input": [{"type": "message", "role": "user", "content": "hi"}],
                "max_output_tokens": 12800, "temperature": 0.5, "metadata": {"user_id": "u1"},
                "store": false, "stream": true,
            })
        );
    }

    #[test]
    fn system_blocks_and_multi_turn() {
        let out = req(json!({
            "max_tokens": 20000,
            "system": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": ""}, {"type": "text", "text": "B"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "one"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "two"}]},
                {"role": "user", "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
            ],
        }));
        assert_eq!(out["instructions"], "A\n\nB");
        assert_eq!(out["max_output_tokens"], 20000);
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "two"}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "three"}, {"type": "input_text", "text": "four"}]},
            ])
        );
    }

    #[test]
    fn max_output_tokens_floor_respects_model_limit() {
        let small = TranslateCtx {
            max_output_tokens: Some(8000),
            ..ctx()
        };
        let b = json!({"max_tokens": 1, "messages": [{"role": "user", "content": "x"}]});
        let out = request(body(b.clone()), &small).unwrap();
        assert_eq!(out["max_output_tokens"], 8000);
        let out = request(body(json!({"max_tokens": 500000, "messages": []})), &ctx()).unwrap();
        assert_eq!(out["max_output_tokens"], 128000);
        let none = TranslateCtx {
            max_output_tokens: None,
            ..ctx()
        };
        assert_eq!(request(body(b), &none).unwrap()["max_output_tokens"], 12800);
    }

    #[test]
    fn tool_round_trip_keeps_order_parallel_calls_and_errors() {
        let out = req(json!({
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Running both."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"file_path": "/a"}},
                ]},
                {"role": "user", "content": [
                    {"type": "text", "text": "before"},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb"},
                    {"type": "text", "text": "between"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                     "content": [{"type": "text", "text": "no such"}, {"type": "text", "text": "file"}]},
                    {"type": "text", "text": "after"},
                ]},
            ],
        }));
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "user", "content": "go"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running both."}]},
                {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": "{\"command\":\"ls\"}"},
                {"type": "function_call", "call_id": "toolu_2", "name": "Read", "arguments": "{\"file_path\":\"/a\"}"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "before"}]},
                {"type": "function_call_output", "call_id": "toolu_1", "output": "a\nb"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "between"}]},
                {"type": "function_call_output", "call_id": "toolu_2", "output": "no such\n\nfile", "status": "incomplete"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "after"}]},
            ])
        );
    }

    #[test]
    fn images_base64_url_and_in_tool_results() {
        let out = req(json!({
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
                    {"type": "text", "text": "what?"},
                ]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                    {"type": "text", "text": "pic"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
                ]}]},
            ],
        }));
        assert_eq!(
            out["input"][0]["content"],
            json!([
                {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
                {"type": "input_image", "image_url": "https://x.test/a.jpg", "detail": "auto"},
                {"type": "input_text", "text": "what?"},
            ])
        );
        assert_eq!(
            out["input"][2]["output"],
            json!([
                {"type": "input_text", "text": "pic"},
                {"type": "input_image", "image_url": "data:image/gif;base64,R0lG", "detail": "auto"},
            ])
        );
    }

    #[test]
    fn thinking_kept_exactly_and_foreign_signatures_dropped() {
        let out = req(json!({
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "plan", "signature": ENC},
                    {"type": "thinking", "thinking": "Thinking...", "signature": "gAAAAsecond"},
                    {"type": "thinking", "thinking": "claude", "signature": "EqQBCkYIBxgCKkDclaude"},
                    {"type": "thinking", "thinking": "unsigned"},
                    {"type": "redacted_thinking", "data": "gAAAAredacted"},
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgyanthropic"},
                    {"type": "text", "text": "answer"},
                ]},
            ],
        }));
        assert_eq!(
            out["input"],
            json!([
                {"type": "message", "role": "user", "content": "q"},
                {"type": "reasoning", "id": "rs_0", "summary": [{"type": "summary_text", "text": "plan"}],
                 "encrypted_content": ENC},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAsecond"},
                {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAAredacted"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answer"}]},
            ])
        );
    }

    #[test]
    fn tools_and_tool_choice() {
        let out = req(json!({
            "max_tokens": 100, "messages": [],
            "tools": [
                {"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}},
                 "cache_control": {"type": "ephemeral"}, "eager_input_streaming": true},
                {"type": "custom", "name": "Strict", "input_schema": {"type": "object"}, "strict": true},
                {"type": "web_search_20250305", "name": "web_search"},
                {"type": "bash_20250124", "name": "bash"},
            ],
            "tool_choice": {"type": "tool", "name": "Bash", "disable_parallel_tool_use": true},
        }));
        assert_eq!(
            out["tools"],
            json!([
                {"type": "function", "name": "Bash", "description": "run", "strict": false,
                 "parameters": {"type": "object", "properties": {"c": {"type": "string"}}}},
                {"type": "function", "name": "Strict", "strict": true, "parameters": {"type": "object"}},
            ])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "function", "name": "Bash"})
        );
        assert_eq!(out["parallel_tool_calls"], false);

        let choice = |tc: Value| {
            req(json!({"max_tokens": 1, "messages": [], "tools": [{"name": "A", "input_schema": {}}], "tool_choice": tc}))
                .get("tool_choice")
                .cloned()
        };
        assert_eq!(choice(json!({"type": "any"})), Some(json!("required")));
        assert_eq!(choice(json!({"type": "auto"})), Some(json!("auto")));
        assert_eq!(choice(json!({"type": "none"})), Some(json!("none")));
        assert_eq!(choice(json!({"type": "tool", "name": "Nope"})), None);
        // Only server tools: nothing to choose from.
        let out = req(
            json!({"max_tokens": 1, "messages": [], "tools": [{"type": "web_search_20250305", "name": "w"}],
                             "tool_choice": {"type": "any"}}),
        );
        assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    }

    #[test]
    fn reasoning_effort_mapping() {
        let r = |extra: Value| {
            let mut b = json!({"max_tokens": 100, "messages": []});
            b.as_object_mut().unwrap().extend(body(extra));
            let out = req(b);
            (out.get("reasoning").cloned(), out.get("include").cloned())
        };
        let inc = Some(json!(["reasoning.encrypted_content"]));
        assert_eq!(
            r(json!({"thinking": {"type": "enabled", "budget_tokens": 31999}})),
            (
                Some(json!({"effort": "high", "summary": "auto"})),
                inc.clone()
            )
        );
        assert_eq!(
            r(json!({"thinking": {"type": "enabled", "budget_tokens": 1024}})),
            (
                Some(json!({"effort": "low", "summary": "auto"})),
                inc.clone()
            )
        );
        assert_eq!(
            r(json!({"thinking": {"type": "enabled", "budget_tokens": 8000}})),
            (
                Some(json!({"effort": "medium", "summary": "auto"})),
                inc.clone()
            )
        );
        assert_eq!(
            r(json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}})),
            (
                Some(json!({"effort": "high", "summary": "auto"})),
                inc.clone()
            )
        );
        assert_eq!(
            r(json!({"thinking": {"type": "adaptive", "display": "omitted"}})),
            (Some(json!({})), inc.clone())
        );
        assert_eq!(
            r(json!({"output_config": {"effort": "medium"}})),
            (Some(json!({"effort": "medium"})), inc.clone())
        );
        assert_eq!(
            r(json!({"thinking": {"type": "disabled"}})),
            (Some(json!({"effort": "low"})), inc)
        );
        assert_eq!(r(json!({})), (None, None));
    }

    #[test]
    fn structured_output_format() {
        let out = req(json!({"max_tokens": 1, "messages": [],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}));
        assert_eq!(
            out["text"],
            json!({"format": {"type": "json_schema", "name": "output", "schema": {"type": "object"}, "strict": true}})
        );
    }

    #[test]
    fn untranslatable_input_is_a_400_naming_the_field() {
        let err = request(
            body(
                json!({"max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "x"}, {"type": "tool_result", "content": "y"}]}]}),
            ),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(
            err.param.as_deref(),
            Some("messages[0].content[1].tool_use_id")
        );
        let err = request(
            body(json!({"max_tokens": 1, "messages": [{"role": "tool", "content": "x"}]})),
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
        let err = request(body(json!({"max_tokens": 1})), &ctx()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"));
    }

    #[test]
    fn claude_code_fixtures_translate() {
        let first = fixture(include_str!(
            "../../tests/fixtures/claude-code.messages.request.json"
        ));
        let tool_names: Vec<String> = first["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        let system_tail = first["system"][2]["text"].as_str().unwrap().to_string();
        let user_text = first["messages"][0]["content"][1]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let system_turn = first["messages"][1]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let out = request(first, &ctx()).unwrap();
        assert_eq!(tool_names.len(), 12);
        let got: Vec<&str> = out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        // Every tool in full, deferred ones too (Responses has no deferred loading).
        assert_eq!(got, tool_names);
        assert!(out["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["type"] == "function"
                && t["strict"] == false
                && t["parameters"]["type"] == "object"
                && t.get("defer_loading").is_none()));
        assert!(out["instructions"]
            .as_str()
            .unwrap()
            .ends_with(&system_tail));
        let input = out["input"].as_array().unwrap();
        assert_eq!(input.len(), 2);
        assert_eq!(input[0]["content"].as_array().unwrap().len(), 2);
        assert_eq!(input[0]["content"][1]["text"], user_text);
        // The system turn: a developer message in its place.
        assert_eq!(
            input[1],
            json!({"type": "message", "role": "developer", "content": system_turn})
        );
        assert_eq!(out["max_output_tokens"], 64000);
        // Adaptive thinking, effort from output_config; `display: "omitted"`: no summary.
        assert_eq!(out["reasoning"], json!({"effort": "high"}));
        assert_eq!(out["store"], false);
        for dropped in [
            "context_management",
            "thinking",
            "messages",
            "system",
            "max_tokens",
            "output_config",
        ] {
            assert!(out.get(dropped).is_none(), "{dropped}");
        }

        let next = fixture(include_str!(
            "../../tests/fixtures/claude-code.messages.tool_result.request.json"
        ));
        let out = request(next, &ctx()).unwrap();
        let input = out["input"].as_array().unwrap();
        let kinds: Vec<(&str, &str)> = input
            .iter()
            .map(|i| {
                (
                    i["type"].as_str().unwrap(),
                    i["role"].as_str().unwrap_or(""),
                )
            })
            .collect();
        // Claude's signed thinking cannot go to OpenAI; text, call and result keep their order.
        assert_eq!(
            kinds,
            [
                ("message", "user"),
                ("message", "developer"),
                ("message", "assistant"),
                ("function_call", ""),
                ("function_call_output", ""),
                ("message", "developer")
            ]
        );
        let call = "toolu_vrtx_01XE11cDeI7cG2bVIsrMwlGu";
        assert_eq!(input[3]["call_id"], call);
        assert_eq!(input[3]["name"], "Write");
        assert_eq!(
            serde_json::from_str::<Value>(input[3]["arguments"].as_str().unwrap()).unwrap(),
            json!({"file_path": "/home/user/work/hello.txt", "content": "hello from mock"})
        );
        assert_eq!(input[4]["call_id"], call);
        assert!(input[4]["output"]
            .as_str()
            .unwrap()
            .starts_with("File created successfully"));
    }

    // ---- stream ----------------------------------------------------------------------

    /// Serializes events as Copilot does (`event:` + `data:` with `type` and
    /// `sequence_number`) and feeds them through the SSE parser in small chunks.
    fn wire(events: &[Value]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (n, e) in events.iter().enumerate() {
            let mut e = e.clone();
            e["sequence_number"] = json!(n);
            write_event(&mut buf, e["type"].as_str(), &e.to_string());
        }
        buf
    }

    fn run_bytes(buf: &[u8], end: bool) -> (Vec<(String, Value)>, MessagesToResponsesStream) {
        let mut parser = SseParser::new();
        let mut t = MessagesToResponsesStream::new(&ctx());
        let mut out = Vec::new();
        for chunk in buf.chunks(37) {
            let mut evs = Vec::new();
            parser.feed(chunk, &mut evs);
            for ev in &evs {
                t.on_event(ev, &mut out);
            }
        }
        let mut evs = Vec::new();
        parser.finish(&mut evs);
        for ev in &evs {
            t.on_event(ev, &mut out);
        }
        if end {
            t.on_end(&mut out);
        }
        let out = out
            .into_iter()
            .map(|e| match e.into_value() {
                OutEvent::Event {
                    name: Some(n),
                    data,
                } => {
                    assert_eq!(data["type"], n, "event name equals data.type");
                    (n.to_string(), data)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        (out, t)
    }

    fn run(events: &[Value]) -> (Vec<(String, Value)>, MessagesToResponsesStream) {
        run_bytes(&wire(events), true)
    }

    fn names(out: &[(String, Value)]) -> Vec<&str> {
        out.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn resp(status: &str, output: Value, usage: Value) -> Value {
        json!({"id": "resp_up", "object": "response", "created_at": 1, "model": "gpt-5.1-codex",
               "status": status, "output": output, "usage": usage})
    }

    fn usage(input: u64, cached: u64, output: u64) -> Value {
        json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
               "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 3},
               "total_tokens": input + output})
    }

    /// A Copilot /responses stream: reasoning with summary, text, a tool call. Item ids
    /// on `.done` differ from `.added` (Copilot quirk).
    fn full_stream() -> Vec<Value> {
        let reasoning = json!({"id": "rsB", "type": "reasoning", "encrypted_content": ENC,
            "summary": [{"type": "summary_text", "text": "**Plan**\n\nRead it."}]});
        let message = json!({"id": "msgB", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "I'll read it."}]});
        let call = json!({"id": "fcB", "type": "function_call", "status": "completed",
            "call_id": "call_abc", "name": "Read", "arguments": "{\"file_path\":\"/a\"}"});
        vec![
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.in_progress", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "rsA", "type": "reasoning", "summary": [], "encrypted_content": ENC}}),
            json!({"type": "response.reasoning_summary_part.added", "item_id": "rsA", "output_index": 0,
                   "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rsA", "output_index": 0,
                   "summary_index": 0, "delta": "**Plan**"}),
            json!({"type": "response.reasoning_summary_text.delta", "item_id": "rsA", "output_index": 0,
                   "summary_index": 0, "delta": "\n\nRead it."}),
            json!({"type": "response.reasoning_summary_text.done", "item_id": "rsA", "output_index": 0,
                   "summary_index": 0, "text": "**Plan**\n\nRead it."}),
            json!({"type": "response.reasoning_summary_part.done", "item_id": "rsA", "output_index": 0,
                   "summary_index": 0, "part": {"type": "summary_text", "text": "**Plan**\n\nRead it."}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": reasoning.clone()}),
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"id": "msgA", "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
            json!({"type": "response.content_part.added", "item_id": "msgA", "output_index": 1, "content_index": 0,
                   "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
            json!({"type": "response.output_text.delta", "item_id": "msgA", "output_index": 1, "content_index": 0,
                   "delta": "I'll ", "logprobs": []}),
            json!({"type": "response.output_text.delta", "item_id": "msgA", "output_index": 1, "content_index": 0,
                   "delta": "read it.", "logprobs": []}),
            json!({"type": "response.output_text.done", "item_id": "msgA", "output_index": 1, "content_index": 0,
                   "text": "I'll read it.", "logprobs": []}),
            json!({"type": "response.content_part.done", "item_id": "msgA", "output_index": 1, "content_index": 0,
                   "part": message["content"][0].clone()}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": message.clone()}),
            json!({"type": "response.output_item.added", "output_index": 2,
                   "item": {"id": "fcA", "type": "function_call", "status": "in_progress", "call_id": "call_abc",
                            "name": "Read", "arguments": ""}}),
            json!({"type": "response.function_call_arguments.delta", "item_id": "fcA", "output_index": 2,
                   "delta": "{\"file_path\""}),
            json!({"type": "response.function_call_arguments.delta", "item_id": "fcA", "output_index": 2,
                   "delta": ":\"/a\"}"}),
            json!({"type": "response.function_call_arguments.done", "item_id": "fcA", "output_index": 2,
                   "arguments": "{\"file_path\":\"/a\"}"}),
            json!({"type": "response.output_item.done", "output_index": 2, "item": call.clone()}),
            json!({"type": "response.completed",
                   "response": resp("completed", json!([reasoning, message, call]), usage(1000, 800, 50))}),
        ]
    }

    #[test]
    fn stream_reasoning_text_and_tool_call() {
        let (out, t) = run(&full_stream());
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let d = |i: usize| out[i].1.clone();
        assert_eq!(
            d(0)["message"],
            json!({"id": "msg_0123456789abcdef01234567", "type": "message", "role": "assistant",
                   "model": "gpt-5.1-codex", "content": [], "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0}})
        );
        assert_eq!(
            d(1)["content_block"],
            json!({"type": "thinking", "thinking": ""})
        );
        assert_eq!(
            d(2)["delta"],
            json!({"type": "thinking_delta", "thinking": "**Plan**"})
        );
        assert_eq!(
            d(4),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "signature_delta", "signature": ENC}})
        );
        assert_eq!(d(6)["index"], 1);
        assert_eq!(d(6)["content_block"], json!({"type": "text", "text": ""}));
        assert_eq!(
            d(8)["delta"],
            json!({"type": "text_delta", "text": "read it."})
        );
        assert_eq!(
            d(10),
            json!({"type": "content_block_start", "index": 2, "content_block":
                   {"type": "tool_use", "id": "call_abc", "name": "Read", "input": {}}})
        );
        assert_eq!(
            d(11)["delta"],
            json!({"type": "input_json_delta", "partial_json": "{\"file_path\""})
        );
        assert_eq!(d(13), json!({"type": "content_block_stop", "index": 2}));
        assert_eq!(
            d(14),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 200, "output_tokens": 50, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 800}})
        );
        assert_eq!(
            t.usage(),
            Usage {
                input_tokens: 1000,
                output_tokens: 50,
                cache_read_tokens: 800,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
    }

    #[test]
    fn stream_split_at_every_byte_gives_the_same_events() {
        let buf = wire(&full_stream());
        let (whole, _) = run_bytes(&buf, true);
        let mut parser = SseParser::new();
        let mut t = MessagesToResponsesStream::new(&ctx());
        let mut out = Vec::new();
        for b in &buf {
            let mut evs = Vec::new();
            parser.feed(std::slice::from_ref(b), &mut evs);
            for ev in &evs {
                t.on_event(ev, &mut out);
            }
        }
        t.on_end(&mut out);
        assert_eq!(out.len(), whole.len());
        for (a, (n, d)) in out.iter().zip(&whole) {
            assert_eq!(a.clone().into_value(), OutEvent::named(leak(n), d.clone()));
        }
    }

    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_string().into_boxed_str())
    }

    #[test]
    fn reasoning_without_summary_is_redacted_thinking() {
        let item =
            json!({"id": "rs1", "type": "reasoning", "summary": [], "encrypted_content": ENC});
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "rs0", "type": "reasoning", "summary": []}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": item.clone()}),
            // A reasoning item with neither summary nor payload carries nothing.
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"id": "rs2", "type": "reasoning", "summary": []}}),
            json!({"type": "response.output_item.done", "output_index": 1,
                   "item": {"id": "rs2", "type": "reasoning", "summary": []}}),
            json!({"type": "response.completed", "response": resp("completed", json!([item]), usage(10, 0, 5))}),
        ]);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(
            out[1].1,
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "redacted_thinking", "data": ENC}})
        );
        assert_eq!(out[3].1["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn summary_without_payload_has_no_signature_and_parts_are_joined() {
        let item = json!({"id": "rs", "type": "reasoning", "summary": [
            {"type": "summary_text", "text": "one"}, {"type": "summary_text", "text": "two"}]});
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs", "type": "reasoning", "summary": []}}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 0, "delta": "one"}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "summary_index": 1, "delta": "two"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": item.clone()}),
            json!({"type": "response.completed", "response": resp("completed", json!([item]), usage(10, 0, 5))}),
        ]);
        let deltas: Vec<&Value> = out
            .iter()
            .filter(|(n, _)| n == "content_block_delta")
            .map(|(_, d)| &d["delta"])
            .collect();
        assert_eq!(
            deltas,
            [
                &json!({"type": "thinking_delta", "thinking": "one"}),
                &json!({"type": "thinking_delta", "thinking": "\n\ntwo"})
            ]
        );
    }

    #[test]
    fn interleaved_parallel_calls_are_serialized() {
        let call = |i: u64, id: &str, args: &str| {
            json!({"id": format!("fc{i}"), "type": "function_call", "status": "completed",
                   "call_id": id, "name": "Bash", "arguments": args})
        };
        let added = |i: u64, id: &str| {
            json!({"type": "response.output_item.added", "output_index": i,
                   "item": {"id": format!("fc{i}"), "type": "function_call", "call_id": id, "name": "Bash", "arguments": ""}})
        };
        let delta = |i: u64, d: &str| json!({"type": "response.function_call_arguments.delta", "output_index": i, "item_id": format!("fc{i}"), "delta": d});
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            added(0, "call_a"),
            added(1, "call_b"),
            delta(0, "{\"c\":"),
            delta(1, "{\"c\":\"pwd\"}"),
            delta(0, "\"ls\"}"),
            json!({"type": "response.output_item.done", "output_index": 0, "item": call(0, "call_a", "{\"c\":\"ls\"}")}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": call(1, "call_b", "{\"c\":\"pwd\"}")}),
            json!({"type": "response.completed", "response": resp("completed",
                json!([call(0, "call_a", "{\"c\":\"ls\"}"), call(1, "call_b", "{\"c\":\"pwd\"}")]), usage(10, 0, 5))}),
        ]);
        let view: Vec<Value> = out
            .iter()
            .skip(1)
            .map(|(n, d)| match n.as_str() {
                "content_block_start" => json!([d["index"], d["content_block"]["id"]]),
                "content_block_delta" => json!([d["index"], d["delta"]["partial_json"]]),
                "content_block_stop" => json!([d["index"], "stop"]),
                _ => json!(n),
            })
            .collect();
        assert_eq!(
            view,
            [
                json!([0, "call_a"]),
                json!([0, "{\"c\":"]),
                json!([0, "\"ls\"}"]),
                json!([0, "stop"]),
                json!([1, "call_b"]),
                json!([1, "{\"c\":\"pwd\"}"]),
                json!([1, "stop"]),
                json!("message_delta"),
                json!("message_stop"),
            ]
        );
        assert_eq!(out[out.len() - 2].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn long_interleaved_calls_are_serialized() {
        // Each held-back event used to scan the whole queue (quadratic: 30 000 rounds took
        // 7 s in a debug build, 2 s now); the per-item counts must keep the order intact.
        let n = 5_000;
        let mut evs = vec![
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
        ];
        for i in 0..2 {
            evs.push(json!({"type": "response.output_item.added", "output_index": i,
                            "item": {"type": "function_call", "call_id": format!("c{i}"), "name": "f", "arguments": ""}}));
        }
        for _ in 0..n {
            for i in 0..2 {
                evs.push(json!({"type": "response.function_call_arguments.delta", "output_index": i, "delta": format!("{i}")}));
            }
        }
        evs.push(json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "function_call"}}));
        evs.push(json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "1"}));
        evs.push(json!({"type": "response.completed", "response": resp("completed", json!([]), usage(1, 0, 1))}));
        let (out, _) = run(&evs);
        let args: String = out
            .iter()
            .filter_map(|(_, d)| d.pointer("/delta/partial_json").and_then(Value::as_str))
            .collect();
        assert_eq!(args, "0".repeat(n) + &"1".repeat(n + 1));
        assert_eq!(out.len(), 2 * n + 8);
    }

    #[test]
    fn created_and_completed_only_is_projected() {
        let output = json!([
            {"id": "r", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}], "encrypted_content": ENC},
            {"id": "m", "type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "Hello"}, {"type": "refusal", "refusal": ""}]},
            {"id": "f", "type": "function_call", "call_id": "call_z", "name": "Write", "arguments": "{\"a\":1}"},
        ]);
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.completed", "response": resp("completed", output, usage(30, 10, 7))}),
        ]);
        let view: Vec<Value> = out
            .iter()
            .map(|(n, d)| match n.as_str() {
                "content_block_start" => d["content_block"].clone(),
                "content_block_delta" => d["delta"].clone(),
                "content_block_stop" => json!(d["index"]),
                _ => json!(n),
            })
            .collect();
        assert_eq!(
            view,
            [
                json!("message_start"),
                json!({"type": "thinking", "thinking": ""}),
                json!({"type": "thinking_delta", "thinking": "hm"}),
                json!({"type": "signature_delta", "signature": ENC}),
                json!(0),
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": "Hello"}),
                json!(1),
                json!({"type": "tool_use", "id": "call_z", "name": "Write", "input": {}}),
                json!({"type": "input_json_delta", "partial_json": "{\"a\":1}"}),
                json!(2),
                json!("message_delta"),
                json!("message_stop"),
            ]
        );
        assert_eq!(
            out[11].1["usage"],
            json!({"input_tokens": 20, "output_tokens": 7, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 10})
        );
    }

    #[test]
    fn incomplete_is_max_tokens() {
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "m", "type": "message", "role": "assistant", "content": []}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Trunc"}),
            json!({"type": "response.incomplete", "response": {
                "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"id": "m2", "type": "message", "role": "assistant", "status": "incomplete",
                            "content": [{"type": "output_text", "text": "Trunc"}]}],
                "usage": usage(5, 0, 16)}}),
        ]);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(out[4].1["delta"]["stop_reason"], "max_tokens");
    }

    #[test]
    fn truncated_stream_ends_with_one_error() {
        let mut events = full_stream();
        events.truncate(12); // cut inside the text item
        let (out, mut t) = run(&events);
        let (last, data) = out.last().unwrap();
        assert_eq!(last, "error");
        assert_eq!(data["error"]["type"], "api_error");
        assert_eq!(out.iter().filter(|(n, _)| n == "error").count(), 1);
        assert!(!names(&out).contains(&"message_stop"));
        // Nothing after the terminal error.
        let mut more = Vec::new();
        t.on_event(
            &SseEvent {
                event: None,
                data: full_stream()[21].to_string(),
            },
            &mut more,
        );
        t.on_error("network", &mut more);
        t.on_end(&mut more);
        assert!(more.is_empty());
    }

    #[test]
    fn upstream_failure_and_error_events_keep_the_message() {
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "m", "type": "message", "role": "assistant", "content": []}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "x"}),
            json!({"type": "response.failed", "response": {"status": "failed",
                   "error": {"code": "server_error", "message": "The model crashed"}}}),
            json!({"type": "response.completed", "response": resp("completed", json!([]), usage(1, 0, 1))}),
        ]);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "error"
            ]
        );
        assert_eq!(out[3].1["error"]["message"], "The model crashed");

        let (out, _) = run(&[json!({"type": "error", "code": "rate_limit_exceeded",
                                     "message": "Slow down", "param": null})]);
        assert_eq!(names(&out), ["error"]);
        assert_eq!(out[0].1["error"]["message"], "Slow down");
    }

    #[test]
    fn malformed_events_are_skipped_and_network_errors_reported_once() {
        let mut t = MessagesToResponsesStream::new(&ctx());
        let mut out = Vec::new();
        t.on_event(
            &SseEvent {
                event: Some("response.created".into()),
                data: "{not json".into(),
            },
            &mut out,
        );
        assert!(out.is_empty());
        t.on_error("connection reset", &mut out);
        t.on_error("again", &mut out);
        t.on_end(&mut out);
        assert_eq!(out, [error_event(Api::Messages, "connection reset", 0)]);
    }

    #[test]
    fn degenerate_tool_arguments_abort() {
        let (out, _) = run(&[
            json!({"type": "response.created", "response": resp("in_progress", json!([]), Value::Null)}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"id": "f", "type": "function_call", "call_id": "c", "name": "Bash", "arguments": ""}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"a\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "\n\t".repeat(11)}),
            json!({"type": "response.completed", "response": resp("completed", json!([]), usage(1, 0, 1))}),
        ]);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "error"
            ]
        );
        assert_eq!(out[3].1["error"]["message"], WhitespaceGuard::MESSAGE);
    }
}

#[cfg(test)]
mod system_role_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_messages_inside_the_conversation_become_developer_messages() {
        let body = json!({"model": "m", "max_tokens": 100, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "agents: a, b"}
        ]});
        let out = request(
            body.as_object().unwrap().clone(),
            &TranslateCtx {
                model: "gpt-5.1-codex".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let input = out["input"].as_array().unwrap();
        assert_eq!(input.len(), 2);
        assert_eq!(
            input[1],
            json!({"type": "message", "role": "developer", "content": "agents: a, b"})
        );
    }
}
