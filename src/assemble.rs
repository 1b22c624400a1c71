//! Non-stream answers on translated paths. Copilot is always asked to stream there (a
//! long non-stream call would otherwise sit silent until the edge times it out); the
//! translated client events are folded back into the one JSON object the client expects.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::json_read::{once, Reader};
use crate::protocol::error::{ApiError, ErrorKind};
use crate::protocol::Api;
use crate::translate::{parse_arguments, ChatChunk, OutEvent};

/// A Messages `content_block_delta` written by a translator (`OutEvent::Raw`).
#[derive(serde::Deserialize, Debug, PartialEq)]
pub(crate) struct RawBlockDelta<'a> {
    index: u64,
    #[serde(borrow)]
    delta: RawDelta<'a>,
}

impl<'a> RawBlockDelta<'a> {
    fn read(data: &'a str) -> Option<RawBlockDelta<'a>> {
        Self::fast(data).or_else(|| serde_json::from_str(data).ok())
    }

    /// `json_read`'s exact read (None: ask serde_json).
    pub(crate) fn fast(data: &'a str) -> Option<RawBlockDelta<'a>> {
        let mut r = Reader::new(data);
        let (mut index, mut delta) = (None, None);
        r.object(|r, key| match key.as_ref() {
            "index" => once(&mut index, r.u64()),
            "delta" => once(&mut delta, RawDelta::fast(r)),
            _ => r.skip(),
        })?;
        r.end()?;
        Some(RawBlockDelta {
            index: index?,
            delta: delta?,
        })
    }
}

impl<'a> RawDelta<'a> {
    fn fast(r: &mut Reader<'a>) -> Option<RawDelta<'a>> {
        let (mut kind, mut text, mut thinking, mut partial_json) = (None, None, None, None);
        r.object(|r, key| match key.as_ref() {
            "type" => once(&mut kind, r.string()),
            "text" => once(&mut text, r.option(Reader::string)),
            "thinking" => once(&mut thinking, r.option(Reader::string)),
            "partial_json" => once(&mut partial_json, r.option(Reader::string)),
            _ => r.skip(),
        })?;
        Some(RawDelta {
            kind: kind?,
            text: text.flatten(),
            thinking: thinking.flatten(),
            partial_json: partial_json.flatten(),
        })
    }
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct RawDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(borrow)]
    partial_json: Option<Cow<'a, str>>,
}

pub struct Assembler {
    api: Api,
    /// Messages: the message object; Chat: the completion object; Responses: the final response.
    result: Option<Value>,
    /// Messages: a tool_use block's streamed JSON, per content index.
    partial_json: Vec<(usize, String)>,
    /// Chat: tool calls by stream index, in first-seen order.
    tool_calls: Vec<(u64, Value)>,
    /// Messages: text for one block and field, put in the answer when an event other than
    /// more of it comes (not looked up in the answer for every delta).
    block_text: Option<(usize, String, String)>,
    /// Chat: the message's text fields, in first-seen order (put in the answer at the end,
    /// not looked up in it for every delta).
    chat_text: Vec<(String, String)>,
    error: Option<ApiError>,
    finished: bool,
}

impl Assembler {
    pub fn new(api: Api) -> Self {
        Assembler {
            api,
            result: None,
            partial_json: Vec::new(),
            tool_calls: Vec::new(),
            chat_text: Vec::new(),
            block_text: None,
            error: None,
            finished: false,
        }
    }

    pub fn push(&mut self, ev: &OutEvent) {
        if self.finished || self.error.is_some() {
            return;
        }
        match ev {
            OutEvent::Done => self.finished = true,
            OutEvent::Raw {
                name: Some("content_block_delta"),
                data,
                text,
            } if self.api == Api::Messages => {
                if let Some((at, (field, s))) = text.and_then(|t| Some((t, t.read(data)?))) {
                    return self.block_delta(at.index as usize, at.tool, field, &s);
                }
                match RawBlockDelta::read(data) {
                    Some(d) if d.delta.kind == "citations_delta" => {
                        self.push(&ev.clone().into_value())
                    }
                    Some(d) => {
                        let i = d.index as usize;
                        let json = d.delta.kind == "input_json_delta";
                        for (key, s) in [
                            ("partial_json", d.delta.partial_json),
                            ("text", d.delta.text),
                            ("thinking", d.delta.thinking),
                        ] {
                            if let Some(s) = s {
                                self.block_delta(i, json, key, &s);
                            }
                        }
                    }
                    None => self.push(&ev.clone().into_value()),
                }
            }
            // Responses answers come whole in the terminal event; raw events are deltas.
            OutEvent::Raw { .. } if self.api == Api::Responses => {}
            // Chat deltas (the answer was opened by the first, `Value`, chunk).
            OutEvent::Raw { data, text, .. }
                if self.api == Api::ChatCompletions && self.result.is_some() =>
            {
                if let Some((at, (field, s))) = text.and_then(|t| Some((t, t.read(data)?))) {
                    return self.chat_text(at.tool.then_some(at.index), field, &s);
                }
                match ChatChunk::fast(data).or_else(|| serde_json::from_str(data).ok()) {
                    Some(chunk) => self.chat_choice(&chunk),
                    None => self.push(&ev.clone().into_value()),
                }
            }
            OutEvent::Raw { .. } => self.push(&ev.clone().into_value()),
            OutEvent::Event { name, data } => match self.api {
                Api::Messages => {
                    self.flush_block_text();
                    self.messages(name.unwrap_or(""), data)
                }
                Api::Responses => self.responses(name.unwrap_or(""), data),
                Api::ChatCompletions => self.chat(data),
            },
        }
    }

    /// The complete answer, or the error the stream ended with.
    pub fn finish(mut self) -> Result<Value, ApiError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.finished {
            return Err(ApiError::new(
                ErrorKind::BadGateway,
                "the upstream stream ended before it was complete",
            ));
        }
        self.flush_block_text();
        let mut result = self.result.take().unwrap_or(Value::Null);
        if !self.chat_text.is_empty() {
            let message = &mut result["choices"][0]["message"];
            for (field, text) in self.chat_text.drain(..) {
                append(message, field, text);
            }
        }
        if self.api == Api::ChatCompletions && !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self.tool_calls.drain(..).map(|(_, c)| c).collect();
            result["choices"][0]["message"]["tool_calls"] = Value::Array(calls);
        }
        Ok(result)
    }

    fn fail(&mut self, message: &str, kind: &str) {
        let kind = match kind {
            "overloaded_error" => ErrorKind::Overloaded,
            "rate_limit_error" | "rate_limit_exceeded" => ErrorKind::RateLimit,
            "invalid_request_error" => ErrorKind::InvalidRequest,
            _ => ErrorKind::BadGateway,
        };
        self.error = Some(ApiError::new(kind, message));
    }

    /// One Messages `content_block_delta`: tool input collected until the block ends,
    /// text, thinking and signatures appended to their block.
    fn block_delta(&mut self, index: usize, json: bool, field: &str, s: &str) {
        if json {
            if field == "partial_json" {
                match self.partial_json.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, p)) => p.push_str(s),
                    None => self.partial_json.push((index, s.to_string())),
                }
            }
            return;
        }
        if field == "partial_json" {
            return;
        }
        match &mut self.block_text {
            Some((i, f, text)) if *i == index && f == field => text.push_str(s),
            _ => {
                self.flush_block_text();
                self.block_text = Some((index, field.to_string(), s.to_string()));
            }
        }
    }

    /// A citation of a Messages text block (`citations_delta`), added to its list.
    fn cite(&mut self, index: usize, citation: &Value) {
        let Some(Value::Object(block)) = self
            .result
            .as_mut()
            .and_then(|m| m.get_mut("content"))
            .and_then(|c| c.get_mut(index))
        else {
            return;
        };
        match block.entry("citations").or_insert_with(|| json!([])) {
            Value::Array(list) => list.push(citation.clone()),
            other => *other = json!([citation]),
        }
    }

    fn flush_block_text(&mut self) {
        let Some((index, field, text)) = self.block_text.take() else {
            return;
        };
        if let Some(block) = self
            .result
            .as_mut()
            .and_then(|m| m.get_mut("content"))
            .and_then(|c| c.get_mut(index))
        {
            append(block, field, text);
        }
    }

    fn messages(&mut self, name: &str, data: &Value) {
        match name {
            // Only an object can take the blocks and fields later events add.
            "message_start" => self.result = data.get("message").filter(|m| m.is_object()).cloned(),
            "content_block_start" => {
                let (Some(msg), Some(block)) = (self.result.as_mut(), data.get("content_block"))
                else {
                    return;
                };
                if let Some(content) = msg.get_mut("content").and_then(Value::as_array_mut) {
                    content.push(block.clone());
                }
            }
            "content_block_delta" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let Some(delta) = data.get("delta") else {
                    return;
                };
                if let Some(citation) = delta.get("citation") {
                    return self.cite(index, citation);
                }
                let json = delta.get("type").and_then(Value::as_str) == Some("input_json_delta");
                for key in ["partial_json", "text", "thinking", "signature"] {
                    if let Some(s) = delta.get(key).and_then(Value::as_str) {
                        self.block_delta(index, json, key, s);
                    }
                }
            }
            "content_block_stop" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if let Some(pos) = self.partial_json.iter().position(|(i, _)| *i == index) {
                    let (_, json) = self.partial_json.swap_remove(pos);
                    if let Some(block) = self
                        .result
                        .as_mut()
                        .and_then(|m| m.pointer_mut(&format!("/content/{index}")))
                    {
                        if let Some(b) = block.as_object_mut() {
                            b.insert("input".into(), parse_arguments(&json));
                        }
                    }
                }
            }
            "message_delta" => {
                let Some(msg) = self.result.as_mut().and_then(Value::as_object_mut) else {
                    return;
                };
                if let Some(d) = data.get("delta").and_then(Value::as_object) {
                    for (k, v) in d {
                        msg.insert(k.clone(), v.clone());
                    }
                }
                if let Some(u) = data.get("usage").and_then(Value::as_object) {
                    merge(msg.entry("usage").or_insert(Value::Null), u);
                }
            }
            "message_stop" => self.finished = true,
            "error" => {
                let message = data
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                let kind = data
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("api_error");
                self.fail(message, kind);
            }
            _ => {}
        }
    }

    fn responses(&mut self, name: &str, data: &Value) {
        match name {
            "response.completed" | "response.incomplete" | "response.failed" => {
                if name == "response.failed" {
                    let message = data
                        .pointer("/response/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("the upstream response failed");
                    self.fail(message, "api_error");
                    return;
                }
                self.result = data.get("response").cloned();
                self.finished = true;
            }
            "error" => {
                let message = data
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                let code = data
                    .get("code")
                    .and_then(Value::as_str)
                    .unwrap_or("api_error");
                self.fail(message, code);
            }
            _ => {}
        }
    }

    fn chat(&mut self, data: &Value) {
        if let Some(err) = data.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error");
            let kind = err
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("api_error");
            self.fail(message, kind);
            return;
        }
        let result = self.result.get_or_insert_with(|| {
            json!({
                "id": data.get("id").cloned().unwrap_or(Value::Null),
                "object": "chat.completion",
                "created": data.get("created").cloned().unwrap_or(json!(0)),
                "model": data.get("model").cloned().unwrap_or(Value::Null),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": null, "logprobs": null}],
            })
        });
        if let Some(u) = data.get("usage").filter(|u| u.is_object()) {
            result["usage"] = u.clone();
        }
        self.chat_choice(&ChatChunk::from_value(data));
    }

    /// The first choice of a chunk folded into the answer (which exists by then).
    fn chat_choice(&mut self, chunk: &ChatChunk) {
        let Some(result) = self.result.as_mut() else {
            return;
        };
        let Some(choice) = chunk.choices.as_ref().and_then(|c| c.first()) else {
            return;
        };
        if let Some(fr) = &choice.finish_reason {
            result["choices"][0]["finish_reason"] = Value::String(fr.to_string());
        }
        let Some(delta) = &choice.delta else {
            return;
        };
        for (key, s) in [
            ("content", &delta.content),
            ("reasoning_text", &delta.reasoning_text),
            ("reasoning_opaque", &delta.reasoning_opaque),
            ("refusal", &delta.refusal),
        ] {
            if let Some(s) = s {
                self.chat_text(None, key, s);
            }
        }
        for call in delta.tool_calls.iter().flatten() {
            let slot = self.tool_slot(call.index.unwrap_or(0));
            if let Some(id) = &call.id {
                slot["id"] = Value::String(id.to_string());
            }
            let function = call.function.as_ref();
            if let Some(n) = function.and_then(|f| f.name.as_deref()) {
                append(&mut slot["function"], "name", n);
            }
            if let Some(a) = function.and_then(|f| f.arguments.as_deref()) {
                append(&mut slot["function"], "arguments", a);
            }
        }
    }

    /// Text for the message (`tool`: None) or a tool call's function.
    fn chat_text(&mut self, tool: Option<u64>, field: &str, s: &str) {
        match tool {
            None if self.result.is_some() => {
                match self.chat_text.iter_mut().find(|(f, _)| f == field) {
                    Some((_, text)) => text.push_str(s),
                    None => self.chat_text.push((field.to_string(), s.to_string())),
                }
            }
            None => {}
            Some(index) => append(&mut self.tool_slot(index)["function"], field, s),
        }
    }

    /// The tool call with this stream index, opened when first seen.
    fn tool_slot(&mut self, index: u64) -> &mut Value {
        let p = match self.tool_calls.iter().position(|(i, _)| *i == index) {
            Some(p) => p,
            None => {
                self.tool_calls.push((
                    index,
                    json!({"id": null, "type": "function", "function": {"name": "", "arguments": ""}}),
                ));
                self.tool_calls.len() - 1
            }
        };
        &mut self.tool_calls[p].1
    }
}

/// Appends to a string field of an object (a block that is no object is left alone);
/// owned text is moved in when the field is new.
fn append<F, S>(target: &mut Value, field: F, s: S)
where
    F: AsRef<str> + Into<String>,
    S: AsRef<str> + Into<String>,
{
    if target.is_null() {
        *target = json!({});
    }
    let Some(o) = target.as_object_mut() else {
        return;
    };
    match o.get_mut(field.as_ref()) {
        Some(Value::String(existing)) => existing.push_str(s.as_ref()),
        _ => {
            o.insert(field.into(), Value::String(s.into()));
        }
    }
}

fn merge(target: &mut Value, from: &Map<String, Value>) {
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in from {
        target[k.as_str()] = v.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(api: Api, events: Vec<OutEvent>) -> Result<Value, ApiError> {
        let mut a = Assembler::new(api);
        for e in &events {
            a.push(e);
        }
        a.finish()
    }

    #[test]
    fn messages_from_events() {
        let n = OutEvent::named;
        let msg = run(
            Api::Messages,
            vec![
                n("message_start", json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":0}}})),
                n("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}})),
                n("content_block_stop", json!({"type":"content_block_stop","index":0})),
                n("content_block_start", json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hel"}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"lo"}})),
                n("content_block_stop", json!({"type":"content_block_stop","index":1})),
                n("content_block_start", json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})),
                n("content_block_delta", json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"1}"}})),
                n("content_block_stop", json!({"type":"content_block_stop","index":2})),
                n("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}})),
                n("message_stop", json!({"type":"message_stop"})),
            ],
        )
        .unwrap();
        assert_eq!(
            msg["content"][0],
            json!({"type":"thinking","thinking":"hm","signature":"sig"})
        );
        assert_eq!(msg["content"][1], json!({"type":"text","text":"Hello"}));
        assert_eq!(
            msg["content"][2],
            json!({"type":"tool_use","id":"t1","name":"f","input":{"a":1}})
        );
        assert_eq!(msg["stop_reason"], "tool_use");
        assert_eq!(msg["usage"], json!({"input_tokens":10,"output_tokens":7}));
    }

    #[test]
    fn messages_citations_join_their_text_block() {
        let n = OutEvent::named;
        let raw = |data: Value| OutEvent::Raw {
            name: Some("content_block_delta"),
            data: data.to_string(),
            text: None,
        };
        let cite = json!({"type":"web_search_result_location","url":"https://e.org","title":"E","cited_text":"c","encrypted_index":"x"});
        let msg = run(
            Api::Messages,
            vec![
                n("message_start", json!({"type":"message_start","message":{"id":"m","content":[],"usage":{}}})),
                n("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})),
                raw(json!({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":cite}})),
                raw(json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Cited."}})),
                n("content_block_stop", json!({"type":"content_block_stop","index":0})),
                n("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"end_turn"}})),
                n("message_stop", json!({"type":"message_stop"})),
            ],
        )
        .unwrap();
        assert_eq!(
            msg["content"][0],
            json!({"type":"text","text":"Cited.","citations":[cite]})
        );
    }

    #[test]
    fn messages_error_and_truncation() {
        let e = run(
            Api::Messages,
            vec![OutEvent::named(
                "error",
                json!({"type":"error","error":{"type":"overloaded_error","message":"busy"}}),
            )],
        )
        .unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (529, "busy"));
        let cut = run(
            Api::Messages,
            vec![OutEvent::named(
                "message_start",
                json!({"message":{"content":[]}}),
            )],
        );
        assert_eq!(cut.unwrap_err().status, 502);
    }

    #[test]
    fn odd_shapes_never_panic() {
        // Each used to index into a non-object (a panic, which aborts the Worker).
        let n = OutEvent::named;
        let cut = run(
            Api::Messages,
            vec![
                n("message_start", json!({"message": "text"})),
                n(
                    "message_delta",
                    json!({"delta": {"stop_reason": "end_turn"}}),
                ),
                n("message_stop", json!({})),
            ],
        );
        assert_eq!(
            cut.unwrap(),
            Value::Null,
            "no usable message_start: nothing assembled"
        );
        let msg = run(
            Api::Messages,
            vec![
                n("message_start", json!({"message": {"content": [], "usage": 3}})),
                n("content_block_start", json!({"index": 0, "content_block": [1]})),
                n("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "a"}})),
                n("content_block_delta", json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}})),
                n("content_block_stop", json!({"index": 0})),
                n("message_delta", json!({"delta": {}, "usage": {"output_tokens": 1}})),
                n("message_stop", json!({})),
            ],
        )
        .unwrap();
        assert_eq!(msg["content"], json!([[1]]));
        assert_eq!(msg["usage"], json!({"output_tokens": 1}));
    }

    #[test]
    fn responses_take_the_terminal_response() {
        let r = run(
            Api::Responses,
            vec![
                OutEvent::named("response.created", json!({"type":"response.created","response":{"status":"in_progress"}})),
                OutEvent::named("response.completed", json!({"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}})),
            ],
        )
        .unwrap();
        assert_eq!(r["id"], "resp_1");
        let failed = run(
            Api::Responses,
            vec![OutEvent::named(
                "response.failed",
                json!({"response":{"error":{"message":"nope"}}}),
            )],
        );
        assert_eq!(failed.unwrap_err().message, "nope");
    }

    #[test]
    fn chat_from_chunks() {
        let c = |v: Value| OutEvent::data(v);
        let r = run(
            Api::ChatCompletions,
            vec![
                c(json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})),
                c(json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]})),
                c(json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]})),
                c(json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]})),
                c(json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})),
                c(json!({"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})),
                OutEvent::Done,
            ],
        )
        .unwrap();
        assert_eq!(r["object"], "chat.completion");
        assert_eq!(r["choices"][0]["message"]["content"], "Hi");
        assert_eq!(r["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            r["choices"][0]["message"]["tool_calls"],
            json!([{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}])
        );
        assert_eq!(r["usage"]["total_tokens"], 5);
        let err = run(
            Api::ChatCompletions,
            vec![c(json!({"error":{"message":"bad","type":"server_error"}}))],
        );
        assert_eq!(err.unwrap_err().message, "bad");
    }
}
