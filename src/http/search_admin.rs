//! The admin API of web search: `GET`/`PUT /api/search-config` (which credentials are
//! set, never their values), `POST /api/search-config/test` (one query, saved settings or
//! a draft, not counted) and `GET /api/search-usage` (like `/api/usage`).

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::admin::json_body;
use super::json;
use super::web_search::{bases, search};
use crate::ids::random_bytes;
use crate::protocol::error::ApiError;
use crate::search::provider::{display_name, Target};
use crate::search::{ProviderKind, SearchRequest};
use crate::search_config::{
    label, param, test_result, ConfigUpdate, SearchUsageQuery, StoredConfig, TestRequest,
    TEST_RESULTS,
};
use crate::store::keys::KeyIdentity;
use crate::store::{db, memory, now_ms, search as store, token_cipher};
use crate::timestamp::iso8601;
use crate::token_crypto;

/// `GET /api/search-config`. Settings saved in clear before TOKEN_ENCRYPTION_KEY was set
/// are sealed now.
pub async fn get_config(env: &Env) -> Result<Response, ApiError> {
    let db = db(env)?;
    let mut config = store::load(&db).await?;
    let cipher = token_cipher(env);
    if let Some(c) = cipher.as_deref() {
        if let Some(sealed) = config.sealed(c, random_bytes) {
            store::save(&db, &sealed, &iso8601(now_ms())).await?;
            memory::forget_search_config();
            config = sealed;
        }
    }
    Ok(json(200, &config.view(cipher.as_deref())))
}

/// `PUT /api/search-config {provider?, credentials?: {<provider>: key|null}, searxng_url?}`:
/// omitted fields stay, null removes; answers as `GET`.
pub async fn put_config(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let update = ConfigUpdate::parse(&json_body(&mut req).await?)?;
    let db = db(env)?;
    let current = store::load(&db).await?;
    let cipher = token_cipher(env);
    let store_form = |kind: ProviderKind, v: &str| {
        token_crypto::store_form_labeled(cipher.as_deref(), label(kind), v, random_bytes())
    };
    let mut next = current.apply(&update, store_form)?;
    if let Some(c) = cipher.as_deref() {
        if let Some(sealed) = next.sealed(c, random_bytes) {
            next = sealed;
        }
    }
    store::save(&db, &next, &iso8601(now_ms())).await?;
    memory::forget_search_config();
    Ok(json(200, &next.view(cipher.as_deref())))
}

/// `POST /api/search-config/test {query?, provider?, credential?, searxng_url?}`: one
/// search, not counted in usage. A provider's own failure is a 200 with `ok: false` (the
/// test ran; its result is the failure); a request the test cannot run is a 400.
pub async fn test(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let t = TestRequest::parse(&json_body(&mut req).await?)?;
    let saved = store::load(&db(env)?).await?;
    let kind = t.provider.or_else(|| saved.provider()).ok_or_else(|| {
        ApiError::invalid(
            "web search is off: save a provider first, or test a draft with `provider` and its \
             `credential` (or `searxng_url`)",
        )
        .with_code("search_not_configured")
        .with_param("provider")
    })?;
    let target = target(env, &saved, kind, t.setting)?;
    let request = SearchRequest {
        query: t.query.clone(),
        max_results: TEST_RESULTS,
        ..Default::default()
    };
    let answer = match search(&target, &request).await {
        Ok(hits) => json!({
            "ok": true,
            "provider": kind.as_str(),
            "query": t.query,
            "results": hits.iter().take(TEST_RESULTS).map(test_result).collect::<Vec<Value>>(),
        }),
        Err(f) => json!({
            "ok": false,
            "provider": kind.as_str(),
            "query": t.query,
            "error": { "code": f.code.as_str(), "message": f.message },
        }),
    };
    Ok(json(200, &answer))
}

fn target(
    env: &Env,
    saved: &StoredConfig,
    kind: ProviderKind,
    draft: Option<crate::secret::Secret>,
) -> Result<Target, ApiError> {
    let bases = bases(env);
    let not_ready = |message: String| {
        ApiError::invalid(message)
            .with_code("search_not_configured")
            .with_param(param(kind))
    };
    match draft {
        Some(s) if kind == ProviderKind::Searxng => {
            Target::new(kind, &bases, None, Some(s.expose()))
        }
        Some(s) => Target::new(kind, &bases, Some(s), None),
        None if saved.setting(kind).is_none() => {
            return Err(not_ready(format!(
                "nothing is saved for {} yet: send its `{}` to test a draft",
                display_name(kind),
                if kind == ProviderKind::Searxng {
                    "searxng_url"
                } else {
                    "credential"
                }
            )))
        }
        None => saved.target(token_cipher(env).as_deref(), &bases, kind),
    }
    .map_err(|f| not_ready(f.message))
}

/// `GET /api/search-usage`: everything for ADMIN_KEY; only the caller's own rows for an
/// API key.
pub async fn usage(
    req: &Request,
    env: &Env,
    reader: Option<&KeyIdentity>,
) -> Result<Response, ApiError> {
    let mut q = SearchUsageQuery::parse(&super::admin::query_pairs(req)?)?;
    super::admin::own_usage_only(reader, &mut q.key_id)?;
    let records = store::query(&db(env)?, &q).await?;
    Ok(json(
        200,
        &json!({
            "start": q.start,
            "end": q.end,
            "provider": q.provider.map(ProviderKind::as_str),
            "group_by": q.group_by.map(|g| g.as_str()),
            "records": records,
        }),
    ))
}
