//! The event loop every stream translator shares. A pair module supplies its state machine
//! (`PairStream`); the loop around it is the same for all six: a finished stream ignores
//! what follows, the pair's own delta reader goes first, and a stream that ends or breaks
//! before its terminal event ends with the client API's error event, once.

use serde_json::Value;

use super::{OutEvent, StreamTranslator};
use crate::protocol::Usage;
use crate::sse::SseEvent;

pub trait PairStream {
    /// The error event that ends an upstream stream cut short.
    const ENDED_EARLY: &'static str;
    /// The client's terminal event (an answer or an error) has been written.
    fn terminated(&self) -> bool;
    /// Writes the client's error event and ends the stream.
    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>);
    /// A delta read in full by the pair's own reader: handled, true; otherwise false,
    /// nothing done (the caller then checks the data is JSON and calls `handle_event`).
    fn read_delta(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool;
    /// Any other upstream event.
    fn handle_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>);
    /// The upstream stream ended without its terminal event: true when what came is a
    /// complete answer all the same (Chat's finish_reason), now written out.
    fn complete_at_end(&mut self, _out: &mut Vec<OutEvent>) -> bool {
        false
    }
    /// Usage seen so far.
    fn usage_seen(&self) -> Usage;
    /// See `StreamTranslator::assembling`.
    fn skip_deltas(&mut self) {}
}

impl<T: PairStream> StreamTranslator for T {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
        if !self.terminated() && !self.try_event(ev, out) {
            self.handle_event(ev, out);
        }
    }

    fn try_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) -> bool {
        !self.terminated() && self.read_delta(ev, out)
    }

    fn on_end(&mut self, out: &mut Vec<OutEvent>) {
        if !self.terminated() && !self.complete_at_end(out) {
            self.fail(T::ENDED_EARLY, out);
        }
    }

    fn on_error(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        if !self.terminated() {
            self.fail(message, out);
        }
    }

    fn usage(&self) -> Usage {
        self.usage_seen()
    }

    fn assembling(&mut self) {
        self.skip_deltas()
    }
}

/// An upstream event's kind: its data's `type`, else the SSE event name.
pub fn event_type<'a>(data: &'a Value, ev: &'a SseEvent) -> &'a str {
    data.get("type")
        .and_then(Value::as_str)
        .or(ev.event.as_deref())
        .unwrap_or("")
}
