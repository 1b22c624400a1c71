//! Remote compaction for Responses clients. Copilot has no compaction, so the gateway
//! makes its own: the chosen model, on whatever path the routing plan picks, is asked to
//! summarise the conversation, and its summary comes back as a `compaction` item whose
//! `encrypted_content` only this gateway reads. A later request that carries the item
//! gets the summary back as a message the model reads.
//!
//! Two ways in: Codex's `{"type":"compaction_trigger"}` item at the end of a `/responses`
//! request (answered like any Responses request, whose one output item is the
//! compaction), and OpenAI's `POST /responses/compact` (answered with a
//! `response.compaction` object: the user messages kept, then the compaction item).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ids::{base64url, unbase64url};
use crate::protocol::error::ApiError;

/// The item Codex appends to ask for a compaction.
pub const TRIGGER: &str = "compaction_trigger";

/// Marks `encrypted_content` this gateway wrote (version 1), so a real OpenAI or Copilot
/// payload is never mistaken for one.
const PREFIX: &str = "cgwc1.";

/// What the model is asked once the trigger is removed.
const INSTRUCTION: &str = "The conversation above is about to be replaced by your summary of \
it: the work will go on from the summary alone (the user's messages are kept). Write that \
summary now. Include the user's goal and requirements, what has been done and decided so far, \
the current state of the work (files, commands, results, errors) and what remains to be \
done, with every detail needed to continue. Do not call any tool; answer with the summary \
only.";

/// How a summary reads when it is given back to the model.
const EXPANDED_HEADING: &str =
    "Summary of the earlier part of this conversation (it was compacted to save context):";

#[derive(Serialize, Deserialize)]
struct Payload {
    summary: String,
}

/// The opaque `encrypted_content` of a summary.
pub fn encode(summary: &str) -> String {
    let payload = Payload {
        summary: summary.to_string(),
    };
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    format!("{PREFIX}{}", base64url(&json))
}

/// The summary in an `encrypted_content` this gateway wrote; None for anything else.
pub fn decode(content: &str) -> Option<String> {
    let bytes = unbase64url(content.strip_prefix(PREFIX)?)?;
    serde_json::from_slice::<Payload>(&bytes)
        .ok()
        .map(|p| p.summary)
}

fn item_type(item: &Value) -> Option<&str> {
    item.get("type").and_then(Value::as_str)
}

/// Codex reads `compaction_summary` as another name of `compaction`.
fn is_compaction(item: &Value) -> bool {
    matches!(item_type(item), Some("compaction" | "compaction_summary"))
}

/// Whether a Responses request asks for a compaction (Codex's trigger item).
pub fn is_requested(body: &Map<String, Value>) -> bool {
    body.get("input")
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|i| item_type(i) == Some(TRIGGER)))
}

/// `/responses/compact`: the input's user messages, which its answer keeps (OpenAI's
/// compacted window is the user's messages followed by the compaction item). Earlier
/// compaction items are not kept: the new summary covers them.
pub fn kept_items(body: &Map<String, Value>) -> Vec<Value> {
    match body.get("input") {
        Some(Value::String(s)) if !s.is_empty() => vec![json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": s}],
        })],
        Some(Value::Array(items)) => items
            .iter()
            .filter(|i| {
                matches!(item_type(i), None | Some("message"))
                    && i.get("role").and_then(Value::as_str) == Some("user")
            })
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// Turns a compaction request into the request for a summary: the trigger items go, the
/// instruction comes last, and no tool may be called (the tools stay, so the prompt's
/// cached prefix stays too).
pub fn request_summary(body: &mut Map<String, Value>) {
    let instruction = json!({
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": INSTRUCTION}],
    });
    match body.get_mut("input") {
        Some(Value::Array(items)) => {
            items.retain(|i| item_type(i) != Some(TRIGGER));
            items.push(instruction);
        }
        Some(Value::String(s)) => {
            let first = json!({
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": std::mem::take(s)}],
            });
            body.insert("input".into(), json!([first, instruction]));
        }
        _ => {
            body.insert("input".into(), json!([instruction]));
        }
    }
    if body.get("tools").is_some_and(|t| !t.is_null()) {
        body.insert("tool_choice".into(), json!("none"));
    } else {
        body.remove("tool_choice");
    }
    // A summary is prose, whatever format the conversation's answers had.
    if let Some(Value::Object(text)) = body.get_mut("text") {
        text.remove("format");
    }
}

/// Compaction items in `input` become what the model can read: this gateway's become a
/// user message with the summary. Others (an OpenAI or Copilot payload) go on untouched to
/// Copilot's own `/responses`, and are refused on the way to another API, which could not
/// read them (dropping one would drop the whole earlier conversation).
pub fn expand(body: &mut Map<String, Value>, native: bool) -> Result<(), ApiError> {
    let Some(Value::Array(items)) = body.get_mut("input") else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        if !is_compaction(item) {
            continue;
        }
        let content = item.get("encrypted_content").and_then(Value::as_str);
        match content.and_then(decode) {
            Some(summary) => {
                *item = json!({
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": format!("{EXPANDED_HEADING}\n\n{summary}")}],
                });
            }
            None if native => {}
            None => {
                return Err(ApiError::invalid(format!(
                    "input[{i}] is a compaction item this gateway did not make; only the \
                     service that made it can read it, and this model is served by another API"
                ))
                .with_param(format!("input[{i}].encrypted_content")))
            }
        }
    }
    Ok(())
}

/// Rewrites the answer to a summary request, event by event or whole: the model's text
/// becomes one `compaction` item, the answer's only output.
#[derive(Debug, Clone)]
pub struct Compactor {
    item_id: String,
    /// `/responses/compact`: the items its answer keeps before the compaction.
    kept: Option<Vec<Value>>,
    /// Text of the message items seen done, in case the terminal event lists no output.
    texts: Vec<String>,
    next_sequence: u64,
}

impl Compactor {
    /// For Codex's trigger: a Responses answer. `id_seed`: random hex for the item id.
    pub fn new(id_seed: &str) -> Compactor {
        Compactor {
            item_id: format!("cmp_{id_seed}"),
            kept: None,
            texts: Vec::new(),
            next_sequence: 0,
        }
    }

    /// For `/responses/compact`: a `response.compaction` answer keeping `kept`.
    pub fn resource(id_seed: &str, kept: Vec<Value>) -> Compactor {
        Compactor {
            kept: Some(kept),
            ..Compactor::new(id_seed)
        }
    }

    fn item(&self, summary: &str) -> Value {
        json!({"id": self.item_id, "type": "compaction", "encrypted_content": encode(summary)})
    }

    /// One client Responses event in, the events to send instead out. Item events are
    /// held back (their text is the summary); the terminal event becomes the compaction
    /// item's `output_item.added` / `.done` and `response.completed`.
    pub fn rewrite_event(&mut self, name: &str, data: Value) -> Vec<(&'static str, Value)> {
        let out = match name {
            "response.created" => vec![("response.created", data)],
            "response.in_progress" => vec![("response.in_progress", data)],
            "response.queued" => vec![("response.queued", data)],
            "response.failed" => vec![("response.failed", data)],
            "error" => vec![("error", data)],
            "response.output_item.done" => {
                let text = data.get("item").map(message_text).unwrap_or_default();
                if !text.is_empty() {
                    self.texts.push(text);
                }
                Vec::new()
            }
            "response.completed" | "response.incomplete" => self.terminal(data),
            // Everything else belongs to an item of the model's answer.
            _ => Vec::new(),
        };
        out.into_iter()
            .map(|(name, mut data)| {
                if let Some(o) = data.as_object_mut() {
                    o.insert("type".into(), json!(name));
                    o.insert("sequence_number".into(), json!(self.next_sequence));
                    self.next_sequence += 1;
                }
                (name, data)
            })
            .collect()
    }

    fn terminal(&mut self, mut data: Value) -> Vec<(&'static str, Value)> {
        let Some(response) = data.get_mut("response") else {
            return vec![("response.failed", no_summary(json!({})))];
        };
        let mut summary = output_text(response);
        if summary.is_empty() {
            summary = self.texts.join("\n\n").trim().to_string();
        }
        if summary.is_empty() {
            return vec![("response.failed", no_summary(response.take()))];
        }
        let item = self.item(&summary);
        // A summary cut short by the output limit still beats none: it is kept, complete.
        settle(response, item.clone());
        vec![
            (
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            ),
            (
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            ),
            ("response.completed", data),
        ]
    }

    /// A whole (non-stream) Responses answer → the answer the client gets: the same
    /// response with the compaction as its output, or the `response.compaction` object.
    pub fn rewrite_answer(&self, mut answer: Value) -> Result<Value, ApiError> {
        let summary = output_text(&answer);
        if summary.is_empty() {
            return Err(ApiError::new(
                crate::protocol::error::ErrorKind::BadGateway,
                "the model answered the compaction request without a summary",
            ));
        }
        let item = self.item(&summary);
        let Some(kept) = &self.kept else {
            settle(&mut answer, item);
            return Ok(answer);
        };
        let mut output = kept.clone();
        output.push(item);
        Ok(json!({
            "id": answer.get("id").cloned().unwrap_or_else(|| json!(format!("resp_{}", &self.item_id[4..]))),
            "object": "response.compaction",
            "created_at": answer.get("created_at").cloned().unwrap_or(json!(0)),
            "output": output,
            "usage": answer.get("usage").cloned().unwrap_or(Value::Null),
        }))
    }
}

/// A finished response whose one output is `item`.
fn settle(response: &mut Value, item: Value) {
    if let Some(o) = response.as_object_mut() {
        o.insert("status".into(), json!("completed"));
        o.insert("incomplete_details".into(), Value::Null);
        o.insert("output".into(), json!([item]));
    }
}

fn no_summary(mut response: Value) -> Value {
    if let Some(o) = response.as_object_mut() {
        o.insert("status".into(), json!("failed"));
        o.insert("output".into(), json!([]));
        o.insert(
            "error".into(),
            json!({"code": "server_error", "message": "the model answered the compaction request without a summary"}),
        );
    }
    json!({ "response": response })
}

/// The text of a response's message items.
fn output_text(response: &Value) -> String {
    let Some(output) = response.get("output").and_then(Value::as_array) else {
        return String::new();
    };
    output
        .iter()
        .map(message_text)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
        .trim()
        .to_string()
}

fn message_text(item: &Value) -> String {
    if item_type(item) != Some("message") {
        return String::new();
    }
    match item.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| item_type(p) == Some("output_text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn codex_compaction_request() -> Map<String, Value> {
        body(json!({
            "model": "gpt-5.1-codex",
            "stream": true,
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
            "tool_choice": "auto",
            "text": {"verbosity": "low", "format": {"type": "json_object"}},
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]},
                {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "ok"},
                {"type": "compaction_trigger"}
            ]
        }))
    }

    #[test]
    fn payloads_are_ours_or_nothing() {
        let s = encode("did «this», next: that\n");
        assert!(s.starts_with("cgwc1."));
        assert_eq!(decode(&s).as_deref(), Some("did «this», next: that\n"));
        assert_eq!(decode("gAAAAmockbW9jaw=="), None);
        assert_eq!(decode("cgwc1.!!"), None);
        assert_eq!(decode(&format!("cgwc1.{}", base64url(b"{}"))), None);
    }

    #[test]
    fn the_trigger_becomes_the_instruction() {
        let mut b = codex_compaction_request();
        assert!(is_requested(&b));
        let kept = kept_items(&b);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["content"][0]["text"], "fix the bug");
        request_summary(&mut b);
        assert!(!is_requested(&b));
        let input = b["input"].as_array().unwrap();
        assert_eq!(input.len(), 5);
        assert_eq!(input[3]["type"], "function_call_output");
        assert_eq!(input[4]["role"], "user");
        assert!(input[4]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Write that summary now"));
        assert_eq!(b["tool_choice"], "none");
        assert_eq!(b["tools"][0]["name"], "exec_command", "tools stay");
        assert_eq!(b["text"], json!({"verbosity": "low"}));

        let mut plain = body(json!({"model": "m", "input": "hello", "tool_choice": "auto"}));
        assert!(!is_requested(&plain));
        assert_eq!(kept_items(&plain)[0]["content"][0]["text"], "hello");
        request_summary(&mut plain);
        assert_eq!(plain["input"].as_array().unwrap().len(), 2);
        assert!(!plain.contains_key("tool_choice"));
    }

    #[test]
    fn compaction_items_are_expanded_or_refused() {
        let ours = encode("the summary");
        let mut b = body(json!({"input": [
            {"type": "message", "role": "user", "content": "hi"},
            {"type": "compaction", "id": "cmp_1", "encrypted_content": ours},
            {"type": "message", "role": "user", "content": "go on"}
        ]}));
        expand(&mut b, false).unwrap();
        let item = &b["input"][1];
        assert_eq!(item["role"], "user");
        let text = item["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("Summary of the earlier part") && text.ends_with("\n\nthe summary")
        );

        let foreign = json!({"type": "compaction", "encrypted_content": "gAAAAforeign"});
        let mut b = body(json!({"input": [foreign.clone()]}));
        expand(&mut b, true).unwrap();
        assert_eq!(b["input"][0], foreign, "Copilot's own /responses judges it");
        let e = expand(&mut b, false).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("input[0].encrypted_content"));
        let mut alias = body(
            json!({"input": [{"type": "compaction_summary", "encrypted_content": encode("s")}]}),
        );
        expand(&mut alias, false).unwrap();
        assert_eq!(alias["input"][0]["type"], "message");
    }

    fn completed(output: Value) -> Value {
        json!({"type": "response.completed", "sequence_number": 40, "response": {
            "id": "resp_1", "object": "response", "created_at": 7, "status": "completed",
            "output": output, "usage": {"input_tokens": 100, "output_tokens": 9, "total_tokens": 109}}})
    }

    fn message(text: &str) -> Value {
        json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    }

    #[test]
    fn a_stream_ends_with_one_compaction_item() {
        let mut c = Compactor::new("abc");
        let mut out = Vec::new();
        for (name, data) in [
            (
                "response.created",
                json!({"sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress", "output": []}}),
            ),
            (
                "response.output_item.added",
                json!({"output_index": 0, "item": {"type": "reasoning"}}),
            ),
            (
                "response.reasoning_summary_text.delta",
                json!({"delta": "hm"}),
            ),
            (
                "response.output_item.done",
                json!({"output_index": 0, "item": {"type": "reasoning", "summary": []}}),
            ),
            (
                "response.output_item.added",
                json!({"output_index": 1, "item": {"type": "message", "content": []}}),
            ),
            (
                "response.output_text.delta",
                json!({"output_index": 1, "delta": "Did X."}),
            ),
            (
                "response.output_item.done",
                json!({"output_index": 1, "item": message("Did X.")}),
            ),
            (
                "response.completed",
                completed(json!([{"type": "reasoning", "summary": []}, message("Did X.")])),
            ),
        ] {
            out.extend(c.rewrite_event(name, data));
        }
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.output_item.added",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let seqs: Vec<u64> = out
            .iter()
            .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3]);
        let item = &out[2].1["item"];
        assert_eq!(item["type"], "compaction");
        assert_eq!(item["id"], "cmp_abc");
        assert_eq!(
            decode(item["encrypted_content"].as_str().unwrap()).as_deref(),
            Some("Did X.")
        );
        assert_eq!(out[1].1["item"], *item);
        let response = &out[3].1["response"];
        assert_eq!(response["output"], json!([item]));
        assert_eq!(response["usage"]["output_tokens"], 9, "usage kept");
        assert_eq!(out[3].1["type"], "response.completed");
    }

    #[test]
    fn cut_short_summaries_are_kept_and_missing_ones_fail() {
        let mut c = Compactor::new("abc");
        // The terminal output is empty: the text of the items seen done is used.
        c.rewrite_event(
            "response.output_item.done",
            json!({"item": message("Partial")}),
        );
        let mut incomplete = completed(json!([]));
        incomplete["response"]["status"] = json!("incomplete");
        incomplete["response"]["incomplete_details"] = json!({"reason": "max_output_tokens"});
        let out = c.rewrite_event("response.incomplete", incomplete);
        let (name, done) = out.last().unwrap();
        assert_eq!(*name, "response.completed");
        assert_eq!(done["response"]["status"], "completed");
        assert_eq!(done["response"]["incomplete_details"], Value::Null);
        let item = &done["response"]["output"][0];
        assert_eq!(
            decode(item["encrypted_content"].as_str().unwrap()).as_deref(),
            Some("Partial")
        );

        let mut c = Compactor::new("abc");
        let out = c.rewrite_event(
            "response.completed",
            completed(json!([{"type": "function_call", "name": "f"}])),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "response.failed");
        assert_eq!(out[0].1["response"]["status"], "failed");
        assert!(out[0].1["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without a summary"));
        // Errors pass as they are.
        let out = c.rewrite_event("error", json!({"message": "boom"}));
        assert_eq!(out[0].0, "error");
    }

    #[test]
    fn whole_answers_become_the_compaction_or_the_resource() {
        let answer = completed(json!([message("Summary text")]))["response"].clone();
        let c = Compactor::new("abc");
        let a = c.rewrite_answer(answer.clone()).unwrap();
        assert_eq!(a["object"], "response");
        assert_eq!(a["output"].as_array().unwrap().len(), 1);
        assert_eq!(a["output"][0]["type"], "compaction");

        let kept = vec![json!({"type": "message", "role": "user", "content": "fix it"})];
        let c = Compactor::resource("abc", kept.clone());
        let r = c.rewrite_answer(answer.clone()).unwrap();
        assert_eq!(r["object"], "response.compaction");
        assert_eq!(r["id"], "resp_1");
        assert_eq!(r["created_at"], 7);
        assert_eq!(r["usage"]["input_tokens"], 100);
        let output = r["output"].as_array().unwrap();
        assert_eq!(output.len(), 2);
        assert_eq!(output[0], kept[0]);
        assert_eq!(
            decode(output[1]["encrypted_content"].as_str().unwrap()).as_deref(),
            Some("Summary text")
        );

        let e = c.rewrite_answer(json!({"output": []})).unwrap_err();
        assert_eq!(e.status, 502);
    }
}
