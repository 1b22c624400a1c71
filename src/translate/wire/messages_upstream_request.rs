//! The writer of Copilot's Anthropic `/v1/messages` requests, shared by every pair whose
//! upstream is the Messages API: turns merged by role, the thinking budget and the sampling
//! settings Anthropic accepts with it.

use serde_json::{Map, Value};

use super::super::json::obj;

/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;

/// Messages turns being built: consecutive blocks of one role share a turn.
#[derive(Default)]
pub struct Turns {
    turns: Vec<(&'static str, Vec<Value>)>,
}

impl Turns {
    pub fn push(&mut self, role: &'static str, block: Value) {
        match self.turns.last_mut() {
            Some((r, blocks)) if *r == role => blocks.push(block),
            _ => self.turns.push((role, vec![block])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// The turns as Messages `messages`, tool results first in their user turn (Anthropic
    /// refuses them after other blocks); with `plain_text`, a lone text block is string
    /// content, as clients usually send it.
    pub fn into_messages(self, plain_text: bool) -> Vec<Value> {
        self.turns
            .into_iter()
            .map(|(role, mut blocks)| {
                if role == "user" {
                    blocks.sort_by_key(|b| {
                        b.get("type").and_then(Value::as_str) != Some("tool_result")
                    });
                }
                let content = match blocks.as_mut_slice() {
                    [Value::Object(b)]
                        if plain_text
                            && b.len() == 2
                            && b.get("type").and_then(Value::as_str) == Some("text") =>
                    {
                        b.remove("text").unwrap_or(Value::Null)
                    }
                    _ => Value::Array(blocks),
                };
                obj([("role", Value::String(role.into())), ("content", content)])
            })
            .collect()
    }
}

/// The thinking budget for `wanted` tokens, capped so `headroom` tokens of `max_tokens`
/// remain for the answer; None when too little room is left for Anthropic's minimum.
pub fn thinking_budget(wanted: Option<u64>, max_tokens: u64, headroom: u64) -> Option<u64> {
    wanted
        .map(|w| w.min(max_tokens.saturating_sub(headroom)))
        .filter(|&b| b >= MIN_THINKING_BUDGET)
}

/// Writes `thinking` and the sampling settings Anthropic accepts with it: its temperature
/// range is 0..=1 (OpenAI's 0..=2), and with thinking on it only takes temperature 1 and a
/// top_p of at least 0.95.
pub fn insert_thinking(
    out: &mut Map<String, Value>,
    budget: Option<u64>,
    temperature: Option<Value>,
    top_p: Option<Value>,
) {
    if let Some(t) = temperature.as_ref().and_then(Value::as_f64) {
        if budget.is_none() || t == 1.0 {
            out.insert("temperature".into(), t.clamp(0.0, 1.0).into());
        }
    }
    if let Some(p) = top_p.as_ref().and_then(Value::as_f64) {
        if budget.is_none() || p >= 0.95 {
            out.insert("top_p".into(), p.into());
        }
    }
    if let Some(budget) = budget {
        out.insert(
            "thinking".into(),
            obj([
                ("type", Value::String("enabled".into())),
                ("budget_tokens", budget.into()),
            ]),
        );
    }
}
