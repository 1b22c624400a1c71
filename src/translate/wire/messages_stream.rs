//! The event stream a Messages client reads, written once for every upstream: one
//! `message_start`, content blocks one at a time (Anthropic blocks cannot interleave),
//! then `message_delta` with the stop reason and usage and `message_stop` — or the error
//! event, once. The pair translators read their upstream and drive this writer.

use serde_json::{json, Map, Value};

use super::super::{error_event, messages_text_delta, OutEvent, TranslateCtx};
use super::messages::write_stop;
use crate::protocol::stop::StopReason;
use crate::protocol::{Api, Usage};

/// Usage as the Messages client sees it. A cache field is left out when `None` (the
/// upstream said nothing about it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessagesUsage {
    /// Every prompt token, cached or not (the client is sent the uncached part).
    pub input: u64,
    pub output: u64,
    pub cache_read: Option<u64>,
    pub cache_creation: Option<u64>,
}

impl MessagesUsage {
    /// Usage with both cache fields written, zero when unknown.
    pub fn full(u: Usage) -> Self {
        MessagesUsage {
            input: u.input_tokens,
            output: u.output_tokens,
            cache_read: Some(u.cache_read_tokens),
            cache_creation: Some(u.cache_creation_tokens),
        }
    }

    pub fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input,
            output_tokens: self.output,
            cache_read_tokens: self.cache_read.unwrap_or(0),
            cache_creation_tokens: self.cache_creation.unwrap_or(0),
            ..Default::default()
        }
    }

    /// The `usage` object (`output`: the output tokens to report).
    fn write(&self, output: u64) -> Value {
        let mut m = Map::new();
        let read = self.cache_read.unwrap_or(0);
        let created = self.cache_creation.unwrap_or(0);
        let uncached = self.input.saturating_sub(read).saturating_sub(created);
        m.insert("input_tokens".into(), uncached.into());
        m.insert("output_tokens".into(), output.into());
        if let Some(c) = self.cache_creation {
            m.insert("cache_creation_input_tokens".into(), c.into());
        }
        if let Some(r) = self.cache_read {
            m.insert("cache_read_input_tokens".into(), r.into());
        }
        Value::Object(m)
    }
}

/// A content block's start.
pub enum Block<'a> {
    Thinking,
    Text,
    ToolUse {
        id: &'a str,
        name: &'a str,
    },
    /// Reasoning the client cannot read, carried whole in the start.
    Redacted(&'a str),
}

/// Writes one Messages answer as events.
pub struct MessagesStreamWriter {
    id: String,
    model: String,
    started: bool,
    terminated: bool,
    next_block: u64,
    /// The index of the block open now.
    open: Option<u64>,
    /// Usage so far: `message_start` and `message_delta` report it.
    pub usage: MessagesUsage,
}

impl MessagesStreamWriter {
    pub fn new(ctx: &TranslateCtx) -> Self {
        MessagesStreamWriter {
            id: format!("msg_{}", ctx.id_seed),
            model: ctx.model.clone(),
            started: false,
            terminated: false,
            next_block: 0,
            open: None,
            usage: MessagesUsage::default(),
        }
    }

    /// The terminal event (an answer's end or an error) has been written.
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// `message_start`, once.
    pub fn start(&mut self, out: &mut Vec<OutEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(OutEvent::named(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": self.usage.write(0),
            }}),
        ));
    }

    /// Opens a block (closing the one open, starting the message if needed); its index.
    pub fn open(&mut self, block: Block, out: &mut Vec<OutEvent>) -> u64 {
        self.start(out);
        self.close(out);
        let index = self.next_block;
        self.next_block += 1;
        let content_block = match block {
            Block::Thinking => json!({"type": "thinking", "thinking": ""}),
            Block::Text => json!({"type": "text", "text": ""}),
            Block::ToolUse { id, name } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": {}})
            }
            Block::Redacted(data) => json!({"type": "redacted_thinking", "data": data}),
        };
        out.push(OutEvent::named(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": content_block}),
        ));
        self.open = Some(index);
        index
    }

    /// Closes the open block, if any.
    pub fn close(&mut self, out: &mut Vec<OutEvent>) {
        if let Some(index) = self.open.take() {
            out.push(OutEvent::named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// A delta of the open block's text (`kind`/`field`: which text), pre-rendered.
    fn text_delta(&self, kind: &str, field: &str, text: &str, out: &mut Vec<OutEvent>) {
        if let Some(index) = self.open {
            out.push(messages_text_delta(index, kind, field, text));
        }
    }

    pub fn text(&self, text: &str, out: &mut Vec<OutEvent>) {
        self.text_delta("text_delta", "text", text, out);
    }

    pub fn thinking(&self, text: &str, out: &mut Vec<OutEvent>) {
        self.text_delta("thinking_delta", "thinking", text, out);
    }

    /// Tool-call argument text.
    pub fn input_json(&self, args: &str, out: &mut Vec<OutEvent>) {
        self.text_delta("input_json_delta", "partial_json", args, out);
    }

    /// The open thinking block's signature.
    pub fn signature(&self, signature: &str, out: &mut Vec<OutEvent>) {
        if let Some(index) = self.open {
            out.push(OutEvent::named(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "signature_delta", "signature": signature}}),
            ));
        }
    }

    /// The answer's end: closes the open block, then `message_delta` and `message_stop`.
    pub fn finish(&mut self, stop: StopReason, out: &mut Vec<OutEvent>) {
        if self.terminated {
            return;
        }
        self.start(out);
        self.close(out);
        out.push(OutEvent::named(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": write_stop(stop), "stop_sequence": null},
                   "usage": self.usage.write(self.usage.output)}),
        ));
        out.push(OutEvent::named(
            "message_stop",
            json!({"type": "message_stop"}),
        ));
        self.terminated = true;
    }

    /// The error event that ends a broken stream, once.
    pub fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        if !self.terminated {
            self.terminated = true;
            out.push(error_event(Api::Messages, message, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TranslateCtx {
        TranslateCtx {
            model: "m".into(),
            max_output_tokens: None,
            id_seed: "s".into(),
            now_secs: 0,
            include_usage: true,
        }
    }

    fn names(out: &[OutEvent]) -> Vec<&'static str> {
        out.iter()
            .map(|e| match e {
                OutEvent::Event { name, .. } | OutEvent::Raw { name, .. } => name.unwrap_or(""),
                OutEvent::Done => "[DONE]",
            })
            .collect()
    }

    #[test]
    fn blocks_open_one_at_a_time_and_the_end_closes_the_last() {
        let mut w = MessagesStreamWriter::new(&ctx());
        let mut out = Vec::new();
        assert_eq!(w.open(Block::Thinking, &mut out), 0);
        w.thinking("hm", &mut out);
        w.signature("sig", &mut out);
        assert_eq!(w.open(Block::Text, &mut out), 1);
        w.text("hi", &mut out);
        w.finish(StopReason::EndTurn, &mut out);
        w.fail("late", &mut out);
        let starts = names(&out).join(" ").replace("content_block_", "");
        assert_eq!(
            starts,
            "message_start start delta delta stop start delta stop message_delta message_stop"
        );
        assert!(w.terminated());
    }

    #[test]
    fn usage_reports_the_uncached_input_and_only_the_cache_fields_known() {
        let u = MessagesUsage {
            input: 100,
            output: 7,
            cache_read: Some(60),
            cache_creation: None,
        };
        assert_eq!(
            u.write(7),
            json!({"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 60})
        );
        let full = MessagesUsage::full(u.usage());
        assert_eq!(
            full.write(0),
            json!({"input_tokens": 40, "output_tokens": 0, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 60})
        );
    }
}
