//! Data-plane handlers: `/v1/models`, `/v1/embeddings` and the three generation APIs.

use std::future::Future;
use std::task::Poll;

use futures::StreamExt;
use serde_json::{Map, Value};
use worker::{Context, Env, Response};

use super::incoming::Incoming;
use super::search_loop;
use super::streaming::{self, Started, Timing, UpstreamCall};

use super::metering::Meter;
use super::streaming::Metered;
use super::{json, json_text, upstream_failure};
use crate::accounting::{usage_from_json, Outcome};
use crate::assemble::Assembler;
use crate::client_stream::{ClientStream, Translated};
use crate::compaction::{self, Compactor};
use crate::conversation;
use crate::custom_tools::CustomTools;
use crate::http::copilot::{spotted_hash, CallFacts, Copilot};
use crate::ids::{hex, random_bytes};
use crate::models::ModelInfo;
use crate::protocol::error::{ApiError, ApiFormat, ErrorKind};
use crate::protocol::Api;
use crate::relay::Relay;
use crate::store::now_ms;
use crate::translate::{self, TranslateCtx};
use crate::upstream::headers::Initiator;
use crate::upstream::routing;
use crate::{inbound, quirks, search};

pub async fn read_body(req: &Incoming) -> Result<String, ApiError> {
    let headers = req.headers();
    let content_type = headers.get("content-type").ok().flatten();
    let content_length = headers.get("content-length").ok().flatten();
    let content_encoding = headers.get("content-encoding").ok().flatten();
    let codings = inbound::check_body_headers(
        content_type.as_deref(),
        content_length.as_deref(),
        content_encoding.as_deref(),
    )?;
    let bytes = req
        .bytes()
        .await
        .map_err(|_| ApiError::invalid("request body could not be read"))?;
    inbound::body_text(bytes, &codings)
}

pub async fn models(env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    Ok(json(200, &described_models(env, ctx).await?))
}

/// The Copilot catalog and the admin's aliases, as every model listing shows them.
pub async fn described_models(env: &Env, ctx: &Context) -> Result<Value, ApiError> {
    let mut copilot = Copilot::connect(env, ctx, None).await?;
    let catalog = copilot.catalog(ctx).await?;
    let aliases = super::aliases::current(env).await;
    Ok(catalog.describe_with(aliases.describe(&catalog)))
}

/// Embeddings are forwarded as sent (the body is small and Copilot's API is OpenAI's);
/// only the fields every request needs are checked first.
pub async fn embeddings(
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let text = read_body(&req).await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    if !v.get("model").is_some_and(Value::is_string) {
        return Err(
            ApiError::invalid("`model` is required and must be a string").with_param("model"),
        );
    }
    if v.get("input").is_none_or(Value::is_null) {
        return Err(ApiError::invalid("`input` is required").with_param("input"));
    }
    let asked = v.get("model").and_then(Value::as_str).unwrap_or_default();
    meter.model = Some(asked.to_string());
    let mut copilot = Copilot::connect(env, ctx, None).await?;
    let catalog = copilot.catalog(ctx).await?;
    let asked_model = super::aliases::resolve_name(env, &catalog, asked).await?;
    let model = catalog.resolve(&asked_model)?.id.clone();
    // Recorded (and sent) under Copilot's own id, like every other request.
    let body = if model == asked {
        text
    } else {
        let mut v = v;
        v["model"] = Value::String(model.clone());
        crate::json_write::to_string(&v)
    };
    meter.model = Some(model);
    let resp = copilot
        .send("/embeddings", Some(&body), &CallFacts::default())
        .await?;
    if !(200..300).contains(&resp.status_code()) {
        return Ok(upstream_failure(ApiFormat::OpenAi, resp).await);
    }
    forward_metered(resp, None, meter, Timing::from_env(env)).await
}

/// A successful non-stream answer passed on as sent, its usage read on the way.
async fn forward_metered(
    mut resp: Response,
    api: Option<Api>,
    meter: &mut Meter,
    timing: Timing,
) -> Result<Response, ApiError> {
    let text = timing
        .idle_bounded(crate::upstream::client::text(&mut resp))
        .await??;
    meter.outcome = Some(Outcome {
        usage: usage_from_json(api, &text),
        failed: false,
    });
    Ok(json_text(resp.status_code(), text))
}

/// `/v1/messages`, `/v1/chat/completions`, `/v1/responses`, on every path the routing plan
/// can choose: native (body fixed for Copilot, stream relayed event by event) or
/// translated (request translated, stream translated back; non-stream answers assembled).
pub async fn generate(
    api: Api,
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    serve(api, false, req, env, ctx, meter).await
}

/// `/v1/responses/compact`: a Responses request for a summary (`compaction`), answered
/// whole as a `response.compaction` object.
pub async fn compact(
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    serve(Api::Responses, true, req, env, ctx, meter).await
}

async fn serve(
    api: Api,
    compact_endpoint: bool,
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let client_beta = (api == Api::Messages)
        .then(|| req.headers().get("anthropic-beta").ok().flatten())
        .flatten();
    let text = read_body(&req).await?;
    serve_text(api, compact_endpoint, text, client_beta, env, ctx, meter).await
}

/// A request body already read (or built by another front door: the Gemini API's
/// requests come here as Messages requests), served on the routing plan's path.
pub async fn serve_text(
    api: Api,
    compact_endpoint: bool,
    text: String,
    client_beta: Option<String>,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let format = if api == Api::Messages {
        ApiFormat::Anthropic
    } else {
        ApiFormat::OpenAi
    };
    let size = text.len();
    let mut inbound = inbound::parse(api, &text)?;
    // Earlier web-search turns are looked for only where the text may hold some.
    let search_history = match api {
        Api::Messages => search::messages::may_carry_search_turns(&text),
        Api::Responses => search::responses::may_carry_search_turns(&text),
        Api::ChatCompletions => false,
    };
    drop(text);
    meter.model = Some(inbound.model.clone());
    // Read before the gateway adds anything to the conversation. A compaction is the
    // agent's own work, never a user prompt (Copilot bills those as premium requests).
    let initiator = match compact_endpoint {
        true => Initiator::Agent,
        false => inbound::initiator(api, &inbound.body),
    };
    let id_seed = hex(&random_bytes::<12>());
    let mut custom_tools = CustomTools::default();
    let mut compactor = None;
    if api == Api::Responses {
        inbound::normalize_responses(&mut inbound.body)?;
        custom_tools = CustomTools::from_request(&mut inbound.body);
        if compact_endpoint {
            // Answered whole, like OpenAI's endpoint.
            inbound.stream = false;
            inbound.body.insert("stream".into(), Value::Bool(false));
            let kept = compaction::kept_items(&inbound.body);
            compactor = Some(Compactor::resource(&id_seed, kept));
        } else if compaction::is_requested(&inbound.body) {
            compactor = Some(Compactor::new(&id_seed));
        }
        if compactor.is_some() {
            compaction::request_summary(&mut inbound.body);
        }
    }
    let web_search = match api {
        Api::Messages => search::messages::prepare(&mut inbound.body, search_history)?
            .map(search_loop::Shim::Messages),
        Api::Responses => search::responses::prepare(&mut inbound.body, search_history)?
            .map(search_loop::Shim::Responses),
        Api::ChatCompletions => None,
    }
    // A summary needs no search: the search tool stays as a function no one may call.
    .filter(|_| compactor.is_none());
    let mut copilot = Copilot::connect(env, ctx, None).await?;
    // With several accounts, a conversation stays on the account that last served it.
    let conversation = copilot
        .has_failover()
        .then(|| conversation::key(api, &inbound.body))
        .flatten();
    if let Some(k) = &conversation {
        copilot.stick_to_conversation(ctx, k).await?;
    }
    let catalog = copilot.catalog(ctx).await?;
    // Claude Code's `[1m]` models (tag or beta) go to Copilot's 1M-context model.
    let asked = super::aliases::resolve_name(env, &catalog, &inbound.model).await?;
    let model = catalog.resolve_for(&asked, client_beta.as_deref())?.clone();
    meter.model = Some(model.id.clone());
    let (endpoints, _) = copilot.endpoints(ctx, &model).await;
    // A target that cannot carry the request gives way to the next the model supports;
    // with none left, the preferred one answers with its precise refusal.
    let target = routing::plan(api, &model.id, endpoints, |s, t| {
        translate::available(s, t) && translate::carries(s, t, &inbound.body)
    })
    .or_else(|_| routing::plan(api, &model.id, endpoints, translate::available))?;
    if api == Api::Responses {
        compaction::expand(&mut inbound.body, target == Api::Responses)?;
        if target != Api::Responses {
            custom_tools.flatten_namespaces(&mut inbound.body);
        }
    }

    let stream = inbound.stream;
    let timing = Timing::from_env(env);
    let wants_usage = inbound
        .body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let facts = CallFacts {
        initiator: Some(initiator),
        vision: inbound::has_images(api, &inbound.body),
        anthropic_beta: None,
    };
    let tctx = TranslateCtx {
        model: model.id.clone(),
        max_output_tokens: model.max_output_tokens,
        id_seed,
        now_secs: now_ms() / 1000,
        // A non-stream Chat answer always carries usage; a stream only when asked.
        include_usage: !stream || wants_usage,
    };

    let upstream = Upstream {
        api,
        target,
        model: model.clone(),
        tctx,
        client_beta,
        size,
    };
    if let Some(shim) = web_search {
        let turns = search_loop::Turns {
            up: upstream,
            copilot,
            facts,
            conversation,
            custom_tools,
            timing,
            env: env.clone(),
            key_id: meter.key_id.clone(),
            body: inbound.body,
            shim,
        };
        return search_loop::respond(turns, stream, meter).await;
    }
    let (body, anthropic_beta) = upstream.prepare(inbound.body, stream)?;
    let facts = CallFacts {
        anthropic_beta,
        ..facts
    };
    let call = if target == Api::Responses && api == Api::Responses {
        let size = upstream.size;
        responses_call(copilot, body, size, facts, conversation).await?
    } else {
        let payload = encode(&body, upstream.size);
        let path = target.upstream_path();
        Box::pin(async move {
            let resp = send_then_free(copilot.send(path, Some(&payload), &facts), body).await;
            copilot.remember_conversation(conversation.as_deref()).await;
            resp
        }) as UpstreamCall
    };
    let call = timing.bounded(call);

    // A streamed answer to a compaction request is rewritten event by event; a whole one
    // once assembled.
    let (stream_compactor, answer_compactor) = match stream {
        true => (compactor, None),
        false => (None, compactor),
    };
    if target == api {
        let relay = Relay::new(api)
            .with_custom_tools(custom_tools.clone())
            .with_compaction(stream_compactor)
            .merging_choices(api == Api::ChatCompletions && is_claude(&model.id))
            .forwarding_usage(wants_usage);
        let shape = Shape {
            api,
            format,
            stream,
            timing,
        };
        let fixes = AnswerFixes {
            custom_tools,
            compactor: answer_compactor,
        };
        return native(shape, call, relay, &model.id, fixes, meter).await;
    }
    let translator = translate::stream_translator(api, target, &upstream.tctx)
        .ok_or_else(|| ApiError::invalid("no stream translator for this model's API"))?;
    let pipeline = Translated::new(api, translator)
        .with_custom_tools(custom_tools)
        .with_compaction(stream_compactor);
    if stream {
        let pipeline = Metered::new(pipeline, Some(meter.stream_reporter()));
        return match streaming::start(call, timing).await? {
            Started::Answered(resp) if !is_success(&resp) => {
                Ok(upstream_failure(format, resp).await)
            }
            started => streaming::respond(api, format, timing, started, pipeline, meter),
        };
    }
    let resp = call.await?;
    if !is_success(&resp) {
        return Ok(upstream_failure(format, resp).await);
    }
    let (answer, outcome) = assemble(api, resp, pipeline.assembling(), timing).await;
    meter.outcome = Some(outcome);
    let answer = match &answer_compactor {
        Some(compactor) => compactor.rewrite_answer(answer?)?,
        None => answer?,
    };
    Ok(json(200, &answer))
}

/// What a whole native answer may need before the client gets it.
struct AnswerFixes {
    custom_tools: CustomTools,
    compactor: Option<Compactor>,
}

/// What every upstream call of one client request shares (the web-search loop makes
/// several).
pub struct Upstream {
    pub api: Api,
    pub target: Api,
    pub model: ModelInfo,
    pub tctx: TranslateCtx,
    pub client_beta: Option<String>,
    /// The client body's size, a hint for encoding.
    pub size: usize,
}

impl Upstream {
    /// The client body as the target API wants it (translated, or fixed for the native
    /// path, then the target's quirks), and the `anthropic-beta` to send with it.
    pub fn prepare(
        &self,
        mut body: Map<String, Value>,
        stream: bool,
    ) -> Result<(Map<String, Value>, Option<String>), ApiError> {
        let (api, target) = (self.api, self.target);
        if target == api {
            body.insert("model".into(), Value::String(self.model.id.clone()));
            if api == Api::ChatCompletions && stream {
                // Usage is always requested (accounting needs it); the relay hides it from
                // a client that did not ask.
                body.insert(
                    "stream_options".into(),
                    serde_json::json!({ "include_usage": true }),
                );
            }
        } else {
            let translate_request = translate::request_translator(api, target)
                .ok_or_else(|| ApiError::invalid("no translator for this model's API"))?;
            body = translate_request(body, &self.tctx)?;
        }
        let model = &self.model;
        let beta = match target {
            Api::Messages => quirks::messages::apply(
                &mut body,
                model.max_output_tokens,
                self.client_beta.as_deref(),
            ),
            Api::Responses => {
                quirks::responses::apply(&mut body, model);
                None
            }
            Api::ChatCompletions => {
                quirks::chat::apply(&mut body, model);
                None
            }
        };
        Ok((body, beta))
    }
}

/// Starts `send` (the request goes out on its first poll), frees `garbage` while the
/// request is on the wire, then waits for the answer: freeing the parse tree of a
/// megabyte's body takes about a millisecond, which would otherwise come before the
/// request leaves.
async fn send_then_free<F: Future>(send: F, garbage: impl Sized) -> F::Output {
    let mut send = std::pin::pin!(send);
    let first = futures::poll!(send.as_mut());
    drop(garbage);
    match first {
        Poll::Ready(out) => out,
        Poll::Pending => send.await,
    }
}

/// The upstream body's JSON text (about the size of the client's).
pub fn encode(body: &serde_json::Map<String, Value>, size_hint: usize) -> String {
    crate::json_write::object_to_string(body, size_hint + size_hint / 8)
}

fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// A native Responses call. Copilot binds item ids to the connection that minted them:
/// ids it already refused are rewritten up front, and a refusal of others rewrites them
/// and tries once more, remembering them for the conversation's next turns.
async fn responses_call(
    copilot: Copilot,
    body: Map<String, Value>,
    size: usize,
    facts: CallFacts,
    conversation: Option<String>,
) -> Result<UpstreamCall, ApiError> {
    let mut copilot = copilot;
    Ok(Box::pin(async move {
        send_responses(&mut copilot, body, size, &facts, conversation.as_deref()).await
    }))
}

/// Sends a native Responses body (see `responses_call`).
pub async fn send_responses(
    copilot: &mut Copilot,
    mut body: Map<String, Value>,
    size: usize,
    facts: &CallFacts,
    conversation: Option<&str>,
) -> Result<Response, ApiError> {
    let bound = quirks::responses::connection_bound_ids(&body);
    if !bound.is_empty() {
        let spotted = copilot.spotted_ids().await;
        quirks::responses::rewrite_ids(&mut body, &|id| spotted.contains(&spotted_hash(id)));
    }
    let payload = encode(&body, size);
    // The body is kept only for a retry with rewritten ids.
    let (mut body, garbage) = if bound.is_empty() {
        (None, Some(body))
    } else {
        (Some(body), None)
    };
    let path = Api::Responses.upstream_path();
    let mut resp = send_then_free(copilot.send(path, Some(&payload), facts), garbage).await?;
    copilot.remember_conversation(conversation).await;
    let Some(body) = body.as_mut().filter(|_| resp.status_code() == 400) else {
        return Ok(resp);
    };
    let error_text = crate::upstream::client::text(&mut resp).await?;
    if !quirks::responses::is_connection_mismatch(&error_text) {
        return Ok(json_text(400, error_text));
    }
    copilot.remember_spotted(&bound).await;
    quirks::responses::rewrite_ids(body, &|id| bound.iter().any(|b| b == id));
    let payload = encode(body, size);
    copilot.send(path, Some(&payload), facts).await
}

/// How a client wants its answer.
#[derive(Clone, Copy)]
struct Shape {
    api: Api,
    format: ApiFormat,
    stream: bool,
    timing: Timing,
}

async fn native(
    Shape {
        api,
        format,
        stream,
        timing,
    }: Shape,
    call: UpstreamCall,
    relay: Relay,
    model: &str,
    fixes: AnswerFixes,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let AnswerFixes {
        mut custom_tools,
        compactor,
    } = fixes;
    if !stream {
        let mut resp = call.await?;
        if !is_success(&resp) {
            return Ok(upstream_failure(format, resp).await);
        }
        let claude_chat = api == Api::ChatCompletions && is_claude(model);
        if !claude_chat && custom_tools.is_empty() && compactor.is_none() {
            return forward_metered(resp, Some(api), meter, timing).await;
        }
        // The answer needs fixing: parse, fix, re-encode.
        let text = timing
            .idle_bounded(crate::upstream::client::text(&mut resp))
            .await??;
        meter.outcome = Some(Outcome {
            usage: usage_from_json(Some(api), &text),
            failed: false,
        });
        let mut answer: Value = serde_json::from_str(&text).map_err(|_| {
            ApiError::new(
                ErrorKind::BadGateway,
                "Copilot answered with malformed JSON",
            )
        })?;
        if claude_chat {
            quirks::chat::merge_choices(&mut answer);
        }
        custom_tools.rewrite_response(&mut answer);
        if let Some(compactor) = &compactor {
            answer = compactor.rewrite_answer(answer)?;
        }
        return Ok(json(200, &answer));
    }
    match streaming::start(call, timing).await? {
        Started::Answered(resp) if !is_success(&resp) => Ok(upstream_failure(format, resp).await),
        Started::Answered(resp) if !is_event_stream(&resp) => {
            forward_metered(resp, Some(api), meter, timing).await
        }
        started => {
            let relay = Metered::new(relay, Some(meter.stream_reporter()));
            streaming::respond(api, format, timing, started, relay, meter)
        }
    }
}

/// Reads a translated upstream stream to its end and folds the client events into the
/// one JSON answer a non-stream client expects.
async fn assemble(
    api: Api,
    resp: Response,
    mut pipeline: Translated,
    timing: Timing,
) -> (Result<Value, ApiError>, Outcome) {
    let mut body = match crate::upstream::body::chunks(&resp) {
        Some(b) => b,
        None => {
            let e = ApiError::new(ErrorKind::BadGateway, "Copilot answered without a body");
            return (
                Err(e),
                Outcome {
                    failed: true,
                    ..Outcome::default()
                },
            );
        }
    };
    let mut assembler = Assembler::new(api);
    loop {
        let next = match timing.idle_bounded(body.next()).await {
            Ok(next) => next,
            Err(stalled) => {
                let failed = pipeline.fail_events(&stalled.message);
                failed.drain(..).for_each(|e| assembler.push(&e));
                break;
            }
        };
        match next {
            Some(Ok(chunk)) => pipeline
                .feed_events(&chunk)
                .drain(..)
                .for_each(|e| assembler.push(&e)),
            Some(Err(e)) => {
                worker::console_error!("upstream stream failed: {e}");
                let failed = pipeline.fail_events("the upstream connection failed mid-stream");
                failed.drain(..).for_each(|e| assembler.push(&e));
                break;
            }
            None => {
                pipeline
                    .finish_events()
                    .drain(..)
                    .for_each(|e| assembler.push(&e));
                break;
            }
        }
    }
    let outcome = pipeline.outcome();
    (assembler.finish(), outcome)
}

fn is_success(resp: &Response) -> bool {
    (200..300).contains(&resp.status_code())
}

fn is_event_stream(resp: &Response) -> bool {
    resp.headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|ct| ct.starts_with("text/event-stream"))
}

/// `/v1/messages/count_tokens`: Copilot counts for models it serves on `/v1/messages`;
/// for every other model, or when Copilot refuses, a local estimate. Never fails the
/// client for want of a count (Claude Code calls this constantly).
pub async fn count_tokens(
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let client_beta = req.headers().get("anthropic-beta").ok().flatten();
    let text = read_body(&req).await?;
    let n = count_text(&text, client_beta, env, ctx, meter).await?;
    Ok(json(200, &serde_json::json!({ "input_tokens": n })))
}

/// The input tokens of a Messages body (see `count_tokens`).
pub async fn count_text(
    text: &str,
    client_beta: Option<String>,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<u64, ApiError> {
    let inbound = inbound::parse(Api::Messages, text)?;
    meter.model = Some(inbound.model.clone());
    let mut copilot = Copilot::connect(env, ctx, None).await?;
    let catalog = copilot.catalog(ctx).await?;
    let asked = super::aliases::resolve_name(env, &catalog, &inbound.model).await?;
    let model = catalog.resolve_for(&asked, client_beta.as_deref())?.clone();
    // Counted as a request for the model, with no tokens: counting consumes none.
    meter.model = Some(model.id.clone());
    let (endpoints, _) = copilot.endpoints(ctx, &model).await;
    let mut body = inbound.body;
    body.insert("model".into(), Value::String(model.id.clone()));
    // Cleaned either way: the estimate should count what Copilot would be sent.
    let beta = quirks::messages::apply_for_count(&mut body, client_beta.as_deref());
    if endpoints.messages {
        let facts = CallFacts {
            anthropic_beta: beta,
            ..CallFacts::default()
        };
        let payload = serde_json::to_string(&body).unwrap_or_default();
        match copilot
            .send("/v1/messages/count_tokens", Some(&payload), &facts)
            .await
        {
            Ok(mut resp) if is_success(&resp) => {
                let answer = crate::upstream::client::text(&mut resp)
                    .await
                    .unwrap_or_default();
                if let Some(n) = serde_json::from_str::<Value>(&answer)
                    .ok()
                    .and_then(|v| v.get("input_tokens").and_then(Value::as_u64))
                {
                    return Ok(n);
                }
            }
            Ok(resp) => worker::console_warn!(
                "count_tokens upstream answered {}; estimating",
                resp.status_code()
            ),
            Err(e) => {
                worker::console_warn!("count_tokens upstream failed ({}); estimating", e.message)
            }
        }
    }
    Ok(crate::token_estimate::messages_input_tokens(
        &Value::Object(body),
    ))
}
