//! Translator cost without the network, natively (`cargo bench --bench translate`) and in
//! wasm (the same program built for wasm32-wasip1 and run by node's WASI under V8, the
//! engine workerd uses). `npm run bench` writes the inputs and runs both.
//!
//! Usage: translate <inputs dir> [--quick]
//!   <dir>/catalog.json                     the model catalog the mock serves
//!   <dir>/requests/<source>-<size>.json    client bodies with `"model":"__MODEL__"`
//!   <dir>/streams/<api>.sse                upstream SSE streams (20,000 deltas)
//!
//! Prints one JSON document: request preparation (parse, checks, translation or native
//! fixes, Copilot quirks, encoding: what `data_plane::generate` does before the upstream
//! call) in µs per request, and stream handling (the `ClientStream` the Worker feeds, one
//! upstream event per chunk as Copilot sends them) in ns per upstream event and MB/s.
//! No criterion: a plain timing loop (median of repeated runs) compiles to wasm32-wasip1
//! unchanged and keeps the dependency tree as it is.

use std::time::{Duration, Instant};

use copilot_gateway::assemble::Assembler;
use copilot_gateway::client_stream::{ClientStream, Translated};
use copilot_gateway::custom_tools::CustomTools;
use copilot_gateway::models::Catalog;
use copilot_gateway::protocol::Api;
use copilot_gateway::relay::Relay;
use copilot_gateway::translate::{self, gemini_to_messages, TranslateCtx};
use copilot_gateway::{inbound, quirks};
use serde_json::{json, Value};

const APIS: [(Api, &str); 3] = [
    (Api::Messages, "messages"),
    (Api::Responses, "responses"),
    (Api::ChatCompletions, "chat"),
];
const SIZES: [&str; 4] = ["small", "agent", "500k", "1m"];

fn model_for(target: Api) -> &'static str {
    match target {
        Api::Messages => "claude-bench-4.5",
        Api::Responses => "gpt-bench-codex",
        Api::ChatCompletions => "gemini-bench-pro",
    }
}

fn ctx(model: &str) -> TranslateCtx {
    TranslateCtx {
        model: model.to_string(),
        max_output_tokens: Some(64000),
        id_seed: "0123456789abcdef01234567".into(),
        now_secs: 1_790_000_000,
        include_usage: true,
    }
}

/// What the Worker does with a request body before it calls Copilot.
fn prepare(api: Api, target: Api, text: &str, catalog: &Catalog) -> usize {
    let mut inbound = inbound::parse(api, text).expect("valid client body");
    if api == Api::Responses {
        inbound::normalize_responses(&mut inbound.body).expect("normalizable");
        let _tools = CustomTools::from_request(&mut inbound.body);
    }
    let model = catalog
        .resolve(&inbound.model)
        .expect("known model")
        .clone();
    let _initiator = inbound::initiator(api, &inbound.body);
    let _vision = inbound::has_images(api, &inbound.body);
    let tctx = ctx(&model.id);
    let mut body = inbound.body;
    if target == api {
        body.insert("model".into(), Value::String(model.id.clone()));
        if api == Api::ChatCompletions {
            body.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    } else {
        let translate_request = translate::request_translator(api, target).expect("pair");
        body = translate_request(body, &tctx).expect("translatable");
    }
    match target {
        Api::Messages => {
            quirks::messages::apply(&mut body, model.max_output_tokens, None);
        }
        Api::Responses => quirks::responses::apply(&mut body, &model),
        Api::ChatCompletions => quirks::chat::apply(&mut body, &model),
    }
    if target == Api::Responses && api == Api::Responses {
        let _bound = quirks::responses::connection_bound_ids(&body);
    }
    copilot_gateway::json_write::object_to_string(&body, text.len()).len()
}

/// The Gemini front door before the Messages one: the body read and translated to a
/// Messages request (then `prepare` does what the Messages front door does).
fn gemini_prepare(target: Api, text: &str, catalog: &Catalog) -> usize {
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) else {
        panic!("a Gemini body");
    };
    let (messages, _) =
        gemini_to_messages::request(body, model_for(target), true).expect("translatable");
    let text = copilot_gateway::json_write::object_to_string(&messages, text.len());
    prepare(Api::Messages, target, &text, catalog)
}

fn pipeline(api: Api, target: Api) -> Box<dyn ClientStream> {
    if api == target {
        Box::new(Relay::new(api).forwarding_usage(true))
    } else {
        let t = translate::stream_translator(api, target, &ctx(model_for(target))).expect("pair");
        Box::new(Translated::new(api, t))
    }
}

/// Copilot flushes event by event: one chunk per SSE frame.
fn frames(sse: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..sse.len() {
        if sse[i] == b'\n' && sse[i - 1] == b'\n' {
            out.push(&sse[start..=i]);
            start = i + 1;
        }
    }
    if start < sse.len() {
        out.push(&sse[start..]);
    }
    out
}

/// Runs `f` repeatedly for about `budget`; the median and the fastest run.
fn time<F: FnMut() -> usize>(budget: Duration, min_runs: usize, mut f: F) -> (f64, f64, usize) {
    let _ = f(); // warm-up
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < min_runs || (start.elapsed() < budget && runs.len() < 10_000) {
        let t = Instant::now();
        std::hint::black_box(f());
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (runs[runs.len() / 2], runs[0], runs.len())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--only"))
        .map(|(_, a)| a)
        .cloned()
        .unwrap_or_else(|| "target/bench/inputs".into());
    let quick = args.iter().any(|a| a == "--quick");
    // `--only <text>`: only the cases whose name (`request messages-chat-agent`,
    // `stream messages-chat`) contains it; for profiling one case.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wanted = |name: String| only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let budget = Duration::from_millis(if quick { 150 } else { 600 });
    let read =
        |p: &str| std::fs::read(format!("{dir}/{p}")).unwrap_or_else(|e| panic!("{dir}/{p}: {e}"));
    let catalog =
        Catalog::parse(&String::from_utf8(read("catalog.json")).unwrap()).expect("catalog");

    let mut requests = Vec::new();
    for (api, aname) in APIS {
        for size in SIZES {
            let raw = String::from_utf8(read(&format!("requests/{aname}-{size}.json"))).unwrap();
            for (target, tname) in APIS {
                if !wanted(format!("request {aname}-{tname}-{size}")) {
                    continue;
                }
                let text = raw.replacen("__MODEL__", model_for(target), 1);
                let out = prepare(api, target, &text, &catalog);
                let (median, min, runs) = time(budget, 5, || prepare(api, target, &text, &catalog));
                requests.push(json!({
                    "source": aname, "target": tname, "size": size,
                    "bytes": text.len(), "upstream_bytes": out,
                    "us": median * 1e6, "us_min": min * 1e6, "runs": runs,
                    "mb_per_s": text.len() as f64 / median / 1e6,
                }));
            }
        }
    }

    // Gemini CLI's recorded first turn (16 tools), through the Gemini front door.
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/gemini-cli.gemini.request.json")).unwrap();
    let text = fixture["body"].to_string();
    for (target, tname) in APIS {
        if !wanted(format!("request gemini-{tname}-agent")) {
            continue;
        }
        let out = gemini_prepare(target, &text, &catalog);
        let (median, min, runs) = time(budget, 5, || gemini_prepare(target, &text, &catalog));
        requests.push(json!({
            "source": "gemini", "target": tname, "size": "agent",
            "bytes": text.len(), "upstream_bytes": out,
            "us": median * 1e6, "us_min": min * 1e6, "runs": runs,
            "mb_per_s": text.len() as f64 / median / 1e6,
        }));
    }

    let mut streams = Vec::new();
    for (target, tname) in APIS {
        let sse = read(&format!("streams/{tname}.sse"));
        let chunks = frames(&sse);
        if wanted(format!("stream gemini-{tname}")) {
            // The Messages client stream, then the Gemini chunks made of it.
            let mut client_bytes = 0;
            let (median, min, runs) = time(budget, 3, || {
                let mut p = pipeline(Api::Messages, target);
                let reply = gemini_to_messages::Reply {
                    include_thoughts: true,
                };
                let mut g =
                    gemini_to_messages::GeminiStream::new(gemini_to_messages::Framing::Sse, reply);
                let mut n = 0;
                for c in &chunks {
                    n += g.feed(&p.feed(c)).len();
                }
                n += g.feed(&p.finish()).len() + g.finish().len();
                client_bytes = n;
                n
            });
            let events = chunks.len() as f64;
            streams.push(json!({
                "source": "gemini", "target": tname, "mode": "stream",
                "events": chunks.len(), "upstream_bytes": sse.len(), "client_bytes": client_bytes,
                "ns_per_event": median * 1e9 / events, "ns_per_event_min": min * 1e9 / events,
                "mb_per_s": sse.len() as f64 / median / 1e6, "events_per_s": events / median,
                "runs": runs,
            }));
        }
        for (api, aname) in APIS {
            if !wanted(format!("stream {aname}-{tname}")) {
                continue;
            }
            let mut client_bytes = 0;
            let (median, min, runs) = time(budget, 3, || {
                let mut p = pipeline(api, target);
                let mut n = 0;
                for c in &chunks {
                    n += p.feed(c).len();
                }
                n += p.finish().len();
                assert!(!p.outcome().failed, "{aname} on {tname}: the stream failed");
                client_bytes = n;
                n
            });
            let events = chunks.len() as f64;
            streams.push(json!({
                "source": aname, "target": tname, "mode": "stream",
                "events": chunks.len(), "upstream_bytes": sse.len(), "client_bytes": client_bytes,
                "ns_per_event": median * 1e9 / events, "ns_per_event_min": min * 1e9 / events,
                "mb_per_s": sse.len() as f64 / median / 1e6, "events_per_s": events / median,
                "runs": runs,
            }));
            if api == target {
                continue; // native non-stream answers are forwarded as they are
            }
            // A non-stream client on a translated path: events folded into one answer.
            let (median, min, runs) = time(budget, 3, || {
                let t = translate::stream_translator(api, target, &ctx(model_for(target)))
                    .expect("pair");
                let mut p = Translated::new(api, t).assembling();
                let mut asm = Assembler::new(api);
                for c in &chunks {
                    p.feed_events(c).drain(..).for_each(|e| asm.push(&e));
                }
                p.finish_events().drain(..).for_each(|e| asm.push(&e));
                asm.finish().expect("assembled").to_string().len()
            });
            streams.push(json!({
                "source": aname, "target": tname, "mode": "assemble",
                "events": chunks.len(), "upstream_bytes": sse.len(),
                "ns_per_event": median * 1e9 / events, "ns_per_event_min": min * 1e9 / events,
                "mb_per_s": sse.len() as f64 / median / 1e6, "events_per_s": events / median,
                "runs": runs,
            }));
        }
    }
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32-wasip1"
    } else {
        "native"
    };
    println!(
        "{}",
        json!({ "target": target, "requests": requests, "streams": streams })
    );
}
