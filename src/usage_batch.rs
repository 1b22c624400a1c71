//! Usage an isolate has counted but not yet written. Requests that end close together are
//! summed per (key, model, hour) and written in one D1 batch instead of one upsert each:
//! under load that is a fraction of the writes (D1's free plan counts every row written),
//! and a request no longer pays for its own write.

use std::collections::HashMap;

use crate::protocol::Usage;

/// One row's counts: what the upsert adds to `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub requests: u64,
    pub errors: u64,
    pub usage: Usage,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.usage.add(&other.usage);
    }
}

/// A usage row's identity: key id, model, hour bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub key_id: String,
    pub model: String,
    pub hour: String,
}

/// Rows kept at most (a D1 outage puts failed writes back; rows are per key, model and
/// hour, so only a long outage with many keys comes near this).
pub const MAX_ROWS: usize = 10_000;

#[derive(Debug, Default)]
pub struct UsageBatch {
    rows: HashMap<RowKey, Tally>,
}

impl UsageBatch {
    /// Counts one request (a failed one in `errors`, with whatever tokens it used).
    pub fn add(&mut self, key_id: &str, model: &str, hour: &str, usage: Usage, failed: bool) {
        let tally = Tally {
            requests: u64::from(!failed),
            errors: u64::from(failed),
            usage,
        };
        let key = RowKey {
            key_id: key_id.to_string(),
            model: model.to_string(),
            hour: hour.to_string(),
        };
        self.merge(key, tally);
    }

    fn merge(&mut self, key: RowKey, tally: Tally) -> bool {
        if let Some(t) = self.rows.get_mut(&key) {
            t.add(&tally);
            return true;
        }
        if self.rows.len() >= MAX_ROWS {
            return false;
        }
        self.rows.insert(key, tally);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Up to `max` rows counted so far, in a stable order (the batch's statements); the
    /// rest stay for the next write.
    pub fn take(&mut self, max: usize) -> Vec<(RowKey, Tally)> {
        let mut rows: Vec<_> = self.rows.drain().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, t) in rows.drain(max.min(rows.len())..) {
            self.rows.insert(k, t);
        }
        rows
    }

    /// Rows whose write failed, counted again (added to anything counted meanwhile).
    /// Returns how many did not fit and are lost.
    pub fn restore(&mut self, rows: Vec<(RowKey, Tally)>) -> usize {
        rows.into_iter()
            .filter(|(k, t)| !self.merge(k.clone(), *t))
            .count()
    }

    /// Input plus output tokens of a key not yet written, from the hour `since` on.
    pub fn tokens_since(&self, key_id: &str, since: &str) -> u64 {
        self.rows
            .iter()
            .filter(|(k, _)| k.key_id == key_id && k.hour.as_str() >= since)
            .fold(0u64, |n, (_, t)| {
                n.saturating_add(t.usage.input_tokens)
                    .saturating_add(t.usage.output_tokens)
            })
    }
}

/// Counts go to D1 as exact integers: an absurd upstream figure is capped at 2^53.
const MAX_EXACT: u64 = 1 << 53;

/// Rows as JSON arrays `[[key_id, model, hour, requests, errors, input, output, cache_read,
/// cache_creation, nano_aiu], …]` of at most about `max_bytes` each (a row is never split).
pub fn rows_json(rows: &[(RowKey, Tally)], max_bytes: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::from("[");
    for (k, t) in rows {
        let u = &t.usage;
        let row = serde_json::json!([
            k.key_id,
            k.model,
            k.hour,
            t.requests.min(MAX_EXACT),
            t.errors.min(MAX_EXACT),
            u.input_tokens.min(MAX_EXACT),
            u.output_tokens.min(MAX_EXACT),
            u.cache_read_tokens.min(MAX_EXACT),
            u.cache_creation_tokens.min(MAX_EXACT),
            u.nano_aiu.min(MAX_EXACT),
        ])
        .to_string();
        if current.len() > 1 && current.len() + row.len() + 1 > max_bytes {
            current.push(']');
            chunks.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&row);
    }
    if current.len() > 1 {
        current.push(']');
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: input / 2,
            cache_creation_tokens: 1,
            nano_aiu: output.saturating_mul(1000),
        }
    }

    #[test]
    fn requests_of_one_row_are_summed_and_rows_kept_apart() {
        let mut b = UsageBatch::default();
        b.add("k1", "gpt-5", "2026-11-26T08", usage(100, 10), false);
        b.add("k1", "gpt-5", "2026-11-26T08", usage(50, 5), false);
        b.add("k1", "gpt-5", "2026-11-26T08", usage(7, 0), true);
        b.add("k1", "claude", "2026-11-26T08", usage(1, 1), false);
        b.add("k2", "gpt-5", "2026-11-26T09", usage(2, 2), false);
        let rows = b.take(usize::MAX);
        assert!(b.is_empty());
        let keys: Vec<_> = rows
            .iter()
            .map(|(k, _)| (k.key_id.as_str(), k.model.as_str(), k.hour.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("k1", "claude", "2026-11-26T08"),
                ("k1", "gpt-5", "2026-11-26T08"),
                ("k2", "gpt-5", "2026-11-26T09")
            ]
        );
        assert_eq!(
            rows[1].1,
            Tally {
                requests: 2,
                errors: 1,
                usage: Usage {
                    input_tokens: 157,
                    output_tokens: 15,
                    cache_read_tokens: 50 + 25 + 3,
                    cache_creation_tokens: 3,
                    nano_aiu: 15_000,
                },
            }
        );
        assert_eq!(rows[0].1.requests, 1);
    }

    #[test]
    fn a_failed_write_is_counted_again_with_what_came_meanwhile() {
        let mut b = UsageBatch::default();
        b.add("k", "m", "h", usage(10, 1), false);
        let failed = b.take(usize::MAX);
        b.add("k", "m", "h", usage(5, 1), false);
        assert_eq!(b.restore(failed), 0);
        let rows = b.take(usize::MAX);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.requests, 2);
        assert_eq!(rows[0].1.usage.input_tokens, 15);
    }

    #[test]
    fn rows_are_bounded_and_existing_rows_still_count() {
        let mut b = UsageBatch::default();
        for i in 0..MAX_ROWS {
            b.add(&format!("k{i}"), "m", "h", usage(1, 0), false);
        }
        b.add("new", "m", "h", usage(1, 0), false);
        b.add("k0", "m", "h", usage(1, 0), false);
        let rows = b.take(usize::MAX);
        assert_eq!(rows.len(), MAX_ROWS);
        assert!(rows.iter().all(|(k, _)| k.key_id != "new"));
        let k0 = rows.iter().find(|(k, _)| k.key_id == "k0").unwrap();
        assert_eq!(k0.1.requests, 2);
        let mut full = UsageBatch::default();
        for i in 0..MAX_ROWS {
            full.add(&format!("x{i}"), "m", "h", usage(1, 0), false);
        }
        assert_eq!(full.restore(rows), MAX_ROWS);
    }

    #[test]
    fn a_write_takes_at_most_its_share_in_order_and_leaves_the_rest() {
        let mut b = UsageBatch::default();
        for k in ["d", "b", "a", "c"] {
            b.add(k, "m", "h", usage(1, 0), false);
        }
        let first: Vec<_> = b.take(3).into_iter().map(|(k, _)| k.key_id).collect();
        assert_eq!(first, ["a", "b", "c"]);
        let rest: Vec<_> = b.take(3).into_iter().map(|(k, _)| k.key_id).collect();
        assert_eq!(rest, ["d"]);
        assert!(b.is_empty());
    }

    #[test]
    fn rows_travel_as_json_chunks() {
        let mut b = UsageBatch::default();
        for k in ["a\"quoted", "b", "c"] {
            b.add(
                k,
                "claude-sonnet-4.5",
                "2026-11-26T08",
                usage(u64::MAX, 3),
                true,
            );
        }
        let rows = b.take(usize::MAX);
        let all = rows_json(&rows, usize::MAX);
        assert_eq!(all.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
        assert_eq!(
            v[0],
            serde_json::json!([
                "a\"quoted",
                "claude-sonnet-4.5",
                "2026-11-26T08",
                0,
                1,
                1u64 << 53,
                3,
                1u64 << 53,
                1,
                3000
            ])
        );
        // Small chunks: one row each, every chunk valid JSON, no row lost.
        let small = rows_json(&rows, 10);
        assert_eq!(small.len(), 3);
        let n: usize = small
            .iter()
            .map(|c| {
                serde_json::from_str::<Vec<serde_json::Value>>(c)
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(n, 3);
        assert!(rows_json(&[], 100).is_empty());
    }

    #[test]
    fn pending_tokens_of_a_key_since_an_hour() {
        let mut b = UsageBatch::default();
        b.add("k", "m", "2026-10-31T23", usage(1000, 1000), false);
        b.add("k", "m", "2026-11-01T00", usage(10, 5), false);
        b.add("k", "n", "2026-11-26T08", usage(u64::MAX, 1), false);
        b.add("other", "m", "2026-11-26T08", usage(7, 7), false);
        assert_eq!(b.tokens_since("k", "2026-11-01T00"), u64::MAX);
        assert_eq!(b.tokens_since("other", "2026-11-01T00"), 14);
        assert_eq!(b.tokens_since("none", "2026-11-01T00"), 0);
        let mut c = UsageBatch::default();
        c.add("k", "m", "2026-10-31T23", usage(1000, 1000), false);
        c.add("k", "m", "2026-11-01T00", usage(10, 5), false);
        assert_eq!(c.tokens_since("k", "2026-11-01T00"), 15);
    }
}
