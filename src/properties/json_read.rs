//! The fast delta readers (`crate::json_read`) against serde_json: whatever they read,
//! serde_json's derived readers read the same from the same text, and the text is JSON.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use super::gen::{json, json_object, mutate, mutations, text};
use super::{check, ensure};
use crate::assemble::RawBlockDelta;
use crate::json_read::surely_json;
use crate::relay::DeltaPeek;
use crate::translate::{ChatChunk, MessagesDelta, ResponsesDelta};

/// Event data as Copilot sends it (deltas of the three APIs), or any object.
fn event() -> BoxedStrategy<Value> {
    let n = || prop_oneof![3 => 0u64..4, 1 => any::<u64>()];
    let messages = (
        n(),
        select(vec![
            ("text_delta", "text"),
            ("thinking_delta", "thinking"),
            ("input_json_delta", "partial_json"),
            ("signature_delta", "signature"),
        ]),
        text(),
    )
        .prop_map(|(i, (k, f), t)| {
            json!({"type": "content_block_delta", "index": i, "delta": {"type": k, f: t}})
        });
    let responses = (
        select(vec![
            ResponsesDelta::TEXT,
            ResponsesDelta::SUMMARY,
            ResponsesDelta::ARGUMENTS,
        ]),
        n(),
        n(),
        n(),
        text(),
        text(),
    )
        .prop_map(|(ty, seq, oi, ci, id, d)| {
            json!({"type": ty, "sequence_number": seq, "item_id": id, "output_index": oi,
                   "content_index": ci, "summary_index": ci, "delta": d, "logprobs": []})
        });
    let delta = prop_oneof![
        text().prop_map(|t| json!({"content": t})),
        text().prop_map(|t| json!({"role": "assistant", "reasoning_text": t})),
        (text(), text()).prop_map(|(a, b)| json!({"reasoning_opaque": a, "refusal": b})),
        (n(), text(), text(), text()).prop_map(|(i, id, name, args)| json!({"tool_calls": [
            {"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": args}}
        ]})),
        json(),
    ];
    let chat = (n(), delta, proptest::option::of(text()), any::<bool>()).prop_map(
        |(i, d, finish, usage)| {
            let mut c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                "created": 1, "model": "m",
                "choices": [{"index": i, "delta": d, "finish_reason": finish}]});
            if usage {
                c["usage"] = json!(null);
            }
            c
        },
    );
    prop_oneof![3 => messages, 3 => responses, 3 => chat, 1 => json_object(), 1 => json()].boxed()
}

/// Text edits serde_json reads differently or not at all (see `streams::edge_json`),
/// escapes in keys and values, whitespace, and cuts.
fn edit() -> BoxedStrategy<(usize, &'static str)> {
    (
        any::<usize>(),
        select(vec![
            "\\u0074",
            "\\ud83d\\ude00",
            "\\ud800",
            "\\udc00",
            "\\n",
            "\\\"",
            "\\/",
            "\\x",
            " ",
            "\n",
            "\t",
            "\u{1}",
            "1e400",
            "-0",
            "01",
            "1.5",
            "null",
            ",",
            ":",
            "}",
            "]",
            "{",
            "[",
            "\"",
            "\\",
            "\"\"",
            "tru",
            "é",
            "😀",
        ]),
    )
        .boxed()
}

const KEYS: &[&str] = &[
    "type",
    "index",
    "delta",
    "text",
    "thinking",
    "partial_json",
    "signature",
    "content",
    "refusal",
    "reasoning_text",
    "reasoning_opaque",
    "choices",
    "usage",
    "error",
    "finish_reason",
    "tool_calls",
    "function",
    "arguments",
    "name",
    "id",
    "output_index",
    "content_index",
    "summary_index",
    "sequence_number",
    "item_id",
    "x",
];

const VALUES: &[&str] = &[
    "1",
    "0",
    "1.5",
    "-0",
    "-1",
    "01",
    "1e2",
    "0.0",
    "null",
    "nul",
    "nulll",
    "\"s\"",
    "\"\\ud800\"",
    "\"\\u0041\"",
    "\"\\\"\"",
    "[]",
    "[null]",
    "{}",
    "true",
    "false",
    "18446744073709551615",
    "18446744073709551616",
    "\"text_delta\"",
    "\"response.output_text.delta\"",
];

/// A member added to the `k`-th object (a repeated or a new key), or the value after the
/// `k`-th colon replaced (a scalar's, or the start of a longer one).
#[derive(Debug, Clone)]
enum Member {
    Add(usize, &'static str, &'static str),
    Replace(usize, &'static str),
}

fn member() -> BoxedStrategy<Member> {
    prop_oneof![
        (any::<usize>(), select(KEYS), select(VALUES))
            .prop_map(|(k, key, v)| Member::Add(k, key, v)),
        (any::<usize>(), select(VALUES)).prop_map(|(k, v)| Member::Replace(k, v)),
    ]
    .boxed()
}

fn nth(s: &str, c: char, k: usize) -> Option<usize> {
    let all: Vec<usize> = s.match_indices(c).map(|(i, _)| i).collect();
    (!all.is_empty()).then(|| all[k % all.len()])
}

fn with_member(mut s: String, m: &Member) -> String {
    match *m {
        Member::Add(k, key, v) => {
            if let Some(at) = nth(&s, '}', k) {
                let sep = if s[..at].trim_end().ends_with('{') {
                    ""
                } else {
                    ","
                };
                s.insert_str(at, &format!("{sep}\"{key}\":{v}"));
            }
        }
        Member::Replace(k, v) => {
            if let Some(at) = nth(&s, ':', k) {
                let rest = &s[at + 1..];
                let len = rest.find([',', '}', ']']).unwrap_or(rest.len());
                s.replace_range(at + 1..at + 1 + len, v);
            }
        }
    }
    s
}

fn edited(mut s: String, edits: &[(usize, &str)], cut: Option<usize>) -> String {
    for (at, e) in edits {
        let mut at = at % (s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.insert_str(at, e);
    }
    if let Some(c) = cut {
        let mut c = c % (s.len() + 1);
        while !s.is_char_boundary(c) {
            c -= 1;
        }
        s.truncate(c);
    }
    s
}

fn check_readers(s: &str) -> Result<(), TestCaseError> {
    let is_json = serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok();
    if surely_json(s) {
        ensure!(is_json, "surely_json but serde_json refuses: {s}");
    }
    if let Some(d) = MessagesDelta::fast(s) {
        let theirs = serde_json::from_str::<MessagesDelta>(s);
        ensure!(
            theirs.as_ref().ok() == Some(&d),
            "MessagesDelta {s}: {d:?} vs {theirs:?}"
        );
        ensure!(is_json, "MessagesDelta read from non-JSON: {s}");
    }
    if let Some(d) = ResponsesDelta::fast(s) {
        let theirs = serde_json::from_str::<ResponsesDelta>(s);
        ensure!(
            theirs.as_ref().ok() == Some(&d),
            "ResponsesDelta {s}: {d:?} vs {theirs:?}"
        );
        ensure!(is_json, "ResponsesDelta read from non-JSON: {s}");
    }
    if let Some(d) = RawBlockDelta::fast(s) {
        let theirs = serde_json::from_str::<RawBlockDelta>(s);
        ensure!(
            theirs.as_ref().ok() == Some(&d),
            "RawBlockDelta {s}: {d:?} vs {theirs:?}"
        );
        ensure!(is_json, "RawBlockDelta read from non-JSON: {s}");
    }
    if let Some(p) = DeltaPeek::fast(s) {
        let theirs = serde_json::from_str::<DeltaPeek>(s);
        ensure!(
            theirs.as_ref().ok() == Some(&p),
            "DeltaPeek {s}: {p:?} vs {theirs:?}"
        );
        ensure!(is_json, "DeltaPeek read from non-JSON: {s}");
    }
    if let Some(c) = ChatChunk::fast(s) {
        let theirs = serde_json::from_str::<ChatChunk>(s);
        ensure!(
            theirs.as_ref().ok() == Some(&c),
            "ChatChunk {s}: {c:?} vs {theirs:?}"
        );
        ensure!(is_json, "ChatChunk read from non-JSON: {s}");
    }
    Ok(())
}

#[test]
fn fuzz_fast_readers_agree_with_serde_json() {
    let case = (
        event(),
        mutations(2),
        any::<bool>(),
        vec(member(), 0..3),
        vec(edit(), 0..3),
        proptest::option::weighted(0.1, any::<usize>()),
    );
    check(
        "fast_readers",
        4000,
        3,
        case,
        |(mut v, muts, pretty, members, edits, cut)| {
            // Unmutated deltas are read by the fast path.
            let plain = v.to_string();
            check_readers(&plain)?;
            mutate(&mut v, &muts);
            let s = if pretty {
                serde_json::to_string_pretty(&v).expect("serializable")
            } else {
                v.to_string()
            };
            check_readers(&s)?;
            let mut s = s;
            for m in &members {
                s = with_member(s, m);
                check_readers(&s)?;
            }
            check_readers(&edited(s, &edits, cut))
        },
    );
}

#[test]
fn typical_deltas_take_the_fast_path() {
    let m = r#"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"a \"b\"\n"}}"#;
    assert_eq!(
        MessagesDelta::fast(m).expect("fast").delta.payload(),
        "a \"b\"\n"
    );
    let r = r#"{"type":"response.output_text.delta","sequence_number":9,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"x\u00e9","logprobs":[],"obfuscation":"abc"}"#;
    assert_eq!(ResponsesDelta::fast(r).expect("fast").delta, "xé");
    let c = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]},"finish_reason":null}],"usage":null}"#;
    let chunk = ChatChunk::fast(c).expect("fast");
    let calls = chunk.choices.expect("choices")[0]
        .delta
        .as_ref()
        .expect("delta")
        .tool_calls
        .as_ref()
        .expect("calls")
        .len();
    assert_eq!(calls, 1);
    for s in [m, r, c] {
        assert!(surely_json(s));
    }
}

#[test]
fn fuzz_writer_matches_serde_json() {
    // The request-body encoder writes exactly serde_json's compact text: any value, and
    // long strings mixing plain runs (the eight-byte scan) with every ASCII control byte.
    let long = vec(
        prop_oneof![
            3 => "[a-zA-Z0-9 ]{0,20}",
            1 => "[\\x00-\\x7f]{0,12}",
            1 => "\\PC{0,8}",
        ],
        0..12,
    )
    .prop_map(|parts| Value::String(parts.concat()));
    let case = (json(), long);
    check("json_writer", 3000, 1, case, |(v, s)| {
        for v in [&v, &s, &json!({"a": [v.clone(), s.clone()]})] {
            let ours = crate::json_write::to_string(v);
            let theirs = serde_json::to_string(v).expect("serialisable");
            ensure!(ours == theirs, "ours:   {ours}\nserde: {theirs}");
        }
        Ok(())
    });
}
