//! Admin-app sessions and failed credential checks in D1.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::{js, js_opt, storage_error};
use crate::admin_session::{MAX_FAILURES, WINDOW_MS};
use crate::protocol::error::ApiError;

/// A session row with what it is checked against now (see `admin_session::session_valid`).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionRow {
    pub role: String,
    pub key_id: Option<String>,
    pub expires_at: u64,
    pub credential: Option<String>,
    /// The session's key's hash now (None: not a key session, or the key is gone).
    pub key_hash_now: Option<String>,
}

fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub role: &'a str,
    pub key_id: Option<&'a str>,
    /// `admin_session::admin_binding` for admins, the key's hash for keys.
    pub credential: &'a str,
    pub now_iso: &'a str,
    pub expires_at: u64,
    pub now_secs: u64,
}

pub async fn create(db: &D1Database, s: &NewSession<'_>) -> Result<(), ApiError> {
    let insert = db
        .prepare(
            "INSERT INTO sessions (id_hash, role, key_id, credential, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            js(s.id_hash),
            js(s.role),
            js_opt(s.key_id),
            js(s.credential),
            js(s.now_iso),
            num(s.expires_at),
        ])
        .map_err(|e| storage_error("sessions create", e))?;
    // Logins are rare: each one sweeps expired sessions.
    let sweep = db
        .prepare("DELETE FROM sessions WHERE expires_at < ?1")
        .bind(&[num(s.now_secs)])
        .map_err(|e| storage_error("sessions sweep", e))?;
    db.batch(vec![sweep, insert])
        .await
        .map_err(|e| storage_error("sessions create", e))?;
    Ok(())
}

pub async fn find(db: &D1Database, id_hash: &str) -> Result<Option<SessionRow>, ApiError> {
    db.prepare(
        "SELECT s.role, s.key_id, s.expires_at, s.credential, k.key_hash AS key_hash_now
         FROM sessions s LEFT JOIN api_keys k ON s.role = 'key' AND k.id = s.key_id
         WHERE s.id_hash = ?1",
    )
    .bind(&[js(id_hash)])
    .map_err(|e| storage_error("sessions find", e))?
    .first::<SessionRow>(None)
    .await
    .map_err(|e| storage_error("sessions find", e))
}

pub async fn delete(db: &D1Database, id_hash: &str) -> Result<(), ApiError> {
    db.prepare("DELETE FROM sessions WHERE id_hash = ?1")
        .bind(&[js(id_hash)])
        .map_err(|e| storage_error("sessions delete", e))?
        .run()
        .await
        .map_err(|e| storage_error("sessions delete", e))?;
    Ok(())
}

/// The times (ms) of a client's most recent failed credential checks in the window.
pub async fn recent_failures(
    db: &D1Database,
    client: &str,
    now_ms: u64,
) -> Result<Vec<u64>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        at: f64,
    }
    let rows = db
        .prepare(
            "SELECT at FROM auth_failures WHERE client = ?1 AND at > ?2 ORDER BY at DESC LIMIT ?3",
        )
        .bind(&[
            js(client),
            num(now_ms.saturating_sub(WINDOW_MS)),
            num(MAX_FAILURES as u64),
        ])
        .map_err(|e| storage_error("auth_failures", e))?
        .all()
        .await
        .and_then(|r| r.results::<Row>())
        .map_err(|e| storage_error("auth_failures", e))?;
    Ok(rows.into_iter().map(|r| r.at as u64).collect())
}

/// Records a failed check; failures older than the window are pruned on the way.
pub async fn add_failure(db: &D1Database, client: &str, now_ms: u64) -> Result<(), ApiError> {
    let prune = db
        .prepare("DELETE FROM auth_failures WHERE at <= ?1")
        .bind(&[num(now_ms.saturating_sub(WINDOW_MS))])
        .map_err(|e| storage_error("auth_failures", e))?;
    let add = db
        .prepare("INSERT INTO auth_failures (client, at) VALUES (?1, ?2)")
        .bind(&[js(client), num(now_ms)])
        .map_err(|e| storage_error("auth_failures", e))?;
    db.batch(vec![prune, add])
        .await
        .map_err(|e| storage_error("auth_failures", e))?;
    Ok(())
}
