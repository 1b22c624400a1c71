//! The byte stream a streaming client receives: upstream bytes in, client bytes out,
//! through either the native relay or a translator. Pure, so the whole per-chunk path is
//! tested natively; the shell only moves bytes.

use crate::accounting::Outcome;
use crate::compaction::Compactor;
use crate::credits;
use crate::custom_tools::CustomTools;
use crate::protocol::error::MALFORMED;
use crate::protocol::Api;
use crate::protocol::Usage;
use crate::relay::{is_json, Relay};
use crate::sse::{write_event, write_event_line, SseEvent, SseParser};
use crate::translate::{error_event, OutEvent, StreamTranslator};

pub trait ClientStream {
    /// Upstream bytes → bytes for the client (possibly none yet).
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// Upstream ended; closes with an error event if it ended early.
    fn finish(&mut self) -> Vec<u8>;
    /// The upstream failed (network error, or an error status after the stream had
    /// already started): one error event unless the stream already ended.
    fn fail(&mut self, message: &str) -> Vec<u8>;
    /// Usage so far, and whether the client got an error.
    fn outcome(&self) -> Outcome;
}

impl ClientStream for Relay {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        Relay::feed(self, chunk)
    }
    fn finish(&mut self) -> Vec<u8> {
        Relay::finish(self)
    }
    fn fail(&mut self, message: &str) -> Vec<u8> {
        Relay::fail(self, message)
    }
    fn outcome(&self) -> Outcome {
        Outcome {
            usage: self.usage(),
            failed: self.failed(),
        }
    }
}

/// Upstream SSE → translator → client events.
pub struct Translated {
    source: Api,
    parser: SseParser,
    translator: Box<dyn StreamTranslator>,
    out: Vec<OutEvent>,
    custom_tools: CustomTools,
    compactor: Option<Compactor>,
    failed: bool,
    /// The upstream sent something unusable; the client already has its error.
    stopped: bool,
    /// AI credits the upstream's events stated (translators read tokens, not credits).
    nano_aiu: Option<u64>,
}

impl Translated {
    pub fn new(source: Api, translator: Box<dyn StreamTranslator>) -> Self {
        Translated {
            source,
            parser: SseParser::new(),
            translator,
            out: Vec::new(),
            custom_tools: CustomTools::default(),
            compactor: None,
            failed: false,
            stopped: false,
            nano_aiu: None,
        }
    }

    /// Notes the credits an upstream event states (before the translator sees it).
    fn note_credits(nano_aiu: &mut Option<u64>, ev: &SseEvent) {
        if credits::may_carry(ev.event.as_deref()) {
            if let Some(n) = credits::nano_aiu_in_text(&ev.data) {
                *nano_aiu = Some(n);
            }
        }
    }

    /// Responses clients: calls of their custom tools go back as `custom_tool_call`.
    pub fn with_custom_tools(mut self, tools: CustomTools) -> Self {
        self.custom_tools = tools;
        self
    }

    /// Responses clients: the stream answers a compaction request (`compaction::Compactor`).
    pub fn with_compaction(mut self, compactor: Option<Compactor>) -> Self {
        self.compactor = compactor;
        self
    }

    /// The events go to an `Assembler`, not to a client stream.
    pub fn assembling(mut self) -> Self {
        self.translator.assembling();
        self
    }

    /// Feeds one parsed upstream event to the translator; broken JSON stops the stream
    /// with one error event (a translator would otherwise have to guess past it). A
    /// delta the translator reads in full needs no separate check (`try_event`).
    fn translate(
        translator: &mut dyn StreamTranslator,
        ev: &SseEvent,
        out: &mut Vec<OutEvent>,
        stopped: &mut bool,
        last: bool,
    ) {
        if *stopped {
            return;
        }
        if !ev.is_done_marker() {
            if translator.try_event(ev, out) {
                return;
            }
            if !is_json(&ev.data) {
                // A last event cut off by the end of the stream is not malformed, just
                // missing: dropped.
                if !last {
                    // (`failed` follows from the error event: none if the stream had ended.)
                    translator.on_error(MALFORMED, out);
                    *stopped = true;
                }
                return;
            }
        }
        translator.on_event(ev, out);
    }

    fn post_process(&mut self) {
        if !self.custom_tools.is_empty() {
            let tools = &mut self.custom_tools;
            for ev in self.out.iter_mut() {
                if matches!(ev, OutEvent::Raw { .. }) {
                    *ev = std::mem::replace(ev, OutEvent::Done).into_value();
                }
            }
            self.out.retain_mut(|ev| match ev {
                OutEvent::Event {
                    name: Some(name),
                    data,
                } => tools.rewrite_event(name, data),
                _ => true,
            });
        }
        if let Some(compactor) = self.compactor.as_mut() {
            // Raw events are the deltas of the answer's items, which the compaction replaces.
            for ev in std::mem::take(&mut self.out) {
                if let OutEvent::Event {
                    name: Some(name),
                    data,
                } = ev
                {
                    let events = compactor.rewrite_event(name, data);
                    self.out
                        .extend(events.into_iter().map(|(n, d)| OutEvent::named(n, d)));
                }
            }
        }
        let source = self.source;
        if !self.failed {
            self.failed = self.out.iter().any(|ev| is_error_event(source, ev));
        }
    }

    /// Feeds upstream bytes; the client events they complete (drained by the caller).
    pub fn feed_events(&mut self, chunk: &[u8]) -> &mut Vec<OutEvent> {
        let (translator, out, stopped) = (&mut *self.translator, &mut self.out, &mut self.stopped);
        let credits = &mut self.nano_aiu;
        self.parser.feed_each(chunk, |ev| {
            Self::note_credits(credits, ev);
            Self::translate(translator, ev, out, stopped, false)
        });
        self.post_process();
        &mut self.out
    }

    pub fn finish_events(&mut self) -> &mut Vec<OutEvent> {
        let (translator, out, stopped) = (&mut *self.translator, &mut self.out, &mut self.stopped);
        let credits = &mut self.nano_aiu;
        self.parser.finish_each(|ev| {
            Self::note_credits(credits, ev);
            Self::translate(translator, ev, out, stopped, true)
        });
        if !self.stopped {
            self.translator.on_end(&mut self.out);
        }
        self.post_process();
        &mut self.out
    }

    pub fn fail_events(&mut self, message: &str) -> &mut Vec<OutEvent> {
        if !self.stopped {
            self.translator.on_error(message, &mut self.out);
        }
        // A stream that already ended (its terminal event sent) stays a success.
        self.post_process();
        &mut self.out
    }

    pub fn usage(&self) -> Usage {
        let mut u = self.translator.usage();
        if let Some(n) = self.nano_aiu {
            u.nano_aiu = n;
        }
        u
    }

    pub fn source(&self) -> Api {
        self.source
    }
}

impl ClientStream for Translated {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        serialize(self.feed_events(chunk).drain(..), &mut bytes);
        bytes
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        serialize(self.finish_events().drain(..), &mut bytes);
        bytes
    }
    fn fail(&mut self, message: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        serialize(self.fail_events(message).drain(..), &mut bytes);
        bytes
    }
    fn outcome(&self) -> Outcome {
        Outcome {
            usage: self.usage(),
            failed: self.failed,
        }
    }
}

/// Whether a client event reports a failure (in the client's API).
pub(crate) fn is_error_event(source: Api, ev: &OutEvent) -> bool {
    let OutEvent::Event { name, data } = ev else {
        return false;
    };
    match source {
        Api::Messages => *name == Some("error"),
        Api::Responses => matches!(name, Some("error") | Some("response.failed")),
        Api::ChatCompletions => data.get("error").is_some(),
    }
}

/// Client events in SSE wire format.
pub fn serialize(events: impl ExactSizeIterator<Item = OutEvent>, out: &mut Vec<u8>) {
    out.reserve(events.len() * 160);
    for ev in events {
        match ev {
            OutEvent::Event { name, data } => write_event(out, name, &data.to_string()),
            // Written JSON has no line break: one `data:` line, no splitting.
            OutEvent::Raw { name, data, .. } => write_event_line(out, name, &data),
            OutEvent::Done => write_event(out, None, "[DONE]"),
        }
    }
}

/// What a client receives while Copilot has not answered yet, so proxies and clients do
/// not time out: Anthropic's own `ping` event, an SSE comment for the OpenAI APIs (their
/// SDKs skip comments, and a made-up event would break Responses' sequence numbers).
pub fn keepalive(source: Api) -> &'static [u8] {
    match source {
        Api::Messages => b"event: ping\ndata: {\"type\":\"ping\"}\n\n",
        Api::Responses | Api::ChatCompletions => b": keep-alive\n\n",
    }
}

/// An error event in the client's format, for a stream that failed before any upstream
/// byte arrived (and so before a translator saw anything).
pub fn error_bytes(source: Api, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    serialize(std::iter::once(error_event(source, message, 0)), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Echoes each upstream event's data as a Chat chunk; terminal on `[DONE]`.
    struct Echo {
        done: bool,
    }

    impl StreamTranslator for Echo {
        fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>) {
            if ev.is_done_marker() {
                self.done = true;
                out.push(OutEvent::Done);
            } else {
                out.push(OutEvent::data(json!({ "echo": ev.data })));
            }
        }
        fn on_end(&mut self, out: &mut Vec<OutEvent>) {
            if !self.done {
                out.push(error_event(Api::ChatCompletions, "cut", 0));
            }
        }
        fn on_error(&mut self, message: &str, out: &mut Vec<OutEvent>) {
            if !self.done {
                out.push(error_event(Api::ChatCompletions, message, 0));
            }
        }
        fn usage(&self) -> Usage {
            Usage::default()
        }
    }

    #[test]
    fn translated_stream_serializes_across_chunks() {
        let mut t = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        let mut out = t.feed(b"data: 1\n\nda");
        out.extend(t.feed(b"ta: 2\n\ndata: [DONE]\n\n"));
        out.extend(t.finish());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "data: {\"echo\":\"1\"}\n\ndata: {\"echo\":\"2\"}\n\ndata: [DONE]\n\n"
        );
        let mut cut = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        cut.feed(b"data: 1\n\n");
        assert!(String::from_utf8(cut.finish())
            .unwrap()
            .contains("\"error\""));
        let mut broken = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        let out = String::from_utf8(broken.feed(b"data: {oops\n\ndata: 2\n\n")).unwrap();
        assert_eq!(out.matches("\"error\"").count(), 1, "{out}");
        assert!(!out.contains("echo"), "nothing after the error");
        assert!(broken.finish().is_empty());
        assert!(broken.outcome().failed);
        let mut cut = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        cut.feed(b"data: 1\n\n");
        assert!(String::from_utf8(cut.finish())
            .unwrap()
            .contains("\"error\""));
    }

    #[test]
    fn a_finished_stream_stays_a_success() {
        // A network error or a malformed event after the terminal event sends the
        // client nothing, so the request must not be counted as failed.
        let mut t = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        t.feed(b"data: 1\n\ndata: [DONE]\n\n");
        assert!(t.fail("reset").is_empty());
        assert!(!t.outcome().failed);
        let mut t = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        t.feed(b"data: [DONE]\n\ndata: {oops\n\n");
        assert!(t.finish().is_empty());
        assert!(!t.outcome().failed);
    }

    #[test]
    fn credits_of_the_upstream_reach_the_usage_of_a_translated_stream() {
        // A Messages client of a Responses upstream: `response.completed` carries them.
        let ctx = crate::translate::TranslateCtx {
            model: "gpt-5.1-codex".into(),
            id_seed: "0123456789abcdef01234567".into(),
            ..Default::default()
        };
        let translator =
            crate::translate::stream_translator(Api::Messages, Api::Responses, &ctx).unwrap();
        let mut t = Translated::new(Api::Messages, translator);
        let completed = json!({"type":"response.completed","sequence_number":1,
            "response":{"id":"r","status":"completed","output":[],"usage":{"input_tokens":9,"output_tokens":2}},
            "copilot_usage":{"total_nano_aiu":5_500_000u64}});
        t.feed(format!("event: response.created\ndata: {}\n\n", json!({"type":"response.created","sequence_number":0,"response":{"id":"r","output":[]}})).as_bytes());
        t.feed(format!("event: response.completed\ndata: {completed}\n\n").as_bytes());
        t.finish();
        let o = t.outcome();
        assert_eq!(o.usage.nano_aiu, 5_500_000);
        assert_eq!(o.usage.input_tokens, 9, "tokens still from the translator");
        // A delta naming copilot_usage in its text is not parsed for it.
        let mut e = Translated::new(Api::ChatCompletions, Box::new(Echo { done: false }));
        e.feed(b"event: response.output_text.delta\ndata: {\"delta\":\"copilot_usage\",\"copilot_usage\":{\"total_nano_aiu\":1}}\n\n");
        assert_eq!(e.usage().nano_aiu, 0);
    }

    #[test]
    fn keepalives_are_harmless_to_parsers() {
        let mut events = Vec::new();
        let mut p = SseParser::new();
        p.feed(keepalive(Api::Responses), &mut events);
        assert!(events.is_empty(), "a comment is no event");
        p.feed(keepalive(Api::Messages), &mut events);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        let err = String::from_utf8(error_bytes(Api::Messages, "boom")).unwrap();
        assert!(err.starts_with("event: error\n") && err.contains("boom"));
    }
}
