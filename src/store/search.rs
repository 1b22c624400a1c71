//! Web search in D1: the one settings row, and searches counted per key, provider and
//! hour (added to with an upsert, so concurrent searches never lose a count).

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::{cell_str, cell_u64, js, js_opt, raw_rows, storage_error};
use crate::protocol::error::ApiError;
use crate::search::ProviderKind;
use crate::search_config::{SearchGroupBy, SearchUsageQuery, StoredConfig};

/// The settings; all empty (web search off) before an admin saved any.
pub async fn load(db: &D1Database) -> Result<StoredConfig, ApiError> {
    let row = db
        .prepare(
            "SELECT provider, tavily_key, microsoft_grounding_key, brave_key, searxng_url
             FROM search_config WHERE id = 1",
        )
        .first::<StoredConfig>(None)
        .await
        .map_err(|e| storage_error("search settings", e))?;
    Ok(row.unwrap_or_default())
}

/// The statement that writes the whole row (also part of an import's batch).
pub fn save_statement(
    db: &D1Database,
    c: &StoredConfig,
    now: &str,
) -> Result<D1PreparedStatement, ApiError> {
    let v = |s: &Option<crate::secret::Secret>| js_opt(s.as_ref().map(|s| s.expose()));
    db.prepare(
        "INSERT INTO search_config (id, provider, tavily_key, microsoft_grounding_key, brave_key,
                                    searxng_url, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET provider = excluded.provider,
           tavily_key = excluded.tavily_key,
           microsoft_grounding_key = excluded.microsoft_grounding_key,
           brave_key = excluded.brave_key, searxng_url = excluded.searxng_url,
           updated_at = excluded.updated_at",
    )
    .bind(&[
        js_opt(c.provider.as_deref()),
        v(&c.tavily_key),
        v(&c.microsoft_grounding_key),
        v(&c.brave_key),
        v(&c.searxng_url),
        js(now),
    ])
    .map_err(|e| storage_error("search settings", e))
}

pub async fn save(db: &D1Database, c: &StoredConfig, now: &str) -> Result<(), ApiError> {
    save_statement(db, c, now)?
        .run()
        .await
        .map_err(|e| storage_error("search settings", e))?;
    Ok(())
}

/// Counts one search (and, when it failed, one error): a single upsert.
pub async fn record(
    db: &D1Database,
    key_id: &str,
    provider: ProviderKind,
    hour: &str,
    failed: bool,
) -> Result<(), ApiError> {
    db.prepare(
        "INSERT INTO search_usage (key_id, provider, hour, requests, errors) VALUES (?1, ?2, ?3, 1, ?4)
         ON CONFLICT (key_id, provider, hour) DO UPDATE SET
           requests = requests + 1, errors = errors + excluded.errors",
    )
    .bind(&[
        js(key_id),
        js(provider.as_str()),
        js(hour),
        JsValue::from_f64(if failed { 1.0 } else { 0.0 }),
    ])
    .map_err(|e| storage_error("search usage", e))?
    .run()
    .await
    .map_err(|e| storage_error("search usage", e))?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchUsageRow {
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    pub provider: Option<String>,
    pub hour: Option<String>,
    pub requests: u64,
    pub errors: u64,
}

pub async fn query(db: &D1Database, q: &SearchUsageQuery) -> Result<Vec<SearchUsageRow>, ApiError> {
    // Grouped columns are selected; the others come back NULL.
    let (key_cols, provider_col, hour_col, group) = match q.group_by {
        None => (
            "s.key_id, k.name",
            "s.provider",
            "s.hour",
            "GROUP BY s.key_id, s.provider, s.hour",
        ),
        Some(SearchGroupBy::Key) => ("s.key_id, k.name", "NULL", "NULL", "GROUP BY s.key_id"),
        Some(SearchGroupBy::Provider) => {
            ("NULL, NULL", "s.provider", "NULL", "GROUP BY s.provider")
        }
        Some(SearchGroupBy::Hour) => ("NULL, NULL", "NULL", "s.hour", "GROUP BY s.hour"),
    };
    let sql = format!(
        "SELECT {key_cols}, {provider_col}, {hour_col}, SUM(s.requests), SUM(s.errors)
         FROM search_usage s LEFT JOIN api_keys k ON k.id = s.key_id
         WHERE s.hour >= ?1 AND s.hour < ?2 AND (?3 IS NULL OR s.key_id = ?3)
           AND (?4 IS NULL OR s.provider = ?4)
         {group}
         ORDER BY 4, 1, 3"
    );
    let binds = [
        js(&q.start),
        js(&q.end),
        js_opt(q.key_id.as_deref()),
        js_opt(q.provider.map(ProviderKind::as_str)),
    ];
    let rows = raw_rows(db, sql, &binds, "search usage query").await?;
    let (s, n) = (cell_str, cell_u64);
    Ok(rows
        .iter()
        .filter(|r| r.len() >= 6)
        .map(|r| SearchUsageRow {
            key_id: s(&r[0]),
            key_name: s(&r[1]),
            provider: s(&r[2]),
            hour: s(&r[3]),
            requests: n(&r[4]),
            errors: n(&r[5]),
        })
        .collect())
}
