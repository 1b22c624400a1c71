//! `GET /v1/responses` with `Upgrade: websocket`: OpenAI's Responses WebSocket mode (Codex
//! with `supports_websockets = true`). Each `response.create` message runs through the
//! same pipeline as a streamed `POST /v1/responses` (limits, aliases, routing,
//! translation, web search, metering) and its events go back as text messages, in order.
//! Turns run one at a time; messages sent meanwhile wait their turn. A client that goes
//! away mid-turn stops the upstream read, and the turn is recorded with what it used.

use std::collections::VecDeque;

use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{
    Context, Env, Headers, Request, RequestInit, Response, WebSocket, WebSocketPair, WebsocketEvent,
};

use super::data_plane;
use super::incoming::Incoming;
use super::metering::{self, Meter};
use crate::api_error::{ApiError, ErrorKind};
use crate::ids::{hex, random_bytes};
use crate::responses_socket::{
    connection_limit, error_event, error_event_from, warmup_events, Connection, TurnRecord,
    TurnRequest, CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, CLOSE_UNSUPPORTED_DATA,
};
use crate::sse::SseParser;
use crate::store::keys::KeyIdentity;
use crate::store::now_ms;
use crate::upstream::routing::Api;

/// Accepts the upgrade (the caller's key already checked) and serves the connection from
/// a task of its own; the 101 answer goes back at once.
pub fn upgrade(
    req: Incoming,
    env: &Env,
    ctx: Context,
    caller: KeyIdentity,
) -> Result<Response, ApiError> {
    let headers = req.headers();
    let upgrade = headers.get("upgrade").ok().flatten().unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "GET /v1/responses is the Responses WebSocket mode: connect with `Upgrade: \
             websocket`, or POST /v1/responses for HTTP",
        )
        .with_code("websocket_upgrade_required"));
    }
    let failed = |e: worker::Error| ApiError::new(ErrorKind::Api, format!("WebSocket: {e}"));
    let pair = WebSocketPair::new().map_err(failed)?;
    pair.server.accept().map_err(failed)?;
    let socket = Socket {
        ws: pair.server,
        env: env.clone(),
        ctx,
        caller,
        url: req.url(),
        opened: now_ms(),
    };
    worker::wasm_bindgen_futures::spawn_local(socket.serve());
    Response::from_websocket(pair.client).map_err(failed)
}

struct Socket {
    ws: WebSocket,
    env: Env,
    ctx: Context,
    caller: KeyIdentity,
    url: String,
    opened: u64,
}

/// What a message or a turn left the connection as.
enum Flow {
    Open,
    Closed,
}

/// Client messages that arrived while a turn ran.
type Queue = VecDeque<Result<String, ()>>;

impl Socket {
    async fn serve(self) {
        let Ok(mut events) = self.ws.events() else {
            let _ = self.ws.close(
                Some(CLOSE_INTERNAL_ERROR),
                Some("the connection could not be read"),
            );
            return;
        };
        let mut conn = Connection::default();
        let mut queue = Queue::new();
        loop {
            let message = match queue.pop_front() {
                Some(m) => m,
                None => match events.next().await {
                    Some(Ok(WebsocketEvent::Message(m))) => m.text().ok_or(()),
                    // Closed by the client, or broken: nothing more to answer.
                    Some(Ok(WebsocketEvent::Close(_))) | Some(Err(_)) | None => break,
                },
            };
            let Ok(text) = message else {
                let _ = self.ws.close(
                    Some(CLOSE_UNSUPPORTED_DATA),
                    Some("binary messages are not supported; send JSON text"),
                );
                return;
            };
            if let Flow::Closed = self
                .message(&text, &mut conn, &mut events, &mut queue)
                .await
            {
                return;
            }
        }
        let _ = self.ws.close(Some(CLOSE_NORMAL), Some("closed"));
    }

    fn send(&self, text: &str) -> Flow {
        match self.ws.send_with_str(text) {
            Ok(()) => Flow::Open,
            Err(_) => Flow::Closed,
        }
    }

    async fn message(
        &self,
        text: &str,
        conn: &mut Connection,
        events: &mut worker::EventStream<'_>,
        queue: &mut Queue,
    ) -> Flow {
        if now_ms().saturating_sub(self.opened) >= crate::responses_socket::CONNECTION_LIMIT_MS {
            let _ = self.send(&error_event(&connection_limit()));
            let _ = self
                .ws
                .close(Some(CLOSE_NORMAL), Some("connection limit reached"));
            return Flow::Closed;
        }
        let turn = match conn.read(text) {
            Ok(turn) => turn,
            Err(e) => return self.send(&error_event(&e)),
        };
        if turn.warmup {
            let id = format!("resp_{}", hex(&random_bytes::<16>()));
            let model = turn.body.get("model").cloned().unwrap_or(Value::Null);
            for e in warmup_events(&id, &model, now_ms() / 1000) {
                if let Flow::Closed = self.send(&e) {
                    return Flow::Closed;
                }
            }
            conn.remember(id, turn.chain, Vec::new());
            return Flow::Open;
        }
        let TurnRequest { body, chain, .. } = turn;
        let mut meter = Meter::for_key(&self.caller.id);
        meter.socket = true;
        let result = match metering::enforce_limits(&self.env, &self.caller).await {
            Ok(()) => match self.request(&body) {
                Ok(req) => {
                    drop(body);
                    data_plane::generate(Api::Responses, req, &self.env, &self.ctx, &mut meter)
                        .await
                }
                Err(e) => Err(e),
            },
            Err(refused) => Err(refused),
        };
        let mut record = TurnRecord::default();
        let (flow, failed) = match result {
            Err(e) => (self.send(&error_event(&e)), true),
            Ok(mut resp) if resp.status_code() >= 400 => {
                let status = resp.status_code();
                let text = resp.text().await.unwrap_or_default();
                let error = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|mut v| v.get_mut("error").map(Value::take))
                    .unwrap_or(Value::Null);
                (self.send(&error_event_from(status, error)), true)
            }
            Ok(mut resp) => match meter.events.take() {
                Some(stream) => (self.relay(stream, events, queue, &mut record).await, false),
                // Copilot answered a stream request whole: sent as its completion.
                None => {
                    let text = resp.text().await.unwrap_or_default();
                    let response = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
                    let event =
                        serde_json::json!({ "type": "response.completed", "response": response });
                    record.observe(&event);
                    (self.send(&event.to_string()), false)
                }
            },
        };
        // Awaited here: `waitUntil` after the upgrade would be dropped.
        metering::settle_now(&self.env, &self.caller, meter, failed).await;
        if let Some((id, output)) = record.finished() {
            conn.remember(id, chain, output);
        }
        flow
    }

    /// A `POST /v1/responses` carrying the turn, as the pipeline reads requests.
    fn request(&self, body: &serde_json::Map<String, Value>) -> Result<Incoming, ApiError> {
        let failed =
            |e: worker::Error| ApiError::new(ErrorKind::Api, format!("WebSocket turn: {e}"));
        let text = crate::json_write::object_to_string(body, 4096);
        let headers = Headers::new();
        headers
            .set("content-type", "application/json")
            .map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from(worker::js_sys::Uint8Array::from(
                text.as_bytes(),
            ))));
        let req = Request::new_with_init(&self.url, &init).map_err(failed)?;
        Ok(Incoming::of(&req))
    }

    /// Sends the turn's events as they come. A close from the client drops the stream,
    /// which stops the upstream read (and reports the usage seen so far).
    async fn relay(
        &self,
        mut stream: metering::EventBytes,
        events: &mut worker::EventStream<'_>,
        queue: &mut Queue,
        record: &mut TurnRecord,
    ) -> Flow {
        let mut parser = SseParser::new();
        let mut open = true;
        loop {
            // After the terminal event the turn is the client's: its hang-up no longer
            // cuts the stream, whose end (and usage) follows at once.
            if record.ended() {
                match stream.next().await {
                    Some(Ok(chunk)) => {
                        parser.feed_each(&chunk, |ev| forward(&self.ws, record, &mut open, ev))
                    }
                    Some(Err(_)) | None => break,
                }
                continue;
            }
            match select(stream.next(), events.next()).await {
                Either::Left((Some(Ok(chunk)), _)) => {
                    parser.feed_each(&chunk, |ev| forward(&self.ws, record, &mut open, ev))
                }
                Either::Left((Some(Err(_)), _)) | Either::Left((None, _)) => {
                    parser.finish_each(|ev| forward(&self.ws, record, &mut open, ev));
                    break;
                }
                Either::Right((Some(Ok(WebsocketEvent::Message(m))), _)) => {
                    queue.push_back(m.text().ok_or(()));
                }
                Either::Right(_) => open = false,
            }
            if !open {
                break;
            }
        }
        if record.ended() {
            parser.finish_each(|ev| forward(&self.ws, record, &mut open, ev));
        }
        drop(stream);
        if open {
            Flow::Open
        } else {
            Flow::Closed
        }
    }
}

/// Sends one client event as a message (the stream's `[DONE]` and keep-alives are not
/// events of the mode); `open` turns false when the client cannot be reached.
fn forward(ws: &WebSocket, record: &mut TurnRecord, open: &mut bool, ev: &crate::sse::SseEvent) {
    if !*open || ev.data.is_empty() || ev.is_done_marker() {
        return;
    }
    if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
        record.observe(&v);
    }
    *open = ws.send_with_str(&ev.data).is_ok();
}
