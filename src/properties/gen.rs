//! Generators: JSON biased toward the three APIs' fields and values, and mutations of
//! realistic values (drop, duplicate, reorder, retype, corrupt).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

pub const KEYS: &[&str] = &[
    "type",
    "role",
    "content",
    "text",
    "id",
    "call_id",
    "tool_use_id",
    "tool_call_id",
    "name",
    "input",
    "arguments",
    "signature",
    "encrypted_content",
    "summary",
    "choices",
    "delta",
    "usage",
    "output_index",
    "index",
    "item",
    "item_id",
    "content_index",
    "summary_index",
    "sequence_number",
    "part",
    "output",
    "response",
    "status",
    "model",
    "messages",
    "tools",
    "tool_choice",
    "tool_calls",
    "function",
    "parameters",
    "input_schema",
    "description",
    "source",
    "media_type",
    "data",
    "url",
    "image_url",
    "detail",
    "thinking",
    "budget_tokens",
    "reasoning",
    "effort",
    "max_tokens",
    "max_output_tokens",
    "max_completion_tokens",
    "stream",
    "stream_options",
    "include_usage",
    "system",
    "instructions",
    "stop",
    "stop_sequences",
    "stop_reason",
    "stop_sequence",
    "finish_reason",
    "partial_json",
    "refusal",
    "reasoning_text",
    "reasoning_opaque",
    "is_error",
    "cache_control",
    "strict",
    "format",
    "response_format",
    "json_schema",
    "schema",
    "reasoning_effort",
    "incomplete_details",
    "reason",
    "error",
    "message",
    "code",
    "param",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "input_tokens_details",
    "cached_tokens",
    "prompt_tokens_details",
    "output_tokens_details",
    "reasoning_tokens",
    "content_block",
    "file",
    "file_data",
    "filename",
    "file_id",
    "metadata",
    "user_id",
    "previous_response_id",
    "store",
    "include",
    "parallel_tool_calls",
    "disable_parallel_tool_use",
    "temperature",
    "top_p",
    "top_k",
    "service_tier",
    "prompt_cache_key",
    "annotations",
    "logprobs",
    "scope",
    "eager_input_streaming",
    "output_config",
    "context_management",
    "verbosity",
    "grammar",
    "syntax",
    "definition",
    "properties",
    "required",
    "allowed_tools",
    "mode",
    "created",
    "object",
    "x",
    "input_audio",
    "title",
    "citations",
];

pub const STRINGS: &[&str] = &[
    // roles
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "function",
    // Anthropic blocks and deltas
    "text",
    "image",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "document",
    "server_tool_use",
    "web_search_tool_result",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "signature_delta",
    "citations_delta",
    "base64",
    "url",
    "ephemeral",
    "enabled",
    "disabled",
    "adaptive",
    "auto",
    "any",
    "none",
    "required",
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "refusal",
    "pause_turn",
    "model_context_window_exceeded",
    // Responses items and parts
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "custom_tool_call",
    "custom_tool_call_output",
    "input_text",
    "output_text",
    "input_image",
    "input_file",
    "summary_text",
    "reasoning_text",
    "item_reference",
    "local_shell_call",
    "web_search",
    "web_search_preview",
    "image_generation",
    "custom",
    "grammar",
    "lark",
    "json_schema",
    "json_object",
    "completed",
    "incomplete",
    "in_progress",
    "failed",
    "low",
    "medium",
    "high",
    "minimal",
    "xhigh",
    "max",
    "concise",
    "detailed",
    // Chat
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "chat.completion.chunk",
    "image_url",
    // events
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.refusal.delta",
    "response.refusal.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
    // values with meaning somewhere
    "data:image/png;base64,AAAA",
    "data:application/pdf;base64,JVBERi0=",
    "data:x",
    "https://x/y.png",
    "image/png",
    "image/jpeg",
    "image/webp",
    "application/pdf",
    "text/plain",
    "gAAAAABsig",
    "EqQBCkgsig",
    "Thinking...",
    "(no content)",
    "{\"a\":1}",
    "{\"input\":\"patch\"}",
    "{",
    "[1]",
    "",
    " ",
    "\n",
    "[DONE]",
    "apply_patch",
    "exec_command",
    "f",
    "call_1",
    "toolu_1",
    "fc_1",
    "rs_1",
    "msg_1",
    "cnNfYWRkZWRfMDEyMzQ1Njc4OQ==",
    "claude-sonnet-4.5",
    "gpt-5.1-codex",
    "x-anthropic-billing-header: cc_version=2.1; cch=abcdef12;",
    "cch=0123456789;",
    "interleaved-thinking-2025-05-14",
    "overloaded_error",
    "rate_limit_error",
    "invalid_request_error",
    "max_output_tokens",
];

pub fn vocab_key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => select(KEYS).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ]
}

/// Text as models and clients write it: words, unicode, whitespace runs, JSON pieces.
pub fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 .,]{0,12}",
        2 => "\\PC{0,10}",
        1 => "[\n\t\r ]{0,30}",
        1 => "[{}\\[\\]\":,a-z0-9 \\\\]{0,16}",
        2 => select(STRINGS).prop_map(str::to_string),
    ]
    .boxed()
}

pub fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (0u64..5).prop_map(Value::from),
        2 => (0u64..200_000).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
    ]
    .boxed()
}

pub fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        5 => text().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, keys and strings drawn mostly from the APIs' vocabulary.
pub fn json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(Value::Array),
                vec((vocab_key(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A JSON object whose `type` (when present) is a vocabulary value.
pub fn json_object() -> BoxedStrategy<Value> {
    (
        proptest::option::weighted(0.8, select(STRINGS)),
        vec((vocab_key(), json()), 0..6),
    )
        .prop_map(|(ty, kv)| {
            let mut m: Map<String, Value> = kv.into_iter().collect();
            if let Some(t) = ty {
                m.insert("type".into(), Value::from(t));
            }
            Value::Object(m)
        })
        .boxed()
}

#[derive(Debug, Clone)]
pub enum Mutation {
    Remove,
    Replace(Value),
    Null,
    Duplicate,
    Swap(usize),
    Insert(String, Value),
    Wrap,
    Stringify,
    Truncate(usize),
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => Just(Mutation::Remove),
        4 => json().prop_map(Mutation::Replace),
        1 => Just(Mutation::Null),
        2 => Just(Mutation::Duplicate),
        2 => any::<usize>().prop_map(Mutation::Swap),
        3 => (vocab_key(), json()).prop_map(|(k, v)| Mutation::Insert(k, v)),
        1 => Just(Mutation::Wrap),
        1 => Just(Mutation::Stringify),
        1 => (0usize..8).prop_map(Mutation::Truncate),
    ]
    .boxed()
}

/// Up to `max` mutations, each at a node picked by a random selector.
pub fn mutations(max: usize) -> BoxedStrategy<Vec<(usize, Mutation)>> {
    vec((any::<usize>(), mutation()), 0..=max).boxed()
}

#[derive(Clone)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(prefix.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prefix.push(Seg::Idx(i));
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                prefix.push(Seg::Key(k.clone()));
                paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Idx(i) => v.get_mut(*i),
    })
}

/// Applies mutations in order; each picks its node among the value's current nodes.
pub fn mutate(v: &mut Value, muts: &[(usize, Mutation)]) {
    for (sel, m) in muts {
        let mut all = Vec::new();
        paths(v, &mut Vec::new(), &mut all);
        let path = &all[sel % all.len()];
        let (last, parent_path) = match path.split_last() {
            Some((l, p)) => (Some(l.clone()), p),
            None => (None, &path[..]),
        };
        match m {
            Mutation::Remove | Mutation::Duplicate | Mutation::Swap(_) if last.is_some() => {
                let Some(parent) = at(v, parent_path) else {
                    continue;
                };
                match (parent, last.unwrap()) {
                    (Value::Object(o), Seg::Key(k)) => match m {
                        Mutation::Remove => {
                            o.shift_remove(&k);
                        }
                        Mutation::Swap(j) => {
                            // Reorder keys: move this one to position j.
                            if let Some(val) = o.shift_remove(&k) {
                                let j = j % (o.len() + 1);
                                o.shift_insert(j, k, val);
                            }
                        }
                        _ => {
                            if let Some(val) = o.get(&k).cloned() {
                                o.insert(format!("{k}_"), val);
                            }
                        }
                    },
                    (Value::Array(a), Seg::Idx(i)) => match m {
                        Mutation::Remove => {
                            a.remove(i);
                        }
                        Mutation::Swap(j) => {
                            let j = j % a.len();
                            a.swap(i, j);
                        }
                        _ => {
                            let x = a[i].clone();
                            a.insert(i, x);
                        }
                    },
                    _ => {}
                }
            }
            _ => {
                let Some(node) = at(v, path) else { continue };
                match m {
                    Mutation::Replace(x) => *node = x.clone(),
                    Mutation::Null | Mutation::Remove => *node = Value::Null,
                    Mutation::Insert(k, x) => match node {
                        Value::Object(o) => {
                            o.insert(k.clone(), x.clone());
                        }
                        Value::Array(a) => a.push(x.clone()),
                        _ => *node = x.clone(),
                    },
                    Mutation::Wrap => *node = Value::Array(vec![node.take()]),
                    Mutation::Stringify => *node = Value::String(node.to_string()),
                    Mutation::Truncate(n) => match node {
                        Value::String(s) => *s = s.chars().take(*n).collect(),
                        Value::Array(a) => a.truncate(*n),
                        _ => {}
                    },
                    Mutation::Duplicate | Mutation::Swap(_) => {
                        *node = Value::Array(vec![node.clone(), node.clone()])
                    }
                }
            }
        }
    }
}

/// Shortens every long string (fixtures carry 100 KB prompts; cases should stay cheap).
pub fn trim_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.len() > max => *s = s.chars().take(max).collect(),
        Value::Array(a) => a.iter_mut().for_each(|x| trim_strings(x, max)),
        Value::Object(o) => o.values_mut().for_each(|x| trim_strings(x, max)),
        _ => {}
    }
}

/// A fixture's request body, strings trimmed.
pub fn fixture_body(raw: &str) -> Value {
    let v: Value = serde_json::from_str(raw).expect("fixture is JSON");
    let mut body = v.get("body").cloned().unwrap_or(v);
    trim_strings(&mut body, 300);
    body
}

/// `(i, pool)`: pick from a pool by an index strategy.
pub fn pick(pool: &'static [Value]) -> impl Strategy<Value = Value> {
    (0..pool.len()).prop_map(move |i| pool[i].clone())
}

/// A value from `pool` (mostly), a mutated one, or one generated from scratch.
pub fn pooled(pool: &'static [Value], scratch: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        16 => pick(pool),
        3 => (pick(pool), mutations(2)).prop_map(|(mut v, m)| {
            mutate(&mut v, &m);
            v
        }),
        1 => scratch,
    ]
    .boxed()
}

/// Mostly none: a body with every field intact reaches furthest into a translator.
pub fn some_mutations(max: usize) -> BoxedStrategy<Vec<(usize, Mutation)>> {
    prop_oneof![1 => Just(Vec::new()), 1 => mutations(max)].boxed()
}
