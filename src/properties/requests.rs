//! Request side: a client body → `inbound::parse` → (Responses) normalisation and custom
//! tools → each translator or the native path → the target's quirks → JSON. Also the
//! other pure readers of client or upstream JSON: catalog, import, headers.

use std::sync::LazyLock;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

use super::gen::{self, fixture_body, json, json_object, mutate, mutations, pick, pooled, text};
use super::{check, ensure};
use crate::content_encoding::Coding;
use crate::custom_tools::CustomTools;
use crate::models::{Catalog, ModelInfo};
use crate::protocol::error::ApiFormat;
use crate::protocol::Api;
use crate::translate::{self, TranslateCtx};
use crate::{accounting, conversation, inbound, portability, quirks, token_estimate};

static MESSAGES_FIXTURES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../tests/fixtures/claude-code.messages.request.json"),
        include_str!("../../tests/fixtures/claude-code.messages.tool_result.request.json"),
        include_str!("../../tests/fixtures/anthropic-sdk.messages.request.json"),
    ]
    .map(fixture_body)
    .to_vec()
});

static RESPONSES_FIXTURES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../tests/fixtures/codex.responses.request.json"),
        include_str!("../../tests/fixtures/codex.responses.tool_output.request.json"),
        include_str!("../../tests/fixtures/openai-sdk.responses.request.json"),
    ]
    .map(fixture_body)
    .to_vec()
});

static CHAT_FIXTURES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![fixture_body(include_str!(
        "../../tests/fixtures/openai-sdk.chat.request.json"
    ))]
});

/// Elements of `key` (an array) across fixtures, plus hand-written ones.
fn pool_from(fixtures: &[Value], key: &str, extra: Value) -> Vec<Value> {
    let mut pool: Vec<Value> = fixtures
        .iter()
        .filter_map(|f| f.get(key).and_then(Value::as_array))
        .flatten()
        .take(40)
        .cloned()
        .collect();
    pool.extend(extra.as_array().cloned().unwrap_or_default());
    pool
}

const IMG: &str = "iVBORw0KGgo=";
const SIG: &str = "EqQBCkgIARABGAIiQLsig";
const ENC: &str = "gAAAAABoEncryptedReasoning";

static MESSAGES_TURNS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &MESSAGES_FIXTURES,
        "messages",
        json!([
            {"role": "user", "content": "hi"},
            {"role": "user", "content": []},
            {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral", "scope": "global"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMG}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            {"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}, "title": "t"},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
                {"type": "search_result", "source": "https://x", "title": "t", "content": [{"type": "text", "text": "r"}]}]},
            // Apart: a URL document is refused where the target cannot carry it (Chat).
            {"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "https://x/d.pdf"}}]},
            {"role": "assistant", "content": "sure"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": SIG},
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "apply_patch", "input": {"input": "*** Begin Patch"}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "Thinking...", "signature": ENC},
                {"type": "redacted_thinking", "data": "cmVkYWN0ZWQ="}]},
            {"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                    {"type": "web_search_result", "url": "https://x", "title": "t", "encrypted_content": "e"}]}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "tool_reference", "tool_name": "get_weather"}]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "failed"}, {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": IMG}}]},
                {"type": "text", "text": "and?"}]},
        ]),
    )
});

static MESSAGES_TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &MESSAGES_FIXTURES,
        "tools",
        json!([
            {"name": "get_weather", "description": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
             "cache_control": {"type": "ephemeral", "scope": "global"}, "eager_input_streaming": true},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "custom", "name": "apply_patch", "input_schema": {"type": "object"}},
            {"name": "noschema"},
        ]),
    )
});

static MESSAGES_PARAMS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        json!({"max_tokens": 32000}),
        json!({"max_tokens": 0}),
        json!({"system": "x-anthropic-billing-header: cc_version=2.1; cch=abcdef12;\nYou are Claude."}),
        json!({"system": [{"type": "text", "text": "x-anthropic-billing-header: cch=00000;"}, {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]}),
        json!({"thinking": {"type": "enabled", "budget_tokens": 31999}}),
        json!({"thinking": {"type": "adaptive"}}),
        json!({"thinking": {"type": "disabled"}}),
        json!({"tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
        json!({"tool_choice": {"type": "any"}}),
        json!({"tool_choice": {"type": "tool", "name": "get_weather"}}),
        json!({"tool_choice": {"type": "none"}}),
        json!({"metadata": {"user_id": "{\"session_id\":\"abc\"}"}}),
        json!({"stop_sequences": ["\n\nHuman:"], "temperature": 0.5, "top_p": 0.9, "top_k": 5}),
        json!({"stream": true}),
        json!({"output_config": {"effort": "high"}}),
        json!({"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}),
        json!({"context_management": {"edits": []}}),
        json!({"service_tier": "auto"}),
    ]
});

static CHAT_TURNS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &CHAT_FIXTURES,
        "messages",
        json!([
            {"role": "system", "content": "be brief"},
            {"role": "system", "content": [{"type": "text", "text": "s1"}, {"type": "text", "text": "s2"}]},
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": "hi"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{IMG}"), "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}]},
            // Apart: parts some targets refuse (audio everywhere, file ids on Messages).
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]},
            {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
            {"role": "assistant", "content": "hm", "reasoning_text": "thought", "reasoning_opaque": SIG},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}], "reasoning_opaque": ENC},
            {"role": "assistant", "refusal": "no"},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "r"}]},
        ]),
    )
});

static CHAT_TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &CHAT_FIXTURES,
        "tools",
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "w", "strict": true,
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "f"}},
            {"type": "custom", "custom": {"name": "apply_patch", "format": {"type": "grammar"}}},
        ]),
    )
});

static CHAT_PARAMS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        json!({"max_tokens": 100}),
        json!({"max_completion_tokens": 4000}),
        json!({"reasoning_effort": "high"}),
        json!({"reasoning_effort": "minimal"}),
        json!({"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": true}}}),
        json!({"response_format": {"type": "json_object"}}),
        json!({"tool_choice": "required"}),
        json!({"tool_choice": "none"}),
        json!({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        json!({"tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}}),
        json!({"stream": true, "stream_options": {"include_usage": true}}),
        json!({"stop": ["x", "y"], "temperature": 1.0, "top_p": 1, "n": 1, "seed": 7}),
        json!({"parallel_tool_calls": false, "user": "u", "metadata": {"a": "b"}, "prompt_cache_key": "k"}),
        json!({"logprobs": true, "frequency_penalty": 0.1, "service_tier": "auto"}),
    ]
});

static RESPONSES_ITEMS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &RESPONSES_FIXTURES,
        "input",
        json!([
            {"role": "user", "content": "hi"},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
            {"type": "message", "role": "system", "content": "sys"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": format!("data:image/png;base64,{IMG}"), "detail": "auto"},
                {"type": "input_image", "image_url": "https://x/y.png"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}]},
            // Apart: a URL file is refused where the target cannot carry it (Chat).
            {"type": "message", "role": "user", "content": [{"type": "input_file", "file_url": "https://x/d.pdf"}]},
            {"type": "message", "role": "assistant", "id": "msg_1", "content": [{"type": "output_text", "text": "ok", "annotations": []},
                {"type": "refusal", "refusal": "no"}]},
            {"type": "reasoning", "id": "rs_cnNfYWRkZWRfMDEyMzQ1Njc4OQ", "summary": [{"type": "summary_text", "text": "thinking"}], "encrypted_content": ENC},
            {"type": "reasoning", "summary": [], "encrypted_content": SIG, "content": [{"type": "reasoning_text", "text": "raw"}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "files"},
            {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "t"},
                {"type": "input_image", "image_url": format!("data:image/jpeg;base64,{IMG}")}]},
            {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "done"},
            {"type": "item_reference", "id": "msg_1"},
            {"type": "local_shell_call", "call_id": "c", "action": {"type": "exec", "command": ["ls"]}},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "function_call", "call_id": "call_3", "namespace": "mcp__probe", "name": "echo", "arguments": "{}"},
            {"type": "compaction", "id": "cmp_1", "encrypted_content": crate::compaction::encode("the summary")},
            {"type": "compaction", "encrypted_content": ENC},
            {"type": "compaction_trigger"},
            {"type": "additional_tools", "role": "developer", "tools": [{"type": "namespace", "name": "functions", "description": "", "tools": []}]},
        ]),
    )
});

static RESPONSES_TOOLS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    pool_from(
        &RESPONSES_FIXTURES,
        "tools",
        json!([
            {"type": "function", "name": "exec_command", "description": "run", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "custom", "name": "apply_patch", "description": "patch",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
            {"type": "web_search"},
            {"type": "image_generation"},
            {"type": "local_shell"},
            {"type": "function", "name": "nothing"},
            {"type": "namespace", "name": "mcp__probe", "description": "", "tools": [
                {"type": "function", "name": "echo", "parameters": {"type": "object"}},
                {"type": "custom", "name": "exec"},
                {"type": "web_search"}]},
        ]),
    )
});

static RESPONSES_PARAMS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        json!({"instructions": "be brief"}),
        json!({"max_output_tokens": 512}),
        json!({"reasoning": {"effort": "xhigh", "summary": "auto"}}),
        json!({"reasoning": {"effort": "none"}}),
        json!({"text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"}}),
        json!({"text": {"format": {"type": "json_object"}}}),
        json!({"tool_choice": "required"}),
        json!({"tool_choice": {"type": "function", "name": "exec_command"}}),
        json!({"tool_choice": {"type": "custom", "name": "apply_patch"}}),
        json!({"tool_choice": {"type": "image_generation"}}),
        json!({"include": ["reasoning.encrypted_content"], "store": false, "stream": true}),
        json!({"parallel_tool_calls": true, "prompt_cache_key": "k", "truncation": "auto"}),
        json!({"temperature": 0.2, "top_p": 0.5, "metadata": {}, "user": "u", "service_tier": "flex"}),
    ]
});

const MODELS: &[&str] = &[
    "claude-sonnet-4.5",
    "claude-opus-4-5-20251101",
    "gpt-5.1-codex",
    "gpt-5-mini",
    "gpt-4.1",
    "o3",
    "gemini-2.5-pro",
];

struct Pools {
    fixtures: &'static [Value],
    list_key: &'static str,
    turns: &'static [Value],
    tools: &'static [Value],
    params: &'static [Value],
}

fn pools(api: Api) -> Pools {
    match api {
        Api::Messages => Pools {
            fixtures: &MESSAGES_FIXTURES,
            list_key: "messages",
            turns: &MESSAGES_TURNS,
            tools: &MESSAGES_TOOLS,
            params: &MESSAGES_PARAMS,
        },
        Api::ChatCompletions => Pools {
            fixtures: &CHAT_FIXTURES,
            list_key: "messages",
            turns: &CHAT_TURNS,
            tools: &CHAT_TOOLS,
            params: &CHAT_PARAMS,
        },
        Api::Responses => Pools {
            fixtures: &RESPONSES_FIXTURES,
            list_key: "input",
            turns: &RESPONSES_ITEMS,
            tools: &RESPONSES_TOOLS,
            params: &RESPONSES_PARAMS,
        },
    }
}

/// A plausible body for `api`: pooled turns, tools and parameters (or generated ones),
/// then mutated; sometimes a whole fixture, sometimes wholly random JSON.
pub fn body(api: Api) -> BoxedStrategy<Value> {
    let p = pools(api);
    let built = (
        select(MODELS),
        vec(pooled(p.turns, json_object()), 0..7),
        proptest::option::of(vec(pooled(p.tools, json_object()), 0..4)),
        subsequence(p.params.to_vec(), 0..=4),
        vec((gen::vocab_key(), json()), 0..2),
    )
        .prop_map(move |(model, turns, tools, params, extra)| {
            let mut b = Map::new();
            b.insert("model".into(), json!(model));
            b.insert(p.list_key.into(), Value::Array(turns));
            if let Some(t) = tools {
                b.insert("tools".into(), Value::Array(t));
            }
            for param in params {
                b.extend(param.as_object().cloned().unwrap_or_default());
            }
            b.extend(extra);
            Value::Object(b)
        });
    let base = prop_oneof![
        8 => built,
        1 => pick(p.fixtures),
        1 => json_object(),
    ];
    (base, gen::some_mutations(6))
        .prop_map(|(mut v, muts)| {
            mutate(&mut v, &muts);
            v
        })
        .boxed()
}

pub fn api() -> impl Strategy<Value = Api> {
    select(Api::all().to_vec())
}

fn model_info() -> impl Strategy<Value = ModelInfo> {
    (
        select(MODELS),
        proptest::option::of(prop_oneof![Just(0u64), 1u64..70_000, Just(u64::MAX)]),
        subsequence(
            vec!["none", "minimal", "low", "medium", "high", "xhigh"],
            0..4,
        ),
    )
        .prop_map(|(id, max_output_tokens, efforts)| ModelInfo {
            id: id.into(),
            max_output_tokens,
            reasoning_effort: efforts.into_iter().map(str::to_string).collect(),
            ..Default::default()
        })
}

fn beta_header() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("interleaved-thinking-2025-05-14,context-management-2025-06-27".to_string()),
        Just("claude-code-20250219, interleaved-thinking-2025-05-14,,".to_string()),
        text(),
    ])
}

#[derive(Debug, Clone)]
struct Case {
    api: Api,
    text: String,
    ctx: TranslateCtx,
    model: ModelInfo,
    beta: Option<String>,
}

fn case() -> impl Strategy<Value = Case> {
    // One strategy per API, built once (a flat_map would rebuild it for every case).
    Union::new(Api::all().map(|api| {
        (
            prop_oneof![
                12 => body(api).prop_map(|v| v.to_string()),
                1 => text(),
            ],
            model_info(),
            beta_header(),
            any::<bool>(),
        )
            .prop_map(move |(text, model, beta, include_usage)| Case {
                api,
                text,
                ctx: TranslateCtx {
                    model: model.id.clone(),
                    max_output_tokens: model.max_output_tokens,
                    id_seed: "0123456789abcdef01234567".into(),
                    now_secs: 1_700_000_000,
                    include_usage,
                },
                model,
                beta,
            })
            .boxed()
    }))
}

fn apply_quirks(target: Api, body: &mut Map<String, Value>, c: &Case) {
    match target {
        Api::Messages => {
            quirks::messages::apply(body, c.model.max_output_tokens, c.beta.as_deref());
        }
        Api::Responses => quirks::responses::apply(body, &c.model),
        Api::ChatCompletions => quirks::chat::apply(body, &c.model),
    }
}

/// Upstream bodies may grow (blocks split, placeholders, schemas) but not blow up.
fn bounded(out: &str, input: &str) -> Result<(), TestCaseError> {
    ensure!(
        out.len() <= 8 * input.len() + 16_384,
        "upstream body of {} bytes from a {}-byte request",
        out.len(),
        input.len()
    );
    Ok(())
}

fn request_pipeline(c: Case) -> Result<(), TestCaseError> {
    let inbound = match inbound::parse(c.api, &c.text) {
        Ok(i) => i,
        Err(e) => {
            ensure!(e.status == 400, "inbound error status {}", e.status);
            return Ok(());
        }
    };
    let mut body = inbound.body;
    if c.api == Api::Responses {
        if let Err(e) = inbound::normalize_responses(&mut body) {
            ensure!(e.status == 400 && e.param.is_some(), "normalize: {e:?}");
            return Ok(());
        }
        let _ = CustomTools::from_request(&mut body);
        if crate::compaction::is_requested(&body) {
            crate::compaction::request_summary(&mut body);
        }
    }
    let _ = inbound::initiator(c.api, &body);
    let _ = inbound::has_images(c.api, &body);
    let _ = conversation::key(c.api, &body);
    if c.api == Api::Messages {
        let as_value = Value::Object(body.clone());
        let _ = token_estimate::messages_input_tokens(&as_value);
        let _ = quirks::messages::apply_for_count(&mut body.clone(), c.beta.as_deref());
    }
    for target in Api::all() {
        let mut body = body.clone();
        if c.api == Api::Responses {
            if let Err(e) = crate::compaction::expand(&mut body, target == Api::Responses) {
                ensure!(e.status == 400 && e.param.is_some(), "expand: {e:?}");
                continue;
            }
            if target != Api::Responses {
                CustomTools::default().flatten_namespaces(&mut body);
            }
        }
        let mut out = if target == c.api {
            let mut b = body.clone();
            if target == Api::Responses {
                let bound = quirks::responses::connection_bound_ids(&b);
                quirks::responses::rewrite_ids(&mut b, &|id| bound.iter().any(|x| x == id));
            }
            b
        } else {
            let f = translate::request_translator(c.api, target).expect("a pair");
            match f(body.clone(), &c.ctx) {
                Ok(b) => b,
                Err(e) => {
                    ensure!(
                        e.status == 400 && e.param.is_some(),
                        "{:?}→{:?}: error without a param or not 400: {e:?}",
                        c.api,
                        target
                    );
                    continue;
                }
            }
        };
        apply_quirks(target, &mut out, &c);
        let encoded = serde_json::to_string(&out);
        ensure!(encoded.is_ok(), "upstream body does not encode");
        bounded(&encoded.unwrap(), &c.text)?;
    }
    Ok(())
}

#[test]
fn fuzz_request_translators() {
    check("request_translators", 1000, 2, case(), request_pipeline);
}

/// The translators on bodies that skipped `inbound::parse` (any object at all).
#[test]
fn fuzz_request_translators_unchecked_bodies() {
    let strategy = Union::new(Api::all().map(|source| {
        (
            Just(source),
            api(),
            prop_oneof![3 => body(source), 1 => json_object()],
            any::<bool>(),
        )
            .boxed()
    }));
    check(
        "request_translators_unchecked_bodies",
        600,
        1,
        strategy,
        |(source, target, v, include_usage)| {
            let Some(f) = translate::request_translator(source, target) else {
                return Ok(());
            };
            let Value::Object(body) = v else {
                return Ok(());
            };
            let ctx = TranslateCtx {
                model: "claude-sonnet-4.5".into(),
                id_seed: "0123456789abcdef01234567".into(),
                include_usage,
                ..Default::default()
            };
            if let Err(e) = f(body, &ctx) {
                ensure!(e.status == 400 && e.param.is_some(), "{e:?}");
            }
            Ok(())
        },
    );
}

fn catalog_json() -> impl Strategy<Value = Value> {
    let entry = prop_oneof![
        3 => (select(MODELS), json()).prop_map(|(id, caps)| json!({
            "id": id, "name": id, "vendor": "V",
            "capabilities": {"type": "chat", "limits": {"max_output_tokens": 1000}, "supports": caps},
            "supported_endpoints": ["/v1/messages", "/responses"]})),
        1 => json_object(),
        1 => json(),
    ];
    (vec(entry, 0..6), mutations(4)).prop_map(|(data, muts)| {
        let mut v = json!({"object": "list", "data": data});
        mutate(&mut v, &muts);
        v
    })
}

fn model_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(MODELS).prop_map(str::to_string),
        2 => Just("claude-sonnet-4-5-20250929[1m]".to_string()),
        1 => "claude-[a-z0-9.\\-\\[\\]]{0,24}",
        2 => text(),
        1 => Just("a-1-2-3-4-5-6-7-8".repeat(50)),
    ]
}

#[test]
fn fuzz_catalog_parse_and_resolve() {
    check(
        "catalog_parse_and_resolve",
        500,
        1,
        (catalog_json(), text(), vec(model_name(), 1..4)),
        |(v, garbage, names)| {
            let _ = Catalog::parse(&garbage);
            let Ok(catalog) = Catalog::parse(&v.to_string()) else {
                return Ok(());
            };
            let _ = catalog.describe();
            for name in names {
                match catalog.resolve(&name) {
                    Ok(m) => {
                        let _ = m.describe();
                    }
                    Err(e) => ensure!(e.status == 404, "resolve error {e:?}"),
                }
            }
            Ok(())
        },
    );
}

fn import_body() -> impl Strategy<Value = Value> {
    let key = json!({"id": "k1", "name": "laptop", "key_hash": "a".repeat(64), "prefix": "cgw_ab",
                     "created_at": "2025-01-01T00:00:00Z", "last_used_at": null, "rpm_limit": 5, "monthly_token_limit": null});
    let mut key2 = key.clone();
    key2["id"] = json!("k2");
    key2["key_hash"] = json!("b".repeat(64));
    let account = json!({"id": 7, "login": "me", "name": null, "avatar_url": null, "account_type": "individual",
                         "token": "gho_x", "active": true, "disabled": false, "created_at": "2025-01-01T00:00:00Z"});
    let usage = json!({"key_id": "k1", "model": "m", "hour": "2025-01-01T00", "requests": 1, "errors": 0,
                       "input_tokens": 1, "output_tokens": 2, "cache_read_tokens": 0, "cache_creation_tokens": 0});
    let doc = json!({"mode": "merge", "data": {"format": "copilot-gateway-export", "version": 1,
                     "data": {"api_keys": [key.clone(), key2], "github_accounts": [account], "usage": [usage], "settings": {}}}});
    (
        prop_oneof![4 => Just(doc), 1 => json_object()],
        mutations(6),
    )
        .prop_map(|(mut v, muts)| {
            mutate(&mut v, &muts);
            v
        })
}

#[test]
fn fuzz_import_validation() {
    check("import_validation", 500, 1, import_body(), |v| {
        if let Err(e) = portability::parse_import(&v) {
            ensure!(e.status == 400 && e.param.is_some(), "{e:?}");
        }
        Ok(())
    });
}

#[test]
fn fuzz_custom_tools() {
    let strategy = (body(Api::Responses), vec(json_object(), 0..6), json());
    check("custom_tools", 500, 1, strategy, |(v, events, response)| {
        let Value::Object(mut b) = v else {
            return Ok(());
        };
        let mut tools = CustomTools::from_request(&mut b);
        tools.flatten_namespaces(&mut b);
        let mut compactor = crate::compaction::Compactor::new("0123");
        for e in events.iter() {
            let name = e.get("type").and_then(Value::as_str).unwrap_or("");
            for (_, out) in compactor.rewrite_event(name, e.clone()) {
                ensure!(
                    out.get("sequence_number").is_some() || !out.is_object(),
                    "{out}"
                );
            }
        }
        let _ = compactor.rewrite_answer(response.clone());
        for mut e in events {
            let name = e
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let _ = tools.rewrite_event(&name, &mut e);
        }
        let mut r = response;
        tools.rewrite_response(&mut r);
        Ok(())
    });
}

/// Compressed request bodies: valid zstd and gzip frames of a generated body, damaged
/// (bytes changed, cut short, junk after) — decoded, or refused with a 400 or 413, never
/// a panic; undamaged ones give the body back.
#[test]
fn fuzz_compressed_bodies() {
    let strategy = (
        body(Api::Responses),
        any::<bool>(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        vec(any::<u8>(), 0..3),
    );
    check(
        "compressed_bodies",
        300,
        1,
        strategy,
        |(v, zstd, flips, cut, junk)| {
            use std::io::Write;
            let plain = serde_json::to_vec(&v).unwrap_or_default();
            let (coding, mut data) = if zstd {
                let z = ruzstd::encoding::compress_to_vec(
                    &plain[..],
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                (Coding::Zstd, z)
            } else {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                let _ = e.write_all(&plain);
                (Coding::Gzip, e.finish().unwrap_or_default())
            };
            let damaged = !flips.is_empty() || cut.is_some() || !junk.is_empty();
            for (at, byte) in flips {
                let i = at.index(data.len());
                data[i] ^= byte | 1;
            }
            if let Some(at) = cut {
                data.truncate(at.index(data.len()));
            }
            data.extend(junk);
            let limit = plain.len().max(64);
            match crate::content_encoding::decode(data, &[coding], limit) {
                Ok(out) => ensure!(damaged || out == plain, "{coding:?} changed the body"),
                Err(e) => ensure!(
                    damaged && matches!(e.status, 400 | 413),
                    "{coding:?}: {e:?}"
                ),
            }
            Ok(())
        },
    );
}

/// Upstream answers and error bodies the gateway reads: merge of split choices, usage,
/// error messages.
#[test]
fn fuzz_upstream_json_readers() {
    let completion = (
        vec(
            prop_oneof![
                2 => select(vec![
                    json!({"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"}),
                    json!({"index": 1, "message": {"role": "assistant", "content": null,
                           "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                           "finish_reason": "tool_calls"}),
                ]),
                1 => json_object(),
                1 => json(),
            ],
            0..4,
        ),
        mutations(4),
    )
        .prop_map(|(choices, muts)| {
            let mut v = json!({"id": "c", "object": "chat.completion", "choices": choices,
                               "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
            mutate(&mut v, &muts);
            v
        });
    check(
        "upstream_json_readers",
        500,
        1,
        (completion, text(), 100u16..600),
        |(mut v, garbage, status)| {
            let raw = v.to_string();
            quirks::chat::merge_choices(&mut v);
            for body in [raw.as_str(), garbage.as_str()] {
                for api in [
                    None,
                    Some(Api::Messages),
                    Some(Api::Responses),
                    Some(Api::ChatCompletions),
                ] {
                    let _ = accounting::usage_from_json(api, body);
                }
                for format in [ApiFormat::Anthropic, ApiFormat::OpenAi, ApiFormat::Control] {
                    let e = crate::upstream::copilot::from_upstream(format, status, body);
                    let _ = e.render(format);
                }
            }
            let _ = crate::quirks::messages::filter_anthropic_beta(Some(&garbage));
            Ok(())
        },
    );
}

/// The other readers of what a client sends: credentials, cookies, origins, usage
/// queries, body headers and bytes, routes.
#[test]
fn fuzz_client_edges() {
    let value = || {
        prop_oneof![
            2 => text(),
            1 => select(vec!["2026-11-26T04", "2026-02-31T23", "2026-11-26T24", "9999-99-99T99", "key", "model", "hour"])
                .prop_map(str::to_string),
            1 => "[0-9T:-]{0,14}",
        ]
    };
    let pairs = vec(
        (
            select(vec!["start", "end", "key_id", "group_by", "x"]).prop_map(str::to_string),
            value(),
        ),
        0..5,
    );
    let strategy = (
        pairs,
        (proptest::option::of(text()), proptest::option::of(text())),
        (text(), text()),
        vec(any::<u8>(), 0..16),
        json(),
    );
    check(
        "client_edges",
        500,
        1,
        strategy,
        |(pairs, (a, b), (c, d), bytes, v)| {
            let _ = crate::accounting::UsageQuery::parse(&pairs);
            let _ = crate::auth::extract_credential(a.as_deref(), b.as_deref());
            let _ = crate::admin_session::from_cookie_header(a.as_deref());
            let _ = crate::admin_session::same_origin(a.as_deref(), &c);
            let _ = inbound::check_body_headers(a.as_deref(), b.as_deref(), c.get(..8));
            // Arbitrary bytes as compressed bodies: refused, never a panic.
            let _ = inbound::body_text(bytes.clone(), &[Coding::Zstd]);
            let _ = inbound::body_text(bytes.clone(), &[Coding::Gzip]);
            let _ = inbound::body_text(bytes, &[]);
            let _ = crate::route::match_route(&c, &d);
            let _ = crate::route::format_for_path(&d);
            let _ = crate::quota::normalize(&v);
            Ok(())
        },
    );
}

static GEMINI_FIXTURES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    [
        include_str!("../../tests/fixtures/gemini-cli.gemini.request.json"),
        include_str!("../../tests/fixtures/gemini-cli.gemini.function_response.request.json"),
        include_str!("../../tests/fixtures/genai-sdk.gemini.request.json"),
    ]
    .map(fixture_body)
    .to_vec()
});

/// Gemini bodies (recorded ones mutated, or any object) through the Gemini translator: a
/// 400 naming the field, or a Messages body that `inbound::parse` takes and every Messages
/// translator turns into an upstream body or a 400.
#[test]
fn fuzz_gemini_requests() {
    use crate::translate::gemini_to_messages;
    let strategy = (
        prop_oneof![3 => pick(&GEMINI_FIXTURES), 1 => json_object()],
        mutations(6),
        any::<bool>(),
    );
    check(
        "gemini_requests",
        400,
        1,
        strategy,
        |(mut v, muts, stream)| {
            mutate(&mut v, &muts);
            let Value::Object(body) = v else {
                return Ok(());
            };
            let (out, _) = match gemini_to_messages::request(body, "claude-sonnet-5", stream) {
                Ok(out) => out,
                Err(e) => {
                    ensure!(e.status == 400 && e.param.is_some(), "{e:?}");
                    return Ok(());
                }
            };
            let text = serde_json::to_string(&out).unwrap_or_default();
            let parsed = inbound::parse(Api::Messages, &text);
            ensure!(
                parsed.is_ok(),
                "the Messages front door refused {text}: {parsed:?}"
            );
            let ctx = TranslateCtx {
                model: "gpt-5.1-codex".into(),
                id_seed: "0123456789abcdef01234567".into(),
                ..Default::default()
            };
            for target in [Api::Responses, Api::ChatCompletions] {
                if let Some(f) = translate::request_translator(Api::Messages, target) {
                    if let Err(e) = f(out.clone(), &ctx) {
                        ensure!(e.status == 400, "{e:?}");
                    }
                }
            }
            Ok(())
        },
    );
}
