//! AI credits as Copilot bills them (usage-based billing since 2026-06-01): every answer
//! carries `copilot_usage` {`token_details`: [{`token_type`, `token_count`,
//! `cost_per_batch`, `batch_size`}], `total_nano_aiu`}, one credit being 10^9 nano-AIU
//! ($0.01). A JSON answer has it at the top level; a stream on the event that closes the
//! usage (Chat: a `choices: []` chunk of its own; Responses: `response.completed` beside
//! `response`; Messages: `message_delta`). It is read wherever it shows, the latest
//! figure counting, on every path: the relay, the pipeline around a translator (which
//! sees the upstream's events before translation) and non-stream answers.

use serde::Deserialize;
use serde_json::Value;

/// Nano-AIU per AI credit.
pub const NANO_PER_CREDIT: u64 = 1_000_000_000;

/// How an event's text names the credits object (`mentions`).
pub const NEEDLE: &str = "\"copilot_usage\"";

/// The nano-AIU of a `copilot_usage` object: `total_nano_aiu`, else the sum of its
/// batches (`token_count × cost_per_batch / batch_size`). None when it states neither.
pub fn nano_aiu_of(cu: &Value) -> Option<u64> {
    if let Some(total) = cu.get("total_nano_aiu").and_then(whole) {
        return Some(total);
    }
    let details = cu.get("token_details")?.as_array()?;
    let mut sum: u128 = 0;
    let mut any = false;
    for d in details {
        let (Some(count), Some(cost)) = (
            d.get("token_count").and_then(whole),
            d.get("cost_per_batch").and_then(whole),
        ) else {
            continue;
        };
        let batch = d
            .get("batch_size")
            .and_then(whole)
            .filter(|b| *b > 0)
            .unwrap_or(1);
        sum = sum.saturating_add(u128::from(count) * u128::from(cost) / u128::from(batch));
        any = true;
    }
    any.then(|| u64::try_from(sum).unwrap_or(u64::MAX))
}

/// A non-negative number as a whole count (floats rounded; absurd ones saturate).
fn whole(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64().filter(|f| f.is_finite() && *f >= 0.0)?;
    Some(if f >= u64::MAX as f64 {
        u64::MAX
    } else {
        f.round() as u64
    })
}

/// The nano-AIU an answer or event states: `copilot_usage` at its top level, or inside
/// `response`, `message` or `usage` (where a variant might nest it).
pub fn nano_aiu_in(v: &Value) -> Option<u64> {
    ["copilot_usage", "response", "message", "usage"]
        .iter()
        .find_map(|k| {
            let inner = v.get(*k)?;
            if *k == "copilot_usage" {
                nano_aiu_of(inner)
            } else {
                inner.get("copilot_usage").and_then(nano_aiu_of)
            }
        })
}

/// From an event's raw data, parsed only when it mentions `copilot_usage` (nearly every
/// event does not).
pub fn nano_aiu_in_text(data: &str) -> Option<u64> {
    if !mentions(data) {
        return None;
    }
    serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| nano_aiu_in(&v))
}

pub fn mentions(data: &str) -> bool {
    data.contains(NEEDLE)
}

/// Whether an upstream event may carry credits: not a content delta (the text,
/// tool-argument and reasoning pieces that are nearly every event, which never do).
/// Messages' `message_delta` closes the usage and does.
pub fn may_carry(event: Option<&str>) -> bool {
    event.is_none_or(|e| e != "content_block_delta" && !e.ends_with(".delta"))
}

/// A JSON answer's credits, read without building the rest of it.
pub fn nano_aiu_in_answer(body: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Answer {
        copilot_usage: Option<Value>,
    }
    if !mentions(body) {
        return None;
    }
    serde_json::from_str::<Answer>(body)
        .ok()?
        .copilot_usage
        .as_ref()
        .and_then(nano_aiu_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_total_or_the_sum_of_the_batches() {
        // Shape seen on Copilot's Chat answers (openclaw#100097, genai-prices#683).
        let cu = json!({
            "token_details": [
                {"token_type": "input", "token_count": 547, "cost_per_batch": 500_000_000_000u64, "batch_size": 1_000_000},
                {"token_type": "cache_read", "token_count": 1000, "cost_per_batch": 50_000_000_000u64, "batch_size": 1_000_000},
                {"token_type": "output", "token_count": 42, "cost_per_batch": 2_500_000_000_000u64, "batch_size": 1_000_000}
            ],
            "total_nano_aiu": 428_500_000u64
        });
        assert_eq!(nano_aiu_of(&cu), Some(428_500_000));
        let mut no_total = cu.clone();
        no_total.as_object_mut().unwrap().remove("total_nano_aiu");
        // 547×500000 + 1000×50000 + 42×2500000 = 273.5M + 50M + 105M
        assert_eq!(nano_aiu_of(&no_total), Some(428_500_000));
        assert_eq!(
            nano_aiu_of(&json!({"total_nano_aiu": 1.5e9})),
            Some(1_500_000_000)
        );
        assert_eq!(nano_aiu_of(&json!({"total_nano_aiu": 0})), Some(0));
        for odd in [
            json!({}),
            json!({"total_nano_aiu": -3}),
            json!({"token_details": "x"}),
            json!({"token_details": [{"token_count": 1}]}),
            json!(null),
        ] {
            assert_eq!(nano_aiu_of(&odd), None, "{odd}");
        }
        let huge = json!({"token_details": [{"token_count": u64::MAX, "cost_per_batch": u64::MAX, "batch_size": 1}]});
        assert_eq!(nano_aiu_of(&huge), Some(u64::MAX));
        assert_eq!(
            nano_aiu_of(&json!({"total_nano_aiu": 1e300})),
            Some(u64::MAX)
        );
        let zero_batch =
            json!({"token_details": [{"token_count": 3, "cost_per_batch": 7, "batch_size": 0}]});
        assert_eq!(nano_aiu_of(&zero_batch), Some(21));
    }

    #[test]
    fn where_each_api_carries_it() {
        let cu = json!({"total_nano_aiu": 77});
        // Non-stream answers of the three APIs: top level.
        for answer in [
            json!({"object": "chat.completion", "choices": [], "usage": {}, "copilot_usage": cu}),
            json!({"object": "response", "output": [], "copilot_usage": cu}),
            json!({"type": "message", "content": [], "copilot_usage": cu}),
        ] {
            assert_eq!(nano_aiu_in(&answer), Some(77));
            assert_eq!(nano_aiu_in_answer(&answer.to_string()), Some(77));
        }
        // Stream events: a Chat chunk, `response.completed`, `message_delta`.
        for event in [
            json!({"id": "c", "object": "chat.completion.chunk", "choices": [], "copilot_usage": cu}),
            json!({"type": "response.completed", "response": {"usage": {}}, "copilot_usage": cu}),
            json!({"type": "message_delta", "delta": {}, "usage": {"output_tokens": 3}, "copilot_usage": cu}),
            json!({"type": "response.completed", "response": {"copilot_usage": cu}}),
        ] {
            assert_eq!(nano_aiu_in_text(&event.to_string()), Some(77), "{event}");
        }
        assert_eq!(
            nano_aiu_in_text(r#"{"type":"message_delta","usage":{"output_tokens":3}}"#),
            None
        );
        assert_eq!(nano_aiu_in_text(r#"{"copilot_usage": broken"#), None);
        assert_eq!(nano_aiu_in_answer("not json \"copilot_usage\""), None);
        assert!(may_carry(None) && may_carry(Some("message_delta")));
        assert!(!may_carry(Some("response.output_text.delta")));
        assert!(!may_carry(Some("content_block_delta")));
        assert!(may_carry(Some("response.completed")) && may_carry(Some("message_stop")));
    }
}
