//! Web search for OpenAI Responses clients (Codex's `web_search` tool): the hosted tool
//! becomes a function tool the model calls; the loop withholds those calls and, after the
//! gateway ran the searches, shows them as OpenAI does (`web_search_call` items with their
//! `response.web_search_call.*` events, `url_citation` annotations on the answer), then
//! lets the model go on in the same response. The client sees one response: one id, one
//! run of output indexes and sequence numbers, usage summed over the model turns.

use serde_json::{json, Map, Value};
use std::mem::take;

use super::{
    plan, results_text, AfterSearch, Peek, PlannedSearch, SearchFailure, SearchHit, SearchLimits,
    TurnEnd, MAX_TURNS, TOOL_DESCRIPTION, TOOL_NAME,
};
use crate::protocol::error::ApiError;
use crate::translate::OutEvent;

/// Ids of the `web_search_call` items this gateway writes.
const CALL_ITEM_PREFIX: &str = "ws_cgw";

fn is_web_search_tool(tool: &Value) -> bool {
    tool.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t == "web_search" || t.starts_with("web_search_"))
}

/// Whether a request's text may carry earlier `web_search_call` items (a cheap scan of
/// the raw body, so other requests skip the input walk).
pub fn may_carry_search_turns(raw_body: &str) -> bool {
    raw_body.contains("web_search_call")
}

/// Finds the hosted web search tool and puts the function tool in its place; earlier
/// `web_search_call` items in `input` (looked for only when `history` says there may be
/// some) become text the model reads. Ok(None): no web search asked.
pub fn prepare(
    body: &mut Map<String, Value>,
    history: bool,
) -> Result<Option<ResponsesSearch>, ApiError> {
    if history {
        replay(body);
    }
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return Ok(None);
    };
    let Some(at) = tools.iter().position(is_web_search_tool) else {
        return Ok(None);
    };
    if let Some(clash) = tools.iter().position(|t| {
        !is_web_search_tool(t) && t.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
    }) {
        return Err(ApiError::invalid(format!(
            "tools[{clash}].name: a function named '{TOOL_NAME}' clashes with the web_search tool"
        ))
        .with_param(format!("tools[{clash}].name")));
    }
    let limits = limits(&tools[at], at)?;
    tools[at] = json!({
        "type": "function",
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "parameters": super::tool_schema(),
        "strict": false,
    });
    // One hosted search tool only; further ones would be a second function of that name.
    let mut seen = false;
    tools.retain(|t| {
        let search =
            t.get("name").and_then(Value::as_str) == Some(TOOL_NAME) || is_web_search_tool(t);
        let keep = !(search && seen);
        seen |= search;
        keep
    });
    // A choice of the hosted tool is a choice of its function.
    if body
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("web_search"))
    {
        body.insert(
            "tool_choice".into(),
            json!({"type": "function", "name": TOOL_NAME}),
        );
    }
    Ok(Some(ResponsesSearch::new(limits)))
}

fn limits(tool: &Value, at: usize) -> Result<SearchLimits, ApiError> {
    let bad = |field: &str, why: &str| {
        ApiError::invalid(format!("tools[{at}].{field}: {why}"))
            .with_param(format!("tools[{at}].{field}"))
    };
    let allowed_domains = super::domain_list(tool.pointer("/filters/allowed_domains"))
        .ok_or_else(|| bad("filters.allowed_domains", "must be a list of domains"))?;
    let user_location = super::user_location(tool.get("user_location"))
        .ok_or_else(|| bad("user_location", "must be an object"))?;
    Ok(SearchLimits {
        max_uses: None,
        allowed_domains,
        blocked_domains: Vec::new(),
        user_location,
    })
}

/// Earlier `web_search_call` items become an assistant note of what was searched (and
/// the sources found): the results themselves are not kept by the client, and the
/// answer that used them follows in the history.
fn replay(body: &mut Map<String, Value>) {
    let Some(Value::Array(input)) = body.get_mut("input") else {
        return;
    };
    for item in input.iter_mut() {
        if item.get("type").and_then(Value::as_str) != Some("web_search_call") {
            continue;
        }
        let query = item
            .pointer("/action/query")
            .and_then(Value::as_str)
            .unwrap_or("");
        let sources: Vec<&str> = item
            .pointer("/action/sources")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(|s| s.get("url").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let mut text = format!("(Searched the web for: {query})");
        if !sources.is_empty() {
            text.push_str(&format!(" Sources: {}", sources.join(", ")));
        }
        *item = json!({"type": "message", "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]});
    }
}

// ---- the loop ----

#[derive(Debug, Clone, Copy)]
enum Slot {
    Client(u64),
    Search(usize),
}

#[derive(Debug, Default)]
struct Call {
    call_id: String,
    item_id: String,
    arguments: String,
}

#[derive(Default)]
struct Turn {
    slots: Vec<(u64, Slot)>,
    calls: Vec<Call>,
    other_tools: bool,
    /// The turn's final response (from `response.completed` or `.incomplete`).
    response: Option<Value>,
    planned: Vec<PlannedSearch>,
}

impl Turn {
    fn slot(&self, index: u64) -> Option<Slot> {
        self.slots
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| *s)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Tokens {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
}

pub struct ResponsesSearch {
    limits: SearchLimits,
    used: u64,
    executed: u64,
    turns: usize,
    started: bool,
    /// The response the client saw created: its id and creation stay for the whole answer.
    created: Option<Value>,
    /// Next sequence number and output index the client sees.
    seq: u64,
    next_output: u64,
    /// Output items the client has seen completed, in order.
    items: Vec<Value>,
    /// Every result shown, for the answer's citations.
    hits: Vec<SearchHit>,
    turn: Turn,
    total: Tokens,
    finished: bool,
}

impl ResponsesSearch {
    fn new(limits: SearchLimits) -> ResponsesSearch {
        ResponsesSearch {
            limits,
            used: 0,
            executed: 0,
            turns: 0,
            started: false,
            created: None,
            seq: 0,
            next_output: 0,
            items: Vec::new(),
            hits: Vec::new(),
            turn: Turn::default(),
            total: Tokens::default(),
            finished: false,
        }
    }

    pub fn executed(&self) -> u64 {
        self.executed
    }

    fn emit(&mut self, name: &'static str, mut data: Value, out: &mut Vec<OutEvent>) {
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        let name = (!name.is_empty()).then_some(name);
        out.push(OutEvent::Event { name, data });
    }

    /// One client event of the current model turn. Deltas of items the client sees at
    /// the same position, in sequence, pass untouched and unparsed.
    pub fn on_event(&mut self, ev: OutEvent, out: &mut Vec<OutEvent>) {
        if self.finished {
            return;
        }
        let mut peek = Peek::of(&ev).unwrap_or_default();
        let kind = peek.kind.take().unwrap_or_default();
        if let (OutEvent::Raw { .. }, Some(index), Some(seq)) =
            (&ev, peek.index, peek.sequence_number)
        {
            let same_place = matches!(self.turn.slot(index), Some(Slot::Client(at)) if at == index);
            if same_place && seq == self.seq && kind.ends_with(".delta") {
                self.seq += 1;
                out.push(ev);
                return;
            }
        }
        let OutEvent::Event { mut data, .. } = ev.into_value() else {
            return;
        };
        match kind.as_str() {
            "response.created" | "response.in_progress" => {
                if self.turns == 0 {
                    if kind == "response.created" {
                        self.started = true;
                        self.created = data.get("response").cloned();
                    }
                    self.emit(static_name(&kind), data, out);
                }
            }
            "response.output_item.added" => {
                let index = peek.index.unwrap_or(0);
                let item = data.get("item").cloned().unwrap_or(Value::Null);
                let ty = item.get("type").and_then(Value::as_str).unwrap_or("");
                if ty == "function_call"
                    && item.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
                {
                    let s = |k: &str| {
                        item.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    self.turn.calls.push(Call {
                        call_id: s("call_id"),
                        item_id: s("id"),
                        arguments: String::new(),
                    });
                    let n = self.turn.calls.len() - 1;
                    self.turn.slots.push((index, Slot::Search(n)));
                    return;
                }
                self.turn.other_tools |= ty.ends_with("_call") && ty != "web_search_call";
                let at = self.next_output;
                self.next_output += 1;
                self.turn.slots.push((index, Slot::Client(at)));
                data["output_index"] = json!(at);
                self.emit("response.output_item.added", data, out);
            }
            "response.completed" | "response.incomplete" => {
                self.turn.response = data.get("response").cloned();
            }
            "response.failed" | "error" => {
                self.finished = true;
                let name = static_name(&kind);
                self.emit(name, data, out);
            }
            _ => match peek.index.map(|i| (i, self.turn.slot(i))) {
                Some((_, Some(Slot::Search(n)))) => {
                    let call = &mut self.turn.calls[n];
                    match kind.as_str() {
                        "response.function_call_arguments.delta" => {
                            if let Some(d) = data.get("delta").and_then(Value::as_str) {
                                call.arguments.push_str(d);
                            }
                        }
                        "response.function_call_arguments.done" | "response.output_item.done" => {
                            let whole = data
                                .get("arguments")
                                .or_else(|| data.pointer("/item/arguments"))
                                .and_then(Value::as_str);
                            if let Some(a) = whole {
                                call.arguments = a.to_string();
                            }
                        }
                        _ => {}
                    }
                }
                Some((_, Some(Slot::Client(at)))) => {
                    data["output_index"] = json!(at);
                    if kind == "response.output_item.done" {
                        if let Some(item) = data.get("item") {
                            self.items.push(item.clone());
                        }
                    }
                    self.emit(static_name(&kind), data, out);
                }
                // Not tied to an output item (or to one never announced): passed on.
                _ => self.emit(static_name(&kind), data, out),
            },
        }
    }

    pub fn end_turn(&mut self, out: &mut Vec<OutEvent>) -> TurnEnd {
        if self.finished {
            return TurnEnd::Done;
        }
        self.turns += 1;
        let Some(response) = self.turn.response.as_ref() else {
            // Cut short: the pipeline already told the client.
            self.finished = true;
            return TurnEnd::Done;
        };
        add_usage(&mut self.total, response.get("usage"));
        let completed = response.get("status").and_then(Value::as_str) == Some("completed");
        if self.turn.calls.is_empty() || !completed {
            self.close(out);
            return TurnEnd::Done;
        }
        let queries = self
            .turn
            .calls
            .iter()
            .map(|c| super::query_of(&c.arguments));
        self.turn.planned = plan(queries.collect(), &self.limits, &mut self.used);
        TurnEnd::Search(self.turn.planned.clone())
    }

    pub fn searched(
        &mut self,
        outcomes: Vec<Result<Vec<SearchHit>, SearchFailure>>,
        body: &mut Map<String, Value>,
        out: &mut Vec<OutEvent>,
    ) -> AfterSearch {
        let (calls, planned) = (take(&mut self.turn.calls), take(&mut self.turn.planned));
        let settled = super::settle(calls, planned, outcomes, &mut self.executed);
        let mut outputs = Vec::with_capacity(settled.len());
        for (call, plan, outcome) in settled {
            // Short and safe whatever the upstream's item id looks like.
            let id = format!(
                "{CALL_ITEM_PREFIX}{}",
                &crate::auth::sha256_hex(&format!("{}:{}", call.item_id, call.call_id))[..24]
            );
            let at = self.next_output;
            self.next_output += 1;
            let searching = json!({"id": id, "type": "web_search_call", "status": "in_progress",
                                   "action": {"type": "search", "query": plan.query}});
            self.emit(
                "response.output_item.added",
                json!({"type": "response.output_item.added", "output_index": at, "item": searching}),
                out,
            );
            for phase in ["in_progress", "searching", "completed"] {
                let name = match phase {
                    "in_progress" => "response.web_search_call.in_progress",
                    "searching" => "response.web_search_call.searching",
                    _ => "response.web_search_call.completed",
                };
                self.emit(
                    name,
                    json!({"type": name, "output_index": at, "item_id": id}),
                    out,
                );
            }
            let sources: Vec<Value> = match &outcome {
                Ok(hits) => hits
                    .iter()
                    .map(|h| json!({"type": "url", "url": h.url}))
                    .collect(),
                Err(_) => Vec::new(),
            };
            let status = if outcome.is_ok() {
                "completed"
            } else {
                "failed"
            };
            let done = json!({"id": id, "type": "web_search_call", "status": status,
                              "action": {"type": "search", "query": plan.query, "sources": sources}});
            self.items.push(done.clone());
            self.emit(
                "response.output_item.done",
                json!({"type": "response.output_item.done", "output_index": at, "item": done}),
                out,
            );
            outputs.push(
                json!({"type": "function_call_output", "call_id": call.call_id,
                                "output": results_text(&outcome)}),
            );
            if let Ok(hits) = outcome {
                self.hits.extend(hits);
            }
        }
        if self.turn.other_tools || self.turns >= MAX_TURNS {
            self.close(out);
            return AfterSearch::Done;
        }
        // The model's turn (its reasoning, text and calls) and the results, as input.
        let produced = self
            .turn
            .response
            .as_ref()
            .and_then(|r| r.get("output"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let input = match body.remove("input") {
            Some(Value::Array(items)) => items,
            Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
            _ => Vec::new(),
        };
        let mut input = input;
        input.extend(produced);
        input.extend(outputs);
        body.insert("input".into(), Value::Array(input));
        if body
            .get("tool_choice")
            .is_some_and(|c| c == "required" || c.get("type").is_some_and(|t| t == "function"))
        {
            body.insert("tool_choice".into(), json!("auto"));
        }
        self.turn = Turn::default();
        AfterSearch::Continue
    }

    /// The closing event: the last turn's response with the first turn's identity, every
    /// item the client saw, the answer's citations, and the summed usage.
    fn close(&mut self, out: &mut Vec<OutEvent>) {
        self.finished = true;
        let mut response = self.turn.response.take().unwrap_or_else(|| json!({}));
        if let Some(created) = &self.created {
            for k in ["id", "created_at"] {
                if let Some(v) = created.get(k) {
                    response[k] = v.clone();
                }
            }
        }
        let mut items = std::mem::take(&mut self.items);
        let mut annotations = Vec::new();
        for (index, item) in items.iter_mut().enumerate() {
            cite(item, index as u64, &self.hits, &mut annotations);
        }
        for mut a in annotations {
            a["type"] = json!("response.output_text.annotation.added");
            self.emit("response.output_text.annotation.added", a, out);
        }
        response["output"] = Value::Array(items);
        let t = self.total;
        response["usage"] = json!({
            "input_tokens": t.input,
            "input_tokens_details": {"cached_tokens": t.cached},
            "output_tokens": t.output,
            "output_tokens_details": {"reasoning_tokens": t.reasoning},
            "total_tokens": t.input.saturating_add(t.output),
        });
        let name = match response.get("status").and_then(Value::as_str) {
            Some("incomplete") => "response.incomplete",
            _ => "response.completed",
        };
        self.emit(name, json!({"type": name, "response": response}), out);
    }
}

fn add_usage(t: &mut Tokens, u: Option<&Value>) {
    let Some(u) = u else { return };
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    t.input = t.input.saturating_add(n("/input_tokens"));
    t.cached = t
        .cached
        .saturating_add(n("/input_tokens_details/cached_tokens"));
    t.output = t.output.saturating_add(n("/output_tokens"));
    t.reasoning = t
        .reasoning
        .saturating_add(n("/output_tokens_details/reasoning_tokens"));
}

/// `url_citation` annotations where the answer's text names a result's URL (the model
/// cites by writing the link); also returned as `annotation.added` event bodies.
fn cite(item: &mut Value, output_index: u64, hits: &[SearchHit], events: &mut Vec<Value>) {
    if hits.is_empty() || item.get("type").and_then(Value::as_str) != Some("message") {
        return;
    }
    let item_id = item.get("id").cloned().unwrap_or(Value::Null);
    let Some(Value::Array(parts)) = item.get_mut("content") else {
        return;
    };
    for (content_index, part) in parts.iter_mut().enumerate() {
        if part.get("type").and_then(Value::as_str) != Some("output_text") {
            continue;
        }
        let text = part
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut found: Vec<(usize, usize, &SearchHit)> = Vec::new();
        for hit in hits {
            let mut from = 0;
            while let Some(pos) = text[from..].find(hit.url.as_str()) {
                let start = from + pos;
                let end = start + hit.url.len();
                // A longer URL of another hit that starts the same way is that hit's.
                let longer = text[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| !c.is_whitespace() && !")]>.,;\"'".contains(c));
                if !longer && !found.iter().any(|(s, _, _)| *s == start) {
                    found.push((start, end, hit));
                }
                from = end;
            }
        }
        if found.is_empty() {
            continue;
        }
        found.sort_by_key(|(s, _, _)| *s);
        let chars = |byte: usize| text[..byte].chars().count();
        let list: Vec<Value> = found
            .iter()
            .map(|(s, e, h)| {
                json!({"type": "url_citation", "start_index": chars(*s), "end_index": chars(*e),
                       "url": h.url, "title": h.title})
            })
            .collect();
        let existing = part
            .get("annotations")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for (i, a) in list.iter().enumerate() {
            events.push(json!({"item_id": item_id, "output_index": output_index,
                               "content_index": content_index, "annotation_index": existing + i,
                               "annotation": a}));
        }
        match part.get_mut("annotations") {
            Some(Value::Array(a)) => a.extend(list),
            _ => part["annotations"] = Value::Array(list),
        }
    }
}

/// The static names of Responses events (what `OutEvent` carries); others go unnamed
/// (their data still says their type).
pub(crate) fn static_name(kind: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "response.queued",
        "error",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ];
    NAMES.iter().find(|n| **n == kind).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::Assembler;
    use crate::protocol::Api;

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    fn hits() -> Vec<SearchHit> {
        vec![SearchHit {
            url: "https://example.org/rust".into(),
            title: "Rust news".into(),
            content: "Rust 1.95 is out.".into(),
            page_age: None,
        }]
    }

    /// Upstream events as a translator or the relay hands them over (deltas raw), with
    /// upstream sequence numbers from `seq`.
    struct Upstream {
        seq: u64,
    }

    impl Upstream {
        fn ev(&mut self, ty: &'static str, mut data: Value) -> OutEvent {
            data["type"] = json!(ty);
            data["sequence_number"] = json!(self.seq);
            self.seq += 1;
            if ty.ends_with(".delta") {
                OutEvent::Raw {
                    name: Some(ty),
                    data: data.to_string(),
                    text: None,
                }
            } else {
                OutEvent::named(ty, data)
            }
        }
    }

    fn feed(l: &mut ResponsesSearch, events: Vec<OutEvent>, out: &mut Vec<OutEvent>) {
        for e in events {
            l.on_event(e, out);
        }
    }

    fn search_turn(id: &str, u: &mut Upstream) -> Vec<OutEvent> {
        let reasoning = json!({"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAAAenc"});
        let call = json!({"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "web_search", "arguments": "{\"query\":\"rust news\"}", "status": "completed"});
        vec![
            u.ev("response.created", json!({"response": {"id": id, "created_at": 1, "status": "in_progress", "output": []}})),
            u.ev("response.output_item.added", json!({"output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "summary": []}})),
            u.ev("response.output_item.done", json!({"output_index": 0, "item": reasoning})),
            u.ev("response.output_item.added", json!({"output_index": 1, "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "web_search", "arguments": ""}})),
            u.ev("response.function_call_arguments.delta", json!({"output_index": 1, "item_id": "fc_1", "delta": "{\"query\":\"rust news\"}"})),
            u.ev("response.function_call_arguments.done", json!({"output_index": 1, "item_id": "fc_1", "arguments": "{\"query\":\"rust news\"}"})),
            u.ev("response.output_item.done", json!({"output_index": 1, "item": call})),
            u.ev("response.completed", json!({"response": {"id": id, "status": "completed", "output": [reasoning, call],
                "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 50}, "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 4}}}})),
        ]
    }

    fn answer_turn(id: &str, text: &str, u: &mut Upstream) -> Vec<OutEvent> {
        let msg = json!({"id": "msg_2", "type": "message", "role": "assistant", "status": "completed",
                         "content": [{"type": "output_text", "text": text, "annotations": []}]});
        vec![
            u.ev("response.created", json!({"response": {"id": id, "created_at": 2, "status": "in_progress", "output": []}})),
            u.ev("response.in_progress", json!({"response": {"id": id}})),
            u.ev("response.output_item.added", json!({"output_index": 0, "item": {"id": "msg_2", "type": "message", "role": "assistant", "content": []}})),
            u.ev("response.content_part.added", json!({"output_index": 0, "item_id": "msg_2", "content_index": 0, "part": {"type": "output_text", "text": ""}})),
            u.ev("response.output_text.delta", json!({"output_index": 0, "item_id": "msg_2", "content_index": 0, "delta": text})),
            u.ev("response.output_text.done", json!({"output_index": 0, "item_id": "msg_2", "content_index": 0, "text": text})),
            u.ev("response.output_item.done", json!({"output_index": 0, "item": msg})),
            u.ev("response.completed", json!({"response": {"id": id, "status": "completed", "output": [msg],
                "usage": {"input_tokens": 300, "input_tokens_details": {"cached_tokens": 100}, "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}}}})),
        ]
    }

    fn values(out: &[OutEvent]) -> Vec<Value> {
        out.iter()
            .map(|e| match e.clone().into_value() {
                OutEvent::Event { data, .. } => data,
                _ => Value::Null,
            })
            .collect()
    }

    #[test]
    fn the_hosted_tool_becomes_a_function_and_old_calls_become_notes() {
        let mut b = body(
            json!({"model": "gpt-5-codex", "tool_choice": {"type": "web_search"},
            "tools": [{"type": "function", "name": "exec_command", "parameters": {}},
                      {"type": "web_search", "external_web_access": true, "filters": {"allowed_domains": ["Example.org"]},
                       "user_location": {"type": "approximate", "country": "FR"}}],
            "input": [{"type": "web_search_call", "id": "ws_1", "status": "completed",
                       "action": {"type": "search", "query": "rust", "sources": [{"type": "url", "url": "https://example.org"}]}}]}),
        );
        let l = prepare(&mut b, true).unwrap().unwrap();
        assert_eq!(b["tools"][1]["type"], "function");
        assert_eq!(b["tools"][1]["name"], "web_search");
        assert_eq!(
            b["tool_choice"],
            json!({"type": "function", "name": "web_search"})
        );
        assert_eq!(l.limits.allowed_domains, ["example.org"]);
        assert_eq!(
            l.limits.user_location.as_ref().unwrap().country.as_deref(),
            Some("FR")
        );
        assert_eq!(b["input"][0]["type"], "message");
        assert_eq!(
            b["input"][0]["content"][0]["text"],
            "(Searched the web for: rust) Sources: https://example.org"
        );
        let mut clash = body(
            json!({"tools": [{"type": "web_search"}, {"type": "function", "name": "web_search"}]}),
        );
        assert_eq!(prepare(&mut clash, false).err().unwrap().status, 400);
        let mut none = body(json!({"tools": [{"type": "function", "name": "f"}], "input": "hi"}));
        assert!(prepare(&mut none, false).unwrap().is_none());
    }

    #[test]
    fn a_search_turn_then_a_cited_answer_in_one_response() {
        let mut b = body(
            json!({"model": "gpt-5-codex", "input": "what is new in rust?", "tools": [{"type": "web_search"}]}),
        );
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        let mut up = Upstream { seq: 0 };
        feed(&mut l, search_turn("resp_1", &mut up), &mut out);
        let TurnEnd::Search(plans) = l.end_turn(&mut out) else {
            panic!("no search")
        };
        assert_eq!(plans[0].run.as_ref().unwrap().query, "rust news");
        assert_eq!(
            l.searched(vec![Ok(hits())], &mut b, &mut out),
            AfterSearch::Continue
        );
        let input = b["input"].as_array().unwrap();
        let kinds: Vec<&str> = input
            .iter()
            .map(|i| i["type"].as_str().unwrap_or("message"))
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "reasoning",
                "function_call",
                "function_call_output"
            ]
        );
        assert_eq!(input[3]["call_id"], "call_1");
        assert!(input[3]["output"]
            .as_str()
            .unwrap()
            .contains("https://example.org/rust"));

        let mut up = Upstream { seq: 0 };
        feed(
            &mut l,
            answer_turn(
                "resp_2",
                "Rust 1.95 is out (https://example.org/rust).",
                &mut up,
            ),
            &mut out,
        );
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        let evs = values(&out);
        let seqs: Vec<u64> = evs
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..evs.len() as u64).collect::<Vec<_>>(),
            "one run of sequence numbers"
        );
        let types: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types.iter().filter(|t| **t == "response.created").count(),
            1
        );
        assert!(
            !types.contains(&"response.function_call_arguments.delta"),
            "the search call is withheld"
        );
        let ws: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| t.starts_with("response.web_search_call."))
            .collect();
        assert_eq!(
            ws,
            [
                "response.web_search_call.in_progress",
                "response.web_search_call.searching",
                "response.web_search_call.completed"
            ]
        );
        let outputs: Vec<u64> = evs
            .iter()
            .filter(|e| e["type"] == "response.output_item.added")
            .map(|e| e["output_index"].as_u64().unwrap())
            .collect();
        assert_eq!(outputs, [0, 1, 2]);
        let annotation = evs
            .iter()
            .find(|e| e["type"] == "response.output_text.annotation.added")
            .unwrap();
        assert_eq!(annotation["annotation"]["url"], "https://example.org/rust");
        assert_eq!(annotation["output_index"], 2);
        let last = evs.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        let r = &last["response"];
        assert_eq!(r["id"], "resp_1");
        let items: Vec<&str> = r["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(items, ["reasoning", "web_search_call", "message"]);
        assert_eq!(
            r["output"][1]["action"],
            json!({"type": "search", "query": "rust news", "sources": [{"type": "url", "url": "https://example.org/rust"}]})
        );
        let cite = &r["output"][2]["content"][0]["annotations"][0];
        assert_eq!(cite["type"], "url_citation");
        let text = "Rust 1.95 is out (https://example.org/rust).";
        assert_eq!(cite["start_index"], text.find("https").unwrap());
        assert_eq!(cite["end_index"], text.find(").").unwrap());
        assert_eq!(r["usage"]["input_tokens"], 400);
        assert_eq!(r["usage"]["output_tokens"], 30);
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 150);
        // A non-stream client gets the same answer.
        let mut a = Assembler::new(Api::Responses);
        out.iter().for_each(|e| a.push(e));
        assert_eq!(a.finish().unwrap(), *r);
        assert_eq!(l.executed(), 1);
    }

    #[test]
    fn without_a_search_deltas_pass_untouched() {
        let mut b = body(json!({"input": "hi", "tools": [{"type": "web_search"}]}));
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        let mut up = Upstream { seq: 0 };
        let events = answer_turn("resp_1", "Hello.", &mut up);
        let delta = events
            .iter()
            .find(|e| matches!(e, OutEvent::Raw { .. }))
            .cloned()
            .unwrap();
        feed(&mut l, events, &mut out);
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        assert!(out.iter().any(|e| matches!((e, &delta), (OutEvent::Raw { data: a, .. }, OutEvent::Raw { data: b, .. }) if a == b)));
        let evs = values(&out);
        assert_eq!(evs.last().unwrap()["response"]["id"], "resp_1");
        assert_eq!(
            evs.last().unwrap()["response"]["output"][0]["content"][0]["text"],
            "Hello."
        );
    }

    #[test]
    fn a_failed_turn_ends_the_answer_once() {
        let mut b = body(json!({"input": "hi", "tools": [{"type": "web_search"}]}));
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        let mut up = Upstream { seq: 0 };
        l.on_event(
            up.ev("response.created", json!({"response": {"id": "r"}})),
            &mut out,
        );
        l.on_event(
            up.ev("error", json!({"code": "api_error", "message": "boom"})),
            &mut out,
        );
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        assert_eq!(out.len(), 2);
    }
}
