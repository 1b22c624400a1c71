//! Native-path stream relay: forwards upstream SSE events to the client as they arrive,
//! applying the fixes each Copilot API needs, and fails closed: a stream that ends
//! without its terminal event ends with exactly one error event, never a fake success.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{json, Value};

use crate::compaction::Compactor;
use crate::credits;
use crate::custom_tools::CustomTools;
use crate::json_read::{self, once, Reader};
use crate::protocol::error::MALFORMED;
use crate::protocol::usage::{anthropic_usage_into, openai_usage_into};
use crate::protocol::Api;
use crate::protocol::Usage;
use crate::sse::{self, write_event, SseParser};

pub struct Relay {
    api: Api,
    parser: SseParser,
    terminated: bool,
    /// Responses: item id announced by `output_item.added`, per output_index.
    item_ids: HashMap<u64, String>,
    last_sequence: Option<u64>,
    custom_tools: CustomTools,
    /// Responses: the answer to a compaction request, turned into its compaction item.
    compactor: Option<Compactor>,
    /// Chat: fold Claude's split choices into one.
    merge_choices: bool,
    /// Chat: whether the client asked for the usage chunk (the gateway always does).
    forward_usage: bool,
    /// Chat (merged): the finish chunk held back until the end of the answer.
    held_finish: Option<Value>,
    usage: Usage,
    failed: bool,
}

impl Relay {
    pub fn new(api: Api) -> Self {
        Relay {
            api,
            parser: SseParser::new(),
            terminated: false,
            item_ids: HashMap::new(),
            last_sequence: None,
            custom_tools: CustomTools::default(),
            compactor: None,
            merge_choices: false,
            forward_usage: true,
            held_finish: None,
            usage: Usage::default(),
            failed: false,
        }
    }

    /// Responses: convert calls of these custom tools back from function calls.
    pub fn with_custom_tools(mut self, tools: CustomTools) -> Self {
        self.custom_tools = tools;
        self
    }

    /// Responses: the stream answers a compaction request (`compaction::Compactor`).
    pub fn with_compaction(mut self, compactor: Option<Compactor>) -> Self {
        self.compactor = compactor;
        self
    }

    /// Chat: Claude models on Copilot's chat API split one answer into several choices
    /// (text in one, tool calls in another); clients expect one.
    pub fn merging_choices(mut self, merge: bool) -> Self {
        self.merge_choices = merge;
        self
    }

    /// Chat: drop the usage-only chunk the client did not ask for.
    pub fn forwarding_usage(mut self, forward: bool) -> Self {
        self.forward_usage = forward;
        self
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Whether the client got an error (from upstream or for a broken stream).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        // About what came in (events are forwarded mostly unchanged): no regrowing.
        let mut out = Vec::with_capacity(chunk.len() + 256);
        self.feed_into(chunk, &mut out);
        out
    }

    /// Feeds upstream bytes; the client events go to `out` as they complete.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut dyn EventSink) {
        let mut rest = chunk;
        loop {
            // Nearly every upstream event comes whole and in the plain form the relay
            // writes (`event: …` and one `data: …` line): read in place, not copied into
            // the parser.
            if self.parser.is_idle() {
                while let Some((ev, len)) = plain_frame(rest) {
                    self.event(ev, out);
                    rest = &rest[len..];
                }
            }
            if rest.is_empty() {
                return;
            }
            // The parser takes the rest up to the next blank line (the end of an event split
            // between chunks, or one in another form), then the plain reading goes on.
            let upto = rest
                .windows(2)
                .position(|w| w == b"\n\n")
                .map_or(rest.len(), |p| p + 2);
            let mut parser = std::mem::take(&mut self.parser);
            parser.feed_each(&rest[..upto], |ev| self.event(Ev::of(ev), out));
            self.parser = parser;
            rest = &rest[upto..];
            if !self.parser.is_idle() {
                // Another form of event (CR line ends, several data lines): all to the parser.
                let mut parser = std::mem::take(&mut self.parser);
                parser.feed_each(rest, |ev| self.event(Ev::of(ev), out));
                self.parser = parser;
                return;
            }
        }
    }

    /// Upstream ended (cleanly or not): flush, and close with an error if it was cut short.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.finish_into(&mut out);
        out
    }

    /// `finish`, the client events going to `out`.
    pub fn finish_into(&mut self, out: &mut dyn EventSink) {
        let mut parser = std::mem::take(&mut self.parser);
        parser.finish_each(|ev| {
            // An event cut off by the end of the stream is dropped, not forwarded half-written.
            if ev.is_done_marker() || is_json(&ev.data) {
                self.event(Ev::of(ev), out);
            }
        });
        self.parser = parser;
        if !self.terminated {
            self.error_into(out, "the upstream stream ended before it was complete");
        }
    }

    /// The upstream body failed mid-stream (network error).
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.fail_into(message, &mut out);
        out
    }

    /// `fail`, the client events going to `out`.
    pub fn fail_into(&mut self, message: &str, out: &mut dyn EventSink) {
        if !self.terminated {
            self.error_into(out, message);
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    fn event(&mut self, ev: Ev<'_>, out: &mut dyn EventSink) {
        if self.terminated {
            return; // nothing may follow the terminal event
        }
        if self.api == Api::Responses && self.forwarded_delta(ev, out) {
            return;
        }
        // A clean-looking stream that carries broken JSON would break the client's
        // parser instead: it ends here, with an error the client can read.
        if !ev.is_done_marker() && !is_json(ev.data) {
            self.error_into(out, MALFORMED);
            return;
        }
        match self.api {
            Api::Messages => self.messages_event(ev, out),
            Api::Responses => self.responses_event(ev, out),
            Api::ChatCompletions => self.chat_event(ev, out),
        }
    }

    fn messages_event(&mut self, ev: Ev<'_>, out: &mut dyn EventSink) {
        // Copilot sometimes ends Anthropic streams with an OpenAI-style `[DONE]`.
        if ev.is_done_marker() {
            return;
        }
        let typed = ev.event.is_none().then(|| type_of(ev.data)).flatten();
        let name = ev.event.or(typed.as_deref());
        match name {
            Some("message_stop") => self.terminated = true,
            Some("error") => {
                self.terminated = true;
                self.failed = true;
            }
            Some("message_start") | Some("message_delta") => {
                if let Ok(v) = serde_json::from_str::<Value>(ev.data) {
                    let u = v.pointer("/message/usage").or_else(|| v.get("usage"));
                    if let Some(u) = u {
                        anthropic_usage_into(&mut self.usage, u);
                    }
                    self.note_credits(credits::nano_aiu_in(&v));
                }
            }
            Some("content_block_delta") => {}
            _ => self.note_credits(credits::nano_aiu_in_text(ev.data)),
        }
        // Named as the client's SDK dispatches on it, and as it was read here.
        out.event(name, ev.data);
    }

    fn responses_event(&mut self, ev: Ev<'_>, out: &mut dyn EventSink) {
        // A Chat-style `[DONE]` is no Responses event (and is not JSON): dropped.
        if ev.is_done_marker() {
            return;
        }
        let typed = ev.event.is_none().then(|| type_of(ev.data)).flatten();
        let event = ev.event.or(typed.as_deref());
        let name = event.unwrap_or("");
        let terminal = matches!(
            name,
            "response.completed" | "response.incomplete" | "response.failed" | "error"
        );
        if terminal {
            self.terminated = true;
            self.failed = matches!(name, "response.failed" | "error");
        }
        // Deltas are nearly every event of a stream and almost never need a change: read
        // the three fields that matter without building a `Value` (which costs more than
        // everything else the relay does), and forward the bytes untouched.
        if name.ends_with(".delta") && self.custom_tools.is_empty() && self.compactor.is_none() {
            if let Some(peek) = DeltaPeek::read(ev.data) {
                if self.forward_peeked(ev, peek, out) {
                    return;
                }
            }
        }
        let mut data = Cow::Borrowed(ev.data);
        if let Ok(mut v) = serde_json::from_str::<Value>(ev.data) {
            if let Some(seq) = v.get("sequence_number").and_then(Value::as_u64) {
                self.last_sequence = Some(seq);
            }
            if terminal {
                if let Some(u) = v.pointer("/response/usage") {
                    openai_usage_into(&mut self.usage, u);
                }
            }
            self.note_credits(credits::nano_aiu_in(&v));
            let mut changed = self.sync_item_ids(name, &mut v);
            if !self.custom_tools.is_empty() {
                if !self.custom_tools.rewrite_event(name, &mut v) {
                    return;
                }
                changed = true;
            }
            if let Some(compactor) = self.compactor.as_mut() {
                for (name, data) in compactor.rewrite_event(name, v) {
                    // No summary: the stream fails after all.
                    self.failed |= name == "response.failed";
                    out.event(Some(name), &data.to_string());
                }
                return;
            }
            if changed {
                data = Cow::Owned(v.to_string());
            }
        }
        out.event(event, &data);
    }

    /// A named Responses delta read by the exact reader, which checks the whole event
    /// as it reads it (so it is not validated twice), forwarded untouched when its item
    /// id is the one announced. False: the event takes the general way.
    fn forwarded_delta(&mut self, ev: Ev<'_>, out: &mut dyn EventSink) -> bool {
        let plain = ev.event.is_some_and(|n| n.ends_with(".delta"))
            && self.custom_tools.is_empty()
            && self.compactor.is_none();
        match plain.then(|| DeltaPeek::fast(ev.data)).flatten() {
            Some(peek) => self.forward_peeked(ev, peek, out),
            None => false,
        }
    }

    /// Notes a delta's sequence number and forwards it unless its item id needs syncing.
    fn forward_peeked(&mut self, ev: Ev<'_>, peek: DeltaPeek<'_>, out: &mut dyn EventSink) -> bool {
        if let Some(seq) = peek.sequence_number {
            self.last_sequence = Some(seq);
        }
        let foreign = match (peek.output_index, peek.item_id) {
            (Some(i), Some(id)) => self.item_ids.get(&i).is_some_and(|first| *first != id),
            _ => false,
        };
        if !foreign {
            out.event(ev.event, ev.data);
        }
        !foreign
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

    fn chat_event(&mut self, ev: Ev<'_>, out: &mut dyn EventSink) {
        if ev.is_done_marker() {
            self.terminated = true;
            self.flush_finish(out);
            out.event(None, "[DONE]");
            return;
        }
        let keys = Keys::of(ev.data);
        if keys.error && is_error_chunk(ev.data) {
            self.terminated = true;
            self.failed = true;
            out.event(ev.event, ev.data);
            return;
        }
        let mentions_usage = keys.usage;
        let mentions_credits = keys.credits;
        if !self.merge_choices && !mentions_usage && !mentions_credits {
            out.event(ev.event, ev.data); // the common case: untouched
            return;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(ev.data) else {
            out.event(ev.event, ev.data);
            return;
        };
        let usage = v.get("usage").filter(|u| u.is_object()).cloned();
        if let Some(u) = &usage {
            openai_usage_into(&mut self.usage, u);
        }
        let billed = mentions_credits.then(|| credits::nano_aiu_in(&v)).flatten();
        self.note_credits(billed);
        let has_choices = v
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if billed.is_some() && usage.is_none() && !has_choices {
            // Copilot's chunk of billed credits closes the answer like the usage chunk
            // (the held finish goes first) and, like it, only reaches a client that asked
            // for usage: a chunk without choices breaks clients that did not.
            self.flush_finish(out);
            if self.forward_usage {
                out.event(ev.event, ev.data);
            }
            return;
        }
        if self.merge_choices {
            self.merge_chunk(&mut v);
        }
        let now_has_choices = v
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if usage.is_some() && !has_choices {
            // The usage-only chunk closes the answer: the held finish goes first.
            self.flush_finish(out);
            if self.forward_usage {
                out.event(None, &v.to_string());
            }
            return;
        }
        if usage.is_some() && !self.forward_usage {
            if let Some(o) = v.as_object_mut() {
                o.remove("usage");
            }
        }
        if has_choices && !now_has_choices {
            return; // merged away entirely (an empty delta of a split choice)
        }
        out.event(ev.event, &v.to_string());
    }

    /// Folds every choice of a chunk into choice 0 and holds the finish reason back until
    /// the end, so a text choice's "stop" does not end the answer before its tool calls.
    fn merge_chunk(&mut self, v: &mut Value) {
        let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        if choices.is_empty() {
            return;
        }
        let taken = std::mem::take(choices);
        let mut delta = serde_json::Map::new();
        let mut finish: Option<String> = None;
        for c in taken {
            if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                finish = Some(stronger_finish(finish.as_deref(), f).to_string());
            }
            let Some(Value::Object(d)) = c.get("delta") else {
                continue;
            };
            for (k, val) in d {
                match (k.as_str(), delta.get_mut(k)) {
                    ("content" | "reasoning_text" | "reasoning_opaque", Some(Value::String(s))) => {
                        if let Some(more) = val.as_str() {
                            s.push_str(more);
                        }
                    }
                    ("tool_calls", Some(Value::Array(calls))) => {
                        if let Some(more) = val.as_array() {
                            calls.extend(more.iter().cloned());
                        }
                    }
                    _ => {
                        if !val.is_null() {
                            delta.insert(k.clone(), val.clone());
                        }
                    }
                }
            }
        }
        if let Some(f) = finish {
            let merged = stronger_finish(
                self.held_finish
                    .as_ref()
                    .and_then(|h| h["choices"][0]["finish_reason"].as_str()),
                &f,
            )
            .to_string();
            let mut held = v.clone();
            held["choices"] = serde_json::json!([{"index": 0, "delta": {}, "finish_reason": merged, "logprobs": null}]);
            if let Some(o) = held.as_object_mut() {
                o.remove("usage");
            }
            self.held_finish = Some(held);
        }
        let meaningful = delta.iter().any(|(k, val)| k != "role" || !val.is_null());
        if meaningful {
            v["choices"] = serde_json::json!([{"index": 0, "delta": delta, "finish_reason": null, "logprobs": null}]);
        }
    }

    /// The latest credits an event stated.
    fn note_credits(&mut self, nano_aiu: Option<u64>) {
        if let Some(n) = nano_aiu {
            self.usage.nano_aiu = n;
        }
    }

    fn flush_finish(&mut self, out: &mut dyn EventSink) {
        if let Some(held) = self.held_finish.take() {
            out.event(None, &held.to_string());
        }
    }

    fn error_into(&mut self, out: &mut dyn EventSink, message: &str) {
        self.terminated = true;
        self.failed = true;
        match self.api {
            Api::Messages => {
                let data =
                    json!({"type": "error", "error": {"type": "api_error", "message": message}});
                out.event(Some("error"), &data.to_string());
            }
            Api::Responses => {
                let seq = self.last_sequence.map_or(0, |s| s.saturating_add(1));
                let data = json!({
                    "type": "error", "code": "stream_interrupted", "message": message,
                    "param": null, "sequence_number": seq,
                });
                out.event(Some("error"), &data.to_string());
            }
            Api::ChatCompletions => {
                let data = json!({"error": {"message": message, "type": "server_error", "param": null, "code": "stream_interrupted"}});
                out.event(None, &data.to_string());
            }
        }
    }
}

/// Where the relay's client events go: the client's bytes, or the web-search loop,
/// which reads them as events (and so need not parse the bytes back).
pub trait EventSink {
    fn event(&mut self, name: Option<&str>, data: &str);
}

impl EventSink for Vec<u8> {
    fn event(&mut self, name: Option<&str>, data: &str) {
        write_event(self, name, data);
    }
}

/// One upstream event, borrowed from the parser or straight from the chunk.
#[derive(Clone, Copy)]
struct Ev<'a> {
    event: Option<&'a str>,
    data: &'a str,
}

impl<'a> Ev<'a> {
    fn of(ev: &'a sse::SseEvent) -> Ev<'a> {
        Ev {
            event: ev.event.as_deref(),
            data: &ev.data,
        }
    }

    fn is_done_marker(&self) -> bool {
        sse::is_done_marker(self.data)
    }
}

/// A whole event at the start of `bytes` in the plain form `event: NAME\ndata: DATA\n\n`
/// (or without the `event:` line), read as the parser would read it, and its length.
/// Anything else (CR line ends, comments, several data lines, other fields, bad UTF-8, an
/// unfinished event) is None and left to the parser.
fn plain_frame(bytes: &[u8]) -> Option<(Ev<'_>, usize)> {
    let (event, at) = match bytes.strip_prefix(b"event: ") {
        Some(rest) => {
            let end = sse::find_line_end(rest)?;
            if rest[end] != b'\n' {
                return None;
            }
            (Some(std::str::from_utf8(&rest[..end]).ok()?), 7 + end + 1)
        }
        None => (None, 0),
    };
    let rest = bytes[at..].strip_prefix(b"data: ")?;
    let end = sse::find_line_end(rest)?;
    if rest.get(end..end + 2)? != b"\n\n" {
        return None;
    }
    let data = std::str::from_utf8(&rest[..end]).ok()?;
    Some((Ev { event, data }, at + 6 + end + 2))
}

/// The keys a Chat chunk's text mentions (`"error"`, `"usage"`, `"copilot_usage"`), found
/// in one pass over its quotes: three substring searches per chunk were a tenth of a Chat
/// stream's CPU in wasm.
#[derive(Debug, Default, PartialEq, Eq)]
struct Keys {
    error: bool,
    usage: bool,
    credits: bool,
}

impl Keys {
    fn of(data: &str) -> Keys {
        let credits = &credits::NEEDLE.as_bytes()[1..];
        let bytes = data.as_bytes();
        let mut keys = Keys::default();
        let mut i = 0;
        while let Some(p) = find_quote(&bytes[i..]) {
            let after = &bytes[i + p + 1..];
            keys.error |= after.starts_with(b"error\"");
            keys.usage |= after.starts_with(b"usage\"");
            keys.credits |= after.starts_with(credits);
            i += p + 1;
        }
        keys
    }
}

/// The first `"`, eight bytes at a time (as `sse::find_line_end`).
fn find_quote(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ (LO * u64::from(b'"'));
        if w.wrapping_sub(LO) & !w & HI != 0 {
            break;
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'"').map(|p| i + p)
}

/// Of two finish reasons, the one that tells the client more (tool calls beat a plain stop).
fn stronger_finish<'a>(current: Option<&'a str>, new: &'a str) -> &'a str {
    let rank = |f: &str| match f {
        "tool_calls" | "function_call" => 3,
        "length" | "content_filter" => 2,
        _ => 1,
    };
    match current {
        Some(c) if rank(c) >= rank(new) => c,
        _ => new,
    }
}

/// What the relay reads of a Responses delta event (every other field is skipped unparsed).
#[derive(serde::Deserialize, Debug, PartialEq)]
pub(crate) struct DeltaPeek<'a> {
    sequence_number: Option<u64>,
    output_index: Option<u64>,
    #[serde(borrow)]
    item_id: Option<Cow<'a, str>>,
}

impl<'a> DeltaPeek<'a> {
    fn read(data: &'a str) -> Option<DeltaPeek<'a>> {
        Self::fast(data).or_else(|| serde_json::from_str(data).ok())
    }

    /// `json_read`'s exact read (None: ask serde_json).
    pub(crate) fn fast(data: &'a str) -> Option<DeltaPeek<'a>> {
        let mut r = Reader::new(data);
        let (mut sequence_number, mut output_index, mut item_id) = (None, None, None);
        r.object(|r, key| match key.as_ref() {
            "sequence_number" => once(&mut sequence_number, r.option(Reader::u64)),
            "output_index" => once(&mut output_index, r.option(Reader::u64)),
            "item_id" => once(&mut item_id, r.option(Reader::string)),
            _ => r.skip(),
        })?;
        r.end()?;
        Some(DeltaPeek {
            sequence_number: sequence_number.flatten(),
            output_index: output_index.flatten(),
            item_id: item_id.flatten(),
        })
    }
}

/// Whether `data` is one well-formed JSON value, as serde_json judges it (validated
/// without building it; the fast check first, serde_json when it is not sure).
pub fn is_json(data: &str) -> bool {
    json_read::surely_json(data) || serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

/// A Chat chunk the openai SDK throws on: a top-level `error` that is truthy in
/// JavaScript (`if (data.error) throw`), wherever it sits among the keys.
fn is_error_chunk(data: &str) -> bool {
    let Ok(Value::Object(mut chunk)) = serde_json::from_str::<Value>(data) else {
        return false;
    };
    match chunk.remove("error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// The top-level `type` of an event's JSON, for upstreams that omit the `event:` line
/// (the first `"type":"` in the text may belong to a nested object). A type holding a
/// line break is no event name: written on an `event:` line it would split the event.
fn type_of(data: &str) -> Option<String> {
    match serde_json::from_str::<Value>(data).ok()? {
        Value::Object(mut o) => match o.remove("type")? {
            Value::String(t) if !t.contains(['\r', '\n']) => Some(t),
            _ => None,
        },
        _ => None,
    }
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

    fn chunk(choices: Value) -> String {
        format!(
            "data: {}\n\n",
            json!({"id":"c1","object":"chat.completion.chunk","model":"claude-sonnet-4.5","choices":choices})
        )
    }

    #[test]
    fn claude_split_choices_become_one_answer() {
        let mut r = Relay::new(Api::ChatCompletions)
            .merging_choices(true)
            .forwarding_usage(false);
        let mut out = Vec::new();
        for c in [
            chunk(json!([{"index":0,"delta":{"role":"assistant","content":"I'll use "}}])),
            chunk(json!([{"index":0,"delta":{"content":"the tool."},"finish_reason":"stop"}])),
            chunk(
                json!([{"index":1,"delta":{"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"f","arguments":""}}]}}]),
            ),
            chunk(
                json!([{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]),
            ),
            format!(
                "data: {}\n\n",
                json!({"id":"c1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":2}}})
            ),
            "data: [DONE]\n\n".to_string(),
        ] {
            out.extend(r.feed(c.as_bytes()));
        }
        out.extend(r.finish());
        let text = String::from_utf8(out).unwrap();
        let chunks: Vec<Value> = text
            .split("\n\n")
            .filter(|f| f.starts_with("data: {"))
            .map(|f| serde_json::from_str(&f[6..]).unwrap())
            .collect();
        assert!(chunks.iter().all(|c| c["choices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ch| ch["index"] == 0)));
        let finishes: Vec<&Value> = chunks
            .iter()
            .map(|c| &c["choices"][0]["finish_reason"])
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(
            finishes,
            vec![&json!("tool_calls")],
            "one finish, the stronger one"
        );
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
        assert!(
            !text.contains("\"usage\""),
            "the client did not ask for usage"
        );
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            r.usage(),
            Usage {
                input_tokens: 9,
                output_tokens: 4,
                cache_read_tokens: 2,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
    }

    #[test]
    fn usage_chunk_forwarded_when_asked() {
        let mut r = Relay::new(Api::ChatCompletions);
        let usage = format!(
            "data: {}\n\n",
            json!({"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}})
        );
        let out = String::from_utf8(r.feed(usage.as_bytes())).unwrap();
        assert!(out.contains("prompt_tokens"));
    }

    #[test]
    fn messages_usage_is_tracked() {
        let mut r = Relay::new(Api::Messages);
        r.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":90,\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}\n\n");
        r.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n");
        assert_eq!(
            r.usage(),
            Usage {
                input_tokens: 105,
                output_tokens: 42,
                cache_read_tokens: 90,
                cache_creation_tokens: 5,
                ..Default::default()
            }
        );
    }

    #[test]
    fn malformed_events_end_the_stream_with_one_error() {
        let out = run(
            Api::Messages,
            &["event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"type\":oops}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"],
        );
        assert_eq!(out.matches("event: error").count(), 1);
        assert!(out.contains("malformed"));
        assert!(!out.contains("oops") && !out.contains("message_stop"));
        let chat = run(
            Api::ChatCompletions,
            &["data: {\"choices\":[\n\ndata: [DONE]\n\n"],
        );
        assert!(chat.contains("malformed") && !chat.contains("[DONE]"));
    }

    #[test]
    fn unnamed_events_are_read_and_named_by_their_top_level_type() {
        // The first `"type":"` in the text was taken: a nested message_stop ended the
        // stream although the client saw no terminal event.
        let out = run(
            Api::Messages,
            &["data: {\"delta\":{\"type\":\"message_stop\"},\"type\":\"message_delta\"}\n\ndata: [{\"type\":\"message_stop\"}]\n\ndata: {\"type\":\"message_stop\"}\n\n"],
        );
        assert_eq!(out.matches("event: message_delta\n").count(), 1, "{out}");
        assert!(
            out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
            "{out}"
        );
        let out = run(
            Api::Responses,
            &["data: {\"item\":{\"type\":\"response.completed\"},\"type\":\"response.output_item.done\"}\n\ndata: {\"type\":\"response.completed\"}\n\n"],
        );
        assert!(out.contains("event: response.output_item.done\n"), "{out}");
        assert!(
            out.ends_with("event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"),
            "{out}"
        );
    }

    #[test]
    fn a_type_with_a_line_break_names_no_event() {
        // `event: a\nb` on the wire would split into a second, bogus field line.
        for api in [Api::Messages, Api::Responses] {
            let out = run(api, &["data: {\"type\":\"x\\ny\",\"n\":1}\n\n"]);
            assert!(!out.contains("event: x"), "{out}");
            let mut events = Vec::new();
            let mut p = crate::sse::SseParser::new();
            p.feed(out.as_bytes(), &mut events);
            p.finish(&mut events);
            assert!(
                events
                    .iter()
                    .all(|e| e.event.as_deref().is_none_or(|n| !n.contains('\n'))),
                "{out}"
            );
        }
    }

    #[test]
    fn responses_drop_a_stray_done() {
        // `[DONE]` is not JSON, and no Responses event: it was forwarded as it came.
        let out = run(
            Api::Responses,
            &["event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":0}\n\ndata: [DONE]\n\n"],
        );
        assert!(
            !out.contains("[DONE]") && !out.contains("event: error"),
            "{out}"
        );
    }

    #[test]
    fn chat_error_chunks_are_terminal_wherever_the_key_sits() {
        // The openai SDK throws on any truthy top-level `error`; the relay only knew
        // `{"error"...` and went on, ending with a second error.
        let mut r = Relay::new(Api::ChatCompletions);
        let out =
            String::from_utf8(r.feed(b"data: {\"id\":\"x\",\"error\":{\"message\":\"boom\"}}\n\n"))
                .unwrap();
        assert!(out.contains("boom"));
        assert!(r.finish().is_empty() && r.failed());
        for quiet in [
            r#"{"id":"x","error":null,"choices":[]}"#,
            r#"[{"error":1}]"#,
        ] {
            let mut r = Relay::new(Api::ChatCompletions);
            r.feed(format!("data: {quiet}\n\ndata: [DONE]\n\n").as_bytes());
            assert!(!r.failed(), "{quiet}");
        }
    }

    #[test]
    fn huge_sequence_number_saturates() {
        let out = run(
            Api::Responses,
            &["data: {\"sequence_number\":18446744073709551615}\n\n"],
        );
        assert!(
            out.contains("\"sequence_number\":18446744073709551615}\n\n"),
            "{out}"
        );
    }

    #[test]
    fn billed_credits_are_read_on_each_api() {
        let cu = r#""copilot_usage":{"token_details":[],"total_nano_aiu":1234}"#;
        let mut m = Relay::new(Api::Messages);
        m.feed(format!("event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"usage\":{{\"input_tokens\":3,\"output_tokens\":1}}}}}}\n\nevent: message_delta\ndata: {{\"type\":\"message_delta\",\"usage\":{{\"output_tokens\":2}},{cu}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n").as_bytes());
        assert_eq!(m.usage().nano_aiu, 1234);
        assert_eq!(m.usage().output_tokens, 2);
        let mut r = Relay::new(Api::Responses);
        let out = String::from_utf8(r.feed(format!("event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{{\"usage\":{{\"input_tokens\":5,\"output_tokens\":1}}}},{cu}}}\n\n").as_bytes())).unwrap();
        assert_eq!(r.usage().nano_aiu, 1234);
        assert!(
            out.contains("copilot_usage"),
            "forwarded as Copilot sent it"
        );
        // Chat: Copilot's credits chunk reaches only a client that asked for usage.
        for forward in [false, true] {
            let mut c = Relay::new(Api::ChatCompletions)
                .merging_choices(true)
                .forwarding_usage(forward);
            let mut out = Vec::new();
            for piece in [
                chunk(json!([{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}])),
                "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1}}\n\n".to_string(),
                format!("data: {{\"id\":\"c1\",\"choices\":[],{cu}}}\n\n"),
                "data: [DONE]\n\n".to_string(),
            ] {
                out.extend(c.feed(piece.as_bytes()));
            }
            let text = String::from_utf8(out).unwrap();
            assert_eq!(c.usage().nano_aiu, 1234);
            assert_eq!(c.usage().input_tokens, 4);
            assert_eq!(text.contains("copilot_usage"), forward, "{text}");
            assert!(
                text.contains("\"finish_reason\":\"stop\""),
                "the held finish is flushed first"
            );
            assert!(text.ends_with("data: [DONE]\n\n"));
        }
    }

    #[test]
    fn chunk_keys_are_found_as_substring_searches_find_them() {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            "\"",
            "error",
            "usage",
            "copilot_usage",
            "\"error\"",
            "\"usage\":",
            "x",
            "é",
            ":",
            "{",
            "}",
            "\"copilot_usage\"",
            "\\\"",
        ]);
        proptest!(|(pieces in prop::collection::vec(piece, 0..24))| {
            let data: String = pieces.concat();
            let want = Keys {
                error: data.contains("\"error\""),
                usage: data.contains("\"usage\""),
                credits: credits::mentions(&data),
            };
            prop_assert_eq!(Keys::of(&data), want, "{}", data);
        });
    }

    #[test]
    fn huge_usage_saturates() {
        let mut u = Usage::default();
        anthropic_usage_into(
            &mut u,
            &json!({"input_tokens": u64::MAX, "cache_read_input_tokens": 5}),
        );
        assert_eq!(u.input_tokens, u64::MAX);
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
