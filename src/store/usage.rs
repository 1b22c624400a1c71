//! Usage in D1: hourly counters per key and model, added to with an upsert so
//! concurrent requests never lose a count.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use super::{cell_str, cell_u64, js, js_opt, raw_rows, storage_error};
use crate::accounting::{GroupBy, UsageQuery};
use crate::protocol::error::ApiError;
use crate::usage_batch::{RowKey, Tally};

/// Adds counted rows with additive upserts: one statement per chunk of rows (read with
/// `json_each`), all in one batch (one round trip, one transaction). However many rows
/// are pending, a write is a handful of queries, well inside the free plan's 50 per
/// invocation.
pub async fn record(db: &D1Database, rows: &[(RowKey, Tally)]) -> Result<(), ApiError> {
    let statements = crate::usage_batch::rows_json(rows, CHUNK_BYTES)
        .iter()
        .map(|chunk| {
            db.prepare(
                "INSERT INTO usage (key_id, model, hour, requests, errors, input_tokens, output_tokens,
                                    cache_read_tokens, cache_creation_tokens, nano_aiu)
                 SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]',
                        value ->> '$[4]', value ->> '$[5]', value ->> '$[6]', value ->> '$[7]',
                        value ->> '$[8]', value ->> '$[9]'
                 FROM json_each(?1) WHERE true
                 ON CONFLICT (key_id, model, hour) DO UPDATE SET
                   requests = requests + excluded.requests,
                   errors = errors + excluded.errors,
                   input_tokens = input_tokens + excluded.input_tokens,
                   output_tokens = output_tokens + excluded.output_tokens,
                   cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
                   cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
                   nano_aiu = nano_aiu + excluded.nano_aiu",
            )
            .bind(&[js(chunk)])
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| storage_error("usage record", e))?;
    if statements.is_empty() {
        return Ok(());
    }
    db.batch(statements)
        .await
        .map_err(|e| storage_error("usage record", e))?;
    Ok(())
}

/// A bound value may be 2 MB; chunks stay well below.
const CHUNK_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageRecord {
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub model: Option<String>,
    pub hour: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    /// AI credits Copilot billed, exact, in nano-AIU (10^9 per credit)...
    pub nano_aiu: u64,
    /// ...and in credits (one is $0.01).
    pub ai_credits: f64,
}

pub async fn query(db: &D1Database, q: &UsageQuery) -> Result<Vec<UsageRecord>, ApiError> {
    // Grouped columns are selected; the others come back NULL.
    let (key_cols, model_col, hour_col, group) = match q.group_by {
        None => (
            "u.key_id, k.name",
            "u.model",
            "u.hour",
            "GROUP BY u.key_id, u.model, u.hour",
        ),
        Some(GroupBy::Key) => ("u.key_id, k.name", "NULL", "NULL", "GROUP BY u.key_id"),
        Some(GroupBy::Model) => ("NULL, NULL", "u.model", "NULL", "GROUP BY u.model"),
        Some(GroupBy::Hour) => ("NULL, NULL", "NULL", "u.hour", "GROUP BY u.hour"),
    };
    // Columns: key_id, key_name, model, hour, then the sums; ordered by hour, key, model.
    let sql = format!(
        "SELECT {key_cols}, {model_col}, {hour_col},
           SUM(u.requests), SUM(u.errors), SUM(u.input_tokens), SUM(u.output_tokens),
           SUM(u.cache_read_tokens), SUM(u.cache_creation_tokens), SUM(u.nano_aiu)
         FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id
         WHERE u.hour >= ?1 AND u.hour < ?2 AND (?3 IS NULL OR u.key_id = ?3)
         {group}
         ORDER BY 4, 1, 3"
    );
    let binds = [js(&q.start), js(&q.end), js_opt(q.key_id.as_deref())];
    let rows = raw_rows(db, sql, &binds, "usage query").await?;
    let (s, n) = (cell_str, cell_u64);
    Ok(rows
        .iter()
        .filter(|r| r.len() >= 11)
        .map(|r| UsageRecord {
            key_id: s(&r[0]),
            key_name: s(&r[1]),
            model: s(&r[2]),
            hour: s(&r[3]),
            requests: n(&r[4]),
            errors: n(&r[5]),
            input_tokens: n(&r[6]),
            output_tokens: n(&r[7]),
            cache_read_tokens: n(&r[8]),
            cache_creation_tokens: n(&r[9]),
            nano_aiu: n(&r[10]),
            ai_credits: n(&r[10]) as f64 / crate::credits::NANO_PER_CREDIT as f64,
        })
        .collect())
}

/// Input plus output tokens a key used since `since` (an hour key).
pub async fn tokens_since(db: &D1Database, key_id: &str, since: &str) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Total {
        total: Option<f64>,
    }
    let t = db
        .prepare("SELECT SUM(input_tokens + output_tokens) AS total FROM usage WHERE key_id = ?1 AND hour >= ?2")
        .bind(&[js(key_id), js(since)])
        .map_err(|e| storage_error("usage total", e))?
        .first::<Total>(None)
        .await
        .map_err(|e| storage_error("usage total", e))?;
    Ok(t.and_then(|t| t.total).unwrap_or(0.0) as u64)
}

/// Counts a request in its minute window; returns the count so far. Old windows of the
/// key go in the same batch, so the table stays small.
pub async fn hit_minute(db: &D1Database, key_id: &str, minute: &str) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        requests: f64,
    }
    let prune = db
        .prepare("DELETE FROM rate_windows WHERE key_id = ?1 AND minute < ?2")
        .bind(&[js(key_id), js(minute)])
        .map_err(|e| storage_error("rate window", e))?;
    let hit = db
        .prepare(
            "INSERT INTO rate_windows (key_id, minute, requests) VALUES (?1, ?2, 1)
             ON CONFLICT (key_id, minute) DO UPDATE SET requests = requests + 1 RETURNING requests",
        )
        .bind(&[js(key_id), js(minute)])
        .map_err(|e| storage_error("rate window", e))?;
    let results = db
        .batch(vec![prune, hit])
        .await
        .map_err(|e| storage_error("rate window", e))?;
    let count = results
        .get(1)
        .and_then(|r| r.results::<Count>().ok())
        .and_then(|rows| rows.first().map(|c| c.requests as u64))
        .unwrap_or(1);
    Ok(count)
}
