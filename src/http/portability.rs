//! `GET /api/export` and `POST /api/import`.

use serde_json::json;
use worker::{Env, Request, Response};

use super::admin::json_body;
use super::json;
use crate::api_error::ApiError;
use crate::ids::random_bytes;
use crate::portability::{document, parse_import};
use crate::search_config::{label, StoredConfig};
use crate::secret::Secret;
use crate::store::{db, memory, now_ms, portability, token_cipher};
use crate::timestamp::iso8601;
use crate::token_crypto;

pub async fn export(env: &Env) -> Result<Response, ApiError> {
    let now = now_ms();
    super::metering::flush(env).await;
    let data = portability::export(&db(env)?, token_cipher(env).as_deref()).await?;
    let mut resp = json(200, &document(&data, &iso8601(now)));
    let name = format!("copilot-gateway-export-{}.json", &iso8601(now)[..10]);
    let _ = resp.headers_mut().set(
        "content-disposition",
        &format!("attachment; filename=\"{name}\""),
    );
    Ok(resp)
}

/// Validates the whole document, then applies it in one transaction.
pub async fn import(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body = json_body(&mut req).await?;
    let (mode, mut data) = parse_import(&body)?;
    // Tokens are stored sealed when a secret is set (already sealed ones stay as they are).
    let cipher = token_cipher(env);
    for a in &mut data.github_accounts {
        if !token_crypto::is_sealed(a.token.expose()) {
            let stored =
                token_crypto::store_form(cipher.as_deref(), a.id, a.token.expose(), random_bytes());
            a.token = Secret::new(stored);
        }
    }
    // Search credentials likewise, each under its own column's label.
    let search = data.search_config.as_ref().map(|r| {
        StoredConfig::from_record(r, |kind, v| {
            token_crypto::store_form_labeled(cipher.as_deref(), label(kind), v, random_bytes())
        })
    });
    portability::import(&db(env)?, mode, &data, search.as_ref(), &iso8601(now_ms())).await?;
    memory::forget_keys();
    memory::forget_accounts();
    memory::forget_search_config();
    memory::forget_aliases();
    Ok(json(
        200,
        &json!({
            "imported": {
                "api_keys": data.api_keys.len(),
                "github_accounts": data.github_accounts.len(),
                "usage": data.usage.len(),
                "search_config": data.search_config.is_some(),
                "search_usage": data.search_usage.len(),
                "model_aliases": data.model_aliases.len(),
            },
            "mode": if mode == crate::portability::Mode::Merge { "merge" } else { "replace" },
        }),
    ))
}
