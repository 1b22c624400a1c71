//! Copilot's quota headers on data-plane answers: `x-quota-snapshot-<id>` (the monthly
//! entitlements `/copilot_internal/user` reports: `premium_interactions`, `chat`, …) on
//! every successful answer, and `x-usage-ratelimit-session` / `-weekly` (the 5-hour and
//! weekly usage limits). Each value is a query string such as
//! `ent=1500&ov=0.0&ovPerm=false&rem=82.3&rst=2026-09-01T00%3A00%3A00Z&totRem=1234.5`.
//! Reading them keeps an account's quota current without asking GitHub.

use serde::{Deserialize, Serialize};

use crate::timestamp::parse_iso8601;

pub const SNAPSHOT_PREFIX: &str = "x-quota-snapshot-";
pub const SESSION_LIMIT: &str = "x-usage-ratelimit-session";
pub const WEEKLY_LIMIT: &str = "x-usage-ratelimit-weekly";

/// One header's values; absent fields stay None.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeaderSnapshot {
    /// `ent`: the entitlement (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub entitlement: Option<f64>,
    /// `totRem`: what is left of it (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remaining: Option<f64>,
    /// `rem`: percent left.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub percent_remaining: Option<f64>,
    /// `ov`: overage used past the entitlement.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub overage: Option<f64>,
    /// `ovPerm`: whether overage is allowed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub overage_permitted: Option<bool>,
    /// `rst`: when it resets, Unix ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reset_ms: Option<u64>,
}

impl HeaderSnapshot {
    /// A header value; None when it carries none of the known fields.
    pub fn parse(value: &str) -> Option<HeaderSnapshot> {
        let mut s = HeaderSnapshot::default();
        let num = |v: &str| v.parse::<f64>().ok().filter(|n| n.is_finite());
        for pair in value.trim().split('&') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let Some(v) = percent_decode(v) else {
                continue;
            };
            match k.trim() {
                "ent" => s.entitlement = num(&v),
                "totRem" => s.remaining = num(&v),
                "rem" => s.percent_remaining = num(&v),
                "ov" => s.overage = num(&v),
                "ovPerm" => s.overage_permitted = v.parse::<bool>().ok(),
                "rst" => s.reset_ms = parse_iso8601(&v),
                _ => {}
            }
        }
        (s != HeaderSnapshot::default()).then_some(s)
    }

    pub fn unlimited(&self) -> bool {
        self.entitlement.is_some_and(|e| e < 0.0) || self.remaining == Some(-1.0)
    }
}

/// What one answer's headers said about the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaHeaders {
    /// `x-quota-snapshot-<id>` by id, in header order.
    #[serde(default)]
    pub quota: Vec<(String, HeaderSnapshot)>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session: Option<HeaderSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weekly: Option<HeaderSnapshot>,
}

impl QuotaHeaders {
    /// From an answer's headers (names lower-case, as the runtime gives them); None when
    /// there were none (Copilot sends none on errors and on `/models`).
    pub fn read<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut q = QuotaHeaders::default();
        for (name, value) in headers {
            if let Some(id) = name.strip_prefix(SNAPSHOT_PREFIX) {
                let id_ok = !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if let Some(s) = HeaderSnapshot::parse(value).filter(|_| id_ok) {
                    // Bounded: a few quota ids exist.
                    if q.quota.len() < 16 {
                        q.quota.push((id.to_string(), s));
                    }
                }
            } else if name == SESSION_LIMIT {
                q.session = HeaderSnapshot::parse(value);
            } else if name == WEEKLY_LIMIT {
                q.weekly = HeaderSnapshot::parse(value);
            }
        }
        (q != QuotaHeaders::default()).then_some(q)
    }
}

/// `%XX` escapes and `+` as a space, as in a query string; None for a bad escape.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_copilots_values() {
        let p = HeaderSnapshot::parse(
            "ent=10000000&ov=0.0&ovPerm=true&rem=97.1&rst=2026-09-01T00%3A00%3A00Z&totRem=9719759.1",
        )
        .unwrap();
        assert_eq!(p.entitlement, Some(10_000_000.0));
        assert_eq!(p.remaining, Some(9_719_759.1));
        assert_eq!(p.percent_remaining, Some(97.1));
        assert_eq!(p.overage, Some(0.0));
        assert_eq!(p.overage_permitted, Some(true));
        assert_eq!(p.reset_ms, parse_iso8601("2026-09-01T00:00:00Z"));
        assert!(!p.unlimited());
        let chat = HeaderSnapshot::parse(
            "ent=-1&ov=0.0&ovPerm=false&rem=100.0&rst=2026-09-01T00%3A00%3A00Z&totRem=-1",
        )
        .unwrap();
        assert!(chat.unlimited());
        // Unknown, broken and missing fields are skipped, never a panic.
        let odd =
            HeaderSnapshot::parse("rem=abc&rst=%ZZ&x=1&&=&ent=NaN&ovPerm=maybe&totRem=5").unwrap();
        assert_eq!(
            odd,
            HeaderSnapshot {
                remaining: Some(5.0),
                ..Default::default()
            }
        );
        assert_eq!(HeaderSnapshot::parse(""), None);
        assert_eq!(HeaderSnapshot::parse("nothing=here"), None);
        assert_eq!(percent_decode("a%20b+c"), Some("a b c".into()));
        assert_eq!(percent_decode("%e2%82"), None, "not UTF-8");
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn reads_an_answers_headers() {
        let headers = [
            ("content-type", "text/event-stream"),
            (
                "x-quota-snapshot-premium_interactions",
                "ent=1500&rem=82.3&totRem=1234.5",
            ),
            ("x-quota-snapshot-chat", "ent=-1&rem=100.0&totRem=-1"),
            ("x-quota-snapshot-", "ent=1"),
            ("x-quota-snapshot-bad id", "ent=1"),
            (
                "x-usage-ratelimit-session",
                "ent=0&ov=0.0&ovPerm=false&rem=5.7&rst=2026-04-21T06%3A35%3A37Z",
            ),
            (
                "x-usage-ratelimit-weekly",
                "ent=0&rem=74.9&rst=2026-04-27T00%3A00%3A00Z",
            ),
        ];
        let q = QuotaHeaders::read(headers).unwrap();
        let ids: Vec<&str> = q.quota.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["premium_interactions", "chat"]);
        assert_eq!(q.session.as_ref().unwrap().percent_remaining, Some(5.7));
        assert_eq!(
            q.weekly.as_ref().unwrap().reset_ms,
            parse_iso8601("2026-04-27T00:00:00Z")
        );
        assert_eq!(
            QuotaHeaders::read([("content-type", "application/json")]),
            None
        );
        // It round-trips through the JSON it is stored as.
        let stored = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<QuotaHeaders>(&stored).unwrap(), q);
    }
}
