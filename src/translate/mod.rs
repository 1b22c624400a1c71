//! Translators between the three APIs, one module per (client API, Copilot API) pair.
//!
//! Each pair module holds the request translation (client body → upstream body) and the
//! stream translator (upstream events → client events). Everything here is pure: JSON in,
//! JSON out; stream translators are state machines fed one upstream SSE event at a time.
//! Translated paths always stream from Copilot; a non-stream client answer is assembled
//! from the translated events (`crate::assemble`).

pub mod chat_to_messages;
pub mod chat_to_responses;
pub mod gemini_to_messages;
mod json;
pub mod messages_to_chat;
pub mod messages_to_responses;
pub mod responses_to_chat;
pub mod responses_to_messages;
mod stream;
pub mod wire;

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::json_read::{once, Reader};
pub use crate::json_write::{push_json_str, push_u64};
use crate::protocol::error::ApiError;
pub use crate::protocol::tools::parse_arguments;
use crate::protocol::Api;
use crate::protocol::Usage;
use crate::sse::SseEvent;

/// Whether a translator pair exists for `source` → `target`.
pub fn available(source: Api, target: Api) -> bool {
    request_translator(source, target).is_some()
}

/// Whether the translated target can carry what this request asks for, as far as a cheap
/// look tells: the routing plan then skips a target that would only refuse it for the
/// next one the model supports (a Chat `json_object` request for Claude goes to Copilot's
/// own chat endpoint instead of being refused by the Messages API, which has no JSON mode).
pub fn carries(source: Api, target: Api, body: &Map<String, Value>) -> bool {
    if target != Api::Messages || source == Api::Messages {
        return true;
    }
    let format = match source {
        Api::ChatCompletions => body.get("response_format"),
        _ => body.get("text").and_then(|t| t.get("format")),
    };
    format.and_then(|f| f.get("type")).and_then(Value::as_str) != Some("json_object")
}

/// The request translation of a pair (None for a native pair).
pub fn request_translator(source: Api, target: Api) -> Option<RequestFn> {
    use Api::*;
    Some(match (source, target) {
        (Messages, Responses) => messages_to_responses::request,
        (Messages, ChatCompletions) => messages_to_chat::request,
        (Responses, Messages) => responses_to_messages::request,
        (Responses, ChatCompletions) => responses_to_chat::request,
        (ChatCompletions, Messages) => chat_to_messages::request,
        (ChatCompletions, Responses) => chat_to_responses::request,
        _ => return None,
    })
}

/// The stream translator of a pair: upstream `target` events → `source` client events.
pub fn stream_translator(
    source: Api,
    target: Api,
    ctx: &TranslateCtx,
) -> Option<Box<dyn StreamTranslator>> {
    use Api::*;
    Some(match (source, target) {
        (Messages, Responses) => {
            Box::new(messages_to_responses::MessagesToResponsesStream::new(ctx))
        }
        (Messages, ChatCompletions) => Box::new(messages_to_chat::MessagesToChatStream::new(ctx)),
        (Responses, Messages) => {
            Box::new(responses_to_messages::ResponsesToMessagesStream::new(ctx))
        }
        (Responses, ChatCompletions) => {
            Box::new(responses_to_chat::ResponsesToChatStream::new(ctx))
        }
        (ChatCompletions, Messages) => Box::new(chat_to_messages::ChatToMessagesStream::new(ctx)),
        (ChatCompletions, Responses) => {
            Box::new(chat_to_responses::ChatToResponsesStream::new(ctx))
        }
        _ => return None,
    })
}

/// One event for the client, in the client's API. `name` is the SSE `event:` line
/// (Anthropic and Responses events have one, Chat chunks do not).
#[derive(Debug, Clone, PartialEq)]
pub enum OutEvent {
    Event {
        name: Option<&'static str>,
        data: Value,
    },
    /// An event whose JSON is already written: the text, thinking and tool-argument
    /// deltas that make up nearly all of a stream, built without a `Value`.
    Raw {
        name: Option<&'static str>,
        data: String,
        /// Where the delta's text is in `data`, for the assembler of a non-stream answer.
        text: Option<TextAt>,
    },
    /// Chat Completions' closing `data: [DONE]`.
    Done,
}

impl OutEvent {
    /// The same event with its JSON as a `Value` (a `Raw` event parsed), for consumers
    /// that inspect events rather than send them. Raw events are written by the
    /// translators and always valid; should one not be, it reads as `null`, never a panic.
    pub fn into_value(self) -> OutEvent {
        match self {
            OutEvent::Raw { name, data, .. } => OutEvent::Event {
                name,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
            },
            other => other,
        }
    }

    pub fn named(name: &'static str, data: Value) -> OutEvent {
        OutEvent::Event {
            name: Some(name),
            data,
        }
    }

    pub fn data(data: Value) -> OutEvent {
        OutEvent::Event { name: None, data }
    }
}

/// A Responses text, reasoning-summary or function-arguments delta event, read without
/// building a `Value` (the fields translators use; the rest is skipped unparsed).
#[derive(serde::Deserialize, Debug, PartialEq)]
pub struct ResponsesDelta<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    pub output_index: u64,
    #[serde(default)]
    pub content_index: u64,
    #[serde(default)]
    pub summary_index: u64,
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

impl<'a> ResponsesDelta<'a> {
    pub const TEXT: &'static str = "response.output_text.delta";
    pub const SUMMARY: &'static str = "response.reasoning_summary_text.delta";
    pub const ARGUMENTS: &'static str = "response.function_call_arguments.delta";

    /// The delta, when `ev` is one of the three (named so by its `event:` line and `type`).
    pub fn read(ev: &'a SseEvent) -> Option<ResponsesDelta<'a>> {
        let name = ev.event.as_deref()?;
        if name != Self::TEXT && name != Self::SUMMARY && name != Self::ARGUMENTS {
            return None;
        }
        Self::fast(&ev.data)
            .or_else(|| serde_json::from_str::<ResponsesDelta>(&ev.data).ok())
            .filter(|d| d.kind == name)
    }

    /// `json_read`'s exact read (None: ask serde_json).
    pub(crate) fn fast(data: &'a str) -> Option<ResponsesDelta<'a>> {
        let mut r = Reader::new(data);
        let (mut kind, mut output_index, mut content_index, mut summary_index, mut delta) =
            (None, None, None, None, None);
        r.object(|r, key| match key.as_ref() {
            "type" => once(&mut kind, r.string()),
            "output_index" => once(&mut output_index, r.u64()),
            "content_index" => once(&mut content_index, r.u64()),
            "summary_index" => once(&mut summary_index, r.u64()),
            "delta" => once(&mut delta, r.string()),
            _ => r.skip(),
        })?;
        r.end()?;
        Some(ResponsesDelta {
            kind: kind?,
            output_index: output_index?,
            content_index: content_index.unwrap_or(0),
            summary_index: summary_index.unwrap_or(0),
            delta: delta?,
        })
    }
}

/// A Chat Completions stream chunk as the translators read it, parsed without building a
/// `Value` for what comes in every chunk (`usage` and `error` are rare and kept as values).
/// A chunk whose fields have unexpected types is read through a `Value` instead, where
/// such fields count as absent (as the `Value` reads did before).
#[derive(serde::Deserialize, Default, Debug, PartialEq)]
pub struct ChatChunk<'a> {
    #[serde(borrow, default)]
    pub choices: Option<Vec<ChatChoice<'a>>>,
    #[serde(default)]
    pub usage: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(serde::Deserialize, Default, Debug, PartialEq)]
pub struct ChatChoice<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub delta: Option<ChatDelta<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize, Default, Debug, PartialEq)]
pub struct ChatDelta<'a> {
    #[serde(borrow, default)]
    pub content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub reasoning_text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub reasoning_opaque: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tool_calls: Option<Vec<ChatToolCall<'a>>>,
}

#[derive(serde::Deserialize, Default, Debug, PartialEq)]
pub struct ChatToolCall<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub function: Option<ChatFunction<'a>>,
}

#[derive(serde::Deserialize, Default, Debug, PartialEq)]
pub struct ChatFunction<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub arguments: Option<Cow<'a, str>>,
}

impl<'a> ChatChunk<'a> {
    /// The chunk of an upstream Chat event; `None` for `[DONE]` or data that is not a
    /// JSON object.
    pub fn read(ev: &'a SseEvent) -> Option<ChatChunk<'a>> {
        if ev.is_done_marker() {
            return None;
        }
        if let Some(chunk) = Self::fast(&ev.data) {
            return Some(chunk);
        }
        match serde_json::from_str(&ev.data) {
            Ok(chunk) => Some(chunk),
            Err(_) => match serde_json::from_str::<Value>(&ev.data) {
                Ok(v @ Value::Object(_)) => Some(ChatChunk::from_value(&v)),
                _ => None,
            },
        }
    }

    /// `json_read`'s exact read (None: ask serde_json). `usage` and `error` (rare, and
    /// kept as values) are left to serde_json unless null.
    pub(crate) fn fast(data: &'a str) -> Option<ChatChunk<'a>> {
        let mut r = Reader::new(data);
        let (mut choices, mut usage, mut error) = (None, None, None);
        r.object(|r, key| match key.as_ref() {
            "choices" => once(&mut choices, r.option(Self::fast_choices)),
            "usage" => once(&mut usage, r.null()?.then_some(())),
            "error" => once(&mut error, r.null()?.then_some(())),
            _ => r.skip(),
        })?;
        r.end()?;
        Some(ChatChunk {
            choices: choices.flatten(),
            usage: None,
            error: None,
        })
    }

    fn fast_choices(r: &mut Reader<'a>) -> Option<Vec<ChatChoice<'a>>> {
        let mut choices = Vec::new();
        r.array(|r| {
            let (mut index, mut delta, mut finish_reason) = (None, None, None);
            r.object(|r, key| match key.as_ref() {
                "index" => once(&mut index, r.option(Reader::u64)),
                "delta" => once(&mut delta, r.option(Self::fast_delta)),
                "finish_reason" => once(&mut finish_reason, r.option(Reader::string)),
                _ => r.skip(),
            })?;
            choices.push(ChatChoice {
                index: index.flatten(),
                delta: delta.flatten(),
                finish_reason: finish_reason.flatten(),
            });
            Some(())
        })?;
        Some(choices)
    }

    fn fast_delta(r: &mut Reader<'a>) -> Option<ChatDelta<'a>> {
        let (mut content, mut refusal, mut reasoning_text, mut reasoning_opaque, mut tool_calls) =
            (None, None, None, None, None);
        r.object(|r, key| match key.as_ref() {
            "content" => once(&mut content, r.option(Reader::string)),
            "refusal" => once(&mut refusal, r.option(Reader::string)),
            "reasoning_text" => once(&mut reasoning_text, r.option(Reader::string)),
            "reasoning_opaque" => once(&mut reasoning_opaque, r.option(Reader::string)),
            "tool_calls" => once(&mut tool_calls, r.option(Self::fast_tool_calls)),
            _ => r.skip(),
        })?;
        Some(ChatDelta {
            content: content.flatten(),
            refusal: refusal.flatten(),
            reasoning_text: reasoning_text.flatten(),
            reasoning_opaque: reasoning_opaque.flatten(),
            tool_calls: tool_calls.flatten(),
        })
    }

    fn fast_tool_calls(r: &mut Reader<'a>) -> Option<Vec<ChatToolCall<'a>>> {
        let mut calls = Vec::new();
        r.array(|r| {
            let (mut index, mut id, mut function) = (None, None, None);
            r.object(|r, key| match key.as_ref() {
                "index" => once(&mut index, r.option(Reader::u64)),
                "id" => once(&mut id, r.option(Reader::string)),
                "function" => once(&mut function, r.option(Self::fast_function)),
                _ => r.skip(),
            })?;
            calls.push(ChatToolCall {
                index: index.flatten(),
                id: id.flatten(),
                function: function.flatten(),
            });
            Some(())
        })?;
        Some(calls)
    }

    fn fast_function(r: &mut Reader<'a>) -> Option<ChatFunction<'a>> {
        let (mut name, mut arguments) = (None, None);
        r.object(|r, key| match key.as_ref() {
            "name" => once(&mut name, r.option(Reader::string)),
            "arguments" => once(&mut arguments, r.option(Reader::string)),
            _ => r.skip(),
        })?;
        Some(ChatFunction {
            name: name.flatten(),
            arguments: arguments.flatten(),
        })
    }

    /// The same from a parsed value (fields of other types count as absent).
    pub fn from_value(v: &Value) -> ChatChunk<'static> {
        let s = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(|s| Cow::Owned(s.to_string()))
        };
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
        let choices = v.get("choices").and_then(Value::as_array).map(|cs| {
            cs.iter()
                .map(|c| ChatChoice {
                    index: n(c, "index"),
                    finish_reason: s(c, "finish_reason"),
                    delta: c.get("delta").filter(|d| d.is_object()).map(|d| ChatDelta {
                        content: s(d, "content"),
                        refusal: s(d, "refusal"),
                        reasoning_text: s(d, "reasoning_text"),
                        reasoning_opaque: s(d, "reasoning_opaque"),
                        tool_calls: d.get("tool_calls").and_then(Value::as_array).map(|calls| {
                            calls
                                .iter()
                                .map(|t| ChatToolCall {
                                    index: n(t, "index"),
                                    id: s(t, "id"),
                                    function: t.get("function").filter(|f| f.is_object()).map(
                                        |f| ChatFunction {
                                            name: s(f, "name"),
                                            arguments: s(f, "arguments"),
                                        },
                                    ),
                                })
                                .collect()
                        }),
                    }),
                })
                .collect()
        });
        ChatChunk {
            choices,
            usage: v.get("usage").filter(|u| !u.is_null()).cloned(),
            error: v.get("error").filter(|e| !e.is_null()).cloned(),
        }
    }
}

/// A text field, when present and not empty.
pub fn nonempty<'s>(field: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// An Anthropic `content_block_delta` event, read without building a `Value`.
#[derive(serde::Deserialize, Debug, PartialEq)]
pub struct MessagesDelta<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow)]
    pub delta: MessagesDeltaBody<'a>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
pub struct MessagesDeltaBody<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub thinking: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub partial_json: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub signature: Option<Cow<'a, str>>,
}

impl<'a> MessagesDelta<'a> {
    /// The delta, when `ev` is a `content_block_delta` (by its `event:` line).
    pub fn read(ev: &'a SseEvent) -> Option<MessagesDelta<'a>> {
        if ev.event.as_deref() != Some("content_block_delta") {
            return None;
        }
        Self::fast(&ev.data).or_else(|| serde_json::from_str(&ev.data).ok())
    }

    /// `json_read`'s exact read (None: ask serde_json).
    pub(crate) fn fast(data: &'a str) -> Option<MessagesDelta<'a>> {
        let mut r = Reader::new(data);
        let (mut index, mut delta) = (None, None);
        r.object(|r, key| match key.as_ref() {
            "index" => once(&mut index, r.option(Reader::u64)),
            "delta" => once(&mut delta, MessagesDeltaBody::fast(r)),
            _ => r.skip(),
        })?;
        r.end()?;
        Some(MessagesDelta {
            index: index.flatten(),
            delta: delta?,
        })
    }
}

impl<'a> MessagesDeltaBody<'a> {
    fn fast(r: &mut Reader<'a>) -> Option<MessagesDeltaBody<'a>> {
        let (mut kind, mut text, mut thinking, mut partial_json, mut signature) =
            (None, None, None, None, None);
        r.object(|r, key| match key.as_ref() {
            "type" => once(&mut kind, r.string()),
            "text" => once(&mut text, r.option(Reader::string)),
            "thinking" => once(&mut thinking, r.option(Reader::string)),
            "partial_json" => once(&mut partial_json, r.option(Reader::string)),
            "signature" => once(&mut signature, r.option(Reader::string)),
            _ => r.skip(),
        })?;
        Some(MessagesDeltaBody {
            kind: kind?,
            text: text.flatten(),
            thinking: thinking.flatten(),
            partial_json: partial_json.flatten(),
            signature: signature.flatten(),
        })
    }

    /// The text the delta carries for its type (`""` when absent).
    pub fn payload(&self) -> &str {
        let field = match self.kind.as_ref() {
            "text_delta" => &self.text,
            "thinking_delta" => &self.thinking,
            "input_json_delta" => &self.partial_json,
            "signature_delta" => &self.signature,
            _ => return "",
        };
        field.as_deref().unwrap_or("")
    }

    /// The same from a `Value` delta.
    pub fn payload_of(delta: &Value) -> (&str, &str) {
        let kind = delta.get("type").and_then(Value::as_str).unwrap_or("");
        let key = match kind {
            "text_delta" => "text",
            "thinking_delta" => "thinking",
            "input_json_delta" => "partial_json",
            "signature_delta" => "signature",
            _ => return (kind, ""),
        };
        (kind, delta.get(key).and_then(Value::as_str).unwrap_or(""))
    }
}

/// An Anthropic `content_block_delta` carrying text:
/// `{"type":"content_block_delta","index":i,"delta":{"type":kind,field:text}}`.
pub fn messages_text_delta(index: u64, kind: &str, field: &str, text: &str) -> OutEvent {
    let mut data = String::with_capacity(text.len() + 96);
    data.push_str("{\"type\":\"content_block_delta\",\"index\":");
    push_u64(&mut data, index);
    data.push_str(",\"delta\":{\"type\":");
    push_json_str(&mut data, kind);
    data.push(',');
    let field = push_json_str_at(&mut data, field);
    data.push(':');
    let text = push_json_str_at(&mut data, text);
    data.push_str("}}");
    OutEvent::Raw {
        name: Some("content_block_delta"),
        data,
        text: Some(TextAt {
            index,
            tool: kind == "input_json_delta",
            field,
            text,
        }),
    }
}

/// A Chat chunk whose delta is one text field, or one tool call's argument text
/// (`tool`: the call's index), written without building a `Value`.
pub fn chat_text_chunk(
    id: &str,
    created: u64,
    model: &str,
    field: &str,
    tool: Option<u64>,
    text: &str,
) -> OutEvent {
    let mut data = String::with_capacity(text.len() + id.len() + model.len() + 160);
    data.push_str("{\"id\":");
    push_json_str(&mut data, id);
    data.push_str(",\"object\":\"chat.completion.chunk\",\"created\":");
    push_u64(&mut data, created);
    data.push_str(",\"model\":");
    push_json_str(&mut data, model);
    data.push_str(",\"choices\":[{\"index\":0,\"delta\":{");
    if let Some(tool) = tool {
        data.push_str("\"tool_calls\":[{\"index\":");
        push_u64(&mut data, tool);
        data.push_str(",\"function\":{");
    }
    let field = push_json_str_at(&mut data, field);
    data.push(':');
    let text = push_json_str_at(&mut data, text);
    if tool.is_some() {
        data.push_str("}}]");
    }
    data.push_str("},\"finish_reason\":null,\"logprobs\":null}]}");
    let text = TextAt {
        index: tool.unwrap_or(0),
        tool: tool.is_some(),
        field,
        text,
    };
    OutEvent::Raw {
        name: None,
        data,
        text: Some(text),
    }
}

/// A Responses delta event (`response.output_text.delta` and the like), written without
/// building a `Value`. `part`: `("content_index", i)` or `("summary_index", i)`.
pub fn responses_delta_event(
    name: &'static str,
    sequence_number: u64,
    at: (&str, u64),
    part: Option<(&str, u64)>,
    delta: &str,
    logprobs: bool,
) -> OutEvent {
    let mut data = String::with_capacity(delta.len() + at.0.len() + 128);
    data.push_str("{\"type\":\"");
    data.push_str(name);
    data.push_str("\",\"sequence_number\":");
    push_u64(&mut data, sequence_number);
    data.push_str(",\"item_id\":");
    push_json_str(&mut data, at.0);
    data.push_str(",\"output_index\":");
    push_u64(&mut data, at.1);
    if let Some((key, i)) = part {
        data.push_str(",\"");
        data.push_str(key);
        data.push_str("\":");
        push_u64(&mut data, i);
    }
    data.push_str(",\"delta\":");
    push_json_str(&mut data, delta);
    if logprobs {
        data.push_str(",\"logprobs\":[]");
    }
    data.push('}');
    OutEvent::Raw {
        name: Some(name),
        data,
        text: None,
    }
}

/// Where a pre-written delta (`OutEvent::Raw`) keeps its one piece of text: the field it
/// goes to and the text, as byte ranges of the event's JSON (the text still escaped). The
/// assembler of a non-stream answer takes them from there instead of parsing the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextAt {
    /// Messages: the content block's index; Chat: the tool call's index (with `tool`).
    pub index: u64,
    /// Messages: tool input JSON (`input_json_delta`); Chat: a tool call's arguments.
    pub tool: bool,
    pub field: (u32, u32),
    pub text: (u32, u32),
}

impl TextAt {
    /// The field name and the text (unescaped) in `data`; None if the ranges do not fit.
    pub fn read<'a>(&self, data: &'a str) -> Option<(&'a str, Cow<'a, str>)> {
        let slice = |(a, b): (u32, u32)| data.get(a as usize..b as usize);
        let field = slice(self.field)?;
        let raw = slice(self.text)?;
        if !raw.contains('\\') {
            return Some((field, Cow::Borrowed(raw)));
        }
        let quoted = data.get((self.text.0 as usize).checked_sub(1)?..self.text.1 as usize + 1)?;
        let mut r = Reader::new(quoted);
        let text = r.string()?;
        r.end()?;
        Some((field, text))
    }
}

/// Writes a JSON string and returns the byte range of its content (inside the quotes).
fn push_json_str_at(out: &mut String, s: &str) -> (u32, u32) {
    let start = out.len() + 1;
    push_json_str(out, s);
    (start as u32, (out.len() - 1) as u32)
}

/// What a translator needs to know besides the body.
#[derive(Debug, Clone, Default)]
pub struct TranslateCtx {
    /// The resolved Copilot model id.
    pub model: String,
    /// `capabilities.limits.max_output_tokens` of the model, when the catalog has it.
    pub max_output_tokens: Option<u64>,
    /// Random hex (at least 24 chars) for ids the translator mints (`msg_…`, `resp_…`);
    /// tests pass a fixed one.
    pub id_seed: String,
    /// Unix seconds, for `created` fields.
    pub now_secs: u64,
    /// Chat clients only get the usage chunk when they asked (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// A stream translator: upstream events in (the target API's), client events out.
pub trait StreamTranslator {
    /// One upstream SSE event.
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<OutEvent>);
    /// An upstream event whose data has not been checked to be JSON. A translator whose
    /// own parse of the event (the deltas that are nearly every event) succeeds has
    /// thereby read well-formed JSON: it handles the event as `on_event` would and returns
    /// true. Otherwise it returns false having done nothing, and the caller checks the
    /// data before `on_event` (one parse per delta instead of a validation and a parse).
    fn try_event(&mut self, _ev: &SseEvent, _out: &mut Vec<OutEvent>) -> bool {
        false
    }
    /// The upstream stream ended. If it never sent its terminal event, this emits the
    /// client API's error event: a truncated stream never becomes a fake success.
    fn on_end(&mut self, out: &mut Vec<OutEvent>);
    /// The upstream connection failed mid-stream: the client's error event, once.
    fn on_error(&mut self, message: &str, out: &mut Vec<OutEvent>);
    /// Usage seen so far (final once the stream ended).
    fn usage(&self) -> Usage;
    /// The client gets one assembled answer, not the stream: events it would never read
    /// need not be written.
    fn assembling(&mut self) {}
}

/// Request translation signature shared by every pair: the client's body (owned, so large
/// strings move instead of being copied) to the upstream body.
pub type RequestFn = fn(Map<String, Value>, &TranslateCtx) -> Result<Map<String, Value>, ApiError>;

/// The text used when a readable thinking block is required but upstream gave no summary.
pub const THINKING_PLACEHOLDER: &str = "Thinking...";

/// Guards against degenerate tool-argument streams (endless `\n`/`\t`): more than
/// `LIMIT` consecutive `\r`, `\n` or `\t` characters (spaces neither count nor reset) trips it.
#[derive(Debug, Default, Clone)]
pub struct WhitespaceGuard {
    run: usize,
}

impl WhitespaceGuard {
    pub const LIMIT: usize = 20;
    pub const MESSAGE: &'static str =
        "Tool call arguments contained excessive whitespace; the upstream model produced a degenerate stream.";

    /// Feeds a delta; true when the limit is exceeded.
    pub fn tripped_by(&mut self, delta: &str) -> bool {
        for c in delta.chars() {
            match c {
                '\r' | '\n' | '\t' => {
                    self.run += 1;
                    if self.run > Self::LIMIT {
                        return true;
                    }
                }
                ' ' => {}
                _ => self.run = 0,
            }
        }
        false
    }
}

/// The error event each client API parses, for failures inside a translated stream.
pub fn error_event(source: Api, message: &str, sequence_number: u64) -> OutEvent {
    match source {
        Api::Messages => OutEvent::named(
            "error",
            json!({"type": "error", "error": {"type": "api_error", "message": message}}),
        ),
        Api::Responses => OutEvent::named(
            "error",
            json!({"type": "error", "code": "api_error", "message": message, "param": null,
                   "sequence_number": sequence_number}),
        ),
        Api::ChatCompletions => OutEvent::data(
            json!({"error": {"message": message, "type": "server_error", "param": null, "code": "api_error"}}),
        ),
    }
}

/// OpenAI reasoning `encrypted_content` is a Fernet token (`gAAAA…`); Anthropic thinking
/// signatures are not. A signature only means something to the vendor that minted it, so
/// translators drop reasoning that would cross vendors instead of sending it to be rejected.
pub fn is_openai_encrypted(opaque: &str) -> bool {
    opaque.starts_with("gAAAA")
}

/// Parses an upstream event's JSON; `None` for `[DONE]` or malformed data.
pub fn event_json(ev: &SseEvent) -> Option<Value> {
    if ev.is_done_marker() {
        return None;
    }
    serde_json::from_str(&ev.data).ok()
}

// ---------------------------------------------------------------------------------------
// What the client asked for is carried or refused, never dropped in silence: the rules
// every request translator shares.

/// Content blocks that carry nothing a model behind another API can use, left out by
/// design where they cannot be carried: reasoning only verifies with the vendor that
/// minted it (see `is_openai_encrypted`). Any other block or part a translator has no
/// conversion for is refused (`unconvertible`).
pub const DROPPED_BY_DESIGN: [&str; 2] = ["thinking", "redacted_thinking"];

/// A 400 naming what the target API cannot carry and why. The param is also in the
/// message: Anthropic's error envelope has no `param` field.
pub fn cannot_carry(param: impl Into<String>, why: impl std::fmt::Display) -> ApiError {
    let param = param.into();
    ApiError::invalid(format!("{param}: {why}")).with_param(param)
}

/// The fallback of every content-block / part match: `Ok` (left out) for the types in
/// `DROPPED_BY_DESIGN`, else a 400 naming the type. `at` is the block's param.
pub fn unconvertible(kind: &str, at: impl FnOnce() -> String) -> Result<(), ApiError> {
    if DROPPED_BY_DESIGN.contains(&kind) {
        return Ok(());
    }
    Err(cannot_carry(
        format!("{}.type", at()),
        format!("content of type {kind:?} is not supported for this model"),
    ))
}

/// Anthropic blocks with no counterpart in the OpenAI APIs whose content reads as text.
pub const READ_AS_TEXT: [&str; 2] = ["search_result", "tool_reference"];

/// One of `READ_AS_TEXT` as plain text. A `search_result` (RAG input): title, source, its
/// text blocks. A `tool_reference` (what Claude Code's tool search returns to load a
/// deferred tool): translated paths offer every tool in full, so only the name is news.
pub fn block_text(block: &Map<String, Value>) -> String {
    let field = |k: &str| {
        block
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if block.get("type").and_then(Value::as_str) == Some("tool_reference") {
        return format!("Tool available: {}", field("tool_name").unwrap_or(""));
    }
    let body = block.get("content").map(|c| content_text(c, "\n\n"));
    [field("title"), field("source"), body.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The output of an Anthropic server tool (`web_search_tool_result` and the like, which
/// Claude Code may resend from earlier turns) as text for another vendor's model. Search
/// results become title and URL lines: their `encrypted_content` only Anthropic can read.
/// Other outputs keep their JSON.
pub fn server_tool_output(content: Value) -> String {
    match content {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Array(items) if items.iter().all(|i| i["type"] == "web_search_result") => items
            .iter()
            .map(|i| {
                let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("");
                format!("{}\n{}", s("title"), s("url"))
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
        other => other.to_string(),
    }
}

/// The JSON schema a Messages client asked the answer to follow (`output_config.format`,
/// or the older beta `output_format`), taken out of the body; `output_config`'s other
/// fields stay. Anthropic's only format is `json_schema`: anything else is refused.
pub fn take_messages_schema(body: &mut Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let (format, param) = match body
        .get_mut("output_config")
        .and_then(Value::as_object_mut)
        .and_then(|c| c.remove("format"))
        .filter(|f| !f.is_null())
    {
        Some(f) => (f, "output_config.format"),
        None => match body.remove("output_format").filter(|f| !f.is_null()) {
            Some(f) => (f, "output_format"),
            None => return Ok(None),
        },
    };
    let Value::Object(mut format) = format else {
        return Err(cannot_carry(param, "must be an object"));
    };
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Err(cannot_carry(
            format!("{param}.type"),
            "only \"json_schema\" is supported",
        ));
    }
    match format.remove("schema") {
        Some(schema @ Value::Object(_)) => Ok(Some(schema)),
        _ => Err(cannot_carry(
            format!("{param}.schema"),
            "a JSON schema object is required",
        )),
    }
}

/// An OpenAI client's JSON-output request (`response_format` on Chat, `text.format` on
/// Responses: `kind` is its type) as a Messages `output_config.format`. Messages has only
/// schema-constrained output, and its schemas must close every object
/// (`additionalProperties: false`), so plain JSON mode (`json_object`) has no faithful
/// form there and is refused; a schema is carried whether or not the client asked for
/// strict adherence (Messages always adheres). `text` is the default: nothing to carry.
pub fn messages_output_format(
    kind: Option<&str>,
    schema: Option<Value>,
    param: &str,
) -> Result<Option<Value>, ApiError> {
    match kind {
        Some("text") => Ok(None),
        Some("json_schema") => match schema {
            Some(schema @ Value::Object(_)) => {
                Ok(Some(json!({"type": "json_schema", "schema": schema})))
            }
            _ => Err(cannot_carry(
                param,
                "json_schema needs a schema object for this model",
            )),
        },
        Some("json_object") => Err(cannot_carry(
            format!("{param}.type"),
            "json_object is not supported for this model: the Messages API only constrains output to a JSON schema (use json_schema)",
        )),
        other => Err(cannot_carry(
            format!("{param}.type"),
            format!(
                "format type {:?} is not supported for this model",
                other.unwrap_or("")
            ),
        )),
    }
}

/// Text of a string-or-parts content value, parts joined with `sep`. Accepts the part
/// shapes of all three APIs (`text`, `input_text`, `output_text`).
pub fn content_text(content: &Value, sep: &str) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

/// Moves `key` from `from` to `to` (under `to_key`) when present and not null.
pub fn carry(from: &mut Map<String, Value>, key: &str, to: &mut Map<String, Value>, to_key: &str) {
    if let Some(v) = from.remove(key) {
        if !v.is_null() {
            to.insert(to_key.to_string(), v);
        }
    }
}

/// A JSON value with every object's keys sorted, for tests that compare rendered JSON
/// (bodies keep the client's key order, so rendering alone is order-dependent).
#[cfg(test)]
pub(crate) fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_always_objects() {
        assert_eq!(parse_arguments(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(parse_arguments(""), json!({}));
        assert_eq!(parse_arguments("[1]"), json!({"raw_arguments": "[1]"}));
        assert_eq!(parse_arguments("{oops"), json!({"raw_arguments": "{oops"}));
    }

    #[test]
    fn raw_json_strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}",
            "ünï \u{1F600} </x>",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
        for n in [0, 7, 10, 1234567890123, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        let OutEvent::Raw { name, data, .. } = messages_text_delta(3, "text_delta", "text", "a\"b")
        else {
            panic!()
        };
        assert_eq!(name, Some("content_block_delta"));
        assert_eq!(
            serde_json::from_str::<Value>(&data).unwrap(),
            json!({"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "a\"b"}})
        );
    }

    #[test]
    fn whitespace_guard() {
        let mut g = WhitespaceGuard::default();
        assert!(!g.tripped_by("{\"a\":\n\n  \t"));
        assert!(!g.tripped_by("1}"));
        assert!(!g.tripped_by(&"\n".repeat(20)));
        assert!(g.tripped_by("\n"));
        let mut g = WhitespaceGuard::default();
        assert!(!g.tripped_by(&"\n ".repeat(20)), "spaces do not count");
    }

    #[test]
    fn data_urls_and_text() {
        assert_eq!(content_text(&json!("s"), "\n"), "s");
        assert_eq!(
            content_text(
                &json!([{"type":"text","text":"a"},{"type":"input_text","text":"b"},{"type":"image"}]),
                "\n\n"
            ),
            "a\n\nb"
        );
    }

    #[test]
    fn targets_that_cannot_carry_a_request_are_skipped() {
        let chat: Map<String, Value> =
            serde_json::from_value(json!({"response_format": {"type": "json_object"}})).unwrap();
        let resp: Map<String, Value> =
            serde_json::from_value(json!({"text": {"format": {"type": "json_object"}}})).unwrap();
        let schema: Map<String, Value> =
            serde_json::from_value(json!({"response_format": {"type": "json_schema"}})).unwrap();
        assert!(!carries(Api::ChatCompletions, Api::Messages, &chat));
        assert!(!carries(Api::Responses, Api::Messages, &resp));
        assert!(carries(Api::ChatCompletions, Api::Responses, &chat));
        assert!(carries(Api::ChatCompletions, Api::Messages, &schema));
        assert!(carries(Api::ChatCompletions, Api::Messages, &Map::new()));
    }

    #[test]
    fn carry_or_refuse_helpers() {
        assert_eq!(unconvertible("thinking", || "m".into()), Ok(()));
        let e = unconvertible("hologram", || "messages[0].content[2]".into()).unwrap_err();
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[2].type"))
        );
        assert!(e.message.starts_with("messages[0].content[2].type: "));

        assert_eq!(
            server_tool_output(json!([{"type": "web_search_result", "title": "T", "url": "u"}])),
            "T\nu"
        );
        assert_eq!(
            server_tool_output(json!({"type": "x_error"})),
            r#"{"type":"x_error"}"#
        );

        let mut body = json!({"output_config": {"effort": "low", "format": {"type": "json_schema", "schema": {}}}});
        let body = body.as_object_mut().unwrap();
        assert_eq!(take_messages_schema(body), Ok(Some(json!({}))));
        assert_eq!(body["output_config"], json!({"effort": "low"}));
        assert_eq!(messages_output_format(Some("text"), None, "f"), Ok(None));
    }

    #[test]
    fn error_events_per_api() {
        let OutEvent::Event { name, data } = error_event(Api::Messages, "m", 0) else {
            panic!()
        };
        assert_eq!(name, Some("error"));
        assert_eq!(data["error"]["message"], "m");
        let OutEvent::Event { data, .. } = error_event(Api::Responses, "m", 7) else {
            panic!()
        };
        assert_eq!(data["sequence_number"], 7);
        let OutEvent::Event { name, data } = error_event(Api::ChatCompletions, "m", 0) else {
            panic!()
        };
        assert_eq!(name, None);
        assert_eq!(data["error"]["message"], "m");
    }
}
