//! Web search for Anthropic Messages clients (Claude Code's WebSearch): the server tool
//! `web_search_20250305` / `web_search_20260209` becomes a function tool the model calls;
//! the loop withholds those calls from the client, and after the gateway ran the
//! searches shows them as Anthropic does (`server_tool_use` and `web_search_tool_result`
//! blocks, `web_search_result_location` citations, `usage.server_tool_use`), then lets the
//! model go on in the same message. Earlier search turns the client sends back become
//! plain tool calls and results again.
//!
//! The loop reads and writes client events (the Messages stream), so it works the same
//! whichever Copilot API serves the model.

use serde_json::{json, Map, Value};
use std::mem::take;

use super::opaque::{self, CitationIndex, ResultPayload};
use super::{
    plan, results_text, AfterSearch, Peek, PlannedSearch, SearchFailure, SearchHit, SearchLimits,
    TurnEnd, MAX_TURNS, TOOL_DESCRIPTION, TOOL_NAME,
};
use crate::assemble::Assembler;
use crate::protocol::error::ApiError;
use crate::protocol::Api;
use crate::translate::OutEvent;

/// Ids of the blocks this gateway writes: how a later request's history tells its own
/// search turns from Anthropic's.
const SERVER_ID_PREFIX: &str = "srvtoolu_cgw";
const CALL_ID_PREFIX: &str = "toolu_cgw";

fn is_web_search_tool(tool: &Value) -> bool {
    tool.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("web_search_20"))
}

/// Whether a request's text may carry this gateway's earlier search blocks (a cheap scan
/// of the raw body, so other requests skip the history walk).
pub fn may_carry_search_turns(raw_body: &str) -> bool {
    raw_body.contains(SERVER_ID_PREFIX)
}

/// Finds the web search server tool, checks it as Anthropic does, and puts the function
/// tool in its place. Earlier search turns of this gateway in the history (looked for
/// only when `history` says there may be some) become plain tool calls and results, or
/// text without the tool. Ok(None): no web search asked.
pub fn prepare(
    body: &mut Map<String, Value>,
    history: bool,
) -> Result<Option<MessagesSearch>, ApiError> {
    let replay = |body: &mut Map<String, Value>, with_tool: bool| match history {
        true => replay(body, with_tool),
        false => 0,
    };
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        replay(body, false);
        return Ok(None);
    };
    let found: Vec<usize> = tools
        .iter()
        .enumerate()
        .filter(|(_, t)| is_web_search_tool(t))
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = found.first() else {
        replay(body, false);
        return Ok(None);
    };
    if found.len() > 1 {
        return Err(ApiError::invalid(format!(
            "tools.{}: only one web search tool may be given",
            found[1]
        ))
        .with_param(format!("tools.{}", found[1])));
    }
    let kind = tools[at]
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(clash) = tools.iter().position(|t| {
        !is_web_search_tool(t) && t.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
    }) {
        return Err(ApiError::invalid(format!(
            "tools.{clash}.name: a tool named '{TOOL_NAME}' clashes with the web search tool"
        ))
        .with_param(format!("tools.{clash}.name")));
    }
    let limits = limits(&tools[at], at, &kind)?;
    tools[at] = json!({
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "input_schema": super::tool_schema(),
    });
    let used = replay(body, true);
    Ok(Some(MessagesSearch::new(limits, used)))
}

fn limits(tool: &Value, at: usize, kind: &str) -> Result<SearchLimits, ApiError> {
    let bad = |field: &str, why: &str| {
        ApiError::invalid(format!("tools.{at}.{kind}.{field}: {why}"))
            .with_param(format!("tools.{at}.{field}"))
    };
    if let Some(name) = tool.get("name") {
        if name.as_str() != Some(TOOL_NAME) {
            return Err(bad("name", "Input should be 'web_search'"));
        }
    }
    let max_uses = match tool.get("max_uses") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("max_uses", "Input should be a positive integer"))?,
        ),
    };
    let domains = |field: &str| {
        super::domain_list(tool.get(field))
            .ok_or_else(|| bad(field, "Input should be a list of domain names"))
    };
    let allowed_domains = domains("allowed_domains")?;
    let blocked_domains = domains("blocked_domains")?;
    if !allowed_domains.is_empty() && !blocked_domains.is_empty() {
        return Err(bad(
            "blocked_domains",
            "allowed_domains and blocked_domains cannot both be given",
        ));
    }
    let user_location = super::user_location(tool.get("user_location"))
        .ok_or_else(|| bad("user_location", "Input should be an object"))?;
    Ok(SearchLimits {
        max_uses,
        allowed_domains,
        blocked_domains,
        user_location,
    })
}

/// Turns this gateway's earlier search blocks into what any model reads: with the tool
/// on offer, `server_tool_use` → `tool_use` and `web_search_tool_result` → a user
/// `tool_result` (the assistant turn is split there); without it, both become text.
/// Citations the gateway wrote are taken off (they point into results the model sees
/// again anyway). Returns the searches since the last message the user typed.
fn replay(body: &mut Map<String, Value>, with_tool: bool) -> u64 {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return 0;
    };
    if !messages.iter().any(has_owned_blocks) {
        return 0;
    }
    let mut used = 0;
    let mut out: Vec<Value> = Vec::with_capacity(messages.len() + 2);
    let mut pending_results: Vec<Value> = Vec::new();
    for message in messages.drain(..) {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role == "user" {
            if typed_by_user(&message) {
                used = 0;
            }
            let mut message = message;
            if !pending_results.is_empty() {
                prepend_content(&mut message, std::mem::take(&mut pending_results));
            }
            out.push(message);
            continue;
        }
        if role != "assistant" || !has_owned_blocks(&message) {
            flush_results(&mut out, &mut pending_results);
            out.push(message);
            continue;
        }
        flush_results(&mut out, &mut pending_results);
        let mut message = message;
        let blocks = match message.get_mut("content").map(Value::take) {
            Some(Value::Array(b)) => b,
            _ => Vec::new(),
        };
        let mut segment: Vec<Value> = Vec::new();
        for block in blocks {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            let owned = |k: &str| {
                block
                    .get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.starts_with(SERVER_ID_PREFIX))
            };
            match kind {
                "server_tool_use" if owned("id") => {
                    used += 1;
                    let id = call_id(block.get("id").and_then(Value::as_str).unwrap_or(""));
                    let input = block.get("input").cloned().unwrap_or(json!({}));
                    segment.push(if with_tool {
                        json!({"type": "tool_use", "id": id, "name": TOOL_NAME, "input": input})
                    } else {
                        let q = input.get("query").and_then(Value::as_str).unwrap_or("");
                        json!({"type": "text", "text": format!("(Searched the web for: {q})")})
                    });
                }
                "web_search_tool_result" if owned("tool_use_id") => {
                    let id = call_id(
                        block
                            .get("tool_use_id")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    );
                    let content = block.get("content").cloned().unwrap_or(Value::Null);
                    if with_tool {
                        // The turn is split: its calls so far, then their results.
                        if !segment.is_empty() {
                            flush_results(&mut out, &mut pending_results);
                            out.push(json!({"role": "assistant", "content": std::mem::take(&mut segment)}));
                        }
                        pending_results.push(tool_result(&id, &content));
                    } else {
                        segment.push(json!({"type": "text", "text": replay_text(&content)}));
                    }
                }
                "text" => segment.push(strip_owned_citations(block)),
                _ => segment.push(block),
            }
        }
        if !segment.is_empty() {
            flush_results(&mut out, &mut pending_results);
            message["content"] = Value::Array(segment);
            out.push(message);
        }
    }
    flush_results(&mut out, &mut pending_results);
    *messages = out;
    used
}

fn has_owned_blocks(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("assistant")
        && message
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| {
                blocks.iter().any(|b| {
                    b.get("id")
                        .or_else(|| b.get("tool_use_id"))
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.starts_with(SERVER_ID_PREFIX))
                })
            })
}

/// A user message with something besides tool results: a new request from the user.
fn typed_by_user(message: &Value) -> bool {
    match message.get("content") {
        Some(Value::Array(blocks)) => blocks
            .iter()
            .any(|b| b.get("type").and_then(Value::as_str) != Some("tool_result")),
        _ => true,
    }
}

fn prepend_content(message: &mut Value, mut blocks: Vec<Value>) {
    let rest = match message.get_mut("content").map(Value::take) {
        Some(Value::Array(b)) => b,
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        _ => Vec::new(),
    };
    blocks.extend(rest);
    message["content"] = Value::Array(blocks);
}

/// Results still waiting for a user message go into one of their own.
fn flush_results(out: &mut Vec<Value>, pending: &mut Vec<Value>) {
    if !pending.is_empty() {
        out.push(json!({"role": "user", "content": std::mem::take(pending)}));
    }
}

fn call_id(server_id: &str) -> String {
    format!(
        "{CALL_ID_PREFIX}{}",
        server_id
            .strip_prefix(SERVER_ID_PREFIX)
            .unwrap_or(server_id)
    )
}

fn server_id(call_id: &str) -> String {
    format!(
        "{SERVER_ID_PREFIX}{}",
        call_id.strip_prefix("toolu_").unwrap_or(call_id)
    )
}

/// A `web_search_tool_result`'s content as the model's tool result: Anthropic
/// `search_result` blocks (Claude cites them; other vendors' translators read them as
/// text), or the error.
fn tool_result(id: &str, content: &Value) -> Value {
    if let Some(results) = opaque::owned_results(content) {
        let blocks: Vec<Value> = results.iter().map(search_result_block).collect();
        if blocks.is_empty() {
            return json!({"type": "tool_result", "tool_use_id": id, "content": "No results."});
        }
        return json!({"type": "tool_result", "tool_use_id": id, "content": blocks});
    }
    let code = content
        .get("error_code")
        .and_then(Value::as_str)
        .unwrap_or("unavailable");
    json!({"type": "tool_result", "tool_use_id": id, "is_error": true,
           "content": format!("Web search failed ({code}).")})
}

fn search_result_block(r: &ResultPayload) -> Value {
    let mut text = r.content.clone();
    if let Some(age) = &r.page_age {
        text = format!("Published: {age}\n{text}");
    }
    json!({
        "type": "search_result",
        "source": r.url,
        "title": r.title,
        "content": [{"type": "text", "text": text}],
        "citations": {"enabled": true},
    })
}

fn replay_text(content: &Value) -> String {
    match opaque::owned_results(content) {
        Some(results) => {
            let hits: Vec<SearchHit> = results
                .into_iter()
                .map(|r| SearchHit {
                    url: r.url,
                    title: r.title,
                    content: r.content,
                    page_age: r.page_age,
                })
                .collect();
            results_text(&Ok(hits))
        }
        None => "Web search failed.".to_string(),
    }
}

fn strip_owned_citations(mut block: Value) -> Value {
    if let Some(Value::Array(citations)) = block.get_mut("citations") {
        citations.retain(|c| {
            c.get("type").and_then(Value::as_str) != Some("web_search_result_location")
                || c.get("encrypted_index")
                    .and_then(Value::as_str)
                    .and_then(opaque::decode::<CitationIndex>)
                    .is_none()
        });
        if citations.is_empty() {
            if let Some(b) = block.as_object_mut() {
                b.remove("citations");
            }
        }
    }
    block
}

// ---- the loop ----

/// Where an upstream content block goes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// To the client, at this index.
    Client(u64),
    /// A web search call (this turn's call number).
    Search(usize),
}

#[derive(Debug, Default)]
struct Call {
    id: String,
    json: String,
}

struct Turn {
    slots: Vec<(u64, Slot)>,
    calls: Vec<Call>,
    other_tools: bool,
    stop_reason: Option<Value>,
    stop_sequence: Value,
    ended: bool,
    /// This turn's answer, as the next request gives it back to the model.
    answer: Assembler,
    /// The searches planned at the turn's end, waiting for their outcomes.
    planned: Vec<PlannedSearch>,
}

impl Turn {
    fn new() -> Turn {
        Turn {
            slots: Vec::new(),
            calls: Vec::new(),
            other_tools: false,
            stop_reason: None,
            stop_sequence: Value::Null,
            ended: false,
            answer: Assembler::new(Api::Messages),
            planned: Vec::new(),
        }
    }

    fn slot(&self, index: u64) -> Option<Slot> {
        self.slots
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| *s)
    }
}

/// Usage the client sees, summed over the model turns.
#[derive(Debug, Default, Clone, Copy)]
struct Tokens {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
}

pub struct MessagesSearch {
    limits: SearchLimits,
    /// Searches counted against `max_uses` (earlier ones in this turn of the conversation
    /// included).
    used: u64,
    /// Searches run for this request (`usage.server_tool_use.web_search_requests`).
    executed: u64,
    turns: usize,
    started: bool,
    next_index: u64,
    turn: Turn,
    /// Finished turns' usage; the current turn's is in `current`.
    total: Tokens,
    current: Tokens,
    finished: bool,
}

impl MessagesSearch {
    fn new(limits: SearchLimits, used: u64) -> MessagesSearch {
        MessagesSearch {
            limits,
            used,
            executed: 0,
            turns: 0,
            started: false,
            next_index: 0,
            turn: Turn::new(),
            total: Tokens::default(),
            current: Tokens::default(),
            finished: false,
        }
    }

    /// Searches run so far (the search-usage count is the shell's).
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// One client event of the current model turn (as the relay or translator wrote it).
    /// Text and thinking deltas of blocks that keep their index pass untouched, unparsed.
    pub fn on_event(&mut self, ev: OutEvent, out: &mut Vec<OutEvent>) {
        if self.finished {
            return;
        }
        if self.passes(&ev) {
            self.turn.answer.push(&ev);
            out.push(ev);
            return;
        }
        let OutEvent::Event { name, mut data } = ev.into_value() else {
            return;
        };
        let kind = match name {
            Some(n) => n,
            None => data.get("type").and_then(Value::as_str).unwrap_or(""),
        }
        .to_string();
        if kind != "error" && kind != "ping" {
            self.turn.answer.push(&OutEvent::Event {
                name: static_name(&kind),
                data: data.clone(),
            });
        }
        match kind.as_str() {
            "message_start" => {
                if let Some(u) = data.pointer("/message/usage") {
                    read_usage(&mut self.current, u);
                }
                if !self.started {
                    self.started = true;
                    out.push(OutEvent::named("message_start", data));
                }
            }
            "content_block_start" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = data.get("content_block").cloned().unwrap_or(Value::Null);
                let tool = block.get("type").and_then(Value::as_str) == Some("tool_use");
                if tool && block.get("name").and_then(Value::as_str) == Some(TOOL_NAME) {
                    let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                    self.turn.calls.push(Call {
                        id: id.to_string(),
                        json: String::new(),
                    });
                    let n = self.turn.calls.len() - 1;
                    self.turn.slots.push((index, Slot::Search(n)));
                    return;
                }
                self.turn.other_tools |= tool;
                let at = self.next_index;
                self.next_index += 1;
                self.turn.slots.push((index, Slot::Client(at)));
                data["index"] = json!(at);
                out.push(OutEvent::named("content_block_start", data));
            }
            "content_block_delta" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                match self.turn.slot(index) {
                    Some(Slot::Search(n)) => {
                        if let Some(p) = data.pointer("/delta/partial_json").and_then(Value::as_str)
                        {
                            self.turn.calls[n].json.push_str(p);
                        }
                    }
                    Some(Slot::Client(at)) => {
                        data["index"] = json!(at);
                        if let Some(c) = data.pointer_mut("/delta/citation") {
                            convert_citation(c);
                        }
                        out.push(OutEvent::named("content_block_delta", data));
                    }
                    None => {}
                }
            }
            "content_block_stop" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(Slot::Client(at)) = self.turn.slot(index) {
                    data["index"] = json!(at);
                    out.push(OutEvent::named("content_block_stop", data));
                }
            }
            "message_delta" => {
                if let Some(d) = data.get("delta") {
                    self.turn.stop_reason = d.get("stop_reason").cloned();
                    self.turn.stop_sequence =
                        d.get("stop_sequence").cloned().unwrap_or(Value::Null);
                }
                if let Some(u) = data.get("usage") {
                    read_usage(&mut self.current, u);
                }
            }
            "message_stop" => self.turn.ended = true,
            "ping" => out.push(OutEvent::named("ping", data)),
            "error" => {
                self.finished = true;
                out.push(OutEvent::named("error", data));
            }
            _ => {}
        }
    }

    /// A delta of a block the client sees at the same index, and no citation to rewrite.
    fn passes(&self, ev: &OutEvent) -> bool {
        let (name, raw) = match ev {
            OutEvent::Raw { name, data, .. } => (*name, Some(data.as_str())),
            OutEvent::Event { name, .. } => (*name, None),
            OutEvent::Done => return false,
        };
        if name != Some("content_block_delta") || raw.is_some_and(|d| d.contains("\"citation\"")) {
            return false;
        }
        if raw.is_none() {
            return false;
        }
        let index = Peek::of(ev).and_then(|p| p.index);
        matches!(index.and_then(|i| Some((i, self.turn.slot(i)?))), Some((i, Slot::Client(at))) if at == i)
    }

    /// The model turn's stream ended: the answer closes, or the searches it asked for are
    /// planned. A turn cut short has already sent the client its error.
    pub fn end_turn(&mut self, out: &mut Vec<OutEvent>) -> TurnEnd {
        if self.finished {
            return TurnEnd::Done;
        }
        self.turns += 1;
        let stop = self.turn.stop_reason.as_ref().and_then(Value::as_str);
        if !self.turn.ended || self.turn.calls.is_empty() || stop != Some("tool_use") {
            if !self.turn.ended {
                // The pipeline already reported the cut; nothing more to say.
                self.finished = true;
                return TurnEnd::Done;
            }
            let reason = self.turn.stop_reason.clone().unwrap_or(json!("end_turn"));
            self.close(reason, out);
            return TurnEnd::Done;
        }
        let queries = self.turn.calls.iter().map(|c| super::query_of(&c.json));
        self.turn.planned = plan(queries.collect(), &self.limits, &mut self.used);
        TurnEnd::Search(self.turn.planned.clone())
    }

    /// The outcomes of the planned searches, in order: the client sees them, and either
    /// the answer ends or `body` is extended for the next model turn.
    pub fn searched(
        &mut self,
        outcomes: Vec<Result<Vec<SearchHit>, SearchFailure>>,
        body: &mut Map<String, Value>,
        out: &mut Vec<OutEvent>,
    ) -> AfterSearch {
        let (calls, planned) = (take(&mut self.turn.calls), take(&mut self.turn.planned));
        let settled = super::settle(calls, planned, outcomes, &mut self.executed);
        let mut results = Vec::with_capacity(settled.len());
        for (call, plan, outcome) in settled {
            let sid = server_id(&call.id);
            let at = self.next_index;
            self.next_index += 2;
            out.push(OutEvent::named(
                "content_block_start",
                json!({"type": "content_block_start", "index": at, "content_block":
                       {"type": "server_tool_use", "id": sid, "name": TOOL_NAME, "input": {}}}),
            ));
            out.push(OutEvent::named(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": at, "delta":
                       {"type": "input_json_delta", "partial_json": json!({"query": plan.query}).to_string()}}),
            ));
            out.push(OutEvent::named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": at}),
            ));
            let content = match &outcome {
                Ok(hits) => Value::Array(hits.iter().map(result_block).collect()),
                Err(f) => {
                    json!({"type": "web_search_tool_result_error", "error_code": f.code.as_str()})
                }
            };
            out.push(OutEvent::named(
                "content_block_start",
                json!({"type": "content_block_start", "index": at + 1, "content_block":
                       {"type": "web_search_tool_result", "tool_use_id": sid, "content": content}}),
            ));
            out.push(OutEvent::named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": at + 1}),
            ));
            results.push(model_result(&call.id, &outcome));
        }
        // Other tool calls wait for the client, which sends everything back (see `replay`).
        if self.turn.other_tools {
            self.close(json!("tool_use"), out);
            return AfterSearch::Done;
        }
        if self.turns >= MAX_TURNS {
            self.close(json!("pause_turn"), out);
            return AfterSearch::Done;
        }
        let answer = std::mem::replace(&mut self.turn.answer, Assembler::new(Api::Messages));
        let content = answer
            .finish()
            .ok()
            .and_then(|m| m.get("content").cloned())
            .unwrap_or_else(|| json!([]));
        if let Some(Value::Array(messages)) = body.get_mut("messages") {
            messages.push(json!({"role": "assistant", "content": content}));
            messages.push(json!({"role": "user", "content": results}));
        }
        // A choice that forces a tool would force the search again.
        if body
            .get("tool_choice")
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t == "any" || t == "tool")
        {
            body.insert("tool_choice".into(), json!({"type": "auto"}));
        }
        self.next_turn();
        AfterSearch::Continue
    }

    fn next_turn(&mut self) {
        add(&mut self.total, &self.current);
        self.current = Tokens::default();
        self.turn = Turn::new();
    }

    fn close(&mut self, stop_reason: Value, out: &mut Vec<OutEvent>) {
        self.finished = true;
        let mut t = self.total;
        add(&mut t, &self.current);
        out.push(OutEvent::named(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": self.turn.stop_sequence},
                   "usage": {"input_tokens": t.input, "output_tokens": t.output,
                             "cache_read_input_tokens": t.cache_read,
                             "cache_creation_input_tokens": t.cache_creation,
                             "server_tool_use": {"web_search_requests": self.executed}}}),
        ));
        out.push(OutEvent::named(
            "message_stop",
            json!({"type": "message_stop"}),
        ));
    }
}

fn add(total: &mut Tokens, t: &Tokens) {
    total.input = total.input.saturating_add(t.input);
    total.output = total.output.saturating_add(t.output);
    total.cache_read = total.cache_read.saturating_add(t.cache_read);
    total.cache_creation = total.cache_creation.saturating_add(t.cache_creation);
}

/// Anthropic usage fields (exclusive input), as the latest event of a turn states them.
fn read_usage(t: &mut Tokens, u: &Value) {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    if let Some(v) = n("input_tokens") {
        t.input = v;
    }
    if let Some(v) = n("output_tokens") {
        t.output = v;
    }
    if let Some(v) = n("cache_read_input_tokens") {
        t.cache_read = v;
    }
    if let Some(v) = n("cache_creation_input_tokens") {
        t.cache_creation = v;
    }
}

fn result_block(hit: &SearchHit) -> Value {
    let payload = ResultPayload {
        url: hit.url.clone(),
        title: hit.title.clone(),
        content: hit.content.clone(),
        page_age: hit.page_age.clone(),
    };
    let mut block = json!({
        "type": "web_search_result",
        "url": hit.url,
        "title": hit.title,
        "encrypted_content": opaque::encode(&payload),
    });
    if let Some(age) = &hit.page_age {
        block["page_age"] = json!(age);
    }
    block
}

/// The tool result the model reads next turn: `search_result` blocks it can cite.
fn model_result(call_id: &str, outcome: &Result<Vec<SearchHit>, SearchFailure>) -> Value {
    match outcome {
        Ok(hits) if !hits.is_empty() => {
            let blocks: Vec<Value> = hits
                .iter()
                .map(|h| {
                    search_result_block(&ResultPayload {
                        url: h.url.clone(),
                        title: h.title.clone(),
                        content: h.content.clone(),
                        page_age: h.page_age.clone(),
                    })
                })
                .collect();
            json!({"type": "tool_result", "tool_use_id": call_id, "content": blocks})
        }
        Ok(_) => json!({"type": "tool_result", "tool_use_id": call_id, "content": "No results."}),
        Err(_) => json!({"type": "tool_result", "tool_use_id": call_id, "is_error": true,
                         "content": results_text(outcome)}),
    }
}

/// A citation of a search result the model read becomes Anthropic's web search citation.
fn convert_citation(c: &mut Value) {
    if c.get("type").and_then(Value::as_str) != Some("search_result_location") {
        return;
    }
    let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
    let index = CitationIndex {
        search_result_index: n("search_result_index"),
        start_block_index: n("start_block_index"),
        end_block_index: n("end_block_index"),
    };
    let s = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    *c = json!({
        "type": "web_search_result_location",
        "url": s("source"),
        "title": s("title"),
        "cited_text": s("cited_text"),
        "encrypted_index": opaque::encode(&index),
    });
}

/// The static name of a Messages event (what `OutEvent` carries).
pub(crate) fn static_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "message_start" => "message_start",
        "content_block_start" => "content_block_start",
        "content_block_delta" => "content_block_delta",
        "content_block_stop" => "content_block_stop",
        "message_delta" => "message_delta",
        "message_stop" => "message_stop",
        "ping" => "ping",
        "error" => "error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{SearchErrorCode, RESULTS_PER_SEARCH};

    /// Client events as the translators write them (deltas as raw text, the rest as values).
    fn ev(name: &'static str, data: Value) -> OutEvent {
        if name == "content_block_delta" {
            OutEvent::Raw {
                name: Some(name),
                data: data.to_string(),
                text: None,
            }
        } else {
            OutEvent::named(name, data)
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    fn request() -> Map<String, Value> {
        body(json!({
            "model": "claude-sonnet-4.5", "max_tokens": 100, "stream": true,
            "tools": [
                {"name": "Bash", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 2,
                 "allowed_domains": ["Example.org"], "user_location": {"type": "approximate", "country": "DE"}}
            ],
            "messages": [{"role": "user", "content": "what is new in rust?"}]
        }))
    }

    fn hits() -> Vec<SearchHit> {
        vec![SearchHit {
            url: "https://example.org/rust".into(),
            title: "Rust news".into(),
            content: "Rust 1.95 is out.".into(),
            page_age: Some("2 days ago".into()),
        }]
    }

    /// Feeds a model turn: optional text, then tool calls (name, id, input JSON).
    fn turn(
        l: &mut MessagesSearch,
        text: Option<&str>,
        calls: &[(&str, &str, &str)],
        out: &mut Vec<OutEvent>,
    ) {
        l.on_event(ev("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "model": "m", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 10}}})), out);
        let mut i = 0;
        if let Some(t) = text {
            l.on_event(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})), out);
            l.on_event(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})), out);
            l.on_event(
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                out,
            );
            i = 1;
        }
        for (name, id, input) in calls {
            l.on_event(ev("content_block_start", json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})), out);
            l.on_event(ev("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": input}})), out);
            l.on_event(
                ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": i}),
                ),
                out,
            );
            i += 1;
        }
        let stop = if calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        l.on_event(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 20}})), out);
        l.on_event(ev("message_stop", json!({"type": "message_stop"})), out);
    }

    fn names(out: &[OutEvent]) -> Vec<String> {
        out.iter()
            .map(|e| match e.clone().into_value() {
                OutEvent::Event { data, .. } => {
                    let t = data["type"].as_str().unwrap_or("").to_string();
                    match data.pointer("/content_block/type").and_then(Value::as_str) {
                        Some(b) => format!("{t}:{b}@{}", data["index"]),
                        None => t,
                    }
                }
                _ => String::new(),
            })
            .collect()
    }

    fn assembled(out: &[OutEvent]) -> Value {
        let mut a = Assembler::new(Api::Messages);
        out.iter().for_each(|e| a.push(e));
        a.finish().unwrap()
    }

    #[test]
    fn the_server_tool_becomes_a_function_tool_with_its_limits() {
        let mut b = request();
        let l = prepare(&mut b, false).unwrap().unwrap();
        assert_eq!(b["tools"][1]["name"], "web_search");
        assert_eq!(b["tools"][1]["input_schema"]["required"], json!(["query"]));
        assert!(b["tools"][1].get("type").is_none());
        assert_eq!(l.limits.max_uses, Some(2));
        assert_eq!(l.limits.allowed_domains, ["example.org"]);
        assert_eq!(
            l.limits.user_location.as_ref().unwrap().country.as_deref(),
            Some("DE")
        );
        let mut none = body(json!({"messages": [], "tools": [{"name": "Bash"}]}));
        assert!(prepare(&mut none, true).unwrap().is_none());
    }

    #[test]
    fn invalid_definitions_get_anthropics_400() {
        let err = |tools: Value| {
            let mut b = body(json!({"messages": [], "tools": tools}));
            prepare(&mut b, false).err().unwrap()
        };
        let e = err(json!([{"type": "web_search_20250305", "name": "search"}]));
        assert_eq!(e.status, 400);
        assert!(
            e.message
                .contains("tools.0.web_search_20250305.name: Input should be 'web_search'"),
            "{}",
            e.message
        );
        assert!(
            err(json!([{"type": "web_search_20250305"}, {"type": "web_search_20260209"}]))
                .message
                .contains("only one")
        );
        assert!(
            err(json!([{"type": "web_search_20250305"}, {"name": "web_search"}]))
                .message
                .contains("clashes")
        );
        assert!(err(json!([{"type": "web_search_20260209", "max_uses": 0}]))
            .message
            .contains("max_uses"));
        assert!(err(json!([{"type": "web_search_20250305", "allowed_domains": ["a"], "blocked_domains": ["b"]}]))
            .message.contains("cannot both"));
    }

    #[test]
    fn a_search_turn_then_a_cited_answer_in_one_message() {
        let mut b = request();
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        turn(
            &mut l,
            Some("Let me look."),
            &[("web_search", "toolu_01", r#"{"query":"rust news"}"#)],
            &mut out,
        );
        let TurnEnd::Search(plans) = l.end_turn(&mut out) else {
            panic!("no search planned")
        };
        assert_eq!(plans.len(), 1);
        let req = plans[0].run.as_ref().unwrap();
        assert_eq!(
            (req.query.as_str(), req.max_results),
            ("rust news", RESULTS_PER_SEARCH)
        );
        assert_eq!(req.allowed_domains, ["example.org"]);
        assert_eq!(
            l.searched(vec![Ok(hits())], &mut b, &mut out),
            AfterSearch::Continue
        );
        // The model's next turn sees its call and the results it can cite.
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["role"], "assistant");
        assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
        assert_eq!(
            msgs[1]["content"][1]["input"],
            json!({"query": "rust news"})
        );
        assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_01");
        assert_eq!(msgs[2]["content"][0]["content"][0]["type"], "search_result");
        assert_eq!(
            msgs[2]["content"][0]["content"][0]["source"],
            "https://example.org/rust"
        );

        // Second turn: an answer citing the result.
        l.on_event(ev("message_start", json!({"type": "message_start", "message": {"id": "msg_2", "usage": {"input_tokens": 300, "output_tokens": 1}}})), &mut out);
        l.on_event(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "", "citations": []}})), &mut out);
        l.on_event(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation":
            {"type": "search_result_location", "source": "https://example.org/rust", "title": "Rust news", "cited_text": "Rust 1.95 is out.",
             "search_result_index": 0, "start_block_index": 0, "end_block_index": 0}}})), &mut out);
        l.on_event(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Rust 1.95 shipped."}})), &mut out);
        l.on_event(
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            &mut out,
        );
        l.on_event(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 30}})), &mut out);
        l.on_event(
            ev("message_stop", json!({"type": "message_stop"})),
            &mut out,
        );
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start:text@0",
                "content_block_delta",
                "content_block_stop",
                "content_block_start:server_tool_use@1",
                "content_block_delta",
                "content_block_stop",
                "content_block_start:web_search_tool_result@2",
                "content_block_stop",
                "content_block_start:text@3",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let m = assembled(&out);
        assert_eq!(m["content"][1]["id"], "srvtoolu_cgw01");
        assert_eq!(m["content"][1]["input"], json!({"query": "rust news"}));
        let result = &m["content"][2]["content"][0];
        assert_eq!(result["url"], "https://example.org/rust");
        assert_eq!(result["page_age"], "2 days ago");
        assert!(result["encrypted_content"]
            .as_str()
            .unwrap()
            .starts_with("cgws1."));
        assert_eq!(m["content"][3]["text"], "Rust 1.95 shipped.");
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["usage"]["server_tool_use"]["web_search_requests"], 1);
        assert_eq!(m["usage"]["input_tokens"], 400);
        assert_eq!(m["usage"]["output_tokens"], 50);
        let citation = out
            .iter()
            .find_map(|e| match e {
                OutEvent::Event { data, .. } => data.pointer("/delta/citation").cloned(),
                _ => None,
            })
            .unwrap();
        assert_eq!(citation["type"], "web_search_result_location");
        assert_eq!(citation["url"], "https://example.org/rust");
        assert_eq!(citation["cited_text"], "Rust 1.95 is out.");
        assert!(citation["encrypted_index"]
            .as_str()
            .unwrap()
            .starts_with("cgws1."));
    }

    #[test]
    fn other_tool_calls_end_the_answer_for_the_client_and_come_back_whole() {
        let mut b = request();
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        turn(
            &mut l,
            None,
            &[
                ("Bash", "toolu_b", r#"{"cmd":"ls"}"#),
                ("web_search", "toolu_w", r#"{"query":"q"}"#),
            ],
            &mut out,
        );
        assert!(matches!(l.end_turn(&mut out), TurnEnd::Search(_)));
        assert_eq!(
            l.searched(vec![Ok(hits())], &mut b, &mut out),
            AfterSearch::Done
        );
        let m = assembled(&out);
        assert_eq!(m["stop_reason"], "tool_use");
        let kinds: Vec<&str> = m["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["tool_use", "server_tool_use", "web_search_tool_result"]
        );

        // The client runs Bash and sends the whole turn back: it becomes plain calls and results.
        let mut next = request();
        let msgs = next["messages"].as_array_mut().unwrap();
        msgs.push(json!({"role": "assistant", "content": m["content"]}));
        msgs.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_b", "content": "file.txt"}]}));
        let raw = serde_json::to_string(&next).unwrap();
        assert!(may_carry_search_turns(&raw));
        let l = prepare(&mut next, true).unwrap().unwrap();
        assert_eq!(l.used, 1, "the search of this turn counts against max_uses");
        let msgs = next["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        let kinds: Vec<&str> = msgs[1]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["tool_use", "tool_use"]);
        assert_eq!(msgs[1]["content"][1]["id"], "toolu_cgww");
        assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_cgww");
        assert_eq!(msgs[2]["content"][0]["content"][0]["type"], "search_result");
        assert_eq!(
            msgs[2]["content"][0]["content"][0]["content"][0]["text"],
            "Published: 2 days ago\nRust 1.95 is out."
        );
        assert_eq!(msgs[2]["content"][1]["tool_use_id"], "toolu_b");
    }

    #[test]
    fn past_max_uses_the_model_is_told_and_the_client_sees_the_error() {
        let mut b = request();
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        turn(
            &mut l,
            None,
            &[
                ("web_search", "toolu_1", r#"{"query":"a"}"#),
                ("web_search", "toolu_2", r#"{"query":"b"}"#),
                ("web_search", "toolu_3", r#"{"query":"c"}"#),
            ],
            &mut out,
        );
        let TurnEnd::Search(plans) = l.end_turn(&mut out) else {
            panic!()
        };
        assert!(plans[0].run.is_ok() && plans[1].run.is_ok());
        assert_eq!(
            plans[2].run.as_ref().unwrap_err().code,
            SearchErrorCode::MaxUsesExceeded
        );
        let outcomes = vec![
            Ok(hits()),
            Err(SearchFailure::new(
                SearchErrorCode::TooManyRequests,
                "slow down",
            )),
            Err(plans[2].run.clone().unwrap_err()),
        ];
        assert_eq!(
            l.searched(outcomes, &mut b, &mut out),
            AfterSearch::Continue
        );
        let results = &b["messages"][2]["content"];
        assert_eq!(results[1]["is_error"], true);
        assert!(results[2]["content"]
            .as_str()
            .unwrap()
            .contains("maximum number of web searches"));
        turn(&mut l, Some("done"), &[], &mut out);
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        let m = assembled(&out);
        let errors: Vec<&Value> = m["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "web_search_tool_result")
            .map(|b| &b["content"])
            .collect();
        assert!(errors[0].is_array());
        assert_eq!(
            errors[1],
            &json!({"type": "web_search_tool_result_error", "error_code": "too_many_requests"})
        );
        assert_eq!(errors[2]["error_code"], "max_uses_exceeded");
        assert_eq!(
            m["usage"]["server_tool_use"]["web_search_requests"], 2,
            "refused searches are not run"
        );
    }

    #[test]
    fn the_turn_budget_ends_in_pause_turn_and_the_continuation_replays() {
        let mut b = body(
            json!({"model": "m", "max_tokens": 10, "tool_choice": {"type": "any"},
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "search forever"}]}),
        );
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        for i in 0..MAX_TURNS {
            turn(
                &mut l,
                None,
                &[("web_search", &format!("toolu_{i}"), r#"{"query":"again"}"#)],
                &mut out,
            );
            assert!(matches!(l.end_turn(&mut out), TurnEnd::Search(_)));
            let after = l.searched(vec![Ok(hits())], &mut b, &mut out);
            assert_eq!(
                b["tool_choice"],
                json!({"type": "auto"}),
                "a forced choice would force the search again"
            );
            if i + 1 < MAX_TURNS {
                assert_eq!(after, AfterSearch::Continue);
            } else {
                assert_eq!(after, AfterSearch::Done);
            }
        }
        let m = assembled(&out);
        assert_eq!(m["stop_reason"], "pause_turn");
        // Sent back as is, the paused turn ends with results the model reads next.
        let mut next = body(json!({"model": "m", "max_tokens": 10,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "search forever"}, {"role": "assistant", "content": m["content"]}]}));
        prepare(&mut next, true).unwrap().unwrap();
        let msgs = next["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles.len(), 1 + 2 * MAX_TURNS);
        assert!(roles.windows(2).all(|w| w[0] != w[1]), "{roles:?}");
        assert_eq!(*roles.last().unwrap(), "user");
    }

    #[test]
    fn without_the_tool_earlier_searches_read_as_text() {
        let mut b = request();
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        turn(
            &mut l,
            None,
            &[("web_search", "toolu_1", r#"{"query":"rust"}"#)],
            &mut out,
        );
        l.end_turn(&mut out);
        l.searched(vec![Ok(hits())], &mut b, &mut out);
        turn(&mut l, Some("Answer."), &[], &mut out);
        l.end_turn(&mut out);
        let m = assembled(&out);
        let mut next = body(json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": m["content"]}, {"role": "user", "content": "thanks"}]}));
        assert!(prepare(&mut next, true).unwrap().is_none());
        let content = next["messages"][1]["content"].as_array().unwrap();
        assert_eq!(content[0]["text"], "(Searched the web for: rust)");
        assert!(content[1]["text"]
            .as_str()
            .unwrap()
            .contains("https://example.org/rust"));
        assert_eq!(content[2]["text"], "Answer.");
        assert_eq!(next["messages"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn an_upstream_error_ends_the_loop_once() {
        let mut b = request();
        let mut l = prepare(&mut b, false).unwrap().unwrap();
        let mut out = Vec::new();
        l.on_event(ev("message_start", json!({"type": "message_start", "message": {"id": "m", "content": [], "usage": {"input_tokens": 1}}})), &mut out);
        l.on_event(
            ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
            ),
            &mut out,
        );
        l.on_event(
            ev("message_stop", json!({"type": "message_stop"})),
            &mut out,
        );
        assert_eq!(l.end_turn(&mut out), TurnEnd::Done);
        assert_eq!(names(&out), ["message_start", "error"]);
    }
}
