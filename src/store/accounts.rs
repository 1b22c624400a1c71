//! Connected GitHub accounts in D1. The OAuth token stays in this module's rows and
//! the upstream clients; `public()` is the only shape that leaves the Worker. Tokens are
//! stored sealed (`token_crypto`) when TOKEN_ENCRYPTION_KEY is set.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::{js, js_opt, storage_error};
use crate::protocol::error::{ApiError, ErrorKind};
use crate::secret::Secret;
use crate::timestamp::iso8601;
use crate::token_crypto::{self, TokenCipher};
use crate::upstream::github::{AccountType, GitHubUser};
use crate::upstream::limits::{self, Limit, Window};
use crate::upstream::quota_headers::QuotaHeaders;

#[derive(Debug, Clone, Deserialize)]
pub struct AccountRow {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// The GitHub token as stored: sealed, or in clear when written without a secret.
    #[serde(rename = "token")]
    pub stored_token: Secret,
    pub account_type: String,
    pub active: i64,
    pub disabled: i64,
    pub created_at: String,
    pub problem: Option<String>,
    /// Out of a Copilot usage window until then (Unix ms); see `upstream::limits`.
    #[serde(default)]
    pub limited_until: Option<f64>,
    #[serde(default)]
    pub limited_window: Option<String>,
    /// JSON of the latest `QuotaHeaders`, and when they were seen (Unix ms).
    #[serde(default)]
    pub quota_headers: Option<String>,
    #[serde(default)]
    pub quota_headers_at: Option<f64>,
}

impl AccountRow {
    pub fn account_type(&self) -> AccountType {
        AccountType::parse(&self.account_type)
    }

    /// The usage window this account is out of at `now_ms`, if any.
    pub fn limit(&self, now_ms: u64) -> Option<Limit> {
        let until = self.limited_until.filter(|u| u.is_finite() && *u > 0.0)? as u64;
        if limits::can_serve(Some(until), now_ms) {
            return None;
        }
        let window = self.limited_window.as_deref().and_then(Window::parse)?;
        Some(Limit {
            window,
            until_ms: until,
        })
    }

    /// The quota the latest answers' headers reported, and when.
    pub fn quota_headers(&self) -> Option<(QuotaHeaders, u64)> {
        let at = self
            .quota_headers_at
            .filter(|a| a.is_finite() && *a > 0.0)? as u64;
        let q = serde_json::from_str(self.quota_headers.as_deref()?).ok()?;
        Some((q, at))
    }

    /// The GitHub token, opened when it is stored sealed.
    pub fn github_token(&self, cipher: Option<&TokenCipher>) -> Result<Secret, ApiError> {
        token_crypto::open(cipher, self.id, self.stored_token.expose()).map_err(|e| {
            ApiError::new(
                ErrorKind::Unavailable,
                format!("GitHub account '{}': {}", self.login, e.problem()),
            )
            .with_code(token_crypto::UNREADABLE_CODE)
        })
    }

    /// The account as the admin API shows it: never the token, but whether it is stored
    /// encrypted, and why it cannot be read if it cannot.
    pub fn public(&self, cipher: Option<&TokenCipher>) -> Value {
        let unreadable = token_crypto::open(cipher, self.id, self.stored_token.expose()).err();
        json!({
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "avatar_url": self.avatar_url,
            "account_type": self.account_type,
            "active": self.active == 1,
            "disabled": self.disabled == 1,
            "problem": unreadable.map(|e| e.problem()).or_else(|| self.problem.clone()),
            "rate_limited": self.limit(super::now_ms()).map(|l| json!({
                "window": l.window.as_str(),
                "until": iso8601(l.until_ms),
            })),
            "token_encrypted": token_crypto::is_sealed(self.stored_token.expose()),
            "created_at": self.created_at,
        })
    }
}

const COLUMNS: &str =
    "id, login, name, avatar_url, token, account_type, active, disabled, created_at, problem, \
     limited_until, limited_window, quota_headers, quota_headers_at";

fn num(id: i64) -> JsValue {
    JsValue::from_f64(id as f64)
}

pub async fn list(db: &D1Database) -> Result<Vec<AccountRow>, ApiError> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM github_accounts ORDER BY created_at, id"
    ))
    .all()
    .await
    .and_then(|r| r.results::<AccountRow>())
    .map_err(|e| storage_error("github_accounts list", e))
}

/// The enabled accounts, the preferred one first, then by age: the failover order.
pub async fn serving(db: &D1Database) -> Result<Vec<AccountRow>, ApiError> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM github_accounts WHERE disabled = 0 ORDER BY (problem IS NOT NULL), active DESC, created_at, id"
    ))
    .all()
    .await
    .and_then(|r| r.results::<AccountRow>())
    .map_err(|e| storage_error("github_accounts serving", e))
}

pub async fn set_disabled(
    db: &D1Database,
    id: i64,
    disabled: bool,
) -> Result<Option<AccountRow>, ApiError> {
    db.prepare(format!(
        "UPDATE github_accounts SET disabled = ?2 WHERE id = ?1 RETURNING {COLUMNS}"
    ))
    .bind(&[num(id), JsValue::from_f64(if disabled { 1.0 } else { 0.0 })])
    .map_err(|e| storage_error("github_accounts disable", e))?
    .first::<AccountRow>(None)
    .await
    .map_err(|e| storage_error("github_accounts disable", e))
}

/// Inserts or refreshes an account (same GitHub user id = same account). The first
/// account connected becomes the active one. `stored_token` is the token in its stored
/// form (sealed for `user.id` when a cipher is configured).
pub async fn upsert(
    db: &D1Database,
    user: &GitHubUser,
    stored_token: &str,
    account_type: AccountType,
    now: &str,
) -> Result<AccountRow, ApiError> {
    let stmt = db
        .prepare(format!(
            "INSERT INTO github_accounts (id, login, name, avatar_url, token, account_type, active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NOT EXISTS (SELECT 1 FROM github_accounts WHERE active = 1), ?7)
             ON CONFLICT (id) DO UPDATE SET login = excluded.login, name = excluded.name,
               avatar_url = excluded.avatar_url, token = excluded.token, account_type = excluded.account_type, problem = NULL
             RETURNING {COLUMNS}"
        ))
        .bind(&[
            num(user.id),
            js(&user.login),
            js_opt(user.name.as_deref()),
            js_opt(user.avatar_url.as_deref()),
            js(stored_token),
            js(account_type.as_str()),
            js(now),
        ])
        .map_err(|e| storage_error("github_accounts upsert", e))?;
    stmt.first::<AccountRow>(None)
        .await
        .map_err(|e| storage_error("github_accounts upsert", e))?
        .ok_or_else(|| storage_error("github_accounts upsert", "no row returned"))
}

/// Makes `id` the active account. Both updates run in one D1 batch (a transaction),
/// so there is never a moment with two active accounts or none.
pub async fn activate(db: &D1Database, id: i64) -> Result<Option<AccountRow>, ApiError> {
    let exists = db
        .prepare("SELECT id FROM github_accounts WHERE id = ?1")
        .bind(&[num(id)])
        .map_err(|e| storage_error("github_accounts activate", e))?
        .first::<Value>(None)
        .await
        .map_err(|e| storage_error("github_accounts activate", e))?;
    if exists.is_none() {
        return Ok(None);
    }
    let off = db.prepare("UPDATE github_accounts SET active = 0 WHERE active = 1 AND id <> ?1");
    // The preferred account is always an enabled one.
    let on = db.prepare("UPDATE github_accounts SET active = 1, disabled = 0 WHERE id = ?1");
    db.batch(vec![
        off.bind(&[num(id)])
            .map_err(|e| storage_error("github_accounts activate", e))?,
        on.bind(&[num(id)])
            .map_err(|e| storage_error("github_accounts activate", e))?,
    ])
    .await
    .map_err(|e| storage_error("github_accounts activate", e))?;
    get(db, id).await
}

pub async fn get(db: &D1Database, id: i64) -> Result<Option<AccountRow>, ApiError> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM github_accounts WHERE id = ?1"
    ))
    .bind(&[num(id)])
    .map_err(|e| storage_error("github_accounts get", e))?
    .first::<AccountRow>(None)
    .await
    .map_err(|e| storage_error("github_accounts get", e))
}

/// Removes an account; if it was the active one, the oldest remaining enabled account
/// takes over. Both statements run in one batch (a transaction): there is no moment
/// without a preferred account while one could serve.
pub async fn delete(db: &D1Database, id: i64) -> Result<bool, ApiError> {
    let err = |e| storage_error("github_accounts delete", e);
    let delete = db
        .prepare("DELETE FROM github_accounts WHERE id = ?1 RETURNING id")
        .bind(&[num(id)])
        .map_err(err)?;
    let promote = db.prepare(
        "UPDATE github_accounts SET active = 1
         WHERE NOT EXISTS (SELECT 1 FROM github_accounts WHERE active = 1)
           AND id = (SELECT id FROM github_accounts WHERE disabled = 0 ORDER BY created_at, id LIMIT 1)",
    );
    let results = db.batch(vec![delete, promote]).await.map_err(err)?;
    let gone = results
        .first()
        .map(|r| r.results::<Value>().map_err(err))
        .transpose()?
        .is_some_and(|rows| !rows.is_empty());
    Ok(gone)
}

/// Seals tokens still stored in clear (written before TOKEN_ENCRYPTION_KEY was set), and
/// updates `rows` to match. Each row is only rewritten if its token is still the one read,
/// so a reconnect that raced this keeps its new token.
pub async fn seal_clear_tokens(
    db: &D1Database,
    rows: &mut [AccountRow],
    cipher: &TokenCipher,
) -> Result<usize, ApiError> {
    let err = |e| storage_error("github_accounts seal", e);
    let mut statements = Vec::new();
    let mut sealed_rows = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let clear = row.stored_token.expose();
        if token_crypto::is_sealed(clear) {
            continue;
        }
        let sealed = cipher.seal(row.id, clear, crate::ids::random_bytes());
        statements.push(
            db.prepare("UPDATE github_accounts SET token = ?2 WHERE id = ?1 AND token = ?3")
                .bind(&[num(row.id), js(&sealed), js(clear)])
                .map_err(err)?,
        );
        sealed_rows.push((i, sealed));
    }
    let n = statements.len();
    if n > 0 {
        db.batch(statements).await.map_err(err)?;
    }
    for (i, sealed) in sealed_rows {
        rows[i].stored_token = Secret::new(sealed);
    }
    Ok(n)
}

/// Records (or with None clears) why an account cannot serve.
pub async fn set_problem(db: &D1Database, id: i64, problem: Option<&str>) -> Result<(), ApiError> {
    db.prepare("UPDATE github_accounts SET problem = ?2 WHERE id = ?1")
        .bind(&[num(id), js_opt(problem)])
        .map_err(|e| storage_error("github_accounts problem", e))?
        .run()
        .await
        .map_err(|e| storage_error("github_accounts problem", e))?;
    Ok(())
}

/// Marks an account out of a Copilot usage window until `limit.until_ms`.
pub async fn set_limited(db: &D1Database, id: i64, limit: &Limit) -> Result<(), ApiError> {
    db.prepare("UPDATE github_accounts SET limited_until = ?2, limited_window = ?3 WHERE id = ?1")
        .bind(&[
            num(id),
            JsValue::from_f64(limit.until_ms as f64),
            js(limit.window.as_str()),
        ])
        .map_err(|e| storage_error("github_accounts limit", e))?
        .run()
        .await
        .map_err(|e| storage_error("github_accounts limit", e))?;
    Ok(())
}

/// Stores what answers' quota headers reported, unless newer ones are already stored.
pub async fn set_quota_headers(
    db: &D1Database,
    id: i64,
    headers: &QuotaHeaders,
    at_ms: u64,
) -> Result<(), ApiError> {
    let text = serde_json::to_string(headers).unwrap_or_default();
    db.prepare(
        "UPDATE github_accounts SET quota_headers = ?2, quota_headers_at = ?3
         WHERE id = ?1 AND (quota_headers_at IS NULL OR quota_headers_at < ?3)",
    )
    .bind(&[num(id), js(&text), JsValue::from_f64(at_ms as f64)])
    .map_err(|e| storage_error("github_accounts quota", e))?
    .run()
    .await
    .map_err(|e| storage_error("github_accounts quota", e))?;
    Ok(())
}
