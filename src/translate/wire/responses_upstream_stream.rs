//! The event stream of Copilot's `/responses`, read for every client API: each event as what
//! it means for the answer. The pairs keep their own state machine and client writer; the
//! common deltas come first through `ResponsesDelta` and never reach this reader.

use serde_json::Value;

use super::responses;
use crate::protocol::stop::StopReason;

/// One upstream event. A `part` is a summary or content part's index in its output item;
/// `done`: the text is the part's (or the call's) whole text, not a delta.
pub enum Event<'a> {
    /// `response.created` / `response.in_progress`, with the response so far.
    Started(&'a Value),
    ItemAdded(&'a Value),
    /// Reasoning summary text: (part, text, done).
    Summary(u64, &'a str, bool),
    /// Message text or a refusal: (part, text, refusal, done).
    Text(u64, &'a str, bool, bool),
    /// Function call arguments: (text, done).
    Arguments(&'a str, bool),
    ItemDone(Option<&'a Value>),
    /// `response.completed` / `response.incomplete`: (the whole event, incomplete).
    Completed(&'a Value, bool),
    /// `response.failed` / `error`, with the upstream's message.
    Failed(&'a str),
    Other,
}

/// `data`, an event of kind `ty` (`stream::event_type`).
pub fn read<'a>(data: &'a Value, ty: &str) -> Event<'a> {
    let s = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| data.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (summary, content) = (n("summary_index"), n("content_index"));
    match ty {
        "response.created" | "response.in_progress" => Event::Started(&data["response"]),
        "response.output_item.added" => Event::ItemAdded(&data["item"]),
        "response.reasoning_summary_text.delta" => Event::Summary(summary, s("delta"), false),
        "response.reasoning_summary_text.done" => Event::Summary(summary, s("text"), true),
        "response.reasoning_summary_part.done" => {
            Event::Summary(summary, text(&data["part"]), true)
        }
        "response.output_text.delta" => Event::Text(content, s("delta"), false, false),
        "response.refusal.delta" => Event::Text(content, s("delta"), true, false),
        "response.output_text.done" => Event::Text(content, s("text"), false, true),
        "response.refusal.done" => Event::Text(content, s("refusal"), true, true),
        "response.content_part.done" => match content_text(&data["part"]) {
            Some((text, refusal)) => Event::Text(content, text, refusal, true),
            None => Event::Other,
        },
        "response.function_call_arguments.delta" => Event::Arguments(s("delta"), false),
        "response.function_call_arguments.done" => Event::Arguments(s("arguments"), true),
        "response.output_item.done" => Event::ItemDone(data.get("item")),
        "response.completed" | "response.incomplete" => {
            Event::Completed(data, ty == "response.incomplete")
        }
        "response.failed" | "error" => Event::Failed(error_message(data)),
        _ => Event::Other,
    }
}

fn text(part: &Value) -> &str {
    part.get("text").and_then(Value::as_str).unwrap_or("")
}

/// A message content part's text and whether it is a refusal (None: a part without text).
fn content_text(part: &Value) -> Option<(&str, bool)> {
    match part.get("type").and_then(Value::as_str) {
        Some("output_text") => Some((text(part), false)),
        Some("refusal") => Some((
            part.get("refusal").and_then(Value::as_str).unwrap_or(""),
            true,
        )),
        _ => None,
    }
}

/// A finished reasoning item's summary parts: (part, text).
pub fn summary_parts(item: &Value) -> impl Iterator<Item = (u64, &str)> {
    let parts = item.get("summary").and_then(Value::as_array);
    (parts.into_iter().flatten().enumerate()).map(|(i, p)| (i as u64, text(p)))
}

/// A finished message item's content parts with text: (part, text, refusal).
pub fn content_parts(item: &Value) -> impl Iterator<Item = (u64, &str, bool)> {
    let parts = item.get("content").and_then(Value::as_array);
    let parts = parts.into_iter().flatten().enumerate();
    parts.filter_map(|(i, p)| content_text(p).map(|(t, refusal)| (i as u64, t, refusal)))
}

/// The message of a `response.failed` or `error` event, wherever the upstream put it.
fn error_message(data: &Value) -> &str {
    [
        data.pointer("/response/error/message"),
        data.pointer("/error/message"),
        data.get("message"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    .find(|s| !s.is_empty())
    .unwrap_or("Response failed due to unknown error.")
}

/// Why the answer of a terminal event (`Event::Completed`) stopped: its status (else the
/// event's kind) says whether it was cut short; otherwise a call, then a refusal, wins.
pub fn stop_reason(data: &Value, incomplete: bool, tool_use: bool, refusal: bool) -> StopReason {
    let resp = &data["response"];
    let status = resp.get("status").and_then(Value::as_str);
    if status.map_or(incomplete, |s| s == "incomplete") {
        let reason = resp.pointer("/incomplete_details/reason");
        responses::read_incomplete(reason.and_then(Value::as_str))
    } else if tool_use {
        StopReason::ToolUse
    } else if refusal {
        StopReason::Refusal
    } else {
        StopReason::EndTurn
    }
}
