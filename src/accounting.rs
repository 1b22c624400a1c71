//! Usage accounting and per-key limits, as plain data: what one request consumed, how a
//! usage query is asked, and the calendar arithmetic of monthly limits.

use serde_json::Value;

use crate::protocol::error::{ApiError, ErrorKind};
use crate::protocol::usage::{anthropic_usage_into, openai_usage_into};
use crate::protocol::Api;
use crate::protocol::Usage;

/// How one data-plane request ended, for the usage table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub usage: Usage,
    pub failed: bool,
}

/// Input plus output tokens, what a monthly budget counts. Saturating: an absurd number
/// from the upstream must not wrap a budget around to zero.
pub fn budget_tokens(u: &Usage) -> u64 {
    u.input_tokens.saturating_add(u.output_tokens)
}

/// How a request is recorded: what its handler or stream reported, failed when the answer
/// was an error (its status, or a refusal before any upstream call), with whatever tokens
/// the upstream reported before it failed.
pub fn settled(answer_failed: bool, reported: Option<Outcome>) -> Outcome {
    let reported = reported.unwrap_or_default();
    Outcome {
        failed: reported.failed || answer_failed,
        ..reported
    }
}

/// The model a usage row is recorded under: the resolved model, at most 100 characters,
/// or `-` for requests that never named one (a refusal, `/v1/models`).
pub fn row_model(model: Option<&str>) -> String {
    match model.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m.chars().take(100).collect(),
        None => "-".to_string(),
    }
}

/// Usage of a non-stream answer, read from the upstream's own JSON (any of the APIs, and
/// embeddings' `usage.prompt_tokens`), with the AI credits of its `copilot_usage`.
pub fn usage_from_json(api: Option<Api>, body: &str) -> Usage {
    #[derive(serde::Deserialize)]
    struct WithUsage {
        usage: Option<Value>,
        copilot_usage: Option<Value>,
    }
    let mut usage = Usage::default();
    let Ok(answer) = serde_json::from_str::<WithUsage>(body) else {
        return usage;
    };
    if let Some(cu) = &answer.copilot_usage {
        usage.nano_aiu = crate::credits::nano_aiu_of(cu).unwrap_or(0);
    }
    let Some(u) = answer.usage else {
        return usage;
    };
    match api {
        Some(Api::Messages) => anthropic_usage_into(&mut usage, &u),
        _ => openai_usage_into(&mut usage, &u),
    }
    usage
}

/// `YYYY-MM-DDTHH`, the usage table's hour key.
pub fn parse_hour(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 13
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13);
    if !ok {
        return None;
    }
    let month: u32 = s[5..7].parse().ok()?;
    let day: u32 = s[8..10].parse().ok()?;
    let hour: u32 = s[11..13].parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24).then_some(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Key,
    Model,
    Hour,
}

/// `GET /api/usage?start=…&end=…[&key_id=…][&group_by=key|model|hour]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Inclusive hour.
    pub start: String,
    /// Exclusive hour.
    pub end: String,
    pub key_id: Option<String>,
    pub group_by: Option<GroupBy>,
}

impl UsageQuery {
    pub fn parse(pairs: &[(String, String)]) -> Result<UsageQuery, ApiError> {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let hour = |k: &str| -> Result<String, ApiError> {
            let v = get(k).ok_or_else(|| {
                ApiError::invalid(format!(
                    "`{k}` is required, as an UTC hour like 2026-11-26T04"
                ))
                .with_param(k)
            })?;
            parse_hour(v).map(str::to_string).ok_or_else(|| {
                ApiError::invalid(format!("`{k}` must be an UTC hour like 2026-11-26T04"))
                    .with_param(k)
            })
        };
        let start = hour("start")?;
        let end = hour("end")?;
        if end <= start {
            return Err(ApiError::invalid("`end` must be after `start`").with_param("end"));
        }
        let group_by = match get("group_by") {
            None | Some("") => None,
            Some("key") => Some(GroupBy::Key),
            Some("model") => Some(GroupBy::Model),
            Some("hour") => Some(GroupBy::Hour),
            Some(_) => {
                return Err(ApiError::invalid("`group_by` must be key, model or hour")
                    .with_param("group_by"))
            }
        };
        let key_id = get("key_id").filter(|k| !k.is_empty()).map(str::to_string);
        if key_id.as_ref().is_some_and(|k| k.len() > 100) {
            return Err(ApiError::invalid("`key_id` is too long").with_param("key_id"));
        }
        Ok(UsageQuery {
            start,
            end,
            key_id,
            group_by,
        })
    }
}

/// The first hour of the UTC month `now` falls in: the start of a monthly token budget.
pub fn month_start(hour: &str) -> String {
    format!("{}-01T00", &hour[..7])
}

/// Seconds from `now_ms` until the next UTC month begins (a monthly limit's retry-after).
pub fn seconds_until_next_month(now_ms: u64) -> u64 {
    let hour = crate::timestamp::hour_bucket(now_ms);
    let year: i64 = hour[..4].parse().unwrap_or(1970);
    let month: u32 = hour[5..7].parse().unwrap_or(1);
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let next_ms = crate::timestamp::days_from_civil(ny, nm, 1) as u64 * 86_400_000;
    next_ms.saturating_sub(now_ms).div_ceil(1000)
}

/// The 429 for a key past its monthly token budget, if it is.
pub fn monthly_refusal(used: u64, limit: u64, now_ms: u64) -> Option<ApiError> {
    (used >= limit).then(|| {
        let mut e = ApiError::new(
            ErrorKind::RateLimit,
            format!("this API key has used its {limit} tokens for this month; the budget resets on the 1st (UTC)"),
        )
        .with_code("monthly_token_limit");
        e.retry_after = Some(seconds_until_next_month(now_ms).to_string());
        e
    })
}

/// The 429 for a key whose `count`-th request this minute is over its limit, if it is.
pub fn rpm_refusal(count: u64, limit: u64, now_ms: u64) -> Option<ApiError> {
    (count > limit).then(|| {
        let mut e = ApiError::new(
            ErrorKind::RateLimit,
            format!("this API key is limited to {limit} requests per minute"),
        )
        .with_code("rate_limit_exceeded");
        e.retry_after = Some(seconds_until_next_minute(now_ms).to_string());
        e
    })
}

pub fn minute_bucket(now_ms: u64) -> String {
    crate::timestamp::iso8601(now_ms)[..16].to_string()
}

pub fn seconds_until_next_minute(now_ms: u64) -> u64 {
    (60_000 - now_ms % 60_000).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn limit_refusals() {
        // 2026-11-26T04:51:39Z
        let now = 1_795_668_699_000;
        assert!(monthly_refusal(99, 100, now).is_none());
        let e = monthly_refusal(100, 100, now).unwrap();
        assert_eq!(
            (e.status, e.code.as_deref()),
            (429, Some("monthly_token_limit"))
        );
        assert_eq!(
            e.retry_after,
            Some(seconds_until_next_month(now).to_string())
        );
        assert!(
            rpm_refusal(2, 2, now).is_none(),
            "the limit itself is allowed"
        );
        let e = rpm_refusal(3, 2, now).unwrap();
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(e.retry_after.as_deref(), Some("21"));
    }

    #[test]
    fn settling_a_request() {
        let used = Usage {
            input_tokens: 10,
            output_tokens: 2,
            ..Usage::default()
        };
        let ok = Outcome {
            usage: used,
            failed: false,
        };
        assert_eq!(settled(false, Some(ok)), ok);
        // A failed answer keeps the tokens the upstream reported.
        assert_eq!(settled(true, Some(ok)), Outcome { failed: true, ..ok });
        // A refusal before any upstream call: an error with no tokens.
        assert_eq!(
            settled(true, None),
            Outcome {
                failed: true,
                usage: Usage::default()
            }
        );
        assert!(settled(false, Some(Outcome { failed: true, ..ok })).failed);
        assert_eq!(settled(false, None), Outcome::default());
    }

    #[test]
    fn budgets_saturate_and_rows_are_labelled() {
        let huge = Usage {
            input_tokens: u64::MAX,
            output_tokens: 5,
            ..Usage::default()
        };
        assert_eq!(budget_tokens(&huge), u64::MAX);
        assert_eq!(row_model(Some("claude-sonnet-4.5")), "claude-sonnet-4.5");
        assert_eq!(row_model(Some(&"m".repeat(300))).len(), 100);
        assert_eq!(row_model(Some("  ")), "-");
        assert_eq!(row_model(None), "-");
    }

    #[test]
    fn usage_from_each_api() {
        let m = usage_from_json(
            Some(Api::Messages),
            r#"{"id":"m","usage":{"input_tokens":10,"cache_read_input_tokens":90,"cache_creation_input_tokens":5,"output_tokens":7}}"#,
        );
        assert_eq!(
            m,
            Usage {
                input_tokens: 105,
                output_tokens: 7,
                cache_read_tokens: 90,
                cache_creation_tokens: 5,
                ..Default::default()
            }
        );
        let c = usage_from_json(
            Some(Api::ChatCompletions),
            r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":40}}}"#,
        );
        assert_eq!(
            c,
            Usage {
                input_tokens: 100,
                output_tokens: 3,
                cache_read_tokens: 40,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
        let r = usage_from_json(
            Some(Api::Responses),
            r#"{"usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":20},"output_tokens":9}}"#,
        );
        assert_eq!(
            r,
            Usage {
                input_tokens: 50,
                output_tokens: 9,
                cache_read_tokens: 20,
                cache_creation_tokens: 0,
                ..Default::default()
            }
        );
        let e = usage_from_json(
            None,
            r#"{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}"#,
        );
        assert_eq!(e.input_tokens, 8);
        assert_eq!(usage_from_json(None, "not json"), Usage::default());
        // The credits Copilot billed, on every API's answer.
        for (api, body) in [
            (
                Api::Messages,
                r#"{"usage":{"input_tokens":1,"output_tokens":1},"copilot_usage":{"total_nano_aiu":4200}}"#,
            ),
            (
                Api::ChatCompletions,
                r#"{"choices":[],"usage":{"prompt_tokens":1},"copilot_usage":{"total_nano_aiu":4200}}"#,
            ),
            (
                Api::Responses,
                r#"{"output":[],"copilot_usage":{"token_details":[{"token_count":2,"cost_per_batch":2100000000,"batch_size":1000000}]},"usage":{"input_tokens":1}}"#,
            ),
        ] {
            assert_eq!(usage_from_json(Some(api), body).nano_aiu, 4200, "{api:?}");
        }
    }

    #[test]
    fn query_parsing_names_bad_parameters() {
        let q = UsageQuery::parse(&pairs(&[
            ("start", "2026-11-01T00"),
            ("end", "2026-11-02T00"),
            ("group_by", "model"),
        ]))
        .unwrap();
        assert_eq!(q.group_by, Some(GroupBy::Model));
        assert_eq!(q.key_id, None);
        let bad = |q: &[(&str, &str)]| UsageQuery::parse(&pairs(q)).unwrap_err().param.unwrap();
        assert_eq!(bad(&[("end", "2026-11-02T00")]), "start");
        assert_eq!(
            bad(&[("start", "2026-11-01"), ("end", "2026-11-02T00")]),
            "start"
        );
        assert_eq!(
            bad(&[("start", "2026-11-01T00"), ("end", "2026-11-01T24")]),
            "end"
        );
        assert_eq!(
            bad(&[("start", "2026-11-02T00"), ("end", "2026-11-01T00")]),
            "end"
        );
        assert_eq!(
            bad(&[
                ("start", "2026-11-01T00"),
                ("end", "2026-11-02T00"),
                ("group_by", "day")
            ]),
            "group_by"
        );
    }

    #[test]
    fn calendar_arithmetic() {
        assert_eq!(month_start("2026-11-26T04"), "2026-11-01T00");
        // 2026-11-26T04:51:39Z → 2026-12-01T00:00:00Z is 4 days 19:08:21.
        assert_eq!(
            seconds_until_next_month(1_795_668_699_000),
            4 * 86_400 + 19 * 3600 + 8 * 60 + 21
        );
        // December rolls into the next year: 2026-12-31T23:59:59Z.
        assert_eq!(seconds_until_next_month(1_798_761_599_000), 1);
        assert_eq!(crate::timestamp::days_from_civil(1970, 1, 1), 0);
        assert_eq!(crate::timestamp::days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(minute_bucket(1_795_668_699_000), "2026-11-26T04:51");
        assert_eq!(seconds_until_next_minute(1_795_668_699_000), 21);
    }
}
