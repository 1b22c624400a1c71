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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-written deltas and the `Value` chunks are one wire form, byte for byte.
    #[test]
    fn one_chunk_sequence_in_one_form() {
        let ctx = TranslateCtx {
            model: "m".into(),
            id_seed: "s".into(),
            now_secs: 1,
            include_usage: true,
            ..TranslateCtx::default()
        };
        let mut w = ChatStreamWriter::new(&ctx);
        let mut out = Vec::new();
        w.text(ChatText::Content, "", &mut out);
        assert!(out.is_empty(), "empty text says nothing");
        w.text(ChatText::Refusal, "no \"x\"", &mut out);
        let call = w.open_tool_call("c", "f", "", &mut out);
        w.tool_arguments(call, "{}", &mut out);
        let usage = Usage {
            input_tokens: 3,
            output_tokens: 2,
            cache_read_tokens: 1,
            ..Usage::default()
        };
        let usage = ChatUsage {
            usage,
            ..ChatUsage::default()
        };
        w.finish(StopReason::ToolUse, usage, &mut out);
        assert!(w.terminated());
        w.fail("late", &mut out);
        let rendered: Vec<String> = out
            .into_iter()
            .map(|e| match e {
                OutEvent::Raw { data, .. } => data,
                OutEvent::Event { data, .. } => data.to_string(),
                OutEvent::Done => "[DONE]".into(),
            })
            .collect();
        let head = r#"{"id":"chatcmpl-s","object":"chat.completion.chunk","created":1,"model":"m","choices":"#;
        let delta = |d: &str| {
            format!(r#"{head}[{{"index":0,"delta":{d},"finish_reason":null,"logprobs":null}}]}}"#)
        };
        assert_eq!(
            rendered,
            [
                delta(r#"{"role":"assistant","content":""}"#),
                delta(r#"{"refusal":"no \"x\""}"#),
                delta(
                    r#"{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":""}}]}"#
                ),
                delta(r#"{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}"#),
                format!(
                    r#"{head}[{{"index":0,"delta":{{}},"finish_reason":"tool_calls","logprobs":null}}]}}"#
                ),
                format!(
                    r#"{head}[],"usage":{{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{{"cached_tokens":1}}}}}}"#
                ),
                "[DONE]".into(),
            ]
        );
    }
}
