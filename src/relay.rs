//! Native-path stream relay: forwards upstream SSE events to the client as they arrive,
//! applying the fixes each Copilot API needs, and fails closed: a stream that ends
//! without its terminal event ends with exactly one error event, never a fake success.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::sse::{write_event, SseEvent, SseParser};
use crate::upstream::routing::Api;

pub struct Relay {
    api: Api,
    parser: SseParser,
    events: Vec<SseEvent>,
    terminated: bool,
    /// Responses: item id announced by `output_item.added`, per output_index.
    item_ids: HashMap<u64, String>,
    last_sequence: Option<u64>,
}

impl Relay {
    pub fn new(api: Api) -> Self {
        Relay {
            api,
            parser: SseParser::new(),
            events: Vec::new(),
            terminated: false,
            item_ids: HashMap::new(),
            last_sequence: None,
        }
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut events = std::mem::take(&mut self.events);
        self.parser.feed(chunk, &mut events);
        let out = self.emit(&mut events);
        self.events = events;
        out
    }

    /// Upstream ended (cleanly or not): flush, and close with an error if it was cut short.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut events = std::mem::take(&mut self.events);
        self.parser.finish(&mut events);
        // An event cut off by the end of the stream is dropped, not forwarded half-written.
        events.retain(|e| {
            e.is_done_marker() || serde_json::from_str::<serde::de::IgnoredAny>(&e.data).is_ok()
        });
        let mut out = self.emit(&mut events);
        if !self.terminated {
            self.error_into(&mut out, "the upstream stream ended before it was complete");
        }
        out
    }

    /// The upstream body failed mid-stream (network error).
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.terminated {
            self.error_into(&mut out, message);
        }
        out
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    fn emit(&mut self, events: &mut Vec<SseEvent>) -> Vec<u8> {
        let mut out = Vec::new();
        for ev in events.drain(..) {
            if self.terminated {
                continue; // nothing may follow the terminal event
            }
            match self.api {
                Api::Messages => self.messages_event(ev, &mut out),
                Api::Responses => self.responses_event(ev, &mut out),
                Api::ChatCompletions => self.chat_event(ev, &mut out),
            }
        }
        out
    }

    fn messages_event(&mut self, ev: SseEvent, out: &mut Vec<u8>) {
        // Copilot sometimes ends Anthropic streams with an OpenAI-style `[DONE]`.
        if ev.is_done_marker() {
            return;
        }
        let name = ev.event.as_deref().or_else(|| sniff_type(&ev.data));
        if matches!(name, Some("message_stop") | Some("error")) {
            self.terminated = true;
        }
        write_event(out, ev.event.as_deref(), &ev.data);
    }

    fn responses_event(&mut self, ev: SseEvent, out: &mut Vec<u8>) {
        let name = ev
            .event
            .clone()
            .or_else(|| sniff_type(&ev.data).map(str::to_string));
        let name = name.as_deref().unwrap_or("");
        if matches!(
            name,
            "response.completed" | "response.incomplete" | "response.failed" | "error"
        ) {
            self.terminated = true;
        }
        let mut data = std::borrow::Cow::Borrowed(ev.data.as_str());
        if let Ok(mut v) = serde_json::from_str::<Value>(&ev.data) {
            if let Some(seq) = v.get("sequence_number").and_then(Value::as_u64) {
                self.last_sequence = Some(seq);
            }
            if self.sync_item_ids(name, &mut v) {
                data = std::borrow::Cow::Owned(v.to_string());
            }
        }
        write_event(out, ev.event.as_deref(), &data);
    }

    /// Copilot may give an item one id in `output_item.added` and another in `.done`;
    /// SDKs (openai's `responses.stream()`) reject that, so later events reuse the first.
    fn sync_item_ids(&mut self, name: &str, v: &mut Value) -> bool {
        let Some(index) = v.get("output_index").and_then(Value::as_u64) else {
            return false;
        };
        if name == "response.output_item.added" {
            if let Some(id) = v.pointer("/item/id").and_then(Value::as_str) {
                self.item_ids.insert(index, id.to_string());
            }
            return false;
        }
        let Some(first) = self.item_ids.get(&index) else {
            return false;
        };
        let mut changed = false;
        for ptr in ["/item/id", "/item_id"] {
            if let Some(slot) = v.pointer_mut(ptr) {
                if slot.as_str().is_some_and(|s| s != first) {
                    *slot = Value::String(first.clone());
                    changed = true;
                }
            }
        }
        changed
    }

    fn chat_event(&mut self, ev: SseEvent, out: &mut Vec<u8>) {
        if ev.is_done_marker() {
            self.terminated = true;
            write_event(out, None, "[DONE]");
            return;
        }
        if ev.data.starts_with("{\"error\"") {
            self.terminated = true;
        }
        write_event(out, ev.event.as_deref(), &ev.data);
    }

    fn error_into(&mut self, out: &mut Vec<u8>, message: &str) {
        self.terminated = true;
        match self.api {
            Api::Messages => {
                let data =
                    json!({"type": "error", "error": {"type": "api_error", "message": message}});
                write_event(out, Some("error"), &data.to_string());
            }
            Api::Responses => {
                let seq = self.last_sequence.map_or(0, |s| s + 1);
                let data = json!({
                    "type": "error", "code": "stream_interrupted", "message": message,
                    "param": null, "sequence_number": seq,
                });
                write_event(out, Some("error"), &data.to_string());
            }
            Api::ChatCompletions => {
                let data = json!({"error": {"message": message, "type": "server_error", "param": null, "code": "stream_interrupted"}});
                write_event(out, None, &data.to_string());
            }
        }
    }
}

/// The `type` field of an event's JSON, for upstreams that omit the `event:` line.
fn sniff_type(data: &str) -> Option<&str> {
    let i = data.find("\"type\":\"")? + 8;
    let rest = &data[i..];
    Some(&rest[..rest.find('"')?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(api: Api, chunks: &[&str]) -> String {
        let mut r = Relay::new(api);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(r.feed(c.as_bytes()));
        }
        out.extend(r.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn messages_drop_stray_done() {
        let out = run(
            Api::Messages,
            &["event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: message_stop\nda", "ta: {\"type\":\"message_stop\"}\n\ndata: [DONE]\n\n"],
        );
        assert_eq!(
            out,
            "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
    }

    #[test]
    fn truncated_messages_stream_ends_with_one_error() {
        let out = run(Api::Messages, &["event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content"]);
        assert!(out.ends_with("\n\n"));
        assert_eq!(out.matches("event: error").count(), 1);
        assert!(out.contains("\"type\":\"api_error\""));
        assert!(
            !out.contains("content_block_delta"),
            "the half event is not forwarded"
        );
    }

    #[test]
    fn upstream_error_event_is_terminal() {
        let out = run(Api::Messages, &["event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n"]);
        assert_eq!(out.matches("event: error").count(), 1);
        assert!(out.contains("busy"));
    }

    #[test]
    fn responses_item_ids_are_synchronised() {
        let out = run(
            Api::Responses,
            &[
                "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_A\"},\"sequence_number\":2}\n\n",
                "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"item_id\":\"msg_B\",\"delta\":\"hi\",\"sequence_number\":3}\n\n",
                "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"msg_B\"},\"sequence_number\":4}\n\n",
                "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":5}\n\n",
            ],
        );
        assert!(!out.contains("msg_B"), "{out}");
        assert_eq!(out.matches("msg_A").count(), 3);
        assert!(!out.contains("event: error"));
    }

    #[test]
    fn truncated_responses_stream_gets_next_sequence_number() {
        let out = run(Api::Responses, &["event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n"]);
        let last = out.trim_end().rsplit("data: ").next().unwrap();
        let v: Value = serde_json::from_str(last).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["sequence_number"], 1);
    }

    #[test]
    fn chat_done_terminates_and_truncation_errors() {
        let ok = run(
            Api::ChatCompletions,
            &["data: {\"choices\":[]}\n\ndata: [DONE]\n\ndata: {\"late\":1}\n\n"],
        );
        assert_eq!(ok, "data: {\"choices\":[]}\n\ndata: [DONE]\n\n");
        let cut = run(Api::ChatCompletions, &["data: {\"choices\":[]}\n\n"]);
        assert!(cut.contains("{\"error\":{"));
        assert!(!cut.contains("[DONE]"));
    }

    #[test]
    fn network_failure_after_terminal_adds_nothing() {
        let mut r = Relay::new(Api::ChatCompletions);
        r.feed(b"data: [DONE]\n\n");
        assert!(r.fail("reset").is_empty());
        let mut r = Relay::new(Api::ChatCompletions);
        assert!(String::from_utf8(r.fail("connection reset"))
            .unwrap()
            .contains("connection reset"));
        assert!(r.finish().is_empty());
    }
}
