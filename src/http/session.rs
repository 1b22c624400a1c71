//! `/auth/*`: ADMIN_KEY or an API key exchanged for an HttpOnly session cookie, so the
//! admin app never keeps a key in browser storage.

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::admin::{json_body, key_json};
use super::{json, no_content};
use crate::admin_session::{self, MAX_FAILURES};
use crate::api_error::{ApiError, ErrorKind};
use crate::auth::{self, secret_eq, sha256_hex};
use crate::ids::{hex, random_bytes};
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

/// The client a login attempt comes from (Cloudflare's connecting IP; one bucket locally).
fn client(req: &Request) -> String {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "local".to_string())
}

pub async fn login(
    mut req: Request,
    env: &Env,
    admin_key: Option<&str>,
) -> Result<Response, ApiError> {
    let db = db(env)?;
    let now = now_ms();
    let who = client(&req);
    let window = admin_session::window(now);
    if sessions::failures(&db, &who, &window).await? >= MAX_FAILURES {
        let mut e = ApiError::new(
            ErrorKind::RateLimit,
            "too many failed logins; try again later",
        );
        e.retry_after = Some(admin_session::seconds_left_in_window(now).to_string());
        return Err(e);
    }
    let secure = is_https(&req);
    let body = json_body(&mut req).await?;
    let key = body
        .get("key")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 512)
        .ok_or_else(|| ApiError::invalid("`key` is required").with_param("key"))?;
    let admin = auth::admin_key(admin_key).ok();
    let (role, key_row) = if admin.is_some_and(|a| secret_eq(key, a)) {
        ("admin", None)
    } else {
        let found = match keys::find_by_hash(&db, &sha256_hex(key)).await? {
            Some(identity) => keys::find_by_id(&db, &identity.id).await?,
            None => None,
        };
        match found {
            Some(row) => ("key", Some(row)),
            None => {
                // Without a usable ADMIN_KEY the admin cannot log in: say how to fix that.
                auth::admin_key(admin_key)?;
                sessions::add_failure(&db, &who, &window).await?;
                return Err(ApiError::new(ErrorKind::Authentication, "invalid key"));
            }
        }
    };
    let id = hex(&random_bytes::<32>());
    let expires_at = now / 1000 + admin_session::TTL_SECS;
    sessions::create(
        &db,
        &sha256_hex(&id),
        role,
        key_row.as_ref().map(|k| k.id.as_str()),
        &iso8601(now),
        expires_at,
        now / 1000,
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

pub async fn current(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let (principal, expires_at) = from_cookie(req, env)
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

/// The session behind the request's cookie, if it is live.
pub async fn from_cookie(req: &Request, env: &Env) -> Result<Option<(Principal, u64)>, ApiError> {
    let Some(id) = cookie(req) else {
        return Ok(None);
    };
    let db = db(env)?;
    let Some(s) = sessions::find(&db, &sha256_hex(&id), now_ms() / 1000).await? else {
        return Ok(None);
    };
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
