//! Model aliases: the admin API (`GET /api/model-aliases`, `PUT` and `DELETE
//! /api/model-aliases/{alias}`) and the copy every generation request reads.

use std::rc::Rc;

use serde_json::{json, Value};
use worker::{Context, Env, Request, Response};

use super::admin::json_body;
use super::json;
use crate::api_error::{ApiError, ErrorKind};
use crate::model_aliases::{self, Aliases};
use crate::models::Catalog;
use crate::store::{aliases as store, db, memory, now_ms};
use crate::timestamp::iso8601;
use crate::upstream::session::Copilot;

/// The aliases: isolate memory for ~30 s, then D1 (the last known copy when D1 cannot be
/// reached; none when it never could, so real model names keep working).
pub async fn current(env: &Env) -> Rc<Aliases> {
    let now = now_ms();
    if let Some(a) = memory::aliases(now) {
        return a;
    }
    let loaded = match db(env) {
        Ok(db) => store::load(&db).await,
        Err(e) => Err(e),
    };
    match loaded {
        Ok(a) => {
            let a = Rc::new(a);
            memory::put_aliases(Rc::clone(&a), now);
            a
        }
        Err(e) => {
            worker::console_warn!("model aliases could not be read: {}", e.message);
            memory::aliases_stale().unwrap_or_default()
        }
    }
}

/// The name the catalog should resolve for `requested` (see `Aliases::apply`). The
/// aliases are read only for a name the catalog does not know, so the usual request
/// never looks for them.
pub async fn resolve_name(
    env: &Env,
    catalog: &Catalog,
    requested: &str,
) -> Result<String, ApiError> {
    if catalog.resolve(requested).is_ok() {
        return Ok(requested.to_string());
    }
    current(env)
        .await
        .apply(requested, catalog)
        .map(str::to_string)
}

/// The catalog, if an account can give one: aliases can be managed without.
async fn catalog(env: &Env, ctx: &Context) -> Option<Rc<Catalog>> {
    let mut copilot = Copilot::connect(env, ctx, None).await.ok()?;
    copilot.catalog(ctx).await.ok()
}

fn view(aliases: &Aliases, catalog: Option<&Catalog>) -> Value {
    let data: Vec<Value> = aliases
        .list
        .iter()
        .map(|a| {
            let serves = catalog.and_then(|c| {
                a.models
                    .iter()
                    .find_map(|m| c.resolve(m).ok())
                    .map(|m| m.id.clone())
            });
            json!({ "alias": a.alias, "models": a.models, "serves": serves })
        })
        .collect();
    json!({ "data": data })
}

/// `GET /api/model-aliases`: each alias with the model that serves it now (null: none of
/// its models is available, or no account is connected).
pub async fn list(env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    let aliases = store::load(&db(env)?).await?;
    let catalog = catalog(env, ctx).await;
    Ok(json(200, &view(&aliases, catalog.as_deref())))
}

/// `PUT /api/model-aliases/{alias} {"models": [..]}`: creates or replaces it; answers as
/// `GET`. A name the catalog has is refused (409): an alias may not hide a model.
pub async fn put(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    name: &str,
) -> Result<Response, ApiError> {
    model_aliases::check_name(name)?;
    let alias = model_aliases::parse_update(name, &json_body(&mut req).await?)?;
    let db = db(env)?;
    let mut aliases = store::load(&db).await?;
    let catalog = catalog(env, ctx).await;
    let is_model = |m: &str| catalog.as_ref().is_some_and(|c| c.resolve(m).is_ok());
    model_aliases::check(&alias, &aliases, is_model)?;
    if aliases.find(name).is_none() && aliases.list.len() >= model_aliases::MAX_ALIASES {
        return Err(ApiError::invalid(format!(
            "at most {} model aliases",
            model_aliases::MAX_ALIASES
        )));
    }
    store::save(&db, &alias, &iso8601(now_ms())).await?;
    memory::forget_aliases();
    aliases.list.retain(|a| !a.alias.eq_ignore_ascii_case(name));
    aliases.list.push(alias);
    let aliases = Aliases::new(aliases.list);
    Ok(json(200, &view(&aliases, catalog.as_deref())))
}

/// `DELETE /api/model-aliases/{alias}`.
pub async fn delete(env: &Env, name: &str) -> Result<Response, ApiError> {
    if !store::delete(&db(env)?, name).await? {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no model alias '{name}'"),
        ));
    }
    memory::forget_aliases();
    Ok(json(200, &json!({ "deleted": name })))
}
