//! A Chat Completions client's stream, written: the role chunk first, then text,
//! reasoning and tool-call deltas, and at the end either the finish chunk, the usage chunk
//! (when the client asked) and `[DONE]`, or one error chunk. Every stream translator that
//! serves a Chat client reads its upstream's events and drives one of these.

use serde_json::{json, Map, Value};

use super::super::{chat_text_chunk, error_event, OutEvent, TranslateCtx};
use super::chat::write_finish;
use crate::protocol::stop::StopReason;
use crate::protocol::{Api, Usage};

/// The delta field a piece of text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatText {
    Content,
    Refusal,
    /// Readable reasoning (Copilot's `reasoning_text`).
    Reasoning,
    /// The reasoning's opaque payload (signature or encrypted content): `reasoning_opaque`.
    ReasoningOpaque,
}

impl ChatText {
    fn field(self) -> &'static str {
        match self {
            ChatText::Content => "content",
            ChatText::Refusal => "refusal",
            ChatText::Reasoning => "reasoning_text",
            ChatText::ReasoningOpaque => "reasoning_opaque",
        }
    }
}

/// The usage chunk's figures: `usage` in the inclusive convention, and what the upstream
/// reported beyond it (its own total; reasoning tokens, sent only when known).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChatUsage {
    pub usage: Usage,
    pub total: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

pub struct ChatStreamWriter {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    started: bool,
    terminated: bool,
    tool_calls: u64,
}

impl ChatStreamWriter {
    pub fn new(ctx: &TranslateCtx) -> Self {
        ChatStreamWriter {
            id: format!("chatcmpl-{}", ctx.id_seed),
            model: ctx.model.clone(),
            created: ctx.now_secs,
            include_usage: ctx.include_usage,
            started: false,
            terminated: false,
            tool_calls: 0,
        }
    }

    /// The finish chunk or the error chunk has been written.
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// Tool calls opened so far (the next call's index).
    pub fn tool_calls(&self) -> u64 {
        self.tool_calls
    }

    fn chunk(&self, choices: Value) -> Map<String, Value> {
        let mut m = Map::with_capacity(6);
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("object".into(), "chat.completion.chunk".into());
        m.insert("created".into(), self.created.into());
        m.insert("model".into(), Value::String(self.model.clone()));
        m.insert("choices".into(), choices);
        m
    }

    fn choice(&mut self, delta: Value, finish: Value, out: &mut Vec<OutEvent>) {
        let choice =
            json!([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]);
        out.push(OutEvent::data(Value::Object(self.chunk(choice))));
    }

    /// The role chunk that opens every Chat stream (once).
    pub fn start(&mut self, out: &mut Vec<OutEvent>) {
        if !self.started {
            self.started = true;
            self.choice(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                out,
            );
        }
    }

    /// A text delta, written without building a `Value` (nearly every chunk of a stream).
    /// Empty text says nothing.
    pub fn text(&mut self, kind: ChatText, text: &str, out: &mut Vec<OutEvent>) {
        self.delta_text(kind.field(), None, text, out);
    }

    fn delta_text(&mut self, field: &str, tool: Option<u64>, text: &str, out: &mut Vec<OutEvent>) {
        if text.is_empty() {
            return;
        }
        self.start(out);
        out.push(chat_text_chunk(
            &self.id,
            self.created,
            &self.model,
            field,
            tool,
            text,
        ));
    }

    /// Opens a function tool call (with any arguments already known) and returns its index.
    pub fn open_tool_call(
        &mut self,
        id: &str,
        name: &str,
        arguments: &str,
        out: &mut Vec<OutEvent>,
    ) -> u64 {
        let index = self.tool_calls;
        self.tool_calls += 1;
        self.start(out);
        let call = json!([{"index": index, "id": id, "type": "function",
                           "function": {"name": name, "arguments": arguments}}]);
        self.choice(json!({ "tool_calls": call }), Value::Null, out);
        index
    }

    /// More argument text for the tool call at `index`.
    pub fn tool_arguments(&mut self, index: u64, text: &str, out: &mut Vec<OutEvent>) {
        self.delta_text("arguments", Some(index), text, out);
    }

    /// The finish chunk, the usage chunk when the client asked for it, and `[DONE]`.
    pub fn finish(&mut self, stop: StopReason, usage: ChatUsage, out: &mut Vec<OutEvent>) {
        self.start(out);
        self.choice(json!({}), Value::String(write_finish(stop).into()), out);
        if self.include_usage {
            let u = usage.usage;
            let total = usage
                .total
                .unwrap_or(u.input_tokens.saturating_add(u.output_tokens));
            let mut chunk = self.chunk(json!([]));
            let mut body = json!({
                "prompt_tokens": u.input_tokens,
                "completion_tokens": u.output_tokens,
                "total_tokens": total,
                "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
            });
            if let Some(r) = usage.reasoning_tokens {
                body["completion_tokens_details"] = json!({ "reasoning_tokens": r });
            }
            chunk.insert("usage".into(), body);
            out.push(OutEvent::data(Value::Object(chunk)));
        }
        out.push(OutEvent::Done);
        self.terminated = true;
    }

    /// The error chunk that ends a broken stream (once; no `[DONE]` after it).
    pub fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        if !self.terminated {
            self.terminated = true;
            out.push(error_event(Api::ChatCompletions, message, 0));
        }
    }
}
