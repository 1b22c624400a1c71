//! `/auth/*`: ADMIN_KEY or an API key exchanged for an HttpOnly session cookie, so the
//! admin app never keeps a key in browser storage.

use serde_json::{json, Value};
use worker::{D1Database, Env, Headers, Request, Response};

use super::admin::{json_body, key_json};
use super::{json, no_content};
use crate::admin_session::{self, StoredSession};
use crate::auth::{self, secret_eq, sha256_hex};
use crate::ids::{hex, random_bytes};
use crate::protocol::error::{ApiError, ErrorKind};
use crate::store::{db, keys, now_ms, sessions};
use crate::timestamp::iso8601;

/// Who a control-plane request speaks for.
pub enum Principal {
    Admin,
    Key(keys::ApiKeyRow),
}

pub fn is_https(req: &Request) -> bool {
    req.url().map(|u| u.scheme() == "https").unwrap_or(false)
}

/// The client a credential check comes from (Cloudflare's connecting IP; one bucket locally).
pub fn client_of(headers: &Headers) -> String {
    headers
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "local".to_string())
}

/// Refuses a client with too many recent failed credential checks (429 with `retry-after`
/// until the oldest of them leaves the window). Runs before the credential is looked at,
/// so a throttled client learns nothing about its guesses.
pub async fn check_throttle(db: &D1Database, client: &str, now: u64) -> Result<(), ApiError> {
    let failures = sessions::recent_failures(db, client, now).await?;
    match admin_session::throttled_for(&failures, now) {
        None => Ok(()),
        Some(wait) => {
            let mut e = ApiError::new(
                ErrorKind::RateLimit,
                "too many failed sign-in attempts from this client; try again later",
            );
            e.retry_after = Some(wait.to_string());
            Err(e)
        }
    }
}

pub async fn login(
    mut req: Request,
    env: &Env,
    admin_key: Option<&str>,
) -> Result<Response, ApiError> {
    let db = db(env)?;
    let now = now_ms();
    let who = client_of(req.headers());
    check_throttle(&db, &who, now).await?;
    let secure = is_https(&req);
    let body = json_body(&mut req).await?;
    let key = body
        .get("key")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 512)
        .ok_or_else(|| ApiError::invalid("`key` is required").with_param("key"))?;
    let id = hex(&random_bytes::<32>());
    let admin = auth::admin_key(admin_key).ok();
    let (role, key_row, credential) = match admin.filter(|a| secret_eq(key, a)) {
        Some(a) => ("admin", None, admin_session::admin_binding(&id, a)),
        None => {
            let hash = sha256_hex(key);
            let found = match keys::find_by_hash(&db, &hash).await? {
                Some(identity) => keys::find_by_id(&db, &identity.id).await?,
                None => None,
            };
            match found {
                Some(row) => ("key", Some(row), hash),
                None => {
                    // Without a usable ADMIN_KEY the admin cannot log in: say how to fix that.
                    auth::admin_key(admin_key)?;
                    sessions::add_failure(&db, &who, now).await?;
                    return Err(ApiError::new(ErrorKind::Authentication, "invalid key"));
                }
            }
        }
    };
    let expires_at = now / 1000 + admin_session::TTL_SECS;
    sessions::create(
        &db,
        &sessions::NewSession {
            id_hash: &sha256_hex(&id),
            role,
            key_id: key_row.as_ref().map(|k| k.id.as_str()),
            credential: &credential,
            now_iso: &iso8601(now),
            expires_at,
            now_secs: now / 1000,
        },
    )
    .await?;
    let mut body = json!({ "role": role, "expires_at": iso8601(expires_at * 1000) });
    if let Some(k) = &key_row {
        body["key"] = key_json(k, None);
    }
    let mut resp = json(200, &body);
    let _ = resp
        .headers_mut()
        .set("set-cookie", &admin_session::set_cookie(&id, secure));
    Ok(resp)
}

pub async fn logout(req: &Request, env: &Env) -> Result<Response, ApiError> {
    if let Some(id) = cookie(req) {
        sessions::delete(&db(env)?, &sha256_hex(&id)).await?;
    }
    let mut resp = no_content();
    let _ = resp
        .headers_mut()
        .set("set-cookie", &admin_session::clear_cookie(is_https(req)));
    Ok(resp)
}

pub async fn current(
    req: &Request,
    env: &Env,
    admin_key: Option<&str>,
) -> Result<Response, ApiError> {
    let (principal, expires_at) = from_cookie(req, env, admin_key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::Authentication, "not logged in"))?;
    let mut body =
        json!({ "role": "admin", "key": null, "expires_at": iso8601(expires_at * 1000) });
    if let Principal::Key(k) = &principal {
        body["role"] = json!("key");
        body["key"] = key_json(k, None);
    }
    Ok(json(200, &body))
}

fn cookie(req: &Request) -> Option<String> {
    let header = req.headers().get("cookie").ok().flatten();
    admin_session::from_cookie_header(header.as_deref()).map(str::to_string)
}

/// The session behind the request's cookie, if it is live and its credential unchanged
/// (ADMIN_KEY for admin sessions, the key's hash for key sessions).
pub async fn from_cookie(
    req: &Request,
    env: &Env,
    admin_key: Option<&str>,
) -> Result<Option<(Principal, u64)>, ApiError> {
    let Some(id) = cookie(req) else {
        return Ok(None);
    };
    let db = db(env)?;
    let Some(s) = sessions::find(&db, &sha256_hex(&id)).await? else {
        return Ok(None);
    };
    let stored = StoredSession {
        role: &s.role,
        credential: s.credential.as_deref(),
        expires_at: s.expires_at,
        key_hash_now: s.key_hash_now.as_deref(),
    };
    let admin = auth::admin_key(admin_key).ok();
    if !admin_session::session_valid(&stored, &id, admin, now_ms() / 1000) {
        return Ok(None);
    }
    let principal = match (s.role.as_str(), s.key_id) {
        ("admin", _) => Principal::Admin,
        (_, Some(key_id)) => match keys::find_by_id(&db, &key_id).await? {
            Some(row) => Principal::Key(row),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some((principal, s.expires_at)))
}
