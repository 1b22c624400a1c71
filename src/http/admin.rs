//! Admin API handlers: API keys and GitHub accounts. Callers are already checked to
//! hold ADMIN_KEY. No answer ever carries a GitHub or Copilot token.

use serde_json::{json, Value};
use worker::{Context, Env, Request, Response};

use super::data_plane::read_body;
use super::incoming::Incoming;
use super::{json, no_content};
use crate::admin_input::{string_field, KeyUpdate};
use crate::auth::new_api_key;
use crate::http::copilot::{config, forget_account};
use crate::ids::{random_bytes, uuid_v4};
use crate::protocol::error::{upstream_message, ApiError, ErrorKind};
use crate::store::{accounts, cache, db, keys, memory, now_ms, token_cipher};
use crate::timestamp::iso8601;
use crate::token_crypto;
use crate::upstream::client;
use crate::upstream::github::{self, PollOutcome};

pub async fn json_body(req: &mut Request) -> Result<Value, ApiError> {
    let text = read_body(&Incoming::of(req)).await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    Ok(v)
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("{what} not found"))
}

// ---- API keys ----

pub fn key_json(row: &keys::ApiKeyRow, raw: Option<&str>) -> Value {
    let mut v = json!({
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "limits": {
            "requests_per_minute": row.rpm_limit,
            "tokens_per_month": row.monthly_token_limit,
        },
    });
    if let Some(k) = raw {
        v["key"] = json!(k);
    }
    v
}

pub async fn create_key(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = json_body(&mut req).await?;
    let name = string_field(&body, "name", 100)?;
    let key = new_api_key(random_bytes());
    let row = keys::insert(&db(env)?, &uuid_v4(), &name, &key, &iso8601(now_ms())).await?;
    Ok(json(201, &key_json(&row, Some(key.key.expose()))))
}

pub async fn list_keys(env: &Env) -> Result<Response, ApiError> {
    let rows = keys::list(&db(env)?).await?;
    Ok(json(
        200,
        &Value::Array(rows.iter().map(|r| key_json(r, None)).collect()),
    ))
}

/// `PATCH /api/keys/:id`: the whole body is checked first, then name and limits change
/// in one statement (a bad limit never leaves a renamed key behind).
pub async fn update_key(mut req: Request, env: &Env, id: &str) -> Result<Response, ApiError> {
    let update = KeyUpdate::parse(&json_body(&mut req).await?)?;
    let row = keys::update(&db(env)?, id, &update)
        .await?
        .ok_or_else(|| not_found("API key"))?;
    memory::forget_keys();
    Ok(json(200, &key_json(&row, None)))
}

pub async fn rotate_key(env: &Env, id: &str) -> Result<Response, ApiError> {
    let key = new_api_key(random_bytes());
    let row = keys::rotate(&db(env)?, id, &key)
        .await?
        .ok_or_else(|| not_found("API key"))?;
    memory::forget_keys();
    Ok(json(200, &key_json(&row, Some(key.key.expose()))))
}

pub async fn delete_key(env: &Env, id: &str) -> Result<Response, ApiError> {
    if !keys::delete(&db(env)?, id).await? {
        return Err(not_found("API key"));
    }
    memory::forget_keys();
    Ok(no_content())
}

// ---- GitHub accounts ----

pub async fn start_device_flow(env: &Env) -> Result<Response, ApiError> {
    let mut resp = client::send(&github::device_code_request(&config(env))).await?;
    let status = resp.status_code();
    let body = client::text(&mut resp).await?;
    if !(200..300).contains(&status) {
        return Err(ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "GitHub refused to start the device flow ({status}): {}",
                upstream_message(&body)
            ),
        ));
    }
    let code =
        github::parse_device_code(&body).map_err(|m| ApiError::new(ErrorKind::BadGateway, m))?;
    Ok(json(200, &json!(code)))
}

/// One poll, driven by the browser every `interval` seconds: the Worker never loops.
pub async fn poll_device_flow(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = json_body(&mut req).await?;
    let device_code = string_field(&body, "device_code", 200)?;
    let cfg = config(env);
    let mut resp = client::send(&github::poll_request(&cfg, &device_code)).await?;
    let status = resp.status_code();
    let text = client::text(&mut resp).await?;
    if status >= 500 {
        return Err(ApiError::new(
            ErrorKind::BadGateway,
            format!("GitHub's token endpoint failed ({status})"),
        ));
    }
    let answer = match github::parse_poll(&text) {
        PollOutcome::Pending { interval } => json!({ "status": "pending", "interval": interval }),
        PollOutcome::SlowDown { interval } => {
            json!({ "status": "slow_down", "interval": interval })
        }
        PollOutcome::Failed { error, message } => {
            json!({ "status": "error", "error": error, "message": message })
        }
        PollOutcome::Authorized { access_token } => {
            let account = connect_account(env, access_token.expose()).await?;
            json!({ "status": "complete", "account": account })
        }
    };
    Ok(json(200, &answer))
}

pub async fn add_account(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = json_body(&mut req).await?;
    let token = string_field(&body, "token", 1000)?;
    let account = connect_account(env, &token).await?;
    Ok(json(201, &account))
}

/// Validates a GitHub token against /user, reads the Copilot plan, and stores the account.
async fn connect_account(env: &Env, token: &str) -> Result<Value, ApiError> {
    let cfg = config(env);
    let mut resp = client::send(&github::user_request(&cfg, token)).await?;
    let status = resp.status_code();
    let text = client::text(&mut resp).await?;
    if status == 401 || status == 403 {
        return Err(ApiError::invalid(
            "GitHub rejected this token (it is invalid, expired or revoked)",
        )
        .with_param("token"));
    }
    if status != 200 {
        return Err(ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "GitHub /user failed ({status}): {}",
                upstream_message(&text)
            ),
        ));
    }
    let user = github::parse_user(&text).map_err(|m| ApiError::new(ErrorKind::BadGateway, m))?;
    // The plan only picks the default API host, so a failure here is not fatal.
    let plan = match client::send(&github::copilot_user_request(&cfg, token)).await {
        Ok(mut r) if r.status_code() == 200 => {
            github::parse_plan(&client::text(&mut r).await.unwrap_or_default())
        }
        _ => Default::default(),
    };
    let cipher = token_cipher(env);
    let stored = token_crypto::store_form(cipher.as_deref(), user.id, token, random_bytes());
    let row = accounts::upsert(&db(env)?, &user, &stored, plan, &iso8601(now_ms())).await?;
    forget_account(env, row.id).await;
    Ok(row.public(cipher.as_deref()))
}

pub async fn list_accounts(env: &Env) -> Result<Response, ApiError> {
    let db = db(env)?;
    let mut rows = accounts::list(&db).await?;
    let cipher = token_cipher(env);
    if let Some(c) = cipher.as_deref() {
        // Tokens written before the secret was set are sealed now.
        accounts::seal_clear_tokens(&db, &mut rows, c).await?;
    }
    // While Copilot refuses the gateway's client identity, no account can serve: each
    // enabled one says why (unless it has a problem of its own).
    let outdated = crate::http::copilot::client_outdated_notice(env).await;
    let list = rows
        .iter()
        .map(|r| {
            let mut v = r.public(cipher.as_deref());
            if let Some(message) = outdated.as_ref().filter(|_| r.disabled == 0) {
                if v["problem"].is_null() {
                    v["problem"] = json!(message);
                }
            }
            v
        })
        .collect();
    Ok(json(200, &Value::Array(list)))
}

fn account_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>().map_err(|_| {
        ApiError::new(
            ErrorKind::NotFound,
            "GitHub account not found (ids are GitHub user ids)",
        )
    })
}

pub async fn activate_account(env: &Env, id: &str) -> Result<Response, ApiError> {
    let id = account_id(id)?;
    let row = accounts::activate(&db(env)?, id)
        .await?
        .ok_or_else(|| not_found("GitHub account"))?;
    memory::forget_accounts();
    Ok(json(200, &row.public(token_cipher(env).as_deref())))
}

pub async fn delete_account(env: &Env, ctx: &Context, id: &str) -> Result<Response, ApiError> {
    let id = account_id(id)?;
    if !accounts::delete(&db(env)?, id).await? {
        return Err(not_found("GitHub account"));
    }
    memory::forget_accounts();
    let env = env.clone();
    ctx.wait_until(async move { forget_account(&env, id).await });
    Ok(no_content())
}

/// `PATCH /api/github/accounts/:id {"disabled": bool}`: a disabled account keeps its token
/// and history but serves nothing.
pub async fn update_account(mut req: Request, env: &Env, id: &str) -> Result<Response, ApiError> {
    let id = account_id(id)?;
    let body = json_body(&mut req).await?;
    let disabled = body
        .get("disabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            ApiError::invalid("`disabled` is required and must be a boolean").with_param("disabled")
        })?;
    let row = accounts::set_disabled(&db(env)?, id, disabled)
        .await?
        .ok_or_else(|| not_found("GitHub account"))?;
    memory::forget_accounts();
    Ok(json(200, &row.public(token_cipher(env).as_deref())))
}

/// `GET /api/quota`: each enabled account's plan, reset date and quota snapshots. While
/// data-plane answers keep reporting an account's quota in their headers (seen in the last
/// 15 minutes, by this isolate or stored by another), GitHub is not asked: its last answer
/// (kept 6 hours) is brought up to date with them.
pub async fn quota(env: &Env) -> Result<Response, ApiError> {
    let cfg = config(env);
    let rows = accounts::list(&db(env)?).await?;
    let cipher = token_cipher(env);
    let now = now_ms();
    let calls = rows.iter().filter(|a| a.disabled == 0).map(|a| {
        let cfg = cfg.clone();
        let token = a.github_token(cipher.as_deref());
        let seen = [memory::quota_seen(a.id), a.quota_headers()]
            .into_iter()
            .flatten()
            .max_by_key(|(_, at)| *at)
            .filter(|(_, at)| now.saturating_sub(*at) < crate::quota::HEADERS_FRESH_MS);
        async move {
            let account = json!({ "id": a.id, "login": a.login, "preferred": a.active == 1 });
            let key = cache::quota_key(a.id);
            if let Some((headers, at)) = &seen {
                if let Some(base) = cache::get::<Value>(env, &key).await {
                    let mut q = crate::quota::with_headers(base, headers, *at);
                    q["account"] = account;
                    return q;
                }
            }
            let token = match token {
                Ok(t) => t,
                Err(e) => return json!({ "account": account, "error": e.message }),
            };
            match client::send(&github::copilot_user_request(&cfg, token.expose())).await {
                Ok(mut r) if r.status_code() == 200 => {
                    let text = client::text(&mut r).await.unwrap_or_default();
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let q = crate::quota::normalize(&body);
                    // As JSON text: a `Value` map would reach KV as an empty JS Map.
                    cache::put(env, &key, &q.to_string(), cache::QUOTA_KEEP_SECS).await;
                    let mut q = q;
                    if let Some((headers, _)) = &seen {
                        q["usage_limits"] = crate::quota::usage_limits(headers);
                    }
                    q["account"] = account;
                    q
                }
                Ok(mut r) => {
                    let status = r.status_code();
                    let text = client::text(&mut r).await.unwrap_or_default();
                    json!({ "account": account, "error": format!("GitHub answered {status}: {}", upstream_message(&text)) })
                }
                Err(e) => json!({ "account": account, "error": e.message }),
            }
        }
    });
    let accounts = futures::future::join_all(calls).await;
    Ok(json(200, &json!({ "accounts": accounts })))
}

/// `GET /api/usage`: everything for ADMIN_KEY; only the caller's own rows for an API key.
pub async fn usage(
    req: &Request,
    env: &Env,
    reader: Option<&keys::KeyIdentity>,
) -> Result<Response, ApiError> {
    let mut q = crate::accounting::UsageQuery::parse(&query_pairs(req)?)?;
    own_usage_only(reader, &mut q.key_id)?;
    // This isolate's counts not yet written are written first (others' land within a second).
    super::metering::flush(env).await;
    let records = crate::store::usage::query(&db(env)?, &q).await?;
    Ok(json(
        200,
        &json!({
            "start": q.start,
            "end": q.end,
            "group_by": q.group_by.map(|g| format!("{g:?}").to_lowercase()),
            "records": records,
        }),
    ))
}

/// `GET /api/models`: the catalog as `/v1/models` shows it, plus the path each client API
/// takes for each model (native, or translated through which Copilot API).
pub async fn models(env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    use crate::protocol::Api;
    use crate::upstream::routing;
    let mut copilot = crate::http::copilot::Copilot::connect(env, ctx, None).await?;
    let catalog = copilot.catalog(ctx).await?;
    let data: Vec<Value> = catalog
        .models
        .iter()
        .map(|m| {
            let endpoints = if m.is_embeddings() {
                crate::models::Endpoints::default()
            } else {
                m.endpoints
                    .unwrap_or_else(|| routing::guess_endpoints(&m.id))
            };
            let route = |api: Api| match routing::plan(
                api,
                &m.id,
                endpoints,
                crate::translate::available,
            ) {
                Ok(t) if t == api => json!("native"),
                Ok(t) => json!(format!("via {}", t.upstream_path())),
                Err(_) => Value::Null,
            };
            let mut v = m.describe();
            v["routes"] = json!({
                "messages": route(Api::Messages),
                "responses": route(Api::Responses),
                "chat_completions": route(Api::ChatCompletions),
            });
            v
        })
        .collect();
    let aliases = super::aliases::current(env).await;
    Ok(json(
        200,
        &json!({ "data": data, "aliases": aliases.describe(&catalog) }),
    ))
}

/// The request's query parameters, decoded.
pub fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let url = req.url().map_err(|_| ApiError::invalid("bad URL"))?;
    Ok(url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// An API key reading usage reads its own: a filter on another key is refused, and none
/// becomes its own.
pub fn own_usage_only(
    reader: Option<&keys::KeyIdentity>,
    key_id: &mut Option<String>,
) -> Result<(), ApiError> {
    let Some(own) = reader else {
        return Ok(());
    };
    if key_id.as_ref().is_some_and(|k| k != &own.id) {
        return Err(ApiError::new(
            ErrorKind::Permission,
            "an API key can only read its own usage",
        )
        .with_param("key_id"));
    }
    *key_id = Some(own.id.clone());
    Ok(())
}
