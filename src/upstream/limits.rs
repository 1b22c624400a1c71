//! Copilot's per-user usage limits: a 429 with `user_global_rate_limited` (the 5-hour
//! session window) or `user_weekly_rate_limited` (the weekly window) means the account
//! can serve nothing until the window resets, which `x-usage-ratelimit-session` /
//! `-weekly` state. Such an account is marked limited until then and skipped when a
//! request picks its account; with none left, the caller gets a 429 at the earliest reset.

use crate::protocol::error::{upstream_code, ApiError, ErrorKind};
use crate::timestamp::iso8601;

use super::quota_headers::{HeaderSnapshot, SESSION_LIMIT, WEEKLY_LIMIT};

/// Which window ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Session,
    Weekly,
}

impl Window {
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Session => "session",
            Window::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Window> {
        match s {
            "session" => Some(Window::Session),
            "weekly" => Some(Window::Weekly),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Window::Session => "5-hour session limit",
            Window::Weekly => "weekly limit",
        }
    }
}

/// An account out of a window until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub window: Window,
    pub until_ms: u64,
}

/// Without a stated reset, the account is tried again after this long.
pub const DEFAULT_WAIT_MS: u64 = 5 * 60 * 1000;
/// A stated reset further off than this is not believed (a week and a day).
pub const MAX_WAIT_MS: u64 = 8 * 24 * 3600 * 1000;

/// A 429's limit, when Copilot says the account ran out of a usage window: until the
/// reset its rate-limit header states, else `retry-after`, else a few minutes.
/// `header` looks up an answer header by lower-case name.
pub fn from_429(body: &str, header: impl Fn(&str) -> Option<String>, now_ms: u64) -> Option<Limit> {
    let window = match upstream_code(body)?.as_str() {
        "user_global_rate_limited" => Window::Session,
        "user_weekly_rate_limited" => Window::Weekly,
        _ => return None,
    };
    let name = match window {
        Window::Session => SESSION_LIMIT,
        Window::Weekly => WEEKLY_LIMIT,
    };
    let stated = header(name)
        .and_then(|v| HeaderSnapshot::parse(&v))
        .and_then(|s| s.reset_ms)
        .filter(|&t| t > now_ms);
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(|s| now_ms.saturating_add(s.saturating_mul(1000)));
    let until = stated
        .or(retry_after)
        .unwrap_or(now_ms + DEFAULT_WAIT_MS)
        .min(now_ms + MAX_WAIT_MS);
    Some(Limit {
        window,
        until_ms: until,
    })
}

/// Whether an account marked limited until `until_ms` (if at all) may serve at `now_ms`.
pub fn can_serve(until_ms: Option<u64>, now_ms: u64) -> bool {
    until_ms.is_none_or(|u| u <= now_ms)
}

/// Seconds from `now_ms` to `until_ms`, at least one: a `retry-after`.
pub fn seconds_until(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// The caller's 429 when every enabled account is out of a usage window: `limited` holds
/// each account's login and limit; `retry-after` is the earliest reset. `upstream` is
/// Copilot's own message when this follows its 429.
pub fn all_limited(limited: &[(&str, &Limit)], upstream: Option<&str>, now_ms: u64) -> ApiError {
    let earliest = limited
        .iter()
        .map(|(_, l)| l.until_ms)
        .min()
        .unwrap_or(now_ms + DEFAULT_WAIT_MS);
    let each: Vec<String> = limited
        .iter()
        .map(|(login, l)| {
            format!(
                "'{login}' reached its {} (until {})",
                l.window.describe(),
                iso8601(l.until_ms)
            )
        })
        .collect();
    let mut message = format!(
        "No GitHub account can serve now, Copilot's usage limits ran out: {}. Retry after {}.",
        each.join("; "),
        iso8601(earliest)
    );
    if let Some(u) = upstream.filter(|u| !u.is_empty()) {
        message.push_str(&format!(" Copilot said: {u}"));
    }
    let code = if limited.iter().all(|(_, l)| l.window == Window::Weekly) {
        "user_weekly_rate_limited"
    } else {
        "user_global_rate_limited"
    };
    let mut e = ApiError::new(ErrorKind::RateLimit, message).with_code(code);
    e.retry_after = Some(seconds_until(earliest, now_ms).to_string());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_iso8601;

    const NOW: u64 = 1_795_668_699_000; // 2026-11-26T04:51:39Z
    const WEEKLY: &str = r#"{"error":{"message":"Sorry, you've exceeded your weekly rate limit. Please review our Terms of Service.","code":"user_weekly_rate_limited"}}"#;
    const SESSION: &str = r#"{"error":{"message":"Sorry, you've hit a rate limit.","code":"user_global_rate_limited"}}"#;

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_limit_lasts_until_the_stated_reset() {
        let h = headers(&[
            ("retry-after", "120"),
            (
                "x-usage-ratelimit-weekly",
                "ent=0&ov=0.0&ovPerm=false&rem=0.0&rst=2026-11-30T00%3A00%3A00Z",
            ),
            (
                "x-usage-ratelimit-session",
                "rem=40.0&rst=2026-11-26T09%3A00%3A00Z",
            ),
        ]);
        let weekly = from_429(WEEKLY, &h, NOW).unwrap();
        assert_eq!(weekly.window, Window::Weekly);
        assert_eq!(Some(weekly.until_ms), parse_iso8601("2026-11-30T00:00:00Z"));
        // The session window's own header, not the weekly one.
        let session = from_429(SESSION, &h, NOW).unwrap();
        assert_eq!(
            Some(session.until_ms),
            parse_iso8601("2026-11-26T09:00:00Z")
        );
    }

    #[test]
    fn without_a_stated_reset_retry_after_then_a_default() {
        let h = headers(&[("retry-after", "120")]);
        assert_eq!(from_429(WEEKLY, &h, NOW).unwrap().until_ms, NOW + 120_000);
        // A reset in the past is no reset.
        let past = headers(&[("x-usage-ratelimit-weekly", "rst=2020-01-01T00%3A00%3A00Z")]);
        assert_eq!(
            from_429(WEEKLY, &past, NOW).unwrap().until_ms,
            NOW + DEFAULT_WAIT_MS
        );
        // A reset years off is capped.
        let far = headers(&[("x-usage-ratelimit-weekly", "rst=2030-01-01T00%3A00%3A00Z")]);
        assert_eq!(
            from_429(WEEKLY, &far, NOW).unwrap().until_ms,
            NOW + MAX_WAIT_MS
        );
    }

    #[test]
    fn other_429s_are_no_usage_limit() {
        let h = headers(&[("retry-after", "30")]);
        for body in [
            r#"{"error":{"message":"rate limited","code":"rate_limited"}}"#,
            r#"{"error":{"message":"slow down"}}"#,
            "Too Many Requests",
            "",
        ] {
            assert_eq!(from_429(body, &h, NOW), None, "{body}");
        }
    }

    #[test]
    fn serving_and_the_callers_answer() {
        assert!(can_serve(None, NOW));
        assert!(can_serve(Some(NOW), NOW));
        assert!(!can_serve(Some(NOW + 1), NOW));
        assert_eq!(seconds_until(NOW + 1_500, NOW), 2);
        assert_eq!(seconds_until(NOW - 5, NOW), 1);
        let a = Limit {
            window: Window::Weekly,
            until_ms: NOW + 3_600_000,
        };
        let b = Limit {
            window: Window::Session,
            until_ms: NOW + 600_000,
        };
        let e = all_limited(
            &[("octocat", &a), ("hubot", &b)],
            Some("Sorry, you've exceeded your weekly rate limit."),
            NOW,
        );
        assert_eq!(e.status, 429);
        assert_eq!(e.retry_after.as_deref(), Some("600"), "the earliest reset");
        assert_eq!(e.code.as_deref(), Some("user_global_rate_limited"));
        assert!(
            e.message
                .contains("'octocat' reached its weekly limit (until 2026-11-26T05:51:39Z)"),
            "{}",
            e.message
        );
        assert!(e
            .message
            .contains("'hubot' reached its 5-hour session limit"));
        assert!(e.message.contains("Copilot said: Sorry"));
        let only_weekly = all_limited(&[("octocat", &a)], None, NOW);
        assert_eq!(
            only_weekly.code.as_deref(),
            Some("user_weekly_rate_limited")
        );
        assert_eq!(only_weekly.retry_after.as_deref(), Some("3600"));
        assert_eq!(Window::parse(Window::Weekly.as_str()), Some(Window::Weekly));
        assert_eq!(Window::parse("daily"), None);
    }
}
