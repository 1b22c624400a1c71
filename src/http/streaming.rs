//! Streaming answers: the upstream call may still be running when the client's stream
//! starts, so slow first bytes are covered by keep-alives instead of edge timeouts, and a
//! stream Copilot stops feeding ends after an idle timeout.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{select, Either};
use futures::StreamExt;
use worker::{Delay, Headers, Response};

use crate::accounting::Outcome;
use crate::api_error::{ApiError, ApiFormat, ErrorKind};
use crate::client_stream::{keepalive, ClientStream};
use crate::http::metering::Meter;
use crate::http::timer::Timer;
use crate::silence::{Silence, Tick};
use crate::upstream::body::{self, BodyStream};
use crate::upstream::client;
use crate::upstream::routing::Api;

/// Keep-alive cadence while Copilot is silent (before its first byte or between events),
/// which is also how long to wait for Copilot's answer before committing to a 200 stream:
/// until then an upstream error keeps its own status; after it, it becomes an error
/// event. Var `STREAM_KEEPALIVE_SECS` (default 10; tests shorten it).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub keepalive: Duration,
    /// How long Copilot may take to start answering (var `UPSTREAM_TIMEOUT_SECS`, 300).
    pub upstream_timeout: Duration,
    /// How long a started stream may go without upstream bytes before it ends with an
    /// error event (var `STREAM_IDLE_TIMEOUT_SECS`, 300).
    pub idle_timeout: Duration,
}

impl Timing {
    pub fn from_env(env: &worker::Env) -> Timing {
        let secs = |name: &str, range: std::ops::RangeInclusive<f64>, default: f64| {
            let s = env
                .var(name)
                .ok()
                .and_then(|v| v.to_string().trim().parse::<f64>().ok())
                .filter(|s| range.contains(s))
                .unwrap_or(default);
            Duration::from_millis((s * 1000.0) as u64)
        };
        Timing {
            keepalive: secs("STREAM_KEEPALIVE_SECS", 0.1..=100.0, 10.0),
            upstream_timeout: secs("UPSTREAM_TIMEOUT_SECS", 0.5..=3600.0, 300.0),
            idle_timeout: secs("STREAM_IDLE_TIMEOUT_SECS", 0.5..=3600.0, 300.0),
        }
    }

    /// The call, failing with a 504 if Copilot has not answered in time. Dropping the
    /// call aborts the upstream request.
    pub fn bounded(self, call: UpstreamCall) -> UpstreamCall {
        let limit = self.upstream_timeout;
        Box::pin(async move {
            match select(call, Delay::from(limit)).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(ApiError::new(
                    ErrorKind::Timeout,
                    format!(
                        "Copilot did not start answering within {} s",
                        limit.as_secs_f64()
                    ),
                )),
            }
        })
    }
}

impl Timing {
    /// A read of an upstream body after its headers (a whole non-stream answer, or the next
    /// chunk of a stream being assembled): one that stalls past the idle timeout fails
    /// with a 504, and dropping it cancels the upstream request.
    pub async fn idle_bounded<T>(self, read: impl Future<Output = T>) -> Result<T, ApiError> {
        let limit = self.idle_timeout;
        match select(std::pin::pin!(read), Delay::from(limit)).await {
            Either::Left((out, _)) => Ok(out),
            Either::Right(_) => Err(ApiError::new(
                ErrorKind::Timeout,
                format!(
                    "Copilot sent nothing for {} s; the answer was abandoned",
                    limit.as_secs_f64()
                ),
            )),
        }
    }
}

pub type UpstreamCall = Pin<Box<dyn Future<Output = Result<Response, ApiError>>>>;

/// Either Copilot answered within the keep-alive time (Ok(Response), any status), or the call is
/// still running and the client stream must start now.
pub enum Started {
    Answered(Response),
    Pending(UpstreamCall),
}

pub async fn start(call: UpstreamCall, timing: Timing) -> Result<Started, ApiError> {
    match select(call, Delay::from(timing.keepalive)).await {
        Either::Left((result, _)) => Ok(Started::Answered(result?)),
        Either::Right(((), call)) => Ok(Started::Pending(call)),
    }
}

/// Reports how the stream went when it is dropped: after its last byte, or early when
/// the client went away (then it counts as failed, with the usage seen so far).
pub struct Metered<C: ClientStream> {
    inner: C,
    report: Option<oneshot::Sender<Outcome>>,
    ended: bool,
}

impl<C: ClientStream> Metered<C> {
    pub fn new(inner: C, report: Option<oneshot::Sender<Outcome>>) -> Self {
        Metered {
            inner,
            report,
            ended: false,
        }
    }
}

impl<C: ClientStream> ClientStream for Metered<C> {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.inner.feed(chunk)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.ended = true;
        self.inner.finish()
    }
    fn fail(&mut self, message: &str) -> Vec<u8> {
        self.ended = true;
        self.inner.fail(message)
    }
    fn outcome(&self) -> Outcome {
        let o = self.inner.outcome();
        Outcome {
            failed: o.failed || !self.ended,
            ..o
        }
    }
}

impl<C: ClientStream> Drop for Metered<C> {
    fn drop(&mut self) {
        if let Some(tx) = self.report.take() {
            let _ = tx.send(self.outcome());
        }
    }
}

enum State<C> {
    Waiting(UpstreamCall, C),
    Streaming(BodyStream, C, Quiet),
    Done,
}

/// The timer of a flowing stream. A timer per upstream chunk cost more than the chunk's
/// own reads, so one timer ticks every half keep-alive and `Silence` counts the ticks:
/// keep-alives for the client, and the idle timeout.
struct Quiet {
    timer: Timer,
    silence: Silence,
}

impl Quiet {
    fn new(timing: Timing) -> Quiet {
        Quiet {
            timer: Timer::new(Silence::tick_every(timing.keepalive)),
            silence: Silence::new(timing.keepalive, timing.idle_timeout),
        }
    }

    /// A tick; the timer is re-armed.
    fn tick(&mut self, keepalive: Duration) -> Tick {
        self.timer = Timer::new(Silence::tick_every(keepalive));
        self.silence.tick()
    }
}

fn sse_headers() -> Headers {
    let h = Headers::new();
    let _ = h.set("content-type", "text/event-stream; charset=utf-8");
    let _ = h.set("cache-control", "no-cache");
    let _ = h.set("x-accel-buffering", "no");
    h
}

/// A 200 SSE response fed by `pipeline`, from an upstream answer (2xx) or a call still
/// in flight.
pub fn respond<C: ClientStream + 'static>(
    source: Api,
    format: ApiFormat,
    timing: Timing,
    upstream: Started,
    pipeline: C,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let state = match upstream {
        Started::Answered(resp) => {
            let body = body::chunks(&resp).ok_or_else(|| {
                ApiError::new(
                    ErrorKind::BadGateway,
                    "Copilot answered a stream request without a body",
                )
            })?;
            State::Streaming(body, pipeline, Quiet::new(timing))
        }
        Started::Pending(call) => State::Waiting(call, pipeline),
    };
    let out = futures::stream::unfold(state, move |state| step(source, format, timing, state));
    event_stream(out, meter)
}

/// A client event stream as the response body, or handed to the WebSocket transport
/// (see `Meter::socket`).
pub fn event_stream(
    out: impl futures::Stream<Item = Result<Vec<u8>, worker::Error>> + 'static,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    if meter.socket {
        meter.events = Some(Box::pin(out));
        return Ok(Response::empty()
            .map_err(|e| ApiError::new(ErrorKind::Api, e.to_string()))?
            .with_headers(sse_headers()));
    }
    let resp = Response::from_stream(out)
        .map_err(|e| ApiError::new(ErrorKind::Api, format!("could not start the stream: {e}")))?;
    Ok(resp.with_headers(sse_headers()))
}

async fn step<C: ClientStream>(
    source: Api,
    format: ApiFormat,
    timing: Timing,
    mut state: State<C>,
) -> Option<(Result<Vec<u8>, worker::Error>, State<C>)> {
    loop {
        state = match state {
            State::Done => return None,
            State::Waiting(call, mut pipeline) => {
                match select(call, Delay::from(timing.keepalive)).await {
                    Either::Right(((), call)) => {
                        return Some((
                            Ok(keepalive(source).to_vec()),
                            State::Waiting(call, pipeline),
                        ));
                    }
                    Either::Left((Err(e), _)) => {
                        return Some((Ok(pipeline.fail(&e.message)), State::Done))
                    }
                    Either::Left((Ok(mut resp), _)) => {
                        let status = resp.status_code();
                        if !(200..300).contains(&status) {
                            let body = client::text(&mut resp).await.unwrap_or_default();
                            let e = super::upstream_error(format, status, &body);
                            return Some((Ok(pipeline.fail(&e.message)), State::Done));
                        }
                        match body::chunks(&resp) {
                            Some(body) => State::Streaming(body, pipeline, Quiet::new(timing)),
                            None => {
                                let bytes = pipeline
                                    .fail("Copilot answered a stream request without a body");
                                return Some((Ok(bytes), State::Done));
                            }
                        }
                    }
                }
            }
            State::Streaming(mut body, mut pipeline, mut quiet) => {
                let next = match select(body.next(), &mut quiet.timer).await {
                    Either::Left((next, _)) => next,
                    Either::Right(_) => match quiet.tick(timing.keepalive) {
                        Tick::Quiet => {
                            state = State::Streaming(body, pipeline, quiet);
                            continue;
                        }
                        Tick::Ping => {
                            return Some((
                                Ok(keepalive(source).to_vec()),
                                State::Streaming(body, pipeline, quiet),
                            ));
                        }
                        // Dropping `body` cancels the upstream request.
                        Tick::Idle => {
                            let bytes = pipeline.fail(&format!(
                                "Copilot sent nothing for {} s; the stream was ended",
                                timing.idle_timeout.as_secs_f64()
                            ));
                            return Some((Ok(bytes), State::Done));
                        }
                    },
                };
                match next {
                    Some(Ok(chunk)) => {
                        quiet.silence.upstream_bytes();
                        let bytes = pipeline.feed(&chunk);
                        if bytes.is_empty() {
                            State::Streaming(body, pipeline, quiet)
                        } else {
                            quiet.silence.client_bytes();
                            return Some((Ok(bytes), State::Streaming(body, pipeline, quiet)));
                        }
                    }
                    Some(Err(e)) => {
                        worker::console_error!("upstream stream failed: {e}");
                        let bytes = pipeline.fail("the upstream connection failed mid-stream");
                        return Some((Ok(bytes), State::Done));
                    }
                    None => return Some((Ok(pipeline.finish()), State::Done)),
                }
            }
        };
    }
}
