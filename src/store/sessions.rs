//! Admin-app sessions and failed-login counters in D1.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::{js, js_opt, storage_error};
use crate::api_error::ApiError;

#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub role: String,
    pub key_id: Option<String>,
    pub expires_at: u64,
}

fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

pub async fn create(
    db: &D1Database,
    id_hash: &str,
    role: &str,
    key_id: Option<&str>,
    now_iso: &str,
    expires_at: u64,
    now_secs: u64,
) -> Result<(), ApiError> {
    let insert = db
        .prepare("INSERT INTO sessions (id_hash, role, key_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[js(id_hash), js(role), js_opt(key_id), js(now_iso), num(expires_at)])
        .map_err(|e| storage_error("sessions create", e))?;
    // Logins are rare: each one sweeps expired sessions.
    let sweep = db
        .prepare("DELETE FROM sessions WHERE expires_at < ?1")
        .bind(&[num(now_secs)])
        .map_err(|e| storage_error("sessions sweep", e))?;
    db.batch(vec![sweep, insert])
        .await
        .map_err(|e| storage_error("sessions create", e))?;
    Ok(())
}

/// A live session (and for key sessions, only while the key still exists).
pub async fn find(
    db: &D1Database,
    id_hash: &str,
    now_secs: u64,
) -> Result<Option<Session>, ApiError> {
    db.prepare(
        "SELECT s.role, s.key_id, s.expires_at FROM sessions s
         WHERE s.id_hash = ?1 AND s.expires_at > ?2
           AND (s.role = 'admin' OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = s.key_id))",
    )
    .bind(&[js(id_hash), num(now_secs)])
    .map_err(|e| storage_error("sessions find", e))?
    .first::<Session>(None)
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

pub async fn failures(db: &D1Database, client: &str, window: &str) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        failures: f64,
    }
    Ok(db
        .prepare("SELECT failures FROM login_failures WHERE client = ?1 AND window = ?2")
        .bind(&[js(client), js(window)])
        .map_err(|e| storage_error("login_failures", e))?
        .first::<Row>(None)
        .await
        .map_err(|e| storage_error("login_failures", e))?
        .map_or(0, |r| r.failures as u64))
}

pub async fn add_failure(db: &D1Database, client: &str, window: &str) -> Result<(), ApiError> {
    let prune = db
        .prepare("DELETE FROM login_failures WHERE window < ?1")
        .bind(&[js(window)])
        .map_err(|e| storage_error("login_failures", e))?;
    let add = db
        .prepare(
            "INSERT INTO login_failures (client, window, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (client, window) DO UPDATE SET failures = failures + 1",
        )
        .bind(&[js(client), js(window)])
        .map_err(|e| storage_error("login_failures", e))?;
    db.batch(vec![prune, add])
        .await
        .map_err(|e| storage_error("login_failures", e))?;
    Ok(())
}
