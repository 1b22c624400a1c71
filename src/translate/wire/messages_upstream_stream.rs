//! The reader of Copilot's Anthropic `/v1/messages` streams, shared by every pair whose
//! upstream is the Messages API: it keeps the usage and the stop reason, reads deltas on
//! the fast path (`MessagesDelta`) and other events once, and hands each content block
//! event to the pair's state machine (`MessagesEvents`).

use serde_json::Value;

use super::super::stream::{event_type, PairStream};
use super::super::{event_json, MessagesDelta, MessagesDeltaBody, OutEvent};
use crate::protocol::Usage;
use crate::sse::SseEvent;

/// What a pair makes of the Messages events: its client stream's state machine.
pub trait MessagesEvents {
    /// `message_start`.
    fn start(&mut self, out: &mut Vec<OutEvent>);
    fn block_start(&mut self, index: Option<u64>, block: &Value, out: &mut Vec<OutEvent>);
    /// A `content_block_delta`: its type and payload (text, thinking, signature or JSON).
    fn block_delta(&mut self, index: Option<u64>, kind: &str, text: &str, out: &mut Vec<OutEvent>);
    fn block_stop(&mut self, _index: Option<u64>, _out: &mut Vec<OutEvent>) {}
    /// `message_stop`: the stop reason given, if any, and the usage.
    fn finish(&mut self, stop_reason: Option<&str>, usage: Usage, out: &mut Vec<OutEvent>);
    /// Writes the client's error event and ends the stream.
    fn fail(&mut self, message: &str, code: Option<&str>, out: &mut Vec<OutEvent>);
    /// See `PairStream::terminated`.
    fn terminated(&self) -> bool;
    /// See `StreamTranslator::assembling`.
    fn skip_deltas(&mut self) {}
}

/// A Messages upstream stream driven into a pair's client writer.
pub struct MessagesUpstreamStream<P> {
    pair: P,
    stop_reason: Option<String>,
    /// Anthropic's figures as sent (input excluding cache reads and writes).
    usage: Usage,
}

impl<P: MessagesEvents> MessagesUpstreamStream<P> {
    pub fn with(pair: P) -> Self {
        MessagesUpstreamStream {
            pair,
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    fn read_usage(&mut self, u: &Value) {
        let get = |k: &str| u.get(k).and_then(Value::as_u64);
        if let Some(v) = get("input_tokens") {
            self.usage.input_tokens = v;
        }
        if let Some(v) = get("output_tokens") {
            self.usage.output_tokens = v;
        }
        if let Some(v) = get("cache_read_input_tokens") {
            self.usage.cache_read_tokens = v;
        }
        if let Some(v) = get("cache_creation_input_tokens") {
            self.usage.cache_creation_tokens = v;
        }
    }
}

impl<P: MessagesEvents> PairStream for MessagesUpstreamStream<P> {
    const ENDED_EARLY: &'static str =
        "Upstream Messages stream ended without a message_stop event.";

    fn terminated(&self) -> bool {
        self.pair.terminated()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.pair.fail(message, None, out);
    }

    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        let Some(d) = MessagesDelta::read(ev) else {
            return false;
        };
        self.pair
            .block_delta(d.index, &d.delta.kind, d.delta.payload(), out);
        true
    }

    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        // Copilot's stray `data: [DONE]` on Messages streams and malformed JSON: skipped.
        let Some(data) = event_json(ev) else {
            return;
        };
        let index = data.get("index").and_then(Value::as_u64);
        match event_type(&data, ev) {
            "message_start" => {
                self.read_usage(&data["message"]["usage"]);
                self.pair.start(out);
            }
            "content_block_start" => self.pair.block_start(index, &data["content_block"], out),
            "content_block_delta" => {
                let (kind, payload) = MessagesDeltaBody::payload_of(&data["delta"]);
                self.pair.block_delta(index, kind, payload, out);
            }
            "content_block_stop" => self.pair.block_stop(index, out),
            "message_delta" => {
                if let Some(r) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_string());
                }
                self.read_usage(&data["usage"]);
            }
            "message_stop" => {
                let usage = self.usage_seen();
                self.pair.finish(self.stop_reason.as_deref(), usage, out);
            }
            "error" => {
                let message = data
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .unwrap_or("Upstream Messages stream error.");
                let code = data.pointer("/error/type").and_then(Value::as_str);
                self.pair.fail(message, code, out);
            }
            // ping: nothing to say.
            _ => {}
        }
    }

    /// Input counted as OpenAI does: cache reads and writes included.
    fn usage_seen(&self) -> Usage {
        let u = self.usage;
        Usage {
            input_tokens: u
                .input_tokens
                .saturating_add(u.cache_read_tokens)
                .saturating_add(u.cache_creation_tokens),
            ..u
        }
    }

    fn skip_deltas(&mut self) {
        self.pair.skip_deltas();
    }
}
