//! OpenAI's Responses WebSocket mode, the part that is pure data: reading a client's
//! `response.create` message into the body a `POST /v1/responses` would carry, the
//! connection's memory of earlier turns (what `previous_response_id` refers to: Copilot
//! keeps nothing), and the error events the mode defines.

use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::{json, Map, Value};

use crate::api_error::{ApiError, ApiFormat};

/// The `OpenAI-Beta` value Codex sends with the upgrade (`supports_websockets = true`).
pub const OPENAI_BETA: &str = "responses_websockets=2026-02-06";
/// OpenAI closes a connection after an hour; clients open a new one on this error.
pub const CONNECTION_LIMIT_MS: u64 = 60 * 60 * 1000;
/// Earlier turns kept per connection. Turns share what came before them (a chain), so a
/// connection holds each item once however many turns continue it.
const KEPT_TURNS: usize = 64;

/// Close codes (RFC 6455): a binary frame is data the mode does not take; a failure of
/// the gateway itself is an internal error.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// One turn the client asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnRequest {
    /// The `POST /v1/responses` body: streamed, earlier turns' items first.
    pub body: Map<String, Value>,
    /// Where the turn continues from, and its new input: kept for later turns.
    pub chain: Link,
    /// `generate: false`: the client only warms the connection up; nothing is generated.
    pub warmup: bool,
}

/// A turn's place in its conversation: the turn it continued and the items it added.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    parent: Option<Rc<Turn>>,
    input: Vec<Value>,
}

/// A finished turn: what it continued, and its input and output items.
#[derive(Debug, PartialEq)]
pub struct Turn {
    parent: Option<Rc<Turn>>,
    items: Vec<Value>,
}

impl Turn {
    /// The whole conversation up to and including this turn, oldest first.
    fn conversation(self: &Rc<Turn>) -> Vec<Value> {
        let mut chain = Vec::new();
        let mut at = Some(self);
        while let Some(t) = at {
            chain.push(t);
            at = t.parent.as_ref();
        }
        chain
            .iter()
            .rev()
            .flat_map(|t| t.items.iter().cloned())
            .collect()
    }
}

/// The connection's turns, by response id, most recent last.
#[derive(Debug, Default)]
pub struct Connection {
    turns: VecDeque<(String, Rc<Turn>)>,
}

impl Connection {
    /// Reads a client message. Anything but a JSON `response.create` object is a 400 the
    /// client gets as an error event; the connection stays open.
    pub fn read(&self, text: &str) -> Result<TurnRequest, ApiError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("the message is not valid JSON: {e}")))?;
        let Value::Object(mut body) = v else {
            return Err(ApiError::invalid("the message must be a JSON object"));
        };
        match body.remove("type") {
            Some(Value::String(t)) if t == "response.create" => {}
            Some(Value::String(t)) => {
                return Err(ApiError::invalid(format!(
                    "unsupported event type '{t}'; this connection takes `response.create`"
                ))
                .with_param("type"))
            }
            _ => {
                return Err(
                    ApiError::invalid("`type` is required: \"response.create\"").with_param("type")
                )
            }
        }
        // Some clients nest the body under `response` (the Realtime API's shape).
        if let Some(Value::Object(inner)) = body.remove("response") {
            for (k, v) in inner {
                body.entry(k).or_insert(v);
            }
        }
        if body.get("background").and_then(Value::as_bool) == Some(true) {
            return Err(
                ApiError::invalid("`background` is not supported over WebSocket")
                    .with_param("background"),
            );
        }
        let warmup = body.remove("generate").and_then(|g| g.as_bool()) == Some(false);
        body.remove("background");
        body.remove("stream_options");
        body.insert("stream".into(), Value::Bool(true));
        let input = match body.remove("input") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![json!({
                "type": "message",
                "role": "user",
                "content": [{ "type": "input_text", "text": s }],
            })],
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(
                    ApiError::invalid("`input` must be a string or an array of items")
                        .with_param("input"),
                )
            }
        };
        let parent = match body.remove("previous_response_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => match self.turns.iter().rev().find(|(t, _)| *t == id) {
                Some((_, earlier)) => Some(Rc::clone(earlier)),
                None => return Err(previous_not_found(&id)),
            },
            Some(_) => {
                return Err(ApiError::invalid("`previous_response_id` must be a string")
                    .with_param("previous_response_id"))
            }
        };
        let mut items = parent.as_ref().map(Turn::conversation).unwrap_or_default();
        items.extend(input.iter().cloned());
        body.insert("input".into(), Value::Array(items));
        Ok(TurnRequest {
            body,
            chain: Link { parent, input },
            warmup,
        })
    }

    /// Keeps a finished turn: its conversation and what the model answered.
    pub fn remember(&mut self, id: String, chain: Link, output: Vec<Value>) {
        let Link { parent, mut input } = chain;
        input.extend(output);
        if self.turns.len() == KEPT_TURNS {
            self.turns.pop_front();
        }
        let turn = Turn {
            parent,
            items: input,
        };
        self.turns.push_back((id, Rc::new(turn)));
    }
}

fn previous_not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(100).collect();
    ApiError::invalid(format!(
        "Previous response with id '{shown}' not found. Over WebSocket, \
         `previous_response_id` refers to a response of the same connection."
    ))
    .with_param("previous_response_id")
    .with_code("previous_response_not_found")
}

/// The error of an hour-old connection; the client opens a new one.
pub fn connection_limit() -> ApiError {
    ApiError::invalid(
        "Responses websocket connection limit reached (60 minutes). Create a new websocket \
         connection to continue.",
    )
    .with_code("websocket_connection_limit_reached")
}

/// An error as the mode sends it: `{"type":"error","status":..,"error":{..}}`.
pub fn error_event(e: &ApiError) -> String {
    let mut v = e.to_value(ApiFormat::OpenAi);
    error_event_from(e.status, v["error"].take())
}

/// An upstream refusal (its body, in OpenAI's shape already) as an error event.
pub fn error_event_from(status: u16, error: Value) -> String {
    let error = match error {
        Value::Object(_) => error,
        _ => json!({ "type": "api_error", "message": "the request failed" }),
    };
    json!({ "type": "error", "status": status, "error": error }).to_string()
}

/// What a turn's events say about the response: its id, status and output items.
#[derive(Debug, Default)]
pub struct TurnRecord {
    pub id: Option<String>,
    pub status: Option<String>,
    output: Vec<(u64, Value)>,
}

impl TurnRecord {
    pub fn observe(&mut self, event: &Value) {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "response.output_item.done" => {
                let index = event
                    .get("output_index")
                    .and_then(Value::as_u64)
                    .unwrap_or(self.output.len() as u64);
                if let Some(item) = event.get("item") {
                    self.output.retain(|(i, _)| *i != index);
                    self.output.push((index, item.clone()));
                }
            }
            _ if kind.starts_with("response.") => {
                if let Some(r) = event.get("response") {
                    if let Some(id) = r.get("id").and_then(Value::as_str) {
                        self.id = Some(id.to_string());
                    }
                    if let Some(s) = r.get("status").and_then(Value::as_str) {
                        self.status = Some(s.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether the response's terminal event was seen.
    pub fn ended(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("completed" | "incomplete" | "failed" | "cancelled")
        )
    }

    /// A finished response (completed, or cut short by its token limit) and its output,
    /// in output order; None for a failed one, which later turns cannot continue.
    pub fn finished(mut self) -> Option<(String, Vec<Value>)> {
        if !matches!(self.status.as_deref(), Some("completed" | "incomplete")) {
            return None;
        }
        self.output.sort_by_key(|(i, _)| *i);
        let id = self.id?;
        Some((id, self.output.into_iter().map(|(_, v)| v).collect()))
    }
}

/// The events of a warm-up turn (`generate: false`): a response with no output, whose id
/// later turns can continue from.
pub fn warmup_events(id: &str, model: &Value, now_secs: u64) -> Vec<String> {
    let response = |status: &str| {
        json!({
            "id": id,
            "object": "response",
            "created_at": now_secs,
            "status": status,
            "model": model,
            "output": [],
            "usage": if status == "completed" {
                json!({ "input_tokens": 0, "output_tokens": 0, "total_tokens": 0 })
            } else {
                Value::Null
            },
        })
    };
    vec![
        json!({ "type": "response.created", "sequence_number": 0, "response": response("in_progress") })
            .to_string(),
        json!({ "type": "response.completed", "sequence_number": 1, "response": response("completed") })
            .to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        Connection::default()
    }

    #[test]
    fn reads_response_create_as_a_streamed_post_body() {
        let t = conn()
            .read(r#"{"type":"response.create","model":"m","input":"hi","stream":false,"stream_options":{},"tools":[]}"#)
            .unwrap();
        assert!(!t.warmup);
        assert_eq!(t.body["stream"], true);
        assert!(t.body.get("type").is_none());
        assert!(t.body.get("stream_options").is_none());
        assert_eq!(t.body["tools"], json!([]));
        assert_eq!(t.body["input"][0]["content"][0]["text"], "hi");
        assert_eq!(t.chain.input.len(), 1);
        // The Realtime-style nesting is read the same way.
        let t = conn()
            .read(r#"{"type":"response.create","response":{"model":"m","input":[]}}"#)
            .unwrap();
        assert_eq!(t.body["model"], "m");
        let t = conn()
            .read(r#"{"type":"response.create","model":"m","generate":false}"#)
            .unwrap();
        assert!(t.warmup);
        assert!(t.body.get("generate").is_none());
    }

    #[test]
    fn refuses_what_is_not_a_response_create() {
        for (text, param) in [
            ("not json", None),
            ("[1]", None),
            (r#"{"model":"m"}"#, Some("type")),
            (r#"{"type":"response.cancel"}"#, Some("type")),
            (
                r#"{"type":"response.create","background":true}"#,
                Some("background"),
            ),
            (r#"{"type":"response.create","input":5}"#, Some("input")),
            (
                r#"{"type":"response.create","previous_response_id":5}"#,
                Some("previous_response_id"),
            ),
        ] {
            let e = conn().read(text).unwrap_err();
            assert_eq!(e.status, 400, "{text}");
            assert_eq!(e.param.as_deref(), param, "{text}");
        }
    }

    #[test]
    fn previous_response_id_continues_a_turn_of_this_connection() {
        let mut c = conn();
        let first = c
            .read(r#"{"type":"response.create","model":"m","input":"one"}"#)
            .unwrap();
        c.remember(
            "resp_1".into(),
            first.chain,
            vec![json!({"type":"function_call","call_id":"c1","name":"f","arguments":"{}"})],
        );
        let next = c
            .read(r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"c1","output":"ok"}]}"#)
            .unwrap();
        let types: Vec<&str> = next.body["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["message", "function_call", "function_call_output"]);
        assert!(next.body.get("previous_response_id").is_none());
        // A third turn continues the second: the whole chain, each item once.
        c.remember(
            "resp_2".into(),
            next.chain,
            vec![json!({"type":"message","role":"assistant","content":[]})],
        );
        let third = c
            .read(r#"{"type":"response.create","previous_response_id":"resp_2","input":"more"}"#)
            .unwrap();
        assert_eq!(third.body["input"].as_array().unwrap().len(), 5);
        assert_eq!(third.body["input"][4]["content"][0]["text"], "more");
        let e = c
            .read(r#"{"type":"response.create","previous_response_id":"resp_other"}"#)
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("previous_response_not_found"));
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
    }

    #[test]
    fn keeps_the_latest_turns_only() {
        let mut c = conn();
        for i in 0..=KEPT_TURNS {
            c.remember(format!("r{i}"), Link::default(), vec![]);
        }
        let ask =
            |id: &str| format!(r#"{{"type":"response.create","previous_response_id":"{id}"}}"#);
        assert!(c.read(&ask("r0")).is_err());
        assert!(c.read(&ask("r1")).is_ok());
        assert!(c.read(&ask(&format!("r{KEPT_TURNS}"))).is_ok());
    }

    #[test]
    fn records_a_turn_from_its_events() {
        let mut r = TurnRecord::default();
        r.observe(
            &json!({"type":"response.created","response":{"id":"resp_9","status":"in_progress"}}),
        );
        r.observe(&json!({"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"c"}}));
        r.observe(&json!({"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning"}}));
        r.observe(
            &json!({"type":"response.completed","response":{"id":"resp_9","status":"completed"}}),
        );
        let (id, out) = r.finished().unwrap();
        assert_eq!(id, "resp_9");
        assert_eq!(out[0]["type"], "reasoning");
        assert_eq!(out[1]["type"], "function_call");
        let mut failed = TurnRecord::default();
        failed.observe(&json!({"type":"response.failed","response":{"id":"x","status":"failed"}}));
        assert!(failed.finished().is_none());
    }

    #[test]
    fn error_events_have_the_modes_shape() {
        let e: Value = serde_json::from_str(&error_event(&connection_limit())).unwrap();
        assert_eq!(e["type"], "error");
        assert_eq!(e["status"], 400);
        assert_eq!(e["error"]["code"], "websocket_connection_limit_reached");
        assert_eq!(e["error"]["type"], "invalid_request_error");
        let up: Value = serde_json::from_str(&error_event_from(
            429,
            json!({"message":"slow down","type":"rate_limit_error"}),
        ))
        .unwrap();
        assert_eq!(up["status"], 429);
        assert_eq!(up["error"]["message"], "slow down");
    }

    #[test]
    fn warmup_answers_an_empty_response() {
        let ev = warmup_events("resp_w", &json!("m"), 5);
        let done: Value = serde_json::from_str(&ev[1]).unwrap();
        assert_eq!(done["type"], "response.completed");
        assert_eq!(done["response"]["id"], "resp_w");
        assert_eq!(done["response"]["output"], json!([]));
    }
}
