//! The event stream a Responses client reads, written once for every upstream: output
//! items (reasoning, message, function call) with their ids and output indices, the
//! open / delta / done events of each, sequence numbers, the response envelope, the
//! terminal event and the error event. A pair's stream translator reads its upstream's
//! events and calls the semantic methods here; how items are told apart upstream (block
//! indices, choice and call indices, ids) stays in the pair.

use serde_json::{json, Value};

use super::super::{error_event, responses_delta_event, OutEvent, ResponsesDelta, TranslateCtx};
use crate::protocol::stop::StopReason;
use crate::protocol::{Api, Usage};
use crate::translate::THINKING_PLACEHOLDER;

enum Kind {
    Reasoning {
        text: String,
        /// Kept exactly: no payload upstream, no `encrypted_content`.
        encrypted: Option<String>,
        part_open: bool,
    },
    Message {
        text: String,
        status: &'static str,
    },
    Call {
        call_id: String,
        name: String,
        args: String,
        /// The arguments when no delta came (Anthropic can give a tool's whole input at
        /// the block's start).
        initial: String,
    },
}

struct Item {
    id: String,
    kind: Kind,
    open: bool,
}

impl Item {
    fn to_json(&self) -> Value {
        let id = &self.id;
        match &self.kind {
            Kind::Reasoning {
                text, encrypted, ..
            } => {
                let summary = if text.is_empty() || text == THINKING_PLACEHOLDER {
                    json!([])
                } else {
                    json!([{"type": "summary_text", "text": text}])
                };
                let mut v = json!({"id": id, "type": "reasoning", "summary": summary});
                if let Some(e) = encrypted {
                    v["encrypted_content"] = json!(e);
                }
                v
            }
            Kind::Message { text, status } => json!({
                "id": id, "type": "message", "status": status, "role": "assistant",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
            }),
            Kind::Call {
                call_id,
                name,
                args,
                ..
            } => json!({
                "id": id, "type": "function_call", "status": "completed",
                "arguments": args, "call_id": call_id, "name": name,
            }),
        }
    }
}

/// Writes a Responses client's stream. Output index `i` is the `i`-th item opened; item
/// ids are `rs_` / `msg_` / `fc_` + the seed + the index.
pub struct ResponsesStreamWriter {
    seed: String,
    model: String,
    created_at: u64,
    seq: u64,
    /// Delta events are written (false: a non-stream answer is assembled from the final
    /// response, and deltas would be written for nobody).
    deltas: bool,
    started: bool,
    terminated: bool,
    items: Vec<Item>,
}

/// Responses usage from token counts. `total`: upstream's own total, when it gave one.
pub fn usage_value(u: &Usage, reasoning_tokens: u64, total: Option<u64>) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": total.unwrap_or(u.input_tokens.saturating_add(u.output_tokens)),
    })
}

impl ResponsesStreamWriter {
    pub fn new(ctx: &TranslateCtx) -> Self {
        ResponsesStreamWriter {
            seed: ctx.id_seed.clone(),
            model: ctx.model.clone(),
            created_at: ctx.now_secs,
            seq: 0,
            deltas: true,
            started: false,
            terminated: false,
            items: Vec::new(),
        }
    }

    /// The terminal event (the response or an error) has been written.
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// The output index the next item opened gets.
    pub fn next_index(&self) -> usize {
        self.items.len()
    }

    /// See `StreamTranslator::assembling`.
    pub fn skip_deltas(&mut self) {
        self.deltas = false;
    }

    fn emit(&mut self, out: &mut Vec<OutEvent>, name: &'static str, mut data: Value) {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        out.push(OutEvent::named(name, data));
    }

    fn response(&self, status: &str, incomplete: Value, output: Vec<Value>, usage: Value) -> Value {
        json!({
            "id": format!("resp_{}", self.seed),
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": incomplete,
            "instructions": null,
            "max_output_tokens": null,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": false,
            "temperature": null,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": null,
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": {},
        })
    }

    /// `response.created` and `response.in_progress`, once.
    pub fn start(&mut self, out: &mut Vec<OutEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        for name in ["response.created", "response.in_progress"] {
            let r = self.response("in_progress", Value::Null, Vec::new(), Value::Null);
            self.emit(out, name, json!({ "response": r }));
        }
    }

    fn open(&mut self, out: &mut Vec<OutEvent>, prefix: &str, kind: Kind) -> usize {
        self.start(out);
        let idx = self.items.len();
        let id = format!("{prefix}_{}_{idx}", self.seed);
        let item = Item {
            id,
            kind,
            open: true,
        };
        // The item as it ends, but in progress: no text, no content parts yet.
        let mut added = item.to_json();
        let is_message = matches!(item.kind, Kind::Message { .. });
        if is_message {
            added["content"] = json!([]);
        }
        if let Some(status) = added.get_mut("status") {
            *status = json!("in_progress");
        }
        self.items.push(item);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": idx, "item": added}),
        );
        if is_message {
            let id = self.items[idx].id.clone();
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": idx, "content_index": 0,
                       "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
            );
        }
        idx
    }

    /// Opens a reasoning item; `encrypted`: a payload known from the start (shown in the
    /// added item too).
    pub fn open_reasoning(&mut self, encrypted: Option<String>, out: &mut Vec<OutEvent>) -> usize {
        let kind = Kind::Reasoning {
            text: String::new(),
            encrypted,
            part_open: false,
        };
        self.open(out, "rs", kind)
    }

    pub fn open_message(&mut self, out: &mut Vec<OutEvent>) -> usize {
        let kind = Kind::Message {
            text: String::new(),
            status: "completed",
        };
        self.open(out, "msg", kind)
    }

    /// Opens a function call; `initial`: its arguments should no delta come.
    pub fn open_call(
        &mut self,
        call_id: String,
        name: String,
        initial: String,
        out: &mut Vec<OutEvent>,
    ) -> usize {
        let kind = Kind::Call {
            call_id,
            name,
            args: String::new(),
            initial,
        };
        self.open(out, "fc", kind)
    }

    /// A delta of an item's own kind: reasoning summary text (the summary part opens with
    /// the first), answer text, or call arguments.
    pub fn delta(&mut self, idx: usize, delta: &str, out: &mut Vec<OutEvent>) {
        let Some(item) = self.items.get_mut(idx).filter(|_| !delta.is_empty()) else {
            return;
        };
        let summary = Some(("summary_index", 0));
        let (buf, name, part, logprobs, opens_part) = match &mut item.kind {
            Kind::Reasoning {
                text, part_open, ..
            } => {
                let first = !std::mem::replace(part_open, true);
                (text, ResponsesDelta::SUMMARY, summary, false, first)
            }
            Kind::Message { text, .. } => (
                text,
                ResponsesDelta::TEXT,
                Some(("content_index", 0)),
                true,
                false,
            ),
            Kind::Call { args, .. } => (args, ResponsesDelta::ARGUMENTS, None, false, false),
        };
        buf.push_str(delta);
        if opens_part {
            let id = item.id.clone();
            self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": idx, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
            );
        }
        if self.deltas {
            let at = (self.items[idx].id.as_str(), idx as u64);
            out.push(responses_delta_event(
                name, self.seq, at, part, delta, logprobs,
            ));
        }
        self.seq += 1;
    }

    /// Appends to a reasoning item's opaque payload (`encrypted_content`).
    pub fn reasoning_payload(&mut self, idx: usize, payload: &str) {
        if let Some(Item {
            kind: Kind::Reasoning { encrypted, .. },
            ..
        }) = self.items.get_mut(idx)
        {
            encrypted.get_or_insert_with(String::new).push_str(payload);
        }
    }

    /// Names a call that opened without its name.
    pub fn name_call(&mut self, idx: usize, name: &str) {
        if let Some(Item {
            kind: Kind::Call { name: n, .. },
            ..
        }) = self.items.get_mut(idx)
        {
            if n.is_empty() {
                *n = name.to_string();
            }
        }
    }

    /// Closes an item: its done events, then `response.output_item.done` (once).
    pub fn close(&mut self, idx: usize, out: &mut Vec<OutEvent>) {
        let Some(item) = self.items.get_mut(idx).filter(|i| i.open) else {
            return;
        };
        item.open = false;
        let id = item.id.clone();
        let done: [Option<(&'static str, Value)>; 2] = match &mut item.kind {
            Kind::Reasoning {
                text, part_open, ..
            } => match *part_open {
                false => [None, None],
                true => [
                    Some((
                        "response.reasoning_summary_text.done",
                        json!({"item_id": id, "output_index": idx, "summary_index": 0, "text": text}),
                    )),
                    Some((
                        "response.reasoning_summary_part.done",
                        json!({"item_id": id, "output_index": idx, "summary_index": 0,
                               "part": {"type": "summary_text", "text": text}}),
                    )),
                ],
            },
            Kind::Message { text, .. } => [
                Some((
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": idx, "content_index": 0, "text": text, "logprobs": []}),
                )),
                Some((
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": idx, "content_index": 0,
                           "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": text}}),
                )),
            ],
            Kind::Call {
                name,
                args,
                initial,
                ..
            } => {
                // Arguments are JSON: a call that streamed none took none.
                if args.is_empty() {
                    *args = match std::mem::take(initial) {
                        i if i.is_empty() => "{}".into(),
                        i => i,
                    };
                }
                [
                    Some((
                        "response.function_call_arguments.done",
                        json!({"item_id": id, "output_index": idx, "name": name, "arguments": args}),
                    )),
                    None,
                ]
            }
        };
        for (name, data) in done.into_iter().flatten() {
            self.emit(out, name, data);
        }
        let item = self.items[idx].to_json();
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
    }

    /// The terminal event: open items close (a message still open when the answer was
    /// cut short is `incomplete`; calls last), then `response.completed`, or
    /// `response.incomplete` for an answer cut by the output limit or a content filter.
    pub fn finish(&mut self, stop: StopReason, usage: Value, out: &mut Vec<OutEvent>) {
        if self.terminated {
            return;
        }
        self.start(out);
        let incomplete = match stop {
            StopReason::MaxTokens => json!({"reason": "max_output_tokens"}),
            StopReason::Refusal => json!({"reason": "content_filter"}),
            StopReason::EndTurn | StopReason::ToolUse => Value::Null,
        };
        for pass in [false, true] {
            for idx in 0..self.items.len() {
                let item = &mut self.items[idx];
                if !item.open || matches!(item.kind, Kind::Call { .. }) != pass {
                    continue;
                }
                if let Kind::Message { status, .. } = &mut item.kind {
                    if !incomplete.is_null() {
                        *status = "incomplete";
                    }
                }
                self.close(idx, out);
            }
        }
        let output = self.items.iter().map(Item::to_json).collect();
        let (name, status) = if incomplete.is_null() {
            ("response.completed", "completed")
        } else {
            ("response.incomplete", "incomplete")
        };
        let r = self.response(status, incomplete, output, usage);
        self.emit(out, name, json!({ "response": r }));
        self.terminated = true;
    }

    /// The error event (`code`: upstream's error type, else `api_error`), once.
    pub fn fail(&mut self, message: &str, code: Option<&str>, out: &mut Vec<OutEvent>) {
        if self.terminated {
            return;
        }
        self.terminated = true;
        let mut ev = error_event(Api::Responses, message, self.seq);
        self.seq += 1;
        if let (Some(code), OutEvent::Event { data, .. }) = (code, &mut ev) {
            data["code"] = json!(code);
        }
        out.push(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> ResponsesStreamWriter {
        ResponsesStreamWriter::new(&TranslateCtx {
            model: "m".into(),
            id_seed: "s".into(),
            ..Default::default()
        })
    }

    fn data(out: &[OutEvent]) -> Vec<Value> {
        out.iter()
            .map(|e| match e.clone().into_value() {
                OutEvent::Event { data, .. } => data,
                _ => panic!("Responses events have data"),
            })
            .collect()
    }

    #[test]
    fn items_number_in_order_and_the_answer_lists_them() {
        let (mut w, mut out) = (writer(), Vec::new());
        let rs = w.open_reasoning(None, &mut out);
        w.delta(rs, "hm", &mut out);
        w.reasoning_payload(rs, "sig");
        let call = w.open_call("c1".into(), "f".into(), String::new(), &mut out);
        w.delta(call, "", &mut out);
        w.close(rs, &mut out);
        w.close(rs, &mut out);
        w.finish(StopReason::ToolUse, Value::Null, &mut out);
        let d = data(&out);
        for (i, e) in d.iter().enumerate() {
            assert_eq!(e["sequence_number"], i as u64);
        }
        let output = &d.last().unwrap()["response"]["output"];
        assert_eq!(
            *output,
            json!([
                {"id": "rs_s_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}],
                 "encrypted_content": "sig"},
                // No arguments streamed: the call took none, which is "{}" in JSON.
                {"id": "fc_s_1", "type": "function_call", "status": "completed", "arguments": "{}",
                 "call_id": "c1", "name": "f"},
            ])
        );
        let done: Vec<&Value> = d
            .iter()
            .filter(|e| e["type"] == "response.output_item.done")
            .collect();
        assert_eq!(done.len(), 2, "an item closes once");
        let args = d
            .iter()
            .find(|e| e["type"] == "response.function_call_arguments.done")
            .unwrap();
        assert_eq!(args["name"], "f");
        assert_eq!(d.last().unwrap()["type"], "response.completed");
    }

    #[test]
    fn a_cut_answer_is_incomplete_and_its_open_message_too() {
        for (stop, reason) in [
            (StopReason::MaxTokens, "max_output_tokens"),
            (StopReason::Refusal, "content_filter"),
        ] {
            let (mut w, mut out) = (writer(), Vec::new());
            let done = w.open_message(&mut out);
            w.delta(done, "a", &mut out);
            w.close(done, &mut out);
            let open = w.open_message(&mut out);
            w.delta(open, "b", &mut out);
            w.finish(stop, Value::Null, &mut out);
            let last = data(&out).pop().unwrap();
            assert_eq!(last["type"], "response.incomplete");
            let r = &last["response"];
            assert_eq!(r["incomplete_details"], json!({"reason": reason}));
            assert_eq!(r["output"][0]["status"], "completed");
            assert_eq!(r["output"][1]["status"], "incomplete");
        }
    }

    #[test]
    fn the_placeholder_is_no_summary_and_errors_end_the_stream_once() {
        let (mut w, mut out) = (writer(), Vec::new());
        let rs = w.open_reasoning(None, &mut out);
        w.delta(rs, THINKING_PLACEHOLDER, &mut out);
        w.close(rs, &mut out);
        let item = &data(&out).pop().unwrap()["item"];
        assert_eq!(item["summary"], json!([]));
        w.fail("boom", Some("overloaded_error"), &mut out);
        w.fail("again", None, &mut out);
        w.finish(StopReason::EndTurn, Value::Null, &mut out);
        let d = data(&out);
        let last = d.last().unwrap();
        assert_eq!(
            (last["type"].as_str(), last["code"].as_str()),
            (Some("error"), Some("overloaded_error"))
        );
        assert!(w.terminated());
    }

    #[test]
    fn usage_totals_saturate_unless_upstream_gave_one() {
        let u = Usage {
            input_tokens: u64::MAX,
            output_tokens: 1,
            cache_read_tokens: 3,
            ..Default::default()
        };
        assert_eq!(usage_value(&u, 0, None)["total_tokens"], u64::MAX);
        assert_eq!(usage_value(&u, 2, Some(9))["total_tokens"], 9);
        assert_eq!(
            usage_value(&u, 2, None)["input_tokens_details"]["cached_tokens"],
            3
        );
    }
}
