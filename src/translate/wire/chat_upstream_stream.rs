//! The reader of Copilot's Chat Completions stream, shared by every pair served by
//! `/chat/completions`: it walks each chunk (an error, usage, every choice's deltas, the
//! finish_reason of each choice) and hands the pieces to the pair's client writer.

use serde_json::Value;

use super::super::stream::{ChatUpstream, PairStream};
use super::super::{nonempty, ChatChunk, ChatToolCall, OutEvent};
use super::chat;
use crate::protocol::stop::StopReason;
use crate::protocol::Usage;
use crate::sse::SseEvent;

/// What a pair does with the pieces of a Chat stream.
pub trait ChatEvents {
    /// The error event that ends an upstream stream cut short.
    const ENDED_EARLY: &'static str;
    /// The finish reason so far, ranked over all choices (`rank_finish`).
    fn finish(&mut self) -> &mut Option<StopReason>;
    fn finished_yet(&self) -> bool;
    /// The client's terminal event has been written.
    fn ended(&self) -> bool;
    /// Writes the client's error event.
    fn error(&mut self, message: &str, out: &mut Vec<OutEvent>);
    /// Writes the client's opening event, once.
    fn start(&mut self, out: &mut Vec<OutEvent>);
    /// A chunk's `usage`, an object (the totals so far).
    fn record_usage(&mut self, usage: &Value);
    fn usage_totals(&self) -> Usage;
    fn reasoning_text(&mut self, text: &str, out: &mut Vec<OutEvent>);
    fn reasoning_opaque(&mut self, opaque: &str, out: &mut Vec<OutEvent>);
    /// Answer text; a refusal is shown to the client as answer text too.
    fn text(&mut self, text: &str, out: &mut Vec<OutEvent>);
    /// A tool-call delta of choice `choice`, at position `pos` in its delta.
    fn tool_call(&mut self, choice: u64, pos: u64, call: &ChatToolCall, out: &mut Vec<OutEvent>);
    /// Writes the client's terminal answer (`stop`: the ranked finish, if any).
    fn answer(&mut self, stop: Option<StopReason>, out: &mut Vec<OutEvent>);
    /// See `StreamTranslator::assembling`.
    fn skip_deltas(&mut self) {}
}

/// Split choices are one answer: a truncation or a filter in any of them decides, then a
/// tool call outranks the text choice's plain stop.
fn rank_finish(slot: &mut Option<StopReason>, reason: StopReason) {
    let rank = |r: StopReason| match r {
        StopReason::MaxTokens => 3,
        StopReason::Refusal => 2,
        StopReason::ToolUse => 1,
        StopReason::EndTurn => 0,
    };
    if slot.is_none_or(|s| rank(reason) > rank(s)) {
        *slot = Some(reason);
    }
}

impl<T: ChatEvents> ChatUpstream for T {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<OutEvent>) {
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            let message = match err.get("message").and_then(Value::as_str) {
                Some(m) => m.to_string(),
                None => format!("Upstream Chat Completions stream error: {err}"),
            };
            self.error(&message, out);
            return;
        }
        let usage = chunk.usage.as_ref().filter(|u| u.is_object());
        if let Some(u) = usage {
            self.record_usage(u);
        }
        let choices = chunk.choices.as_deref().unwrap_or(&[]);
        if choices.is_empty() {
            // The usage-only chunk that follows the finish: the answer is complete.
            // (`choices: []` without usage is Azure's prompt-filter chunk: nothing in it.)
            if usage.is_some() && self.finished_yet() {
                self.complete(out);
            }
            return;
        }
        self.start(out);
        for c in choices {
            let choice = c.index.unwrap_or(0);
            if let Some(d) = &c.delta {
                if let Some(t) = nonempty(&d.reasoning_text) {
                    self.reasoning_text(t, out);
                }
                if let Some(o) = nonempty(&d.reasoning_opaque) {
                    self.reasoning_opaque(o, out);
                }
                for field in [&d.content, &d.refusal] {
                    if let Some(t) = nonempty(field) {
                        self.text(t, out);
                    }
                }
                for (pos, call) in d.tool_calls.iter().flatten().enumerate() {
                    self.tool_call(choice, pos as u64, call, out);
                    if self.ended() {
                        return;
                    }
                }
            }
            if let Some(r) = c.finish_reason.as_deref() {
                rank_finish(self.finish(), chat::read_finish(r));
            }
        }
    }

    fn finished(&self) -> bool {
        self.finished_yet()
    }

    fn complete(&mut self, out: &mut Vec<OutEvent>) {
        let stop = *self.finish();
        self.answer(stop, out);
    }
}

impl<T: ChatEvents> PairStream for T {
    const ENDED_EARLY: &'static str = T::ENDED_EARLY;

    fn terminated(&self) -> bool {
        self.ended()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.error(message, out);
    }

    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        self.read_chunk(ev, out)
    }

    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        self.complete_on_done(ev, out)
    }

    fn complete_at_end(&mut self, out: &mut Vec<OutEvent>) -> bool {
        self.complete_if_finished(out)
    }

    fn usage_seen(&self) -> Usage {
        self.usage_totals()
    }

    fn skip_deltas(&mut self) {
        ChatEvents::skip_deltas(self)
    }
}
