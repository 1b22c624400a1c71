//! The SSE parser: the same events for every chunking of the same bytes, and the writer's
//! output parses back to what was written.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::gen::text;
use super::{check, ensure};
use crate::sse::{write_event, SseEvent, SseParser};

/// Bytes made of SSE tokens, UTF-8 text (split mid-character by the chunking) and noise.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => select(vec![
            "data:", "data: ", "event:", "event: ", "id: 1", "retry: 5", ":", ": keep-alive",
            "\n", "\n", "\r", "\r\n", "\n\n", "\r\n\r\n", " ", "[DONE]", "{\"type\":\"x\"}",
            "data", "event", "é", "😀", "\u{feff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        2 => text().prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..6),
    ];
    vec(token, 0..40).prop_map(|t| t.concat())
}

fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in chunks {
        p.feed(c, &mut out);
    }
    p.finish(&mut out);
    out
}

#[test]
fn fuzz_sse_chunking() {
    check(
        "sse_chunking",
        1500,
        1,
        (sse_bytes(), vec(any::<usize>(), 0..10)),
        |(bytes, cuts)| {
            let whole = parse(&[&bytes]);
            let mut idx: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            idx.sort();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for i in idx.into_iter().chain([bytes.len()]) {
                chunks.push(&bytes[last..i]);
                last = i;
            }
            let split = parse(&chunks);
            ensure!(split == whole, "chunked {split:?}\nwhole {whole:?}");
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            ensure!(parse(&bytewise) == whole, "byte by byte differs");
            Ok(())
        },
    );
}

#[test]
fn fuzz_sse_round_trip() {
    let event = (
        proptest::option::of("[a-z_.]{1,30}"),
        prop_oneof![text(), "[^\r]{0,40}"],
    );
    check("sse_round_trip", 800, 1, vec(event, 0..8), |events| {
        // Event names never hold line breaks and data never holds `\r` (JSON escapes it).
        let events: Vec<(Option<String>, String)> = events
            .into_iter()
            .map(|(n, d)| (n, d.replace('\r', "")))
            .collect();
        let mut bytes = Vec::new();
        for (name, data) in &events {
            write_event(&mut bytes, name.as_deref(), data);
        }
        let parsed = parse(&[&bytes]);
        let expected: Vec<SseEvent> = events
            .into_iter()
            .map(|(event, data)| SseEvent { event, data })
            .collect();
        ensure!(parsed == expected, "{parsed:?} != {expected:?}");
        Ok(())
    });
}
