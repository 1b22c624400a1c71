//! An Anthropic Messages client (Claude Code) served by Copilot's `/chat/completions`
//! (chat-only models such as gemini-2.5-pro or gpt-4.1).
//!
//! `request` turns a Messages body into a Chat body; `MessagesToChatStream` turns the Chat
//! chunks back into Messages events.

use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::wire::chat_upstream_request as w;
use super::wire::chat_upstream_stream::ChatEvents;
use super::wire::messages_request::{
    join_texts, read_effort, take_system, take_turns, AssistantBlock, Thinking, Turn, UserBlock,
};
use super::wire::messages_stream::{Block, MessagesStreamWriter, MessagesUsage};
use super::wire::{chat, messages};
use super::{nonempty, ChatToolCall, OutEvent, TranslateCtx, Usage, WhitespaceGuard};
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;

/// Copilot forwards Claude models on chat to Anthropic, which only accepts its own signatures.
fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// Messages request body → Chat Completions request body.
pub fn request(
    mut body: Map<String, Value>,
    ctx: &TranslateCtx,
) -> Result<Map<String, Value>, ApiError> {
    let claude = is_claude(&ctx.model);
    let mut messages: Vec<Value> = Vec::new();
    push_system(&mut messages, take_system(&mut body)?);
    for turn in take_turns(&mut body)? {
        match turn? {
            Turn::UserText(s) => flush_user(&mut vec![Piece::Text(s)], &mut messages),
            Turn::User(blocks) => user_turn(blocks, &mut messages)?,
            Turn::AssistantText(s) => messages.push(w::message("assistant", s)),
            Turn::Assistant(blocks) => assistant_turn(blocks, claude, &mut messages),
            Turn::System(text) => push_system(&mut messages, text),
        }
    }

    let mut out = w::body(&ctx.model, messages);
    w::insert_tools(messages::read_tools(&mut body), &mut out);

    for key in ["max_tokens", "temperature", "top_p"] {
        super::carry(&mut body, key, &mut out, key);
    }
    if let Some(Value::Array(stops)) = body.remove("stop_sequences") {
        if !stops.is_empty() {
            out.insert("stop".into(), Value::Array(stops));
        }
    }

    let thinking = body.remove("thinking");
    if let Some(effort) = reasoning_effort(thinking.as_ref(), &body) {
        out.insert("reasoning_effort".into(), Value::String(effort.into()));
    }
    if let Some(schema) = super::take_messages_schema(&mut body)? {
        let spec = Map::from_iter([
            ("name".into(), Value::String("output".into())),
            ("schema".into(), schema),
            ("strict".into(), Value::Bool(true)),
        ]);
        out.insert("response_format".into(), w::json_schema_format(spec));
    }

    // Dropped on purpose: metadata (its user_id is Claude Code's JSON blob, not a Chat
    // field), top_k, service_tier, context_management, and anything else Chat lacks.
    w::insert_stream(&mut out);
    Ok(out)
}

fn push_system(messages: &mut Vec<Value>, text: String) {
    if !text.is_empty() {
        messages.push(w::message("system", text));
    }
}

/// One piece of a Chat user message: text (the message is a plain string when all of it
/// is text) or a part already in Chat's form.
enum Piece {
    Text(String),
    Part(Value),
}

impl Piece {
    fn new(part: Part) -> Result<Piece, ApiError> {
        Ok(match part {
            Part::Text(t) => Piece::Text(t),
            part => Piece::Part(chat::write_part(part)?),
        })
    }

    fn into_value(self) -> Value {
        match self {
            Piece::Text(t) => chat::text_part(t),
            Piece::Part(v) => v,
        }
    }
}

/// Pushes the pending user parts as one user message: a plain string when all text
/// (what every Chat model accepts), else content parts.
fn flush_user(parts: &mut Vec<Piece>, out: &mut Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    let content = if parts.iter().all(|p| matches!(p, Piece::Text(_))) {
        let mut text = String::new();
        for p in parts.drain(..) {
            if let Piece::Text(t) = p {
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(&t);
            }
        }
        Value::String(text)
    } else {
        Value::Array(parts.drain(..).map(Piece::into_value).collect())
    };
    out.push(w::message("user", content));
}

/// A user turn. `tool_result` blocks become `tool` messages at their position, splitting
/// the surrounding user content so the order survives.
fn user_turn(blocks: Vec<UserBlock>, out: &mut Vec<Value>) -> Result<(), ApiError> {
    let mut parts: Vec<Piece> = Vec::new();
    // Chat tool messages hold text only: images and files from tool results follow the
    // run of tool messages as a user message (a user message inside the run would be
    // rejected).
    let mut tool_media: Vec<Value> = Vec::new();
    for block in blocks {
        match block {
            UserBlock::Part(part) => {
                parts.extend(tool_media.drain(..).map(Piece::Part));
                parts.push(Piece::new(part)?);
            }
            UserBlock::ToolResult { id, content, .. } => {
                flush_user(&mut parts, out);
                let text = w::tool_content(content, &mut tool_media)?;
                out.push(w::tool_message(id, text));
            }
        }
    }
    parts.extend(tool_media.into_iter().map(Piece::Part));
    flush_user(&mut parts, out);
    Ok(())
}

/// The assistant message being assembled from one Anthropic assistant turn.
#[derive(Default)]
struct Assistant {
    texts: Vec<String>,
    tool_calls: Vec<Value>,
    /// (reasoning_text, reasoning_opaque) of the first usable reasoning block.
    reasoning: Option<Thinking>,
}

impl Assistant {
    fn flush(&mut self, out: &mut Vec<Value>) {
        let a = std::mem::take(self);
        let (reasoning_text, reasoning_opaque) =
            a.reasoning.map_or((None, None), |t| (t.text, t.opaque));
        let message = w::Assistant {
            text: (!a.texts.is_empty()).then(|| join_texts(a.texts)),
            tool_calls: a.tool_calls,
            reasoning_text,
            reasoning_opaque,
        };
        out.extend(message.write());
    }
}

fn assistant_turn(blocks: Vec<AssistantBlock>, claude: bool, out: &mut Vec<Value>) {
    let mut a = Assistant::default();
    for block in blocks {
        match block {
            AssistantBlock::Text(t) => a.texts.push(t),
            // The first usable reasoning block; a Claude model would reject the whole
            // turn over an OpenAI-minted payload.
            AssistantBlock::Thinking(t) => {
                if a.reasoning.is_none() && !(claude && t.openai_opaque().is_some()) {
                    a.reasoning = Some(t);
                }
            }
            AssistantBlock::ToolUse {
                id,
                name,
                arguments,
            } => a.tool_calls.push(w::tool_call(id, name, arguments)),
            AssistantBlock::ServerToolResult { id, output, .. } => {
                a.flush(out);
                out.push(w::tool_message(id, output));
            }
        }
    }
    a.flush(out);
}

/// `reasoning_effort` for the Chat body. An explicit `output_config.effort` wins; else a
/// thinking budget maps by size. Emitted whenever thinking is on; the gateway strips it
/// for models that cannot reason.
fn reasoning_effort(thinking: Option<&Value>, body: &Map<String, Value>) -> Option<&'static str> {
    let thinking_type = thinking.and_then(|t| t.get("type")).and_then(Value::as_str);
    if thinking_type == Some("disabled") {
        return None;
    }
    if let Some(effort) = read_effort(body) {
        return Some(effort);
    }
    if thinking_type != Some("enabled") {
        return None;
    }
    let budget = thinking
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64);
    Some(match budget {
        Some(b) if b <= 2048 => "low",
        Some(b) if b <= 8192 => "medium",
        Some(_) => "high",
        None => "medium",
    })
}

// ---------------------------------------------------------------------------------------
// Streaming: Chat chunks → Messages events.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thinking,
    Text,
    Tool,
    Redacted,
}

/// One Anthropic content block in the making. Its text (thinking text, text, tool
/// arguments, or redacted data) accumulates in `buf`; `emitted` is how much of it the
/// client has seen.
struct Item {
    kind: Kind,
    buf: String,
    emitted: usize,
    opened: bool,
    signature: Option<String>,
    signature_sent: bool,
    id: String,
    name: Option<String>,
    guard: WhitespaceGuard,
}

impl Item {
    fn new(kind: Kind) -> Item {
        Item {
            kind,
            buf: String::new(),
            emitted: 0,
            opened: false,
            signature: None,
            signature_sent: false,
            id: String::new(),
            name: None,
            guard: WhitespaceGuard::default(),
        }
    }
}

/// Copilot `/chat/completions` chunks → Anthropic Messages events.
///
/// Every `choices[]` entry is part of one answer (Claude on Copilot sends text in choice 0
/// and tool calls in choice 1). Blocks are emitted in order of first appearance; only the
/// oldest unfinished block streams live, later ones are buffered and replayed when it
/// finishes, because Anthropic blocks cannot interleave. A tool call is finished once its
/// arguments parse as JSON (Chat has no per-call end marker), anything else once a later
/// block has begun.
pub struct MessagesToChatStream {
    w: MessagesStreamWriter,
    seed: String,
    items: Vec<Item>,
    /// First item not yet closed; everything before it is closed.
    head: usize,
    /// (choice index, tool call index) → item.
    tool_keys: Vec<((u64, u64), usize)>,
    finish: Option<StopReason>,
}

impl MessagesToChatStream {
    pub fn new(ctx: &TranslateCtx) -> Self {
        MessagesToChatStream {
            w: MessagesStreamWriter::new(ctx),
            seed: ctx.id_seed.clone(),
            items: Vec::new(),
            head: 0,
            tool_keys: Vec::new(),
            finish: None,
        }
    }

    /// The last item if it has `kind`, else a new one.
    fn current(&mut self, kind: Kind) -> usize {
        match self.items.last() {
            Some(it) if it.kind == kind => self.items.len() - 1,
            _ => {
                self.items.push(Item::new(kind));
                self.items.len() - 1
            }
        }
    }

    fn tool_delta(&mut self, ci: u64, pos: u64, call: &ChatToolCall, out: &mut Vec<OutEvent>) {
        let key = (ci, call.index.unwrap_or(pos));
        let id = nonempty(&call.id);
        let existing = self
            .tool_keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, i)| i)
            // Some backends reuse index 0 for every call; a new id is a new call.
            .filter(|&i| id.is_none_or(|id| self.items[i].id.is_empty() || self.items[i].id == id));
        let k = match existing {
            Some(k) => k,
            None => {
                self.items.push(Item::new(Kind::Tool));
                let k = self.items.len() - 1;
                self.tool_keys.retain(|(kk, _)| *kk != key);
                self.tool_keys.push((key, k));
                k
            }
        };
        let func = call.function.as_ref();
        let name = func.and_then(|f| nonempty(&f.name));
        let args = func.and_then(|f| f.arguments.as_deref()).unwrap_or("");
        let it = &mut self.items[k];
        if let Some(id) = id {
            if it.id.is_empty() {
                it.id = id.to_string();
            }
        }
        if let (Some(name), None) = (name, &it.name) {
            it.name = Some(name.to_string());
        }
        if it.guard.tripped_by(args) {
            self.w.fail(WhitespaceGuard::MESSAGE, out);
            return;
        }
        it.buf.push_str(args);
        self.touch(k, out);
    }

    /// Whether item `i` may be closed now that a later item has begun.
    fn finished(&self, i: usize) -> bool {
        let it = &self.items[i];
        match it.kind {
            Kind::Tool => it.name.is_some() && serde_json::from_str::<IgnoredAny>(&it.buf).is_ok(),
            _ => true,
        }
    }

    /// Item `k` received data: advance past finished items, then stream the head.
    fn touch(&mut self, k: usize, out: &mut Vec<OutEvent>) {
        while self.head < k && self.finished(self.head) {
            self.close(self.head, out);
            self.head += 1;
        }
        if self.head < self.items.len() {
            self.pump(self.head, out, false);
        }
    }

    /// Opens item `i` (the head: the writer's open block) if possible and emits what the
    /// client has not seen of it.
    fn pump(&mut self, i: usize, out: &mut Vec<OutEvent>, force: bool) {
        let seed = &self.seed;
        let it = &mut self.items[i];
        if !it.opened {
            if it.kind == Kind::Tool && it.name.is_none() && !force {
                return;
            }
            it.opened = true;
            let block = match it.kind {
                Kind::Thinking => Block::Thinking,
                Kind::Text => Block::Text,
                Kind::Redacted => {
                    it.emitted = it.buf.len();
                    Block::Redacted(&it.buf)
                }
                Kind::Tool => {
                    if it.id.is_empty() {
                        it.id = format!("toolu_{seed}_{i}");
                    }
                    let name = it.name.as_deref().unwrap_or("function");
                    Block::ToolUse { id: &it.id, name }
                }
            };
            self.w.open(block, out);
        }
        if it.emitted < it.buf.len() {
            let piece = &it.buf[it.emitted..];
            match it.kind {
                Kind::Thinking => self.w.thinking(piece, out),
                Kind::Text => self.w.text(piece, out),
                Kind::Tool => self.w.input_json(piece, out),
                Kind::Redacted => {}
            }
            it.emitted = it.buf.len();
        }
        if let (Some(sig), false) = (&it.signature, it.signature_sent) {
            it.signature_sent = true;
            self.w.signature(sig, out);
        }
    }

    fn close(&mut self, i: usize, out: &mut Vec<OutEvent>) {
        self.pump(i, out, true);
        self.w.close(out);
    }
}

impl ChatEvents for MessagesToChatStream {
    const ENDED_EARLY: &'static str =
        "Upstream Chat Completions stream ended before a finish_reason.";

    fn finish(&mut self) -> &mut Option<StopReason> {
        &mut self.finish
    }

    fn ended(&self) -> bool {
        self.w.terminated()
    }

    fn error(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.w.fail(message, out);
    }

    fn start(&mut self, out: &mut Vec<OutEvent>) {
        self.w.start(out);
    }

    /// The cache-read field only when Chat reported cached tokens.
    fn record_usage(&mut self, u: &Value) {
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        self.w.usage = MessagesUsage {
            input: n("prompt_tokens").unwrap_or(0),
            output: n("completion_tokens").unwrap_or(0),
            cache_read: u
                .get("prompt_tokens_details")
                .and_then(|d| d.get("cached_tokens"))
                .and_then(Value::as_u64),
            cache_creation: None,
        };
    }

    fn usage_totals(&self) -> Usage {
        self.w.usage.usage()
    }

    fn reasoning_text(&mut self, text: &str, out: &mut Vec<OutEvent>) {
        let k = self.current(Kind::Thinking);
        self.items[k].buf.push_str(text);
        self.touch(k, out);
    }

    /// The signature of the thinking block streaming, else a redacted block of its own.
    fn reasoning_opaque(&mut self, opaque: &str, out: &mut Vec<OutEvent>) {
        let k = match self.items.last() {
            Some(it) if it.kind == Kind::Thinking && it.signature.is_none() => self.items.len() - 1,
            _ => {
                self.items.push(Item::new(Kind::Redacted));
                self.items.len() - 1
            }
        };
        let it = &mut self.items[k];
        if it.kind == Kind::Thinking {
            it.signature = Some(opaque.to_string());
        } else {
            it.buf.push_str(opaque);
        }
        self.touch(k, out);
    }

    fn text(&mut self, text: &str, out: &mut Vec<OutEvent>) {
        let k = self.current(Kind::Text);
        self.items[k].buf.push_str(text);
        self.touch(k, out);
    }

    fn tool_call(&mut self, choice: u64, pos: u64, call: &ChatToolCall, out: &mut Vec<OutEvent>) {
        self.tool_delta(choice, pos, call, out);
    }

    /// Close every block, then message_delta and message_stop.
    fn answer(&mut self, stop: Option<StopReason>, out: &mut Vec<OutEvent>) {
        self.w.start(out);
        while self.head < self.items.len() {
            self.close(self.head, out);
            self.head += 1;
        }
        let has_tools = self.items.iter().any(|it| it.kind == Kind::Tool);
        let stop = match stop {
            // Gemini reports "stop" even when it called tools.
            Some(StopReason::EndTurn) | None if has_tools => StopReason::ToolUse,
            stop => stop.unwrap_or(StopReason::EndTurn),
        };
        self.w.finish(stop, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseEvent;
    use crate::sse::SseParser;
    use crate::translate::canonical;
    use crate::translate::{StreamTranslator, THINKING_PLACEHOLDER};
    use serde_json::json;

    const SEED: &str = "0123456789abcdef01234567";

    fn ctx(model: &str) -> TranslateCtx {
        TranslateCtx {
            model: model.into(),
            max_output_tokens: Some(16384),
            id_seed: SEED.into(),
            now_secs: 1_700_000_000,
            include_usage: true,
        }
    }

    fn translate(body: Value, model: &str) -> Value {
        let Value::Object(body) = body else { panic!() };
        Value::Object(request(body, &ctx(model)).expect("translates"))
    }

    fn translate_err(body: Value) -> ApiError {
        let Value::Object(body) = body else { panic!() };
        request(body, &ctx("gpt-4.1")).expect_err("rejected")
    }

    fn fixture(text: &str) -> Value {
        let v: Value = serde_json::from_str(text).unwrap();
        v["body"].clone()
    }

    // ---- request ----

    // ---- one rule per concept (carry it or refuse it, never drop it) ----

    fn user(content: Value) -> Value {
        json!({"model":"m","max_tokens":100,"messages":[{"role":"user","content":content}]})
    }

    #[test]
    fn documents_are_converted_or_refused() {
        let out = translate(
            user(json!([
                {"type":"document","title":"r.pdf","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},
                {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}},
                {"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}])),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type":"file","file":{"filename":"r.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
                {"type":"text","text":"plain words"},
                {"type":"image_url","image_url":{"url":"https://x.test/a.png"}}])
        );
        // Chat carries files only inline: a URL document is refused, naming the block.
        let e = translate_err(user(json!([{"type":"text","text":"read"},
            {"type":"document","source":{"type":"url","url":"https://x.test/d.pdf"}}])));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[1].source"))
        );
        assert!(
            e.message.starts_with("messages[0].content[1].source: ") && e.message.contains("URL"),
            "{}",
            e.message
        );
        // Anthropic file ids mean nothing to another vendor.
        let e = translate_err(user(
            json!([{"type":"image","source":{"type":"file","file_id":"file_1"}}]),
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].source.type")
        );
        // The same inside a tool result: a PDF follows the tool message, a URL is refused.
        let turns = |doc: Value| {
            json!({"model":"m","max_tokens":100,"messages":[
            {"role":"user","content":"read it"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok"},doc]}]}]})
        };
        let out = translate(
            turns(
                json!({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}),
            ),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"][2],
            json!({"role":"tool","tool_call_id":"t1","content":"ok"})
        );
        assert_eq!(
            out["messages"][3]["content"][0]["file"]["file_data"],
            "data:application/pdf;base64,JVBERi0="
        );
        let e = translate_err(turns(
            json!({"type":"document","source":{"type":"url","url":"https://x.test/d.pdf"}}),
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[2].content[0].content[1].source")
        );
    }

    #[test]
    fn unknown_blocks_are_refused_and_reasoning_dropped_by_design() {
        let e = translate_err(user(
            json!([{"type":"text","text":"hi"},{"type":"container_upload","file_id":"f"}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[1].type"))
        );
        assert!(e.message.contains("\"container_upload\""), "{}", e.message);
        let e = translate_err(json!({"model":"m","max_tokens":100,"messages":[
            {"role":"user","content":"q"},{"role":"assistant","content":[{"type":"hologram"}]}]}));
        assert_eq!(e.param.as_deref(), Some("messages[1].content[0].type"));
        let e = translate_err(
            json!({"model":"m","max_tokens":100,"messages":[{"role":"user","content":[
            {"type":"tool_result","tool_use_id":"t","content":[{"type":"hologram"}]}]}]}),
        );
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].content[0].type")
        );
        // Thinking is in DROPPED_BY_DESIGN; a search result is text Chat can carry.
        let out = translate(
            user(json!([{"type":"thinking","thinking":"t","signature":"s"},
                {"type":"search_result","title":"T","source":"https://s.test","content":[{"type":"text","text":"body"}]}])),
            "gpt-4.1",
        );
        assert_eq!(out["messages"][0]["content"], "T\nhttps://s.test\nbody");
        // Claude Code's tool search answers with tool references; every tool is offered
        // in full on this path, so the name is what the model needs.
        let out = translate(
            json!({"model":"m","max_tokens":100,"messages":[
                {"role":"user","content":"find"},
                {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"ToolSearch","input":{}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[
                    {"type":"tool_reference","tool_name":"mcp__db__query"}]}]}]}),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"][2]["content"],
            "Tool available: mcp__db__query"
        );
    }

    #[test]
    fn resent_server_tool_blocks_become_a_call_and_readable_results() {
        let out = translate(
            json!({"model":"m","max_tokens":100,"messages":[
                {"role":"user","content":"search"},
                {"role":"assistant","content":[
                    {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
                    {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[
                        {"type":"web_search_result","title":"A","url":"https://a.test","encrypted_content":"opaque"},
                        {"type":"web_search_result","title":"B","url":"https://b.test","encrypted_content":"opaque"}]},
                    {"type":"text","text":"found"}]},
                {"role":"user","content":"thanks"}]}),
            "gpt-4.1",
        );
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m[1]["tool_calls"][0]["function"]["name"], "web_search");
        assert_eq!(
            m[2],
            json!({"role":"tool","tool_call_id":"srvtoolu_1","content":"A\nhttps://a.test\n\nB\nhttps://b.test"})
        );
        assert_eq!(m[3]["content"], "found");
    }

    #[test]
    fn json_output_is_carried_or_refused() {
        let format = |f: Value| {
            let mut b = user(json!("x"));
            b["output_config"] = json!({"effort":"low","format":f});
            b
        };
        let out = translate(
            format(json!({"type":"json_schema","schema":{"type":"object"}})),
            "gpt-4.1",
        );
        assert_eq!(
            out["response_format"]["json_schema"]["schema"],
            json!({"type":"object"})
        );
        assert_eq!(
            out["reasoning_effort"], "low",
            "the rest of output_config still applies"
        );
        let mut beta = user(json!("x"));
        beta["output_format"] = json!({"type":"json_schema","schema":{"type":"array"}});
        assert_eq!(
            translate(beta, "gpt-4.1")["response_format"]["json_schema"]["schema"],
            json!({"type":"array"})
        );
        let e = translate_err(format(json!({"type":"json_object"})));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("output_config.format.type"))
        );
        let e = translate_err(format(json!({"type":"json_schema"})));
        assert_eq!(e.param.as_deref(), Some("output_config.format.schema"));
    }

    #[test]
    fn plain_text_and_sampling() {
        let out = translate(
            json!({"model":"gemini-2.5-pro","max_tokens":1024,"system":"Be brief.",
                   "temperature":0.3,"top_p":0.9,"top_k":40,"stop_sequences":["END"],
                   "metadata":{"user_id":"{\"device_id\":\"x\"}"},"service_tier":"auto",
                   "messages":[{"role":"user","content":"Hi"}]}),
            "gemini-2.5-pro",
        );
        assert_eq!(
            out,
            json!({"model":"gemini-2.5-pro",
                   "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],
                   "max_tokens":1024,"temperature":0.3,"top_p":0.9,"stop":["END"],
                   "stream":true,"stream_options":{"include_usage":true}})
        );
    }

    #[test]
    fn system_blocks_join_and_multi_turn_order() {
        let out = translate(
            json!({"model":"m","max_tokens":10,
                   "system":[{"type":"text","text":"One."},
                             {"type":"text","text":"Two.","cache_control":{"type":"ephemeral"}}],
                   "messages":[
                     {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}]},
                     {"role":"assistant","content":[{"type":"text","text":"c"},{"type":"text","text":"d"}]},
                     {"role":"user","content":"e"},
                     {"role":"assistant","content":"f"}]}),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"],
            json!([{"role":"system","content":"One.\n\nTwo."},
                   {"role":"user","content":"a\n\nb"},
                   {"role":"assistant","content":"c\n\nd"},
                   {"role":"user","content":"e"},
                   {"role":"assistant","content":"f"}])
        );
        // An empty system is no system message at all.
        let out = translate(
            json!({"model":"m","max_tokens":1,"system":[],"messages":[{"role":"user","content":"x"}]}),
            "gpt-4.1",
        );
        assert_eq!(out["messages"], json!([{"role":"user","content":"x"}]));
    }

    #[test]
    fn tool_round_trip_keeps_order_errors_and_parallel_calls() {
        let out = translate(
            json!({"model":"m","max_tokens":10,"messages":[
                {"role":"user","content":"list and read"},
                {"role":"assistant","content":[
                    {"type":"text","text":"Two calls."},
                    {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}},
                    {"type":"tool_use","id":"toolu_2","name":"Read","input":{"file_path":"/a"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"toolu_1","content":"a\nb"},
                    {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,
                     "content":[{"type":"text","text":"<tool_use_error>no such file</tool_use_error>"}]},
                    {"type":"text","text":"between"},
                    {"type":"tool_result","tool_use_id":"toolu_3","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]},
                    {"type":"text","text":"after"}]}]}),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"],
            json!([
                {"role":"user","content":"list and read"},
                {"role":"assistant","content":"Two calls.","tool_calls":[
                    {"id":"toolu_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}},
                    {"id":"toolu_2","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/a\"}"}}]},
                {"role":"tool","tool_call_id":"toolu_1","content":"a\nb"},
                {"role":"tool","tool_call_id":"toolu_2","content":"<tool_use_error>no such file</tool_use_error>"},
                {"role":"user","content":"between"},
                {"role":"tool","tool_call_id":"toolu_3","content":"x\n\ny"},
                {"role":"user","content":"after"}])
        );
        // Tool calls without text: content is null.
        let out = translate(
            json!({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"go"},
                {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Noop","input":{}}]}]}),
            "gpt-4.1",
        );
        assert_eq!(out["messages"][1]["content"], Value::Null);
        assert_eq!(
            out["messages"][1]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
    }

    #[test]
    fn tool_result_without_id_is_a_400() {
        let err = translate_err(json!({"model":"m","max_tokens":1,"messages":[
            {"role":"user","content":[{"type":"tool_result","content":"x"}]}]}));
        assert_eq!(err.status, 400);
        assert_eq!(
            err.param.as_deref(),
            Some("messages[0].content[0].tool_use_id")
        );
        let err = translate_err(
            json!({"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}),
        );
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
        let err = translate_err(json!({"model":"m","max_tokens":1}));
        assert_eq!(err.param.as_deref(), Some("messages"));
    }

    #[test]
    fn images_base64_url_and_inside_tool_results() {
        let out = translate(
            json!({"model":"m","max_tokens":10,"messages":[
                {"role":"user","content":[
                    {"type":"text","text":"What is this?"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
                    {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]},
                {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{"file_path":"/p.png"}},
                                               {"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"/q.png"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"t1","content":[
                        {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]},
                    {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"q"}]},
                    {"type":"text","text":"describe"}]}]}),
            "gpt-4.1",
        );
        assert_eq!(
            out["messages"],
            json!([
                {"role":"user","content":[
                    {"type":"text","text":"What is this?"},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                    {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
                {"role":"assistant","content":null,"tool_calls":[
                    {"id":"t1","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/p.png\"}"}},
                    {"id":"t2","type":"function","function":{"name":"Read","arguments":"{\"file_path\":\"/q.png\"}"}}]},
                {"role":"tool","tool_call_id":"t1","content":""},
                {"role":"tool","tool_call_id":"t2","content":"q"},
                // The tool's image follows the run of tool messages, before the user's text.
                {"role":"user","content":[
                    {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/"}},
                    {"type":"text","text":"describe"}]}])
        );
    }

    #[test]
    fn thinking_becomes_reasoning_with_presence_kept() {
        let turn = |content: Value, model: &str| {
            let out = translate(
                json!({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},
                       {"role":"assistant","content":content}]}),
                model,
            );
            out["messages"][1].clone()
        };
        // Text and signature, exactly as given; only the first block is projected.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":"Hmm.","signature":"EqQBsig=="},
                        {"type":"thinking","thinking":"Later.","signature":"EqQBother"},
                        {"type":"text","text":"Answer."}]),
                "claude-sonnet-4.5"
            ),
            json!({"role":"assistant","content":"Answer.","reasoning_text":"Hmm.","reasoning_opaque":"EqQBsig=="})
        );
        // No signature field: none appears.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":"Hmm."},{"type":"text","text":"A"}]),
                "gemini-2.5-pro"
            ),
            json!({"role":"assistant","content":"A","reasoning_text":"Hmm."})
        );
        // Redacted thinking: opaque only.
        assert_eq!(
            turn(
                json!([{"type":"redacted_thinking","data":"ErcBredacted"},{"type":"text","text":"A"}]),
                "claude-sonnet-4.5"
            ),
            json!({"role":"assistant","content":"A","reasoning_opaque":"ErcBredacted"})
        );
        // Placeholder text is not thinking; its payload still travels.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":THINKING_PLACEHOLDER,"signature":"gAAAAenc"},
                        {"type":"text","text":"A"}]),
                "gpt-4.1"
            ),
            json!({"role":"assistant","content":"A","reasoning_opaque":"gAAAAenc"})
        );
        // An OpenAI-minted payload never reaches a Claude model: the next usable block wins.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":"gpt thoughts","signature":"gAAAAenc"},
                        {"type":"redacted_thinking","data":"ErcBclaude"},
                        {"type":"text","text":"A"}]),
                "claude-sonnet-4"
            ),
            json!({"role":"assistant","content":"A","reasoning_opaque":"ErcBclaude"})
        );
        // Empty thinking without signature carries nothing.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":""},{"type":"text","text":"A"}]),
                "gpt-4.1"
            ),
            json!({"role":"assistant","content":"A"})
        );
        // Reasoning-only assistant turn keeps a string content.
        assert_eq!(
            turn(
                json!([{"type":"thinking","thinking":"T","signature":"S"}]),
                "claude-sonnet-4"
            ),
            json!({"role":"assistant","content":"","reasoning_text":"T","reasoning_opaque":"S"})
        );
    }

    #[test]
    fn tools_and_tool_choice() {
        let tools = json!([
            {"name":"Read","description":"Reads","input_schema":{"type":"object","properties":{"p":{"type":"string"}}},
             "cache_control":{"type":"ephemeral"}},
            {"type":"custom","name":"Strict","input_schema":{"type":"object"},"strict":true},
            {"type":"web_search_20250305","name":"web_search","max_uses":3},
            {"name":"NoSchema"}]);
        let body = |tc: Value| {
            json!({"model":"m","max_tokens":1,"tools":tools.clone(),"tool_choice":tc,
                                       "messages":[{"role":"user","content":"x"}]})
        };
        let out = translate(body(json!({"type":"auto"})), "gpt-4.1");
        assert_eq!(
            out["tools"],
            json!([
                {"type":"function","function":{"name":"Read","description":"Reads",
                  "parameters":{"type":"object","properties":{"p":{"type":"string"}}}}},
                {"type":"function","function":{"name":"Strict","parameters":{"type":"object"},"strict":true}},
                {"type":"function","function":{"name":"NoSchema","parameters":{"type":"object","properties":{}}}}])
        );
        assert_eq!(out["tool_choice"], "auto");
        assert!(out.get("parallel_tool_calls").is_none());
        let out = translate(
            body(json!({"type":"any","disable_parallel_tool_use":true})),
            "gpt-4.1",
        );
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["parallel_tool_calls"], false);
        assert_eq!(
            translate(body(json!({"type":"none"})), "gpt-4.1")["tool_choice"],
            "none"
        );
        assert_eq!(
            translate(body(json!({"type":"tool","name":"Read"})), "gpt-4.1")["tool_choice"],
            json!({"type":"function","function":{"name":"Read"}})
        );
        assert!(
            translate(body(json!({"type":"tool","name":"Gone"})), "gpt-4.1")
                .get("tool_choice")
                .is_none()
        );
        // Only server tools: no tools and no choice.
        let out = translate(
            json!({"model":"m","max_tokens":1,"tools":[{"type":"web_search_20250305","name":"web_search"}],
                   "tool_choice":{"type":"any"},"messages":[{"role":"user","content":"x"}]}),
            "gpt-4.1",
        );
        assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    }

    #[test]
    fn thinking_budget_and_effort() {
        let effort = |extra: Value| {
            let mut body =
                json!({"model":"m","max_tokens":32000,"messages":[{"role":"user","content":"x"}]});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            translate(body, "gpt-5-mini")
                .get("reasoning_effort")
                .cloned()
        };
        let budget = |b: u64| effort(json!({"thinking":{"type":"enabled","budget_tokens":b}}));
        assert_eq!(budget(1024), Some(json!("low")));
        assert_eq!(budget(2048), Some(json!("low")));
        assert_eq!(budget(2049), Some(json!("medium")));
        assert_eq!(budget(8192), Some(json!("medium")));
        assert_eq!(budget(8193), Some(json!("high")));
        assert_eq!(budget(31999), Some(json!("high")));
        assert_eq!(effort(json!({})), None);
        assert_eq!(effort(json!({"thinking":{"type":"disabled"}})), None);
        assert_eq!(effort(json!({"thinking":{"type":"adaptive"}})), None);
        assert_eq!(
            effort(json!({"thinking":{"type":"adaptive"},"output_config":{"effort":"low"}})),
            Some(json!("low"))
        );
        assert_eq!(
            effort(
                json!({"thinking":{"type":"enabled","budget_tokens":31999},"output_config":{"effort":"medium"}})
            ),
            Some(json!("medium"))
        );
        assert_eq!(
            effort(json!({"output_config":{"effort":"max"}})),
            Some(json!("high"))
        );
    }

    #[test]
    fn structured_output_becomes_response_format() {
        let out = translate(
            json!({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
                   "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}}),
            "gpt-4.1",
        );
        assert_eq!(
            out["response_format"],
            json!({"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object"},"strict":true}})
        );
    }

    #[test]
    fn claude_code_fixture_first_turn() {
        let body = fixture(include_str!(
            "../../tests/fixtures/claude-code.messages.request.json"
        ));
        let tool_names: Vec<String> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        let system_prompt = body["system"][2]["text"].as_str().unwrap().to_string();
        let user_texts: Vec<String> = body["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["text"].as_str().unwrap().to_string())
            .collect();
        let system_turn = body["messages"][1]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let schemas: Vec<Value> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["input_schema"].clone())
            .collect();

        let out = translate(body, "gemini-2.5-pro");
        // Every tool in full, deferred ones too: Chat has no deferred loading.
        let tools = out["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 12);
        for (i, t) in tools.iter().enumerate() {
            assert_eq!(t["type"], "function");
            assert_eq!(t["function"]["name"], tool_names[i].as_str());
            assert_eq!(t["function"]["parameters"], schemas[i]);
            assert!(t["function"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()));
            assert!(
                t.get("defer_loading").is_none() && t["function"].get("defer_loading").is_none()
            );
        }
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0]["role"], "system");
        assert!(msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains(&system_prompt));
        assert_eq!(
            msgs[1],
            json!({"role":"user","content":user_texts.join("\n\n")})
        );
        // Claude Code's system turn stays a system message in its place.
        assert_eq!(msgs[2], json!({"role":"system","content":system_turn}));
        assert_eq!(out["max_tokens"], 64000);
        // Adaptive thinking with `output_config.effort`; `display` has no Chat field.
        assert_eq!(out["reasoning_effort"], "high");
        assert_eq!(out["stream"], true);
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        for dropped in [
            "metadata",
            "thinking",
            "context_management",
            "output_config",
            "system",
            "user",
        ] {
            assert!(out.get(dropped).is_none(), "{dropped} leaked");
        }
    }

    #[test]
    fn claude_code_fixture_tool_result_turn() {
        let body = fixture(include_str!(
            "../../tests/fixtures/claude-code.messages.tool_result.request.json"
        ));
        let out = translate(body, "claude-sonnet-4.5");
        let msgs = out["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["system", "user", "system", "assistant", "tool", "system"]
        );
        assert_eq!(
            msgs[3],
            json!({"role":"assistant","content":"I'll use the Write tool.",
                   "tool_calls":[{"id":"toolu_vrtx_01XE11cDeI7cG2bVIsrMwlGu","type":"function","function":{"name":"Write",
                     "arguments":"{\"file_path\":\"/home/user/work/hello.txt\",\"content\":\"hello from mock\"}"}}],
                   "reasoning_text":"Mock thinking about the request.",
                   "reasoning_opaque":"mocksig_533b7fae509dccd34fe4e18ceff31f2a071b779209ac40e9"})
        );
        assert_eq!(
            msgs[4]["tool_call_id"],
            "toolu_vrtx_01XE11cDeI7cG2bVIsrMwlGu"
        );
        assert!(msgs[4]["content"]
            .as_str()
            .unwrap()
            .starts_with("File created successfully"));
        assert_eq!(out["tools"].as_array().unwrap().len(), 12);
    }

    #[test]
    fn anthropic_sdk_fixture() {
        let body = fixture(include_str!(
            "../../tests/fixtures/anthropic-sdk.messages.request.json"
        ));
        let out = translate(body, "gpt-4.1");
        assert_eq!(
            out,
            json!({"model":"gpt-4.1","max_tokens":256,
                   "messages":[{"role":"user","content":"Hello from the anthropic SDK, non-stream please"}],
                   "stream":true,"stream_options":{"include_usage":true}})
        );
    }

    // ---- stream ----

    fn data(v: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: v.to_string(),
        }
    }

    fn done() -> SseEvent {
        SseEvent {
            event: None,
            data: "[DONE]".into(),
        }
    }

    /// Feeds the events, then ends the stream; returns the events rendered compactly.
    fn run_with(t: &mut MessagesToChatStream, events: &[SseEvent]) -> Vec<String> {
        let mut out = Vec::new();
        for ev in events {
            t.on_event(ev, &mut out);
        }
        t.on_end(&mut out);
        render(&out)
    }

    fn run(events: &[SseEvent]) -> Vec<String> {
        run_with(&mut MessagesToChatStream::new(&ctx("gpt-4.1")), events)
    }

    fn render(out: &[OutEvent]) -> Vec<String> {
        out.iter()
            .map(|ev| {
                let ev = &ev.clone().into_value();
                let OutEvent::Event {
                    name: Some(name),
                    data: d,
                } = ev
                else {
                    panic!("Messages events are named: {ev:?}")
                };
                assert_eq!(d["type"], *name, "event name equals data.type");
                match *name {
                    "message_start" => {
                        format!("message_start {}", canonical(&d["message"]["usage"]))
                    }
                    "content_block_start" => {
                        format!("start {} {}", d["index"], canonical(&d["content_block"]))
                    }
                    "content_block_delta" => {
                        let delta = &d["delta"];
                        let (kind, field) = match delta["type"].as_str().unwrap() {
                            "text_delta" => ("text", "text"),
                            "thinking_delta" => ("thinking", "thinking"),
                            "signature_delta" => ("signature", "signature"),
                            "input_json_delta" => ("json", "partial_json"),
                            other => panic!("unexpected delta {other}"),
                        };
                        format!(
                            "delta {} {kind} {}",
                            d["index"],
                            delta[field].as_str().unwrap()
                        )
                    }
                    "content_block_stop" => format!("stop {}", d["index"]),
                    "message_delta" => format!(
                        "message_delta {} {}",
                        d["delta"]["stop_reason"].as_str().unwrap(),
                        canonical(&d["usage"])
                    ),
                    "message_stop" => "message_stop".into(),
                    "error" => format!("error {}", d["error"]["message"].as_str().unwrap()),
                    other => panic!("unexpected event {other}"),
                }
            })
            .collect()
    }

    fn chunk(choices: Value) -> SseEvent {
        data(
            json!({"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-2025-04-14",
                    "system_fingerprint":"fp","choices":choices}),
        )
    }

    fn delta(index: u64, d: Value) -> SseEvent {
        chunk(json!([{"index":index,"delta":d,"finish_reason":null,"logprobs":null}]))
    }

    fn finish(index: u64, reason: &str) -> SseEvent {
        chunk(json!([{"index":index,"delta":{},"finish_reason":reason,"logprobs":null}]))
    }

    fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> SseEvent {
        data(
            json!({"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],
                    "usage":{"prompt_tokens":prompt,"completion_tokens":completion,"total_tokens":prompt+completion,
                             "prompt_tokens_details":{"cached_tokens":cached}}}),
        )
    }

    fn prompt_filter() -> SseEvent {
        data(
            json!({"choices":[],"created":0,"id":"","prompt_filter_results":[{"prompt_index":0,
            "content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}),
        )
    }

    #[test]
    fn text_stream_from_an_azure_model() {
        let mut t = MessagesToChatStream::new(&ctx("gpt-4.1"));
        let mut out = Vec::new();
        t.on_event(&prompt_filter(), &mut out);
        assert!(out.is_empty(), "the prompt-filter chunk carries nothing");
        for ev in [
            delta(0, json!({"role":"assistant","content":""})),
            delta(0, json!({"content":"Hel"})),
            delta(0, json!({"content":"lo"})),
            finish(0, "stop"),
        ] {
            t.on_event(&ev, &mut out);
        }
        let before_usage = out.len();
        t.on_event(&usage_chunk(1200, 7, 1000), &mut out);
        assert!(
            out.len() > before_usage,
            "the usage chunk completes the message"
        );
        t.on_event(&done(), &mut out);
        t.on_end(&mut out);
        let OutEvent::Event { data: start, .. } = &out[0] else {
            panic!()
        };
        assert_eq!(
            *start,
            json!({"type":"message_start","message":{"id":format!("msg_{SEED}"),"type":"message","role":"assistant",
                   "model":"gpt-4.1","content":[],"stop_reason":null,"stop_sequence":null,
                   "usage":{"input_tokens":0,"output_tokens":0}}})
        );
        assert_eq!(
            render(&out),
            [
                r#"message_start {"input_tokens":0,"output_tokens":0}"#,
                r#"start 0 {"text":"","type":"text"}"#,
                "delta 0 text Hel",
                "delta 0 text lo",
                "stop 0",
                r#"message_delta end_turn {"cache_read_input_tokens":1000,"input_tokens":200,"output_tokens":7}"#,
                "message_stop",
            ]
        );
        let OutEvent::Event { data: md, .. } = &out[5] else {
            panic!()
        };
        assert_eq!(
            md["delta"],
            json!({"stop_reason":"end_turn","stop_sequence":null})
        );
        assert_eq!(
            t.usage(),
            Usage {
                input_tokens: 1200,
                output_tokens: 7,
                cache_read_tokens: 1000,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
    }

    /// Claude on Copilot's chat endpoint, as raw SSE cut at arbitrary bytes: reasoning,
    /// then text in choice 0, the tool call in choice 1, usage on the finish chunk.
    #[test]
    fn claude_split_choices_from_raw_sse() {
        let frames = [
            r#"{"choices":[{"index":0,"delta":{"content":null,"role":"assistant","reasoning_text":"Let me"}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null,"reasoning_text":" look."}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":null,"reasoning_opaque":"EqQBCkYIBxgCKkB=="}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"I'll read ü."}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":1,"delta":{"content":null,"role":"assistant","tool_calls":[{"function":{"arguments":"","name":"Read"},"id":"toolu_vrtx_01","index":0,"type":"function"}]}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":1,"delta":{"content":null,"tool_calls":[{"function":{"arguments":"{\"file_path\":"},"index":0}]}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"index":1,"delta":{"content":null,"tool_calls":[{"function":{"arguments":"\"/a.txt\"}"},"index":0}]}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4"}"#,
            r#"{"choices":[{"finish_reason":"tool_calls","index":1,"delta":{"content":null}}],"created":1,"id":"msg_vrtx_1","model":"claude-sonnet-4","usage":{"completion_tokens":40,"prompt_tokens":5000,"prompt_tokens_details":{"cached_tokens":4800},"total_tokens":5040}}"#,
        ];
        let mut raw = String::new();
        for f in frames {
            raw.push_str("data: ");
            raw.push_str(f);
            raw.push_str("\r\n\r\n");
        }
        raw.push_str("data: [DONE]\r\n\r\n");
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for piece in raw.as_bytes().chunks(7) {
            parser.feed(piece, &mut events);
        }
        parser.finish(&mut events);
        assert_eq!(events.len(), 9);

        let mut t = MessagesToChatStream::new(&ctx("claude-sonnet-4"));
        assert_eq!(
            run_with(&mut t, &events),
            [
                r#"message_start {"input_tokens":0,"output_tokens":0}"#,
                r#"start 0 {"thinking":"","type":"thinking"}"#,
                "delta 0 thinking Let me",
                "delta 0 thinking  look.",
                "delta 0 signature EqQBCkYIBxgCKkB==",
                "stop 0",
                r#"start 1 {"text":"","type":"text"}"#,
                "delta 1 text I'll read ü.",
                "stop 1",
                r#"start 2 {"id":"toolu_vrtx_01","input":{},"name":"Read","type":"tool_use"}"#,
                r#"delta 2 json {"file_path":"#,
                r#"delta 2 json "/a.txt"}"#,
                "stop 2",
                r#"message_delta tool_use {"cache_read_input_tokens":4800,"input_tokens":200,"output_tokens":40}"#,
                "message_stop",
            ]
        );
        assert_eq!(t.usage().input_tokens, 5000);
        assert_eq!(t.usage().cache_read_tokens, 4800);
    }

    #[test]
    fn split_choices_each_finishing_make_one_answer() {
        // Text choice finishes "stop" before the tool choice streams: still one message.
        let out = run(&[
            delta(0, json!({"role":"assistant","content":"Reading."})),
            finish(0, "stop"),
            delta(
                1,
                json!({"role":"assistant","tool_calls":[{"index":0,"id":"toolu_1","type":"function",
                             "function":{"name":"Read","arguments":"{}"}}]}),
            ),
            finish(1, "tool_calls"),
            usage_chunk(10, 5, 0),
            done(),
        ]);
        assert_eq!(
            out,
            [
                r#"message_start {"input_tokens":0,"output_tokens":0}"#,
                r#"start 0 {"text":"","type":"text"}"#,
                "delta 0 text Reading.",
                "stop 0",
                r#"start 1 {"id":"toolu_1","input":{},"name":"Read","type":"tool_use"}"#,
                "delta 1 json {}",
                "stop 1",
                r#"message_delta tool_use {"cache_read_input_tokens":0,"input_tokens":10,"output_tokens":5}"#,
                "message_stop",
            ]
        );
    }

    #[test]
    fn parallel_tool_calls_sequential_and_interleaved() {
        let call = |i: u64, id: &str, name: &str, args: &str| {
            delta(
                0,
                json!({"tool_calls":[{"index":i,"id":id,"type":"function","function":{"name":name,"arguments":args}}]}),
            )
        };
        let args = |i: u64, args: &str| {
            delta(
                0,
                json!({"tool_calls":[{"index":i,"function":{"arguments":args}}]}),
            )
        };
        // Sequential: the first call's JSON is complete when the second begins, so it streams.
        let mut t = MessagesToChatStream::new(&ctx("gpt-4.1"));
        let mut out = Vec::new();
        for ev in [
            call(0, "call_a", "Read", "{\"p\":"),
            args(0, "1}"),
            call(1, "call_b", "Bash", "{\"c\":"),
        ] {
            t.on_event(&ev, &mut out);
        }
        assert_eq!(
            render(&out)[1..],
            [
                r#"start 0 {"id":"call_a","input":{},"name":"Read","type":"tool_use"}"#,
                r#"delta 0 json {"p":"#,
                "delta 0 json 1}",
                "stop 0",
                r#"start 1 {"id":"call_b","input":{},"name":"Bash","type":"tool_use"}"#,
                r#"delta 1 json {"c":"#,
            ]
        );
        // Interleaved: the second call waits until the first is done, then replays.
        let out = run(&[
            call(0, "call_a", "Read", "{\"p\":"),
            call(1, "call_b", "Bash", "{\"c\":"),
            args(1, "2}"),
            args(0, "1}"),
            finish(0, "tool_calls"),
            done(),
        ]);
        assert_eq!(
            out[1..],
            [
                r#"start 0 {"id":"call_a","input":{},"name":"Read","type":"tool_use"}"#,
                r#"delta 0 json {"p":"#,
                "delta 0 json 1}",
                "stop 0",
                r#"start 1 {"id":"call_b","input":{},"name":"Bash","type":"tool_use"}"#,
                r#"delta 1 json {"c":2}"#,
                "stop 1",
                r#"message_delta tool_use {"input_tokens":0,"output_tokens":0}"#,
                "message_stop",
            ]
        );
        // Whole calls in one delta (Gemini), both at index 0 with distinct ids, finish "stop".
        let out = run(&[
            chunk(json!([{"index":0,"delta":{"role":"assistant","tool_calls":[
                {"index":0,"id":"g1","type":"function","function":{"name":"A","arguments":"{\"x\":1}"}}]}}])),
            chunk(json!([{"index":0,"delta":{"tool_calls":[
                {"index":0,"id":"g2","type":"function","function":{"name":"B","arguments":"{}"}}]}}])),
            finish(0, "stop"),
            done(),
        ]);
        assert_eq!(
            out[1..],
            [
                r#"start 0 {"id":"g1","input":{},"name":"A","type":"tool_use"}"#,
                r#"delta 0 json {"x":1}"#,
                "stop 0",
                r#"start 1 {"id":"g2","input":{},"name":"B","type":"tool_use"}"#,
                "delta 1 json {}",
                "stop 1",
                r#"message_delta tool_use {"input_tokens":0,"output_tokens":0}"#,
                "message_stop",
            ]
        );
    }

    #[test]
    fn opaque_without_thinking_is_redacted_thinking() {
        let out = run(&[
            delta(
                0,
                json!({"role":"assistant","reasoning_opaque":"ErcBopaque"}),
            ),
            delta(0, json!({"content":"Hi"})),
            finish(0, "stop"),
            done(),
        ]);
        assert_eq!(
            out[1..],
            [
                r#"start 0 {"data":"ErcBopaque","type":"redacted_thinking"}"#,
                "stop 0",
                r#"start 1 {"text":"","type":"text"}"#,
                "delta 1 text Hi",
                "stop 1",
                r#"message_delta end_turn {"input_tokens":0,"output_tokens":0}"#,
                "message_stop",
            ]
        );
        // Thinking without an opaque never gets a signature.
        let out = run(&[
            delta(0, json!({"reasoning_text":"hmm"})),
            delta(0, json!({"content":"ok"})),
            finish(0, "stop"),
            done(),
        ]);
        assert!(out.iter().all(|e| !e.contains("signature")), "{out:?}");
    }

    #[test]
    fn stop_reasons() {
        let reason = |events: &[SseEvent]| {
            let out = run(events);
            let md = out
                .iter()
                .find(|e| e.starts_with("message_delta"))
                .unwrap()
                .clone();
            md.split(' ').nth(1).unwrap().to_string()
        };
        let text = delta(0, json!({"content":"x"}));
        assert_eq!(
            reason(&[text.clone(), finish(0, "stop"), done()]),
            "end_turn"
        );
        assert_eq!(
            reason(&[text.clone(), finish(0, "length"), done()]),
            "max_tokens"
        );
        assert_eq!(
            reason(&[text.clone(), finish(0, "content_filter"), done()]),
            "refusal"
        );
        assert_eq!(
            reason(&[text.clone(), finish(0, "tool_calls"), done()]),
            "tool_use"
        );
        // [DONE] without any finish_reason is still upstream's own end.
        assert_eq!(reason(&[text, done()]), "end_turn");
    }

    #[test]
    fn finish_then_end_of_stream_completes() {
        let out = run(&[delta(0, json!({"content":"x"})), finish(0, "stop")]);
        assert_eq!(out.last().unwrap(), "message_stop");
        assert_eq!(out.iter().filter(|e| e.starts_with("error")).count(), 0);
    }

    #[test]
    fn truncated_stream_fails_once() {
        let mut t = MessagesToChatStream::new(&ctx("gpt-4.1"));
        let mut out = Vec::new();
        t.on_event(&delta(0, json!({"content":"partial"})), &mut out);
        t.on_end(&mut out);
        t.on_end(&mut out);
        t.on_error("late", &mut out);
        t.on_event(&finish(0, "stop"), &mut out);
        assert_eq!(
            render(&out),
            [
                r#"message_start {"input_tokens":0,"output_tokens":0}"#,
                r#"start 0 {"text":"","type":"text"}"#,
                "delta 0 text partial",
                "error Upstream Chat Completions stream ended before a finish_reason.",
            ]
        );
        // Network failure: one error event.
        let mut t = MessagesToChatStream::new(&ctx("gpt-4.1"));
        let mut out = Vec::new();
        t.on_error("connection reset", &mut out);
        t.on_error("again", &mut out);
        t.on_end(&mut out);
        assert_eq!(render(&out), ["error connection reset"]);
    }

    #[test]
    fn upstream_error_chunk_ends_the_stream() {
        let out = run(&[
            delta(0, json!({"content":"a"})),
            data(
                json!({"error":{"message":"rate limited","type":"rate_limit_error","code":"429"}}),
            ),
            delta(0, json!({"content":"b"})),
            done(),
        ]);
        assert_eq!(out.last().unwrap(), "error rate limited");
        assert_eq!(out.iter().filter(|e| e.contains("text b")).count(), 0);
        assert!(!out.contains(&"message_stop".to_string()));
    }

    #[test]
    fn malformed_json_is_skipped() {
        let out = run(&[
            SseEvent {
                event: None,
                data: "{not json".into(),
            },
            delta(0, json!({"content":"ok"})),
            finish(0, "stop"),
            done(),
        ]);
        assert_eq!(out.len(), 6);
        assert_eq!(out[2], "delta 0 text ok");
    }

    #[test]
    fn degenerate_tool_arguments_abort() {
        let mut events = vec![delta(
            0,
            json!({"tool_calls":[{"index":0,"id":"c","type":"function",
            "function":{"name":"Write","arguments":"{\"a\":"}}]}),
        )];
        for _ in 0..3 {
            events.push(delta(
                0,
                json!({"tool_calls":[{"index":0,"function":{"arguments":"\n\n\n\n\n\n\n\n"}}]}),
            ));
        }
        events.push(finish(0, "tool_calls"));
        events.push(done());
        let out = run(&events);
        assert_eq!(
            out.last().unwrap(),
            &format!("error {}", WhitespaceGuard::MESSAGE)
        );
        assert_eq!(out.iter().filter(|e| e.starts_with("error")).count(), 1);
    }

    #[test]
    fn empty_answer_still_is_a_message() {
        let out = run(&[prompt_filter(), finish(0, "stop"), usage_chunk(3, 0, 0)]);
        assert_eq!(
            out,
            [
                r#"message_start {"input_tokens":0,"output_tokens":0}"#,
                r#"message_delta end_turn {"cache_read_input_tokens":0,"input_tokens":3,"output_tokens":0}"#,
                "message_stop",
            ]
        );
    }
}

#[cfg(test)]
mod system_role_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_messages_inside_the_conversation_keep_their_place() {
        let body = json!({"model": "m", "max_tokens": 10, "system": "top", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "agents: a, b"}]}
        ]});
        let out = request(
            body.as_object().unwrap().clone(),
            &TranslateCtx {
                model: "gemini-2.5-pro".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let roles: Vec<&str> = out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "system"]);
        assert_eq!(out["messages"][2]["content"], "agents: a, b");
    }
}
