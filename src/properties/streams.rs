//! Stream side: upstream event sequences (realistic scripts, mutated, or random) as SSE
//! bytes split at arbitrary points, through every translator pipeline and the relay.
//! The client must get valid events, at most one error, nothing after the end, and an
//! end (terminal or error) once the upstream is done; the assembler must agree.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use super::gen::{json, json_object, mutate, mutation, text, Mutation, STRINGS};
use super::{check, ensure};
use crate::assemble::Assembler;
use crate::client_stream::{serialize, ClientStream, Translated};
use crate::custom_tools::CustomTools;
use crate::protocol::Api;
use crate::relay::Relay;
use crate::sse::SseParser;
use crate::translate::{self, OutEvent, TranslateCtx};

/// One upstream event: `event:` line (if any) and data.
#[derive(Debug, Clone)]
pub struct Up {
    name: Option<String>,
    data: String,
}

fn named(v: Value) -> Up {
    Up {
        name: v.get("type").and_then(Value::as_str).map(str::to_string),
        data: v.to_string(),
    }
}

fn unnamed(v: Value) -> Up {
    Up {
        name: None,
        data: v.to_string(),
    }
}

fn done() -> Up {
    Up {
        name: None,
        data: "[DONE]".into(),
    }
}

/// Text pieces of a delta stream.
fn pieces() -> BoxedStrategy<Vec<String>> {
    vec(text(), 0..4).boxed()
}

/// Tool arguments as streamed: a JSON object cut into pieces, or arbitrary text.
fn arg_pieces() -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        3 => (json_object(), vec(any::<usize>(), 0..4)).prop_map(|(v, cuts)| {
            let s = v.to_string();
            let chars: Vec<char> = s.chars().collect();
            let mut idx: Vec<usize> = cuts.into_iter().map(|c| c % (chars.len() + 1)).collect();
            idx.sort();
            let mut out = Vec::new();
            let mut last = 0;
            for i in idx.into_iter().chain([chars.len()]) {
                out.push(chars[last..i].iter().collect());
                last = i;
            }
            out
        }),
        1 => pieces(),
    ]
    .boxed()
}

fn usage_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (0u64..100_000, 0u64..10_000, 0u64..5_000, 0u64..5_000).prop_map(|(i, o, r, c)| json!({
            "input_tokens": i, "output_tokens": o, "cache_read_input_tokens": r,
            "cache_creation_input_tokens": c, "prompt_tokens": i, "completion_tokens": o,
            "total_tokens": i + o, "input_tokens_details": {"cached_tokens": r},
            "prompt_tokens_details": {"cached_tokens": r}, "output_tokens_details": {"reasoning_tokens": o / 2}})),
        1 => Just(json!({"input_tokens": u64::MAX, "output_tokens": u64::MAX, "cache_read_input_tokens": u64::MAX,
            "prompt_tokens": u64::MAX, "completion_tokens": u64::MAX,
            "input_tokens_details": {"cached_tokens": u64::MAX}})),
        1 => json(),
    ]
    .boxed()
}

fn id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec!["toolu_1", "call_1", "fc_1", "rs_1", "msg_1", "cnNfYWRkZWRfMDEyMzQ1Njc4OQ=="]).prop_map(str::to_string),
        1 => text(),
    ]
    .boxed()
}

fn tool_name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(vec!["get_weather", "exec_command", "apply_patch", "f"]).prop_map(str::to_string),
        1 => text(),
    ]
    .boxed()
}

fn signature() -> BoxedStrategy<String> {
    prop_oneof![
        Just("EqQBCkgIARABGAIiQLsig".to_string()),
        Just("gAAAAABoEncrypted".to_string()),
        text(),
    ]
    .boxed()
}

// ---- Anthropic Messages upstream ----

#[derive(Debug, Clone)]
enum Block {
    Text(Vec<String>),
    Thinking(Vec<String>, Option<String>),
    Redacted(String),
    ToolUse(String, String, Vec<String>),
    ServerTool,
    Other(Value),
}

fn block() -> BoxedStrategy<Block> {
    prop_oneof![
        4 => pieces().prop_map(Block::Text),
        2 => (pieces(), proptest::option::of(signature())).prop_map(|(t, s)| Block::Thinking(t, s)),
        1 => signature().prop_map(Block::Redacted),
        3 => (id(), tool_name(), arg_pieces()).prop_map(|(i, n, a)| Block::ToolUse(i, n, a)),
        1 => Just(Block::ServerTool),
        1 => json_object().prop_map(Block::Other),
    ]
    .boxed()
}

fn block_events(index: usize, b: Block, out: &mut Vec<Value>) {
    let start =
        |cb: Value| json!({"type": "content_block_start", "index": index, "content_block": cb});
    let delta = |d: Value| json!({"type": "content_block_delta", "index": index, "delta": d});
    match b {
        Block::Text(ts) => {
            out.push(start(json!({"type": "text", "text": ""})));
            out.extend(
                ts.into_iter()
                    .map(|t| delta(json!({"type": "text_delta", "text": t}))),
            );
        }
        Block::Thinking(ts, sig) => {
            out.push(start(
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ));
            out.extend(
                ts.into_iter()
                    .map(|t| delta(json!({"type": "thinking_delta", "thinking": t}))),
            );
            if let Some(s) = sig {
                out.push(delta(json!({"type": "signature_delta", "signature": s})));
            }
        }
        Block::Redacted(d) => out.push(start(json!({"type": "redacted_thinking", "data": d}))),
        Block::ToolUse(id, name, args) => {
            out.push(start(
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            ));
            out.extend(
                args.into_iter()
                    .map(|a| delta(json!({"type": "input_json_delta", "partial_json": a}))),
            );
        }
        Block::ServerTool => {
            out.push(start(json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}})));
            out.push(json!({"type": "content_block_stop", "index": index}));
            out.push(json!({"type": "content_block_start", "index": index + 1,
                            "content_block": {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}}));
        }
        Block::Other(v) => out.push(start(v)),
    }
    out.push(json!({"type": "content_block_stop", "index": index}));
}

/// How a scripted stream ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Normal,
    Error,
    Cut,
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![6 => Just(End::Normal), 1 => Just(End::Error), 1 => Just(End::Cut)]
}

fn stop_reason() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => select(vec!["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal",
                         "pause_turn", "model_context_window_exceeded"]).prop_map(Value::from),
        1 => json(),
    ]
    .boxed()
}

fn messages_script() -> BoxedStrategy<Vec<Up>> {
    (usage_value(), vec(block(), 0..5), stop_reason(), usage_value(), end(), any::<bool>())
        .prop_map(|(u0, blocks, stop, u1, end, ping)| {
            let mut evs = vec![json!({"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4.5",
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": u0}})];
            if ping {
                evs.push(json!({"type": "ping"}));
            }
            let mut index = 0;
            for b in blocks {
                let server = matches!(b, Block::ServerTool);
                block_events(index, b, &mut evs);
                index += if server { 2 } else { 1 };
            }
            match end {
                End::Normal => {
                    evs.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": u1}));
                    evs.push(json!({"type": "message_stop"}));
                }
                End::Error => evs.push(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
                End::Cut => {}
            }
            evs.into_iter().map(named).collect()
        })
        .boxed()
}

// ---- OpenAI Responses upstream ----

#[derive(Debug, Clone)]
enum Item {
    Reasoning(Vec<Vec<String>>, Option<String>),
    Message(Vec<Vec<String>>, bool),
    Call(String, String, Vec<String>),
    Other(Value),
}

fn item() -> BoxedStrategy<Item> {
    prop_oneof![
        2 => (vec(pieces(), 0..3), proptest::option::of(signature())).prop_map(|(s, e)| Item::Reasoning(s, e)),
        4 => (vec(pieces(), 0..3), any::<bool>()).prop_map(|(p, r)| Item::Message(p, r)),
        3 => (id(), tool_name(), arg_pieces()).prop_map(|(c, n, a)| Item::Call(c, n, a)),
        1 => json_object().prop_map(Item::Other),
    ]
    .boxed()
}

/// The events of one output item, and the item as `.done` and the terminal response show it.
fn item_events(oi: usize, it: Item, same_ids: bool, out: &mut Vec<Value>) -> Value {
    let added_id = format!("aXRlbV9hZGRlZF8{oi}");
    let done_id = if same_ids {
        added_id.clone()
    } else {
        format!("aXRlbV9kb25lXz{oi}")
    };
    let ev = |ty: &str, extra: Value| {
        let mut v = json!({"type": ty, "output_index": oi, "item_id": added_id});
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k.as_str()] = x;
        }
        v
    };
    let done = match it {
        Item::Reasoning(parts, enc) => {
            out.push(
                json!({"type": "response.output_item.added", "output_index": oi,
                            "item": {"id": added_id, "type": "reasoning", "summary": []}}),
            );
            let mut summary = Vec::new();
            for (si, p) in parts.into_iter().enumerate() {
                out.push(ev(
                    "response.reasoning_summary_part.added",
                    json!({"summary_index": si, "part": {"type": "summary_text", "text": ""}}),
                ));
                for d in &p {
                    out.push(ev(
                        "response.reasoning_summary_text.delta",
                        json!({"summary_index": si, "delta": d}),
                    ));
                }
                let t: String = p.concat();
                out.push(ev(
                    "response.reasoning_summary_text.done",
                    json!({"summary_index": si, "text": t}),
                ));
                out.push(ev(
                    "response.reasoning_summary_part.done",
                    json!({"summary_index": si, "part": {"type": "summary_text", "text": t}}),
                ));
                summary.push(json!({"type": "summary_text", "text": t}));
            }
            json!({"id": done_id, "type": "reasoning", "summary": summary, "encrypted_content": enc})
        }
        Item::Message(parts, refusal) => {
            out.push(json!({"type": "response.output_item.added", "output_index": oi,
                            "item": {"id": added_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}));
            let mut content = Vec::new();
            for (ci, p) in parts.into_iter().enumerate() {
                let (kind, delta_ev, done_ev, field) = if refusal && ci == 0 {
                    (
                        "refusal",
                        "response.refusal.delta",
                        "response.refusal.done",
                        "refusal",
                    )
                } else {
                    (
                        "output_text",
                        "response.output_text.delta",
                        "response.output_text.done",
                        "text",
                    )
                };
                out.push(ev(
                    "response.content_part.added",
                    json!({"content_index": ci, "part": {"type": kind, field: ""}}),
                ));
                for d in &p {
                    out.push(ev(delta_ev, json!({"content_index": ci, "delta": d})));
                }
                let t: String = p.concat();
                out.push(ev(done_ev, json!({"content_index": ci, field: t})));
                let part = json!({"type": kind, field: t, "annotations": []});
                out.push(ev(
                    "response.content_part.done",
                    json!({"content_index": ci, "part": part}),
                ));
                content.push(part);
            }
            json!({"id": done_id, "type": "message", "status": "completed", "role": "assistant", "content": content})
        }
        Item::Call(call_id, name, args) => {
            out.push(json!({"type": "response.output_item.added", "output_index": oi,
                            "item": {"id": added_id, "type": "function_call", "status": "in_progress",
                                     "call_id": call_id, "name": name, "arguments": ""}}));
            for a in &args {
                out.push(ev(
                    "response.function_call_arguments.delta",
                    json!({"delta": a}),
                ));
            }
            let all: String = args.concat();
            out.push(ev(
                "response.function_call_arguments.done",
                json!({"arguments": all}),
            ));
            json!({"id": done_id, "type": "function_call", "status": "completed", "call_id": call_id,
                   "name": name, "arguments": all})
        }
        Item::Other(v) => {
            out.push(json!({"type": "response.output_item.added", "output_index": oi, "item": v}));
            v
        }
    };
    out.push(json!({"type": "response.output_item.done", "output_index": oi, "item": done}));
    done
}

fn responses_script() -> BoxedStrategy<Vec<Up>> {
    (
        vec(item(), 0..4),
        any::<bool>(),
        select(vec!["completed", "incomplete", "failed"]),
        usage_value(),
        end(),
        any::<bool>(),
    )
        .prop_map(|(items, same_ids, status, usage, end, terminal_only)| {
            let response = |status: &str, output: Value, usage: Value| json!({
                "id": "resp_1", "object": "response", "created_at": 1, "status": status,
                "model": "gpt-5.1-codex", "output": output, "usage": usage,
                "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
                "error": if status == "failed" { json!({"message": "boom", "code": "server_error"}) } else { Value::Null }});
            let mut evs = vec![
                json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
                json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
            ];
            let mut output = Vec::new();
            let mut streamed = Vec::new();
            for (oi, it) in items.into_iter().enumerate() {
                output.push(item_events(oi, it, same_ids, &mut streamed));
            }
            if !terminal_only {
                evs.extend(streamed);
            }
            match end {
                End::Normal => evs.push(json!({"type": format!("response.{status}"),
                                               "response": response(status, Value::Array(output), usage)})),
                End::Error => evs.push(json!({"type": "error", "code": "server_error", "message": "boom", "param": null})),
                End::Cut => {}
            }
            for (i, e) in evs.iter_mut().enumerate() {
                e["sequence_number"] = json!(i);
            }
            evs.into_iter().map(named).collect()
        })
        .boxed()
}

// ---- OpenAI Chat upstream ----

#[derive(Debug, Clone)]
enum Delta {
    Content(String),
    Reasoning(String),
    Opaque(String),
    Refusal(String),
    Call(u64, Option<(String, String)>, String),
    Other(Value),
}

fn delta() -> BoxedStrategy<Delta> {
    prop_oneof![
        4 => text().prop_map(Delta::Content),
        2 => text().prop_map(Delta::Reasoning),
        1 => signature().prop_map(Delta::Opaque),
        1 => text().prop_map(Delta::Refusal),
        4 => (0u64..3, proptest::option::of((id(), tool_name())), text())
            .prop_map(|(i, head, a)| Delta::Call(i, head, a)),
        1 => json_object().prop_map(Delta::Other),
    ]
    .boxed()
}

fn chat_script() -> BoxedStrategy<Vec<Up>> {
    (
        vec((0u64..2, delta()), 0..10),
        select(vec!["stop", "tool_calls", "length", "content_filter"]),
        any::<bool>(),
        usage_value(),
        any::<bool>(),
        end(),
    )
        .prop_map(|(deltas, finish, split, usage, usage_in_finish, end)| {
            let chunk = |choices: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                                                "created": 1, "model": "claude-sonnet-4.5", "choices": choices});
            let choice = |i: u64, d: Value| json!([{"index": i, "delta": d, "finish_reason": null}]);
            let mut evs = vec![chunk(choice(0, json!({"role": "assistant", "content": ""})))];
            for (ci, d) in deltas {
                let ci = if split { ci } else { 0 };
                let d = match d {
                    Delta::Content(t) => json!({"content": t}),
                    Delta::Reasoning(t) => json!({"reasoning_text": t}),
                    Delta::Opaque(t) => json!({"reasoning_opaque": t}),
                    Delta::Refusal(t) => json!({"refusal": t}),
                    Delta::Call(i, head, a) => {
                        let mut c = json!({"index": i, "function": {"arguments": a}});
                        if let Some((id, name)) = head {
                            c["id"] = json!(id);
                            c["type"] = json!("function");
                            c["function"]["name"] = json!(name);
                        }
                        json!({"tool_calls": [c]})
                    }
                    Delta::Other(v) => v,
                };
                evs.push(chunk(choice(ci, d)));
            }
            match end {
                End::Normal => {
                    let mut f = chunk(json!([{"index": 0, "delta": {}, "finish_reason": finish}]));
                    if usage_in_finish {
                        f["usage"] = usage.clone();
                    }
                    evs.push(f);
                    if split {
                        evs.push(chunk(json!([{"index": 1, "delta": {}, "finish_reason": "tool_calls"}])));
                    }
                    let mut u = chunk(json!([]));
                    u["usage"] = usage;
                    evs.push(u);
                }
                End::Error => evs.push(json!({"error": {"message": "boom", "type": "server_error", "code": null}})),
                End::Cut => {}
            }
            let mut ups: Vec<Up> = evs.into_iter().map(unnamed).collect();
            if matches!(end, End::Normal) {
                ups.push(done());
            }
            ups
        })
        .boxed()
}

// ---- mutations of event sequences and bytes ----

fn event_name() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        4 => select(STRINGS).prop_map(|s| Some(s.to_string())),
        1 => Just(None),
        1 => text().prop_map(Some),
    ]
    .boxed()
}

fn random_event() -> BoxedStrategy<Up> {
    prop_oneof![
        6 => (event_name(), json_object()).prop_map(|(name, mut v)| {
            if let (Some(n), Some(o)) = (&name, v.as_object_mut()) {
                o.insert("type".into(), json!(n));
            }
            Up { name, data: v.to_string() }
        }),
        1 => (event_name(), json()).prop_map(|(name, v)| Up { name, data: v.to_string() }),
        1 => (event_name(), text()).prop_map(|(name, data)| Up { name, data }),
        1 => Just(done()),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum EvMut {
    Drop(usize),
    Dup(usize),
    Swap(usize, usize),
    Truncate(usize),
    Corrupt(usize, Vec<(usize, Mutation)>),
    Insert(usize, Up),
    Rename(usize, Option<String>),
    CutData(usize, usize),
}

fn ev_mut() -> BoxedStrategy<EvMut> {
    let i = any::<usize>;
    prop_oneof![
        3 => i().prop_map(EvMut::Drop),
        3 => i().prop_map(EvMut::Dup),
        3 => (i(), i()).prop_map(|(a, b)| EvMut::Swap(a, b)),
        1 => i().prop_map(EvMut::Truncate),
        5 => (i(), vec((i(), mutation()), 1..4)).prop_map(|(a, m)| EvMut::Corrupt(a, m)),
        3 => (i(), random_event()).prop_map(|(a, e)| EvMut::Insert(a, e)),
        1 => (i(), event_name()).prop_map(|(a, n)| EvMut::Rename(a, n)),
        1 => (i(), i()).prop_map(|(a, b)| EvMut::CutData(a, b)),
    ]
    .boxed()
}

fn apply_ev_muts(evs: &mut Vec<Up>, muts: Vec<EvMut>) {
    for m in muts {
        let n = evs.len();
        if n == 0 {
            if let EvMut::Insert(_, e) = m {
                evs.push(e);
            }
            continue;
        }
        match m {
            EvMut::Drop(i) => {
                evs.remove(i % n);
            }
            EvMut::Dup(i) => {
                let e = evs[i % n].clone();
                evs.insert(i % n, e);
            }
            EvMut::Swap(a, b) => evs.swap(a % n, b % n),
            EvMut::Truncate(i) => evs.truncate(i % n),
            EvMut::Corrupt(i, muts) => {
                let e = &mut evs[i % n];
                if let Ok(mut v) = serde_json::from_str::<Value>(&e.data) {
                    mutate(&mut v, &muts);
                    e.data = v.to_string();
                }
            }
            EvMut::Insert(i, e) => evs.insert(i % (n + 1), e),
            EvMut::Rename(i, name) => evs[i % n].name = name,
            EvMut::CutData(i, at) => {
                let d = &mut evs[i % n].data;
                let cut = at % (d.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|c| d.is_char_boundary(*c))
                    .unwrap_or(0);
                d.truncate(cut);
            }
        }
    }
}

/// Upstream events for `target`: a script (mutated or not) or random events.
fn upstream(target: Api) -> BoxedStrategy<Vec<Up>> {
    let script = match target {
        Api::Messages => messages_script(),
        Api::Responses => responses_script(),
        Api::ChatCompletions => chat_script(),
    };
    prop_oneof![
        3 => script.clone(),
        6 => (script, vec(ev_mut(), 1..6)).prop_map(|(mut evs, muts)| {
            apply_ev_muts(&mut evs, muts);
            evs
        }),
        1 => vec(random_event(), 0..12),
    ]
    .boxed()
}

/// The bytes Copilot would send: line endings, comments, and sometimes raw garbage.
#[derive(Debug, Clone)]
struct Wire {
    eol: &'static str,
    comments: bool,
    garbage: Vec<(usize, Vec<u8>)>,
    cut: Option<usize>,
}

fn wire_shape() -> impl Strategy<Value = Wire> {
    (
        prop_oneof![8 => Just("\n"), 1 => Just("\r\n"), 1 => Just("\r")],
        any::<bool>(),
        prop_oneof![
            6 => Just(Vec::new()),
            1 => vec((any::<usize>(), vec(any::<u8>(), 0..12)), 1..3),
            1 => vec((any::<usize>(), select(vec![b"\n".to_vec(), b"\n\n".to_vec(), b"data: {".to_vec(),
                 b"event: error\n".to_vec(), b"data: [DONE]\n\n".to_vec(), b":\n".to_vec(), vec![0xe2, 0x82]])), 1..3),
        ],
        proptest::option::weighted(0.1, any::<usize>()),
    )
        .prop_map(|(eol, comments, garbage, cut)| Wire {
            eol,
            comments,
            garbage,
            cut,
        })
}

fn to_bytes(evs: &[Up], w: &Wire) -> Vec<u8> {
    let mut out = Vec::new();
    for e in evs {
        if w.comments {
            out.extend_from_slice(b": keep-alive");
            out.extend_from_slice(w.eol.as_bytes());
        }
        if let Some(n) = &e.name {
            out.extend_from_slice(format!("event: {n}{}", w.eol).as_bytes());
        }
        for line in e.data.split('\n') {
            out.extend_from_slice(format!("data: {line}{}", w.eol).as_bytes());
        }
        out.extend_from_slice(w.eol.as_bytes());
    }
    for (at, bytes) in &w.garbage {
        let at = at % (out.len() + 1);
        out.splice(at..at, bytes.iter().copied());
    }
    if let Some(c) = w.cut {
        out.truncate(c % (out.len() + 1));
    }
    out
}

fn splits(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut idx: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    idx.sort();
    let mut out = Vec::new();
    let mut last = 0;
    for i in idx.into_iter().chain([len]) {
        out.push((last, i));
        last = i;
    }
    out
}

/// An error chunk as the openai SDK sees one (`if (data.error) throw`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// What the client saw, checked: valid events, ≤ 1 error, nothing after the end, and
/// (once the upstream is done) an end. Returns whether it ended in success.
fn check_client_bytes(source: Api, bytes: &[u8], relay: bool) -> Result<bool, TestCaseError> {
    let text = std::str::from_utf8(bytes);
    ensure!(text.is_ok(), "client bytes are not UTF-8");
    let mut events = Vec::new();
    let mut p = SseParser::new();
    p.feed(bytes, &mut events);
    ensure!(
        bytes.is_empty() || bytes.ends_with(b"\n\n"),
        "client stream does not end on an event boundary"
    );
    p.finish(&mut events);
    let mut errors = 0;
    let mut ended: Option<bool> = None;
    let mut last_seq: Option<u64> = None;
    for (i, ev) in events.iter().enumerate() {
        ensure!(
            ended.is_none(),
            "event {i} after the end: {ev:?}\nall: {events:#?}"
        );
        if ev.data == "[DONE]" {
            ensure!(source == Api::ChatCompletions, "[DONE] on {source:?}");
            ensure!(ev.event.is_none(), "named [DONE]");
            ended = Some(true);
            continue;
        }
        // Valid JSON text (`1e999` is, though serde_json will not build a Value of it).
        ensure!(
            crate::relay::is_json(&ev.data),
            "event data is not JSON: {ev:?}"
        );
        let v: Value = serde_json::from_str(&ev.data).unwrap_or_default();
        let kind = ev
            .event
            .clone()
            .or_else(|| v.get("type").and_then(Value::as_str).map(str::to_string));
        let kind = kind.as_deref().unwrap_or("");
        let (error, success) = match source {
            Api::Messages => (kind == "error", kind == "message_stop"),
            Api::Responses => (
                matches!(kind, "error" | "response.failed"),
                matches!(kind, "response.completed" | "response.incomplete"),
            ),
            Api::ChatCompletions => (v.get("error").is_some_and(truthy), false),
        };
        if !relay {
            match source {
                Api::ChatCompletions => ensure!(ev.event.is_none(), "named chat chunk {ev:?}"),
                _ => ensure!(ev.event.is_some(), "unnamed event {ev:?}"),
            }
            if source == Api::Responses {
                let seq = v.get("sequence_number").and_then(Value::as_u64);
                ensure!(seq.is_some(), "no sequence_number: {ev:?}");
                ensure!(
                    last_seq.is_none_or(|l| seq.unwrap() > l),
                    "sequence_number not increasing: {ev:?}\nall: {events:#?}"
                );
                last_seq = seq;
            }
        }
        if error {
            errors += 1;
            ended = Some(false);
        } else if success {
            ended = Some(true);
        }
    }
    ensure!(errors <= 1, "{errors} error events: {events:#?}");
    ensure!(ended.is_some(), "the stream did not end: {events:#?}");
    Ok(ended == Some(true))
}

#[derive(Debug, Clone)]
struct StreamCase {
    source: Api,
    target: Api,
    events: Vec<Up>,
    wire: Wire,
    cuts: Vec<usize>,
    /// End with `fail` (a network error) instead of `finish`.
    fail: bool,
    include_usage: bool,
    custom_tools: bool,
    merge: bool,
}

/// Cases for the translated pairs into `source` (`None`: the native relay, every API).
fn stream_case(source: Option<Api>) -> impl Strategy<Value = StreamCase> {
    let pairs: Vec<(Api, Api)> = Api::all()
        .into_iter()
        .flat_map(|s| Api::all().map(|t| (s, t)))
        .filter(|&(s, t)| match source {
            Some(src) => s == src && t != s,
            None => s == t,
        })
        .collect();
    // One strategy per pair, built once (a flat_map would rebuild it for every case).
    Union::new(pairs.into_iter().map(|(source, target)| {
        (
            upstream(target),
            wire_shape(),
            vec(any::<usize>(), 0..8),
            proptest::bool::weighted(0.1),
            any::<bool>(),
            proptest::bool::weighted(0.3),
            any::<bool>(),
        )
            .prop_map(
                move |(events, wire, cuts, fail, include_usage, custom_tools, merge)| StreamCase {
                    source,
                    target,
                    events,
                    wire,
                    cuts,
                    fail,
                    include_usage,
                    custom_tools,
                    merge,
                },
            )
            .boxed()
    }))
}

fn custom_tools(on: bool) -> CustomTools {
    let mut body = json!({"tools": [{"type": "custom", "name": "apply_patch"}, {"type": "custom", "name": "f"}]});
    let tools = CustomTools::from_request(body.as_object_mut().expect("object"));
    if on {
        tools
    } else {
        CustomTools::default()
    }
}

fn translated(c: &StreamCase) -> Translated {
    let ctx = TranslateCtx {
        model: "m".into(),
        max_output_tokens: Some(1000),
        id_seed: "0123456789abcdef01234567".into(),
        now_secs: 1_700_000_000,
        include_usage: c.include_usage,
    };
    let t = translate::stream_translator(c.source, c.target, &ctx).expect("a pair");
    Translated::new(c.source, t).with_custom_tools(custom_tools(c.custom_tools))
}

/// Runs a pipeline over the chunks; the client events and their bytes.
fn run_translated(c: &StreamCase, bytes: &[u8], cuts: &[usize]) -> (Vec<OutEvent>, Translated) {
    let mut t = translated(c);
    let mut out = Vec::new();
    for (a, b) in splits(bytes.len(), cuts) {
        out.append(t.feed_events(&bytes[a..b]));
    }
    if c.fail {
        out.append(t.fail_events("the upstream connection failed mid-stream"));
    } else {
        out.append(t.finish_events());
    }
    (out, t)
}

/// The translator alone, without the pipeline's stop at a malformed event: it sees
/// every parsed event, JSON or not.
fn run_raw(c: &StreamCase, bytes: &[u8]) -> Vec<OutEvent> {
    let ctx = TranslateCtx {
        model: "m".into(),
        id_seed: "0123456789abcdef01234567".into(),
        include_usage: c.include_usage,
        ..Default::default()
    };
    let mut t = translate::stream_translator(c.source, c.target, &ctx).expect("a pair");
    let mut events = Vec::new();
    let mut p = SseParser::new();
    p.feed(bytes, &mut events);
    p.finish(&mut events);
    let mut out = Vec::new();
    for ev in &events {
        t.on_event(ev, &mut out);
    }
    if c.fail {
        t.on_error("network", &mut out);
    } else {
        t.on_end(&mut out);
    }
    let _ = t.usage();
    out
}

fn bounded(out: usize, input: usize) -> Result<(), TestCaseError> {
    ensure!(
        out <= 16 * input + 16_384,
        "{out} client bytes from {input} upstream bytes"
    );
    Ok(())
}

/// The order each client SDK relies on, beyond single events: Anthropic blocks open,
/// take deltas of their own kind and close one at a time; Responses items are added
/// before their events and done once with the same id; Chat tool calls are announced
/// with an id and name before their arguments.
fn check_grammar(source: Api, out: &[OutEvent]) -> Result<(), TestCaseError> {
    // Pre-written events are read the way a client reads them (their validity is a
    // separate property).
    let parsed: Vec<(&str, Value)> = out
        .iter()
        .filter_map(|e| match e {
            OutEvent::Event { name, data } => Some((name.unwrap_or(""), data.clone())),
            OutEvent::Raw { name, data, .. } => serde_json::from_str(data)
                .ok()
                .map(|v| (name.unwrap_or(""), v)),
            OutEvent::Done => None,
        })
        .collect();
    let events: Vec<(&str, &Value)> = parsed
        .iter()
        .map(|(n, d)| (*n, d))
        .filter(|(n, d)| *n != "error" && d.get("error").is_none_or(Value::is_null))
        .collect();
    let ctx = || format!("{:#?}", out);
    match source {
        Api::Messages => {
            let mut started = false;
            let mut open: Option<(u64, String)> = None;
            let mut next = 0;
            let mut delta_seen = false;
            for (name, d) in events {
                ensure!(
                    started || name == "message_start",
                    "{name} before message_start\n{}",
                    ctx()
                );
                let index = d.get("index").and_then(Value::as_u64);
                match name {
                    "message_start" => {
                        ensure!(!started, "second message_start\n{}", ctx());
                        started = true;
                    }
                    "content_block_start" => {
                        ensure!(
                            open.is_none() && !delta_seen,
                            "block started while {open:?} open\n{}",
                            ctx()
                        );
                        ensure!(
                            index == Some(next),
                            "block index {index:?}, expected {next}\n{}",
                            ctx()
                        );
                        let ty = d
                            .pointer("/content_block/type")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        open = Some((next, ty.to_string()));
                        next += 1;
                    }
                    "content_block_delta" => {
                        let Some((i, ty)) = &open else {
                            return Err(TestCaseError::fail(format!(
                                "delta outside a block\n{}",
                                ctx()
                            )));
                        };
                        ensure!(
                            index == Some(*i),
                            "delta for {index:?} in block {i}\n{}",
                            ctx()
                        );
                        let dt = d
                            .pointer("/delta/type")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let fits = matches!(
                            (ty.as_str(), dt),
                            ("text", "text_delta")
                                | ("thinking", "thinking_delta" | "signature_delta")
                                | ("tool_use", "input_json_delta")
                        );
                        ensure!(fits, "{dt} in a {ty} block\n{}", ctx());
                    }
                    "content_block_stop" => {
                        ensure!(
                            open.as_ref().map(|o| o.0) == index,
                            "stop of {index:?} while {open:?}\n{}",
                            ctx()
                        );
                        open = None;
                    }
                    "message_delta" => {
                        ensure!(
                            open.is_none(),
                            "message_delta with block {open:?} open\n{}",
                            ctx()
                        );
                        delta_seen = true;
                    }
                    "message_stop" => {
                        ensure!(delta_seen, "message_stop without message_delta\n{}", ctx())
                    }
                    "ping" => {}
                    other => ensure!(false, "unknown event {other}\n{}", ctx()),
                }
            }
        }
        Api::Responses => {
            // output_index → (id, done)
            let mut items: Vec<(String, bool)> = Vec::new();
            for (name, d) in events {
                let oi = d
                    .get("output_index")
                    .and_then(Value::as_u64)
                    .map(|i| i as usize);
                match name {
                    "response.output_item.added" => {
                        ensure!(
                            oi == Some(items.len()),
                            "item added at {oi:?}, expected {}\n{}",
                            items.len(),
                            ctx()
                        );
                        let id = d.pointer("/item/id").and_then(Value::as_str).unwrap_or("");
                        items.push((id.to_string(), false));
                    }
                    n if n.starts_with("response.") && oi.is_some() => {
                        let oi = oi.unwrap();
                        ensure!(
                            oi < items.len() && !items[oi].1,
                            "{n} for item {oi} (items {items:?})\n{}",
                            ctx()
                        );
                        let id = d
                            .get("item_id")
                            .or_else(|| d.pointer("/item/id"))
                            .and_then(Value::as_str);
                        ensure!(
                            id.is_none_or(|id| id == items[oi].0),
                            "{n} names item {id:?}, not {}\n{}",
                            items[oi].0,
                            ctx()
                        );
                        if n == "response.output_item.done" {
                            items[oi].1 = true;
                        }
                    }
                    "response.completed" | "response.incomplete" => {
                        ensure!(
                            items.iter().all(|i| i.1),
                            "terminal event with items open {items:?}\n{}",
                            ctx()
                        );
                        let output = d.pointer("/response/output").and_then(Value::as_array);
                        ensure!(
                            output.is_some_and(|o| o.len() == items.len()),
                            "terminal output differs from the items\n{}",
                            ctx()
                        );
                    }
                    _ => {}
                }
            }
        }
        Api::ChatCompletions => {
            let mut calls: Vec<u64> = Vec::new();
            for (_, d) in events {
                let deltas = d
                    .get("choices")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                for call in deltas
                    .filter_map(|c| c.pointer("/delta/tool_calls"))
                    .filter_map(Value::as_array)
                    .flatten()
                {
                    let i = call.get("index").and_then(Value::as_u64);
                    ensure!(i.is_some(), "tool call without index\n{}", ctx());
                    let i = i.unwrap();
                    if !calls.contains(&i) {
                        ensure!(
                            i == calls.len() as u64,
                            "tool call index {i} after {calls:?}\n{}",
                            ctx()
                        );
                        let id = call.get("id").and_then(Value::as_str);
                        let name = call.pointer("/function/name").and_then(Value::as_str);
                        ensure!(
                            id.is_some() && name.is_some(),
                            "first delta of call {i} lacks id or name\n{}",
                            ctx()
                        );
                        calls.push(i);
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_translated(c: StreamCase) -> Result<(), TestCaseError> {
    let bytes = to_bytes(&c.events, &c.wire);
    let (out, t) = run_translated(&c, &bytes, &c.cuts);
    for ev in &out {
        if *ev == OutEvent::Done {
            ensure!(c.source == Api::ChatCompletions, "Done on {:?}", c.source);
        }
    }
    let mut client = Vec::new();
    serialize(out.iter().cloned(), &mut client);
    bounded(client.len(), bytes.len())?;
    let success = check_client_bytes(c.source, &client, false)?;
    check_grammar(c.source, &out)?;
    let outcome = t.outcome();
    ensure!(
        outcome.failed != success,
        "outcome.failed = {} but success = {success}",
        outcome.failed
    );
    let raw = run_raw(&c, &bytes);
    let mut raw_bytes = Vec::new();
    serialize(raw.iter().cloned(), &mut raw_bytes);
    bounded(raw_bytes.len(), bytes.len())?;
    check_client_bytes(c.source, &raw_bytes, false)?;
    check_grammar(c.source, &raw)?;
    // The same bytes in one piece give the same client events.
    let (whole, _) = run_translated(&c, &bytes, &[]);
    ensure!(whole == out, "output depends on chunking");
    // The assembler agrees with the stream.
    let mut a = Assembler::new(c.source);
    for ev in &out {
        a.push(ev);
    }
    let assembled = a.finish().map_err(|e| e.message);
    ensure!(
        assembled.is_ok() == success,
        "assembler says {:?} for a stream that ended in success = {success}",
        assembled.as_ref().map(|_| ())
    );
    // Taking delta text where the translator says it is gives what parsing the events does.
    let mut parsed = Assembler::new(c.source);
    for ev in &out {
        parsed.push(&match ev.clone() {
            OutEvent::Raw { name, data, .. } => OutEvent::Raw {
                name,
                data,
                text: None,
            },
            other => other,
        });
    }
    let parsed = parsed.finish().map_err(|e| e.message);
    ensure!(
        assembled == parsed,
        "with text positions: {assembled:?}\nparsed: {parsed:?}"
    );
    // A translator told that its events are assembled (and so free to skip what the
    // assembler never reads) gives the same answer, outcome and usage.
    let mut quiet = translated(&c).assembling();
    let mut b = Assembler::new(c.source);
    for (x, y) in splits(bytes.len(), &c.cuts) {
        quiet
            .feed_events(&bytes[x..y])
            .drain(..)
            .for_each(|e| b.push(&e));
    }
    if c.fail {
        quiet
            .fail_events("the upstream connection failed mid-stream")
            .drain(..)
            .for_each(|e| b.push(&e));
    } else {
        quiet.finish_events().drain(..).for_each(|e| b.push(&e));
    }
    let b = b.finish().map_err(|e| e.message);
    ensure!(assembled == b, "assembling: {b:?}\nstreamed: {assembled:?}");
    ensure!(quiet.outcome() == outcome, "assembling changed the outcome");
    Ok(())
}

// One property per client API (the two upstream APIs of each), so a fuzz run spreads
// over both cores.
#[test]
fn fuzz_translated_streams_to_messages() {
    let s = stream_case(Some(Api::Messages));
    check(
        "translated_streams_to_messages",
        500,
        1,
        s,
        check_translated,
    );
}

#[test]
fn fuzz_translated_streams_to_responses() {
    let s = stream_case(Some(Api::Responses));
    check(
        "translated_streams_to_responses",
        500,
        1,
        s,
        check_translated,
    );
}

#[test]
fn fuzz_translated_streams_to_chat() {
    let s = stream_case(Some(Api::ChatCompletions));
    check("translated_streams_to_chat", 500, 1, s, check_translated);
}

/// A translator that never reads an event unchecked: the pipeline validates every event
/// before the translator sees it, as it did before deltas were read in one parse.
struct CheckedFirst(Box<dyn translate::StreamTranslator>);

impl translate::StreamTranslator for CheckedFirst {
    fn on_event(&mut self, ev: &crate::sse::SseEvent, out: &mut Vec<OutEvent>) {
        self.0.on_event(ev, out);
    }
    fn on_end(&mut self, out: &mut Vec<OutEvent>) {
        self.0.on_end(out);
    }
    fn on_error(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        self.0.on_error(message, out);
    }
    fn usage(&self) -> crate::protocol::Usage {
        self.0.usage()
    }
}

/// JSON that serde_json validates but may not read into the translators' structs (or
/// into a `Value`): a lone surrogate, a number out of range, deep nesting, a repeated
/// key, a float where an integer goes, and text that is no JSON at all (inserted before
/// the closing brace; the last three after it).
fn edge_json() -> BoxedStrategy<(usize, &'static str)> {
    (
        any::<usize>(),
        select(vec![
            r#","x":"\ud800""#,
            r#","delta":"\udc00""#,
            r#","x":1e400"#,
            r#","x":-0.0e-999"#,
            r#","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
            r#","delta":"again""#,
            r#","index":1.5"#,
            r#","output_index":-1"#,
            r#","choices":null"#,
            r#","x":tru"#,
            r#","x":"\x""#,
            r#","x":01"#,
            ",\"x\":\"\u{1}\"",
            r#",}"#,
            // Appended after the value:
            "}",
            " \t",
            " x",
        ]),
    )
        .boxed()
}

/// Puts `edge_json` texts into events: inside an object before its closing brace, or
/// after the data; events that are no object are left alone unless `any` says otherwise
/// (then the text goes after them).
fn edit_events(events: &mut [Up], edits: &[(usize, &'static str)], any: bool) {
    for &(at, extra) in edits {
        if events.is_empty() {
            return;
        }
        let n = events.len();
        let e = &mut events[at % n];
        let object = e.data.ends_with('}');
        if !object && !any {
            continue;
        }
        if object && extra.starts_with([',', '}']) && extra != "}" {
            e.data.insert_str(e.data.len() - 1, extra);
        } else {
            e.data.push_str(extra);
        }
    }
}

#[test]
fn fuzz_one_parse_per_event() {
    // Deltas read in one parse (`try_event`) give the client exactly what validating
    // every event first and then translating it gave: same bytes, same outcome, same usage.
    let translated = Union::new(
        [Api::Messages, Api::Responses, Api::ChatCompletions]
            .map(|source| stream_case(Some(source)).boxed()),
    );
    let case = (translated, vec(edge_json(), 0..4));
    check("one_parse_per_event", 1500, 2, case, |(mut c, edits)| {
        edit_events(&mut c.events, &edits, false);
        let bytes = to_bytes(&c.events, &c.wire);
        let (out, t) = run_translated(&c, &bytes, &c.cuts);
        let ctx = TranslateCtx {
            model: "m".into(),
            max_output_tokens: Some(1000),
            id_seed: "0123456789abcdef01234567".into(),
            now_secs: 1_700_000_000,
            include_usage: c.include_usage,
        };
        let inner = translate::stream_translator(c.source, c.target, &ctx).expect("a pair");
        let mut reference = Translated::new(c.source, Box::new(CheckedFirst(inner)))
            .with_custom_tools(custom_tools(c.custom_tools));
        let mut expected = Vec::new();
        for (a, b) in splits(bytes.len(), &c.cuts) {
            expected.append(reference.feed_events(&bytes[a..b]));
        }
        if c.fail {
            expected.append(reference.fail_events("the upstream connection failed mid-stream"));
        } else {
            expected.append(reference.finish_events());
        }
        let (mut got_bytes, mut want_bytes) = (Vec::new(), Vec::new());
        serialize(out.into_iter(), &mut got_bytes);
        serialize(expected.into_iter(), &mut want_bytes);
        ensure!(
            got_bytes == want_bytes,
            "one parse:\n{}\nvalidated first:\n{}",
            String::from_utf8_lossy(&got_bytes),
            String::from_utf8_lossy(&want_bytes)
        );
        ensure!(t.outcome() == reference.outcome(), "outcomes differ");
        Ok(())
    });
}

fn relay(c: &StreamCase) -> Relay {
    Relay::new(c.source)
        .with_custom_tools(custom_tools(c.custom_tools))
        .merging_choices(c.merge)
        .forwarding_usage(c.include_usage)
}

fn run_relay(c: &StreamCase, bytes: &[u8], cuts: &[usize]) -> (Vec<u8>, Relay) {
    let mut r = relay(c);
    let mut out = Vec::new();
    for (a, b) in splits(bytes.len(), cuts) {
        out.extend(ClientStream::feed(&mut r, &bytes[a..b]));
    }
    if c.fail {
        out.extend(ClientStream::fail(&mut r, "network"));
    } else {
        out.extend(ClientStream::finish(&mut r));
    }
    (out, r)
}

#[test]
fn fuzz_relay() {
    check("relay", 700, 2, stream_case(None), |c| {
        let bytes = to_bytes(&c.events, &c.wire);
        let (out, r) = run_relay(&c, &bytes, &c.cuts);
        bounded(out.len(), bytes.len())?;
        let success = check_client_bytes(c.source, &out, true)?;
        ensure!(
            r.outcome().failed != success,
            "relay failed = {} but success = {success}",
            r.outcome().failed
        );
        let (whole, _) = run_relay(&c, &bytes, &[]);
        ensure!(whole == out, "relay output depends on chunking");
        Ok(())
    });
}

/// `plausible` mostly, any JSON sometimes: wrong types where the assembler reads fields.
fn hole(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![4 => plausible, 1 => json()].boxed()
}

/// Client events of `api` as a translator would shape them, with holes of any JSON.
fn client_event(api: Api) -> BoxedStrategy<OutEvent> {
    let index = || prop_oneof![3 => (0u64..3).prop_map(Value::from), 1 => json()].boxed();
    let s = |v: Vec<&'static str>| select(v).prop_map(Value::from).boxed();
    match api {
        Api::Messages => prop_oneof![
            hole(Just(json!({"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 1}})).boxed())
                .prop_map(|m| OutEvent::named("message_start", json!({"type": "message_start", "message": m}))),
            (index(), hole(json_object())).prop_map(|(i, b)| OutEvent::named("content_block_start",
                json!({"type": "content_block_start", "index": i, "content_block": b}))),
            (index(), hole((s(vec!["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]), text())
                .prop_map(|(t, x)| json!({"type": t, "text": x, "thinking": x, "signature": x, "partial_json": x})).boxed()))
                .prop_map(|(i, d)| OutEvent::named("content_block_delta",
                    json!({"type": "content_block_delta", "index": i, "delta": d}))),
            index().prop_map(|i| OutEvent::named("content_block_stop", json!({"type": "content_block_stop", "index": i}))),
            (hole(Just(json!({"stop_reason": "end_turn"})).boxed()), hole(json_object()))
                .prop_map(|(d, u)| OutEvent::named("message_delta", json!({"type": "message_delta", "delta": d, "usage": u}))),
            Just(OutEvent::named("message_stop", json!({"type": "message_stop"}))),
            json().prop_map(|e| OutEvent::named("error", json!({"type": "error", "error": e}))),
        ]
        .boxed(),
        Api::Responses => prop_oneof![
            (select(vec!["response.completed", "response.incomplete", "response.failed", "response.created"]), hole(json_object()))
                .prop_map(|(n, r)| OutEvent::named(n, json!({"type": n, "response": r}))),
            (hole(text().prop_map(Value::from).boxed()), hole(text().prop_map(Value::from).boxed()))
                .prop_map(|(m, c)| OutEvent::named("error", json!({"type": "error", "message": m, "code": c}))),
        ]
        .boxed(),
        Api::ChatCompletions => prop_oneof![
            6 => (hole(json_object()), proptest::option::of(hole(json_object())), hole(text().prop_map(Value::from).boxed()), vec(
                (index(), proptest::option::of(id()), proptest::option::of(text()), text())
                    .prop_map(|(i, id, name, args)| json!({"index": i, "id": id, "function": {"name": name, "arguments": args}})), 0..3))
                .prop_map(|(delta, usage, finish, calls)| {
                    let mut d = delta;
                    if !calls.is_empty() && d.is_object() {
                        d["tool_calls"] = Value::Array(calls);
                    }
                    let mut c = json!({"id": "c", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]});
                    if let Some(u) = usage {
                        c["usage"] = u;
                    }
                    OutEvent::data(c)
                }),
            1 => json().prop_map(|e| OutEvent::data(json!({"error": e}))),
            1 => Just(OutEvent::Done),
        ]
        .boxed(),
    }
}

/// Client events into the assembler: translator-shaped ones with holes, and arbitrary ones.
#[test]
fn fuzz_assembler() {
    let name = prop_oneof![
        6 => select(STRINGS).prop_map(Some),
        1 => Just(None),
    ];
    let any_event = prop_oneof![
        8 => (name.clone(), json_object()).prop_map(|(name, mut v)| {
            if let (Some(n), Some(o)) = (name, v.as_object_mut()) {
                o.insert("type".into(), json!(n));
            }
            OutEvent::Event { name, data: v }
        }),
        2 => (name, json()).prop_map(|(name, data)| OutEvent::Event { name, data }),
        1 => Just(OutEvent::Done),
    ]
    .boxed();
    let case = Union::new(Api::all().map(|api| {
        (
            Just(api),
            vec(
                prop_oneof![4 => client_event(api), 1 => any_event.clone()],
                0..16,
            ),
        )
            .boxed()
    }));
    check("assembler", 800, 1, case, |(api, events)| {
        let mut a = Assembler::new(api);
        for e in &events {
            a.push(e);
        }
        let _ = a.finish();
        Ok(())
    });
}

/// The gateway's Messages stream (any script, wire shape and cuts) → Gemini chunks: the same
/// bytes however the input is cut, every chunk JSON (an SSE `data:` line or an element of
/// one JSON array), and exactly one terminal chunk, last: a `finishReason` or an error.
#[test]
fn fuzz_gemini_streams() {
    use crate::translate::gemini_to_messages::{Framing, GeminiStream, Reply};
    let strategy = (
        upstream(Api::Messages),
        wire_shape(),
        vec(any::<usize>(), 0..6),
        any::<bool>(),
        any::<bool>(),
    );
    check(
        "gemini_streams",
        500,
        1,
        strategy,
        |(evs, wire, cuts, sse, thoughts)| {
            let bytes = to_bytes(&evs, &wire);
            let framing = if sse {
                Framing::Sse
            } else {
                Framing::JsonArray
            };
            let reply = Reply {
                include_thoughts: thoughts,
            };
            let mut whole = GeminiStream::new(framing, reply);
            let mut expected = whole.feed(&bytes);
            expected.extend(whole.finish());
            let mut cut = GeminiStream::new(framing, reply);
            let mut got = Vec::new();
            for (a, b) in splits(bytes.len(), &cuts) {
                got.extend(cut.feed(&bytes[a..b]));
            }
            got.extend(cut.finish());
            ensure!(
                got == expected,
                "the output depends on where the input was cut"
            );
            bounded(got.len(), bytes.len())?;
            let text = String::from_utf8(got);
            ensure!(text.is_ok(), "not UTF-8");
            let text = text.unwrap();
            let chunks: Vec<Value> = match framing {
                Framing::Sse => {
                    let mut chunks = Vec::new();
                    for e in text.split("\r\n\r\n").map(str::trim) {
                        if e.is_empty() {
                            continue;
                        }
                        let data = e.strip_prefix("data: ");
                        ensure!(data.is_some(), "not a data event: {e:?}");
                        let v = serde_json::from_str(data.unwrap());
                        ensure!(v.is_ok(), "not JSON: {e:?}");
                        chunks.push(v.unwrap());
                    }
                    chunks
                }
                Framing::JsonArray => match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(a)) => a,
                    other => {
                        ensure!(false, "not one JSON array: {other:?} {text:?}");
                        unreachable!()
                    }
                },
            };
            let terminal = |c: &Value| {
                c.get("error").is_some() || c["candidates"][0].get("finishReason").is_some()
            };
            ensure!(
                chunks.last().is_some_and(terminal),
                "no terminal chunk last"
            );
            let n = chunks.iter().filter(|c| terminal(c)).count();
            ensure!(n == 1, "{n} terminal chunks");
            Ok(())
        },
    );
}

/// Collects the relay's events as the web-search loop takes them: named as the client's
/// API names them (a name read from an unnamed event's `type` may hold a line break, which
/// splits the `event:` line on the wire; no such name is known, so either way it is none).
struct Collected(Api, Vec<(Option<&'static str>, String)>);

impl crate::relay::EventSink for Collected {
    fn event(&mut self, name: Option<&str>, data: &str) {
        let name = name.and_then(|n| crate::search::event_name(self.0, n));
        self.1.push((name, data.to_string()));
    }
}

#[test]
fn fuzz_relay_reads_in_place_as_the_parser_does() {
    // Whole plain events are read straight from the chunk; fed one byte at a time no
    // event is ever whole in a chunk, so every byte goes through the parser (the relay
    // as it was). Same bytes, usage and outcome; the events handed to the web-search loop
    // are the client's bytes parsed back; a delta the exact reader reads is valid JSON.
    let case = (stream_case(None), vec(edge_json(), 0..4));
    check("relay_in_place", 700, 2, case, |(mut c, edits)| {
        edit_events(&mut c.events, &edits, true);
        let bytes = to_bytes(&c.events, &c.wire);
        let (fast, r) = run_relay(&c, &bytes, &c.cuts);
        let every_byte: Vec<usize> = (1..bytes.len()).collect();
        let (slow, reference) = run_relay(&c, &bytes, &every_byte);
        ensure!(
            fast == slow,
            "in place:\n{}\nparsed:\n{}",
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
        ensure!(r.outcome() == reference.outcome(), "outcomes differ");

        let mut sink = Collected(c.source, Vec::new());
        let mut events = relay(&c);
        for (a, b) in splits(bytes.len(), &c.cuts) {
            events.feed_into(&bytes[a..b], &mut sink);
        }
        match c.fail {
            true => events.fail_into("network", &mut sink),
            false => events.finish_into(&mut sink),
        }
        let mut parsed = Vec::new();
        let mut p = SseParser::new();
        p.feed(&fast, &mut parsed);
        p.finish(&mut parsed);
        let parsed: Vec<_> = parsed
            .into_iter()
            .map(|e| {
                let name = e
                    .event
                    .and_then(|n| crate::search::event_name(c.source, &n));
                (name, e.data)
            })
            .collect();
        ensure!(sink.1 == parsed, "events differ from the bytes parsed back");

        let mut upstream = Vec::new();
        let mut p = SseParser::new();
        p.feed(&bytes, &mut upstream);
        p.finish(&mut upstream);
        for ev in &upstream {
            if crate::relay::DeltaPeek::fast(&ev.data).is_some() {
                ensure!(
                    crate::relay::is_json(&ev.data),
                    "peeked but not JSON: {ev:?}"
                );
            }
        }
        Ok(())
    });
}
