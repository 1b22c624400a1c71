//! API keys in D1: only the SHA-256 of a key and a short display prefix are stored.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use worker::wasm_bindgen::JsValue;

use super::{js, js_opt, storage_error};

use crate::admin_input::KeyUpdate;
use crate::auth::NewApiKey;
use crate::protocol::error::ApiError;

const COLUMNS: &str = "id, name, prefix, created_at, last_used_at, rpm_limit, monthly_token_limit";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub rpm_limit: Option<u64>,
    pub monthly_token_limit: Option<u64>,
}

/// What the data plane needs to know about the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyIdentity {
    pub id: String,
    pub name: String,
    pub rpm_limit: Option<u64>,
    pub monthly_token_limit: Option<u64>,
}

pub async fn insert(
    db: &D1Database,
    id: &str,
    name: &str,
    key: &NewApiKey,
    now: &str,
) -> Result<ApiKeyRow, ApiError> {
    db.prepare(format!(
        "INSERT INTO api_keys (id, name, key_hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
    ))
    .bind(&[js(id), js(name), js(&key.hash), js(&key.prefix), js(now)])
    .map_err(|e| storage_error("api_keys insert", e))?
    .first::<ApiKeyRow>(None)
    .await
    .map_err(|e| storage_error("api_keys insert", e))?
    .ok_or_else(|| storage_error("api_keys insert", "no row returned"))
}

pub async fn list(db: &D1Database) -> Result<Vec<ApiKeyRow>, ApiError> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
    ))
    .all()
    .await
    .and_then(|r| r.results::<ApiKeyRow>())
    .map_err(|e| storage_error("api_keys list", e))
}

/// Replaces the key material; the id (and so the usage history) stays.
pub async fn rotate(
    db: &D1Database,
    id: &str,
    key: &NewApiKey,
) -> Result<Option<ApiKeyRow>, ApiError> {
    db.prepare(format!(
        "UPDATE api_keys SET key_hash = ?1, prefix = ?2, last_used_at = NULL WHERE id = ?3 RETURNING {COLUMNS}"
    ))
    .bind(&[js(&key.hash), js(&key.prefix), js(id)])
    .map_err(|e| storage_error("api_keys rotate", e))?
    .first::<ApiKeyRow>(None)
    .await
    .map_err(|e| storage_error("api_keys rotate", e))
}

pub async fn delete(db: &D1Database, id: &str) -> Result<bool, ApiError> {
    let row = db
        .prepare("DELETE FROM api_keys WHERE id = ?1 RETURNING id")
        .bind(&[js(id)])
        .map_err(|e| storage_error("api_keys delete", e))?
        .first::<serde_json::Value>(None)
        .await
        .map_err(|e| storage_error("api_keys delete", e))?;
    Ok(row.is_some())
}

/// Applies a checked update in one statement: the name and each limit change only when
/// the update has them (a limit set to None is removed).
pub async fn update(
    db: &D1Database,
    id: &str,
    u: &KeyUpdate,
) -> Result<Option<ApiKeyRow>, ApiError> {
    let v = |o: Option<u64>| {
        o.map(|n| JsValue::from_f64(n as f64))
            .unwrap_or(JsValue::NULL)
    };
    db.prepare(format!(
        "UPDATE api_keys SET
           name = COALESCE(?2, name),
           rpm_limit = CASE WHEN ?3 THEN ?4 ELSE rpm_limit END,
           monthly_token_limit = CASE WHEN ?5 THEN ?6 ELSE monthly_token_limit END
         WHERE id = ?1 RETURNING {COLUMNS}"
    ))
    .bind(&[
        js(id),
        js_opt(u.name.as_deref()),
        JsValue::from_bool(u.rpm.is_some()),
        v(u.rpm.flatten()),
        JsValue::from_bool(u.monthly.is_some()),
        v(u.monthly.flatten()),
    ])
    .map_err(|e| storage_error("api_keys update", e))?
    .first::<ApiKeyRow>(None)
    .await
    .map_err(|e| storage_error("api_keys update", e))
}

pub async fn find_by_hash(db: &D1Database, hash: &str) -> Result<Option<KeyIdentity>, ApiError> {
    db.prepare("SELECT id, name, rpm_limit, monthly_token_limit FROM api_keys WHERE key_hash = ?1")
        .bind(&[js(hash)])
        .map_err(|e| storage_error("api_keys lookup", e))?
        .first::<KeyIdentity>(None)
        .await
        .map_err(|e| storage_error("api_keys lookup", e))
}

/// Sets `last_used_at` unless it was set after `not_before`: at most one write a minute
/// per key, and only this column is written so a concurrent rename or rotation survives.
pub async fn touch(db: &D1Database, id: &str, now: &str, not_before: &str) -> Result<(), ApiError> {
    db.prepare(
        "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
    )
    .bind(&[js(now), js(id), js(not_before)])
    .map_err(|e| storage_error("api_keys touch", e))?
    .run()
    .await
    .map_err(|e| storage_error("api_keys touch", e))?;
    Ok(())
}

pub async fn find_by_id(db: &D1Database, id: &str) -> Result<Option<ApiKeyRow>, ApiError> {
    db.prepare(format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))
        .bind(&[js(id)])
        .map_err(|e| storage_error("api_keys get", e))?
        .first::<ApiKeyRow>(None)
        .await
        .map_err(|e| storage_error("api_keys get", e))
}

impl ApiKeyRow {
    pub fn identity(&self) -> KeyIdentity {
        KeyIdentity {
            id: self.id.clone(),
            name: self.name.clone(),
            rpm_limit: self.rpm_limit,
            monthly_token_limit: self.monthly_token_limit,
        }
    }
}
