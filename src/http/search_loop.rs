//! The web-search loop's shell: model turns against Copilot (always streamed from it),
//! the searches each turn asks for, and the client's answer, streamed as it grows or
//! assembled. The decisions are the pure shims' (`crate::search`); this file moves bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::{Map, Value};
use worker::{Delay, Env, Response};

use super::data_plane::{encode, send_responses, Upstream};
use super::metering::Meter;
use super::streaming::Timing;
use super::timer::Timer;
use super::{json, upstream_error, upstream_failure, web_search};
use crate::accounting::Outcome;
use crate::assemble::Assembler;
use crate::client_stream::{is_error_event, keepalive, serialize, Translated};
use crate::custom_tools::CustomTools;
use crate::http::copilot::{CallFacts, Copilot};
use crate::ids::{hex, random_bytes};
use crate::protocol::error::{ApiError, ApiFormat, ErrorKind};
use crate::protocol::Api;
use crate::protocol::Usage;
use crate::relay::{EventSink, Relay};
use crate::search::messages::MessagesSearch;
use crate::search::responses::ResponsesSearch;
use crate::search::{self, AfterSearch, PlannedSearch, SearchFailure, SearchHit, TurnEnd};
use crate::silence::{Silence, Tick};
use crate::translate::{self, OutEvent};

/// The shim of the client's API.
pub enum Shim {
    Messages(MessagesSearch),
    Responses(ResponsesSearch),
}

impl Shim {
    fn on_event(&mut self, ev: OutEvent, out: &mut Vec<OutEvent>) {
        match self {
            Shim::Messages(s) => s.on_event(ev, out),
            Shim::Responses(s) => s.on_event(ev, out),
        }
    }

    fn end_turn(&mut self, out: &mut Vec<OutEvent>) -> TurnEnd {
        match self {
            Shim::Messages(s) => s.end_turn(out),
            Shim::Responses(s) => s.end_turn(out),
        }
    }

    fn searched(
        &mut self,
        outcomes: Vec<Result<Vec<SearchHit>, SearchFailure>>,
        body: &mut Map<String, Value>,
        out: &mut Vec<OutEvent>,
    ) -> AfterSearch {
        match self {
            Shim::Messages(s) => s.searched(outcomes, body, out),
            Shim::Responses(s) => s.searched(outcomes, body, out),
        }
    }
}

/// One model turn's client events, from Copilot's stream: the native relay (its events
/// taken as it writes them) or a translator.
enum TurnPipeline {
    Relay(Relay, Api),
    Translated(Translated),
}

/// The relay's events as the shim reads them, named as the client's API names them.
struct RawEvents<'a> {
    api: Api,
    out: &'a mut Vec<OutEvent>,
}

impl EventSink for RawEvents<'_> {
    fn event(&mut self, name: Option<&str>, data: &str) {
        self.out.push(OutEvent::Raw {
            name: name.and_then(|n| search::event_name(self.api, n)),
            data: data.to_string(),
            text: None,
        });
    }
}

impl TurnPipeline {
    fn new(up: &Upstream, custom_tools: &CustomTools) -> Result<TurnPipeline, ApiError> {
        if up.target == up.api {
            let relay = Relay::new(up.api).with_custom_tools(custom_tools.clone());
            return Ok(TurnPipeline::Relay(relay, up.api));
        }
        let translator = translate::stream_translator(up.api, up.target, &up.tctx)
            .ok_or_else(|| ApiError::invalid("no stream translator for this model's API"))?;
        Ok(TurnPipeline::Translated(
            Translated::new(up.api, translator)
                .with_custom_tools(custom_tools.clone())
                .assembling(),
        ))
    }

    fn feed(&mut self, chunk: &[u8], out: &mut Vec<OutEvent>) {
        match self {
            TurnPipeline::Relay(relay, api) => {
                relay.feed_into(chunk, &mut RawEvents { api: *api, out })
            }
            TurnPipeline::Translated(t) => out.append(t.feed_events(chunk)),
        }
    }

    fn finish(&mut self, out: &mut Vec<OutEvent>) {
        match self {
            TurnPipeline::Relay(relay, api) => relay.finish_into(&mut RawEvents { api: *api, out }),
            TurnPipeline::Translated(t) => out.append(t.finish_events()),
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<OutEvent>) {
        match self {
            TurnPipeline::Relay(relay, api) => {
                relay.fail_into(message, &mut RawEvents { api: *api, out })
            }
            TurnPipeline::Translated(t) => out.append(t.fail_events(message)),
        }
    }

    fn usage(&self) -> Usage {
        match self {
            TurnPipeline::Relay(relay, ..) => relay.usage(),
            TurnPipeline::Translated(t) => t.usage(),
        }
    }
}

/// Everything the turns of one request share.
pub struct Turns {
    pub up: Upstream,
    pub copilot: Copilot,
    pub facts: CallFacts,
    pub conversation: Option<String>,
    pub custom_tools: CustomTools,
    pub timing: Timing,
    pub env: Env,
    pub key_id: String,
    /// The conversation in the client's API, grown by each search turn.
    pub body: Map<String, Value>,
    pub shim: Shim,
}

/// The answer: streamed to a streaming client (keep-alives while Copilot or a search
/// provider is busy), else assembled into one JSON object.
pub async fn respond(turns: Turns, stream: bool, meter: &mut Meter) -> Result<Response, ApiError> {
    let api = turns.up.api;
    let format = if api == Api::Messages {
        ApiFormat::Anthropic
    } else {
        ApiFormat::OpenAi
    };
    let timing = turns.timing;
    if !stream {
        let mut assembler = Assembler::new(api);
        let mut sink = |events: Vec<OutEvent>| events.iter().for_each(|e| assembler.push(e));
        let (began, _) = oneshot::channel();
        let outcome = match run(turns, format, began, &mut sink).await {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        meter.outcome = Some(outcome);
        return Ok(json(200, &assembler.finish()?));
    }

    let (tx, rx) = mpsc::unbounded::<Vec<u8>>();
    let (began_tx, began_rx) = oneshot::channel();
    let mut producer: Producer = Box::pin(async move {
        let mut sink = move |events: Vec<OutEvent>| {
            if !events.is_empty() {
                let mut bytes = Vec::new();
                serialize(events.into_iter(), &mut bytes);
                let _ = tx.unbounded_send(bytes);
            }
        };
        run(turns, format, began_tx, &mut sink).await
    });
    // Until Copilot has answered the first turn (or a keep-alive time passed), an upstream
    // failure keeps its own status; after that it is an error event in the stream.
    let first = select(began_rx, Delay::from(timing.keepalive));
    let report = meter.stream_reporter();
    let producer = match select(producer.as_mut(), first).await {
        Either::Left((Err(failure), _)) => return Ok(failure),
        Either::Left((Ok(outcome), _)) => {
            let _ = report.send(outcome);
            None
        }
        Either::Right(_) => Some((producer, report)),
    };
    let state = StreamState {
        producer,
        rx,
        api,
        quiet: Quiet::new(timing),
    };
    let body = futures::stream::unfold(state, step);
    super::streaming::event_stream(body, meter)
}

type Producer = Pin<Box<dyn Future<Output = Result<Outcome, Response>>>>;

struct StreamState {
    /// The turns still running, and where their outcome goes.
    producer: Option<(Producer, oneshot::Sender<Outcome>)>,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    api: Api,
    quiet: Quiet,
}

/// The client's silence, counted in ticks of one timer (a timer per chunk sent cost more
/// than the chunk): a keep-alive after between one and one and a half keep-alive times
/// without bytes, as on the other streams. Copilot's silence is the turns' to watch.
struct Quiet {
    tick: Duration,
    timer: Timer,
    silence: Silence,
}

impl Quiet {
    fn new(timing: Timing) -> Quiet {
        let tick = Silence::tick_every(timing.keepalive);
        Quiet {
            tick,
            timer: Timer::new(tick),
            silence: Silence::new(timing.keepalive, Duration::MAX),
        }
    }

    /// The timer fired: re-armed; whether the client is owed a keep-alive.
    fn ping_due(&mut self) -> bool {
        self.timer = Timer::new(self.tick);
        self.silence.tick() == Tick::Ping
    }
}

/// The client stream: bytes as the turns produce them, a keep-alive when the client has
/// had nothing for a while, the end when the turns are done and everything is sent.
/// Dropping it (the client went away) drops the turns and cancels their upstream request.
async fn step(mut s: StreamState) -> Option<(Result<Vec<u8>, worker::Error>, StreamState)> {
    loop {
        if let Ok(bytes) = s.rx.try_recv() {
            s.quiet.silence.client_bytes();
            return Some((Ok(bytes), s));
        }
        let Some((mut producer, report)) = s.producer.take() else {
            // The turns are done: what is left in the channel, then the end.
            return s.rx.next().await.map(|bytes| (Ok(bytes), s));
        };
        match select(producer.as_mut(), select(s.rx.next(), &mut s.quiet.timer)).await {
            Either::Left((done, _)) => {
                // A failure before anything was sent cannot happen here: the stream began.
                let _ = report.send(done.unwrap_or(Outcome {
                    failed: true,
                    ..Outcome::default()
                }));
            }
            Either::Right((Either::Left((Some(bytes), _)), _)) => {
                s.producer = Some((producer, report));
                s.quiet.silence.client_bytes();
                return Some((Ok(bytes), s));
            }
            Either::Right((Either::Left((None, _)), _)) => {
                s.producer = Some((producer, report));
            }
            Either::Right((Either::Right(_), _)) => {
                s.producer = Some((producer, report));
                if s.quiet.ping_due() {
                    return Some((Ok(keepalive(s.api).to_vec()), s));
                }
            }
        }
    }
}

/// The turns: each one sent, its events passed through the shim to `sink`, the searches
/// it asks for run, until the shim says the answer is complete. `began` is told when the
/// first turn's answer started well; a first turn that fails before that (and before the
/// stream began) is returned as the upstream's own failure.
async fn run(
    mut t: Turns,
    format: ApiFormat,
    began: oneshot::Sender<()>,
    sink: &mut dyn FnMut(Vec<OutEvent>),
) -> Result<Outcome, Response> {
    let api = t.up.api;
    let mut usage = Usage::default();
    let mut failed = false;
    let mut began = Some(began);
    let check = |events: Vec<OutEvent>, failed: &mut bool, sink: &mut dyn FnMut(Vec<OutEvent>)| {
        *failed |= events.iter().any(|e| is_error_event(api, e));
        sink(events);
    };
    for turn in 0.. {
        if turn > 0 {
            // Ids a translator mints (messages, items, calls) must not repeat across turns.
            t.up.tctx.id_seed = hex(&random_bytes::<12>());
        }
        let mut pipeline = match TurnPipeline::new(&t.up, &t.custom_tools) {
            Ok(p) => p,
            Err(e) => {
                let out = vec![translate::error_event(api, &e.message, 0)];
                check(out, &mut failed, sink);
                break;
            }
        };
        let resp = send_turn(&mut t).await;
        let mut events = Vec::new();
        match resp {
            Ok(resp) if (200..300).contains(&resp.status_code()) => {
                if let Some(b) = began.take() {
                    let _ = b.send(());
                }
                read_turn(resp, &mut pipeline, &mut t, &mut events, sink, &mut failed).await;
            }
            Ok(resp) => {
                if began.as_ref().is_some_and(|b| !b.is_canceled()) {
                    return Err(upstream_failure(format, resp).await);
                }
                let status = resp.status_code();
                let mut resp = resp;
                let text = crate::upstream::client::text(&mut resp)
                    .await
                    .unwrap_or_default();
                let e = upstream_error(format, status, &text);
                pipeline.fail(&e.message, &mut events);
            }
            Err(e) => {
                if began.as_ref().is_some_and(|b| !b.is_canceled()) {
                    return Err(super::error(format, &e));
                }
                pipeline.fail(&e.message, &mut events);
            }
        }
        let mut out = Vec::new();
        for ev in events {
            t.shim.on_event(ev, &mut out);
        }
        usage.add(&pipeline.usage());
        let end = t.shim.end_turn(&mut out);
        check(out, &mut failed, sink);
        let TurnEnd::Search(plans) = end else { break };
        let outcomes = run_searches(&t.env, &t.key_id, &plans).await;
        let mut out = Vec::new();
        let after = t.shim.searched(outcomes, &mut t.body, &mut out);
        check(out, &mut failed, sink);
        if after == AfterSearch::Done {
            break;
        }
    }
    Ok(Outcome { usage, failed })
}

/// Reads one turn's upstream stream into the shim and on to the sink as it arrives.
async fn read_turn(
    resp: Response,
    pipeline: &mut TurnPipeline,
    t: &mut Turns,
    tail: &mut Vec<OutEvent>,
    sink: &mut dyn FnMut(Vec<OutEvent>),
    failed: &mut bool,
) {
    let api = t.up.api;
    let Some(mut body) = crate::upstream::body::chunks(&resp) else {
        pipeline.fail("Copilot answered a stream request without a body", tail);
        return;
    };
    let mut events = Vec::new();
    // Copilot's silence in ticks of one timer, not a timer per chunk.
    let tick = Silence::tick_every(t.timing.keepalive);
    let mut timer = Timer::new(tick);
    let mut silence = Silence::new(t.timing.keepalive, t.timing.idle_timeout);
    loop {
        let next = match select(body.next(), &mut timer).await {
            Either::Left((next, _)) => next,
            Either::Right(_) => {
                timer = Timer::new(tick);
                if silence.tick() == Tick::Idle {
                    let stalled = format!(
                        "Copilot sent nothing for {} s; the answer was abandoned",
                        t.timing.idle_timeout.as_secs_f64()
                    );
                    pipeline.fail(&stalled, tail);
                    return;
                }
                continue;
            }
        };
        silence.upstream_bytes();
        match next {
            Some(Ok(chunk)) => pipeline.feed(&chunk, &mut events),
            Some(Err(e)) => {
                worker::console_error!("upstream stream failed: {e}");
                pipeline.fail("the upstream connection failed mid-stream", tail);
                return;
            }
            None => {
                pipeline.finish(tail);
                return;
            }
        }
        if events.is_empty() {
            continue;
        }
        let mut out = Vec::with_capacity(events.len());
        for ev in events.drain(..) {
            t.shim.on_event(ev, &mut out);
        }
        *failed |= out.iter().any(|e| is_error_event(api, e));
        sink(out);
    }
}

/// Sends the conversation as it stands for one model turn (always streamed from Copilot).
async fn send_turn(t: &mut Turns) -> Result<Response, ApiError> {
    let mut body = t.body.clone();
    body.insert("stream".into(), Value::Bool(true));
    let (body, beta) = t.up.prepare(body, true)?;
    let facts = CallFacts {
        anthropic_beta: beta,
        ..t.facts.clone()
    };
    let (up, copilot, conversation) = (&t.up, &mut t.copilot, t.conversation.as_deref());
    let call = async move {
        if up.target == Api::Responses && up.api == Api::Responses {
            return send_responses(copilot, body, up.size, &facts, conversation).await;
        }
        let payload = encode(&body, up.size);
        drop(body);
        let resp = copilot
            .send(up.target.upstream_path(), Some(&payload), &facts)
            .await;
        copilot.remember_conversation(conversation).await;
        resp
    };
    let limit = t.timing.upstream_timeout;
    match select(std::pin::pin!(call), Delay::from(limit)).await {
        Either::Left((resp, _)) => resp,
        Either::Right(_) => Err(ApiError::new(
            ErrorKind::Timeout,
            format!(
                "Copilot did not start answering within {} s",
                limit.as_secs_f64()
            ),
        )),
    }
}

/// The turn's searches, side by side; refused ones are not sent to the provider.
async fn run_searches(
    env: &Env,
    key_id: &str,
    plans: &[PlannedSearch],
) -> Vec<Result<Vec<SearchHit>, SearchFailure>> {
    let calls = plans.iter().map(|p| async move {
        match &p.run {
            Ok(req) => web_search::run(env, key_id, req).await,
            Err(refused) => Err(refused.clone()),
        }
    });
    futures::future::join_all(calls).await
}
