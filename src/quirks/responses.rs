//! Fixes for bodies sent to Copilot's `/responses`.

use serde_json::{Map, Value};

use crate::models::ModelInfo;

/// Copilot's `/responses` rejects small output limits that Claude Code uses for side
/// requests (e.g. 512 for titles).
pub const MIN_OUTPUT_TOKENS_FROM_MESSAGES: u64 = 12_800;

pub fn apply(body: &mut Map<String, Value>, model: &ModelInfo) {
    body.remove("service_tier");
    // Effort on a model that does not reason is a 400; the catalog lists the efforts.
    let effort = body
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str);
    if let Some(effort) = effort {
        if !model.reasoning_effort.is_empty() && !model.reasoning_effort.iter().any(|e| e == effort)
        {
            if let Some(fallback) = nearest_effort(effort, &model.reasoning_effort) {
                body["reasoning"]["effort"] = Value::String(fallback);
            }
        }
    }
}

/// The supported effort closest to the requested one, preferring the next lower.
fn nearest_effort(wanted: &str, supported: &[String]) -> Option<String> {
    const ORDER: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];
    let rank = |e: &str| ORDER.iter().position(|o| *o == e);
    let w = rank(wanted)?;
    let mut best: Option<(usize, &String)> = None;
    for s in supported {
        let Some(r) = rank(s) else { continue };
        // Lower efforts first (distance w-r), then higher ones after every lower one.
        let score = if r <= w { w - r } else { ORDER.len() + (r - w) };
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, s));
        }
    }
    best.map(|(_, s)| s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn effort_falls_back_to_a_supported_one() {
        let model = ModelInfo {
            reasoning_effort: vec!["low".into(), "medium".into(), "high".into()],
            ..Default::default()
        };
        let mut b = json!({"reasoning": {"effort": "max"}, "service_tier": "flex"})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "high");
        assert!(!b.contains_key("service_tier"));
        let mut b = json!({"reasoning": {"effort": "minimal"}})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "low");
        let mut b = json!({"reasoning": {"effort": "medium"}})
            .as_object()
            .unwrap()
            .clone();
        apply(&mut b, &model);
        assert_eq!(b["reasoning"]["effort"], "medium");
    }
}
