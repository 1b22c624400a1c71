//! The reader of Copilot's Chat Completions stream, shared by every pair served by
//! `/chat/completions`: it walks each chunk (an error, usage, every choice's deltas, the
//! finish_reason of each choice) and hands the pieces to the pair's client writer.

use serde_json::Value;

use super::super::stream::PairStream;
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

/// One chunk: an error ends the stream; usage is recorded; every choice's deltas go to
/// the pair in order; the usage-only chunk after a finish completes the answer.
fn read_chunk<T: ChatEvents>(pair: &mut T, chunk: &ChatChunk, out: &mut Vec<OutEvent>) {
    if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
        let message = match err.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => format!("Upstream Chat Completions stream error: {err}"),
        };
        pair.error(&message, out);
        return;
    }
    let usage = chunk.usage.as_ref().filter(|u| u.is_object());
    if let Some(u) = usage {
        pair.record_usage(u);
    }
    let choices = chunk.choices.as_deref().unwrap_or(&[]);
    if choices.is_empty() {
        // The usage-only chunk that follows the finish: the answer is complete.
        // (`choices: []` without usage is Azure's prompt-filter chunk: nothing in it.)
        if usage.is_some() && pair.finish().is_some() {
            complete(pair, out);
        }
        return;
    }
    pair.start(out);
    for c in choices {
        let choice = c.index.unwrap_or(0);
        if let Some(d) = &c.delta {
            if let Some(t) = nonempty(&d.reasoning_text) {
                pair.reasoning_text(t, out);
            }
            if let Some(o) = nonempty(&d.reasoning_opaque) {
                pair.reasoning_opaque(o, out);
            }
            for field in [&d.content, &d.refusal] {
                if let Some(t) = nonempty(field) {
                    pair.text(t, out);
                }
            }
            for (pos, call) in d.tool_calls.iter().flatten().enumerate() {
                pair.tool_call(choice, pos as u64, call, out);
                if pair.ended() {
                    return;
                }
            }
        }
        if let Some(r) = c.finish_reason.as_deref() {
            rank_finish(pair.finish(), chat::read_finish(r));
        }
    }
}

fn complete<T: ChatEvents>(pair: &mut T, out: &mut Vec<OutEvent>) {
    let stop = *pair.finish();
    pair.answer(stop, out);
}

impl<T: ChatEvents> PairStream for T {
    const ENDED_EARLY: &'static str = T::ENDED_EARLY;

    fn terminated(&self) -> bool {
        self.ended()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.error(message, out);
    }

    /// Every chunk but `[DONE]` is read in full here.
    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        let chunk = (!ev.is_done_marker()).then(|| ChatChunk::read(ev));
        let Some(chunk) = chunk.flatten() else {
            return false;
        };
        read_chunk(self, &chunk, out);
        true
    }

    /// `[DONE]` completes the answer.
    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        if ev.is_done_marker() {
            complete(self, out);
        }
    }

    /// So does the end of a stream without it once a choice has finished.
    fn complete_at_end(&mut self, out: &mut Vec<OutEvent>) -> bool {
        let finished = self.finish().is_some();
        if finished {
            complete(self, out);
        }
        finished
    }

    fn usage_seen(&self) -> Usage {
        self.usage_totals()
    }

    fn skip_deltas(&mut self) {
        ChatEvents::skip_deltas(self)
    }
}
