//! Data-plane handlers: `/v1/models`, `/v1/embeddings` and the three generation APIs.

use serde_json::Value;
use worker::{Context, Env, Request, Response};

use super::{forward_json, json, relay_stream, upstream_failure};
use crate::api_error::{ApiError, ApiFormat};
use crate::inbound;
use crate::upstream::headers::filter_anthropic_beta;
use crate::upstream::routing::{self, Api};
use crate::upstream::session::{CallFacts, Copilot};

pub async fn read_body(req: &mut Request) -> Result<String, ApiError> {
    req.text()
        .await
        .map_err(|_| ApiError::invalid("request body could not be read as UTF-8 text"))
}

pub async fn models(env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    let mut copilot = Copilot::connect(env, ctx).await?;
    let catalog = copilot.catalog().await?;
    Ok(json(200, &catalog.describe()))
}

/// Embeddings are forwarded as sent (the body is small and Copilot's API is OpenAI's);
/// only the fields every request needs are checked first.
pub async fn embeddings(mut req: Request, env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    let text = read_body(&mut req).await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    if !v.get("model").is_some_and(Value::is_string) {
        return Err(
            ApiError::invalid("`model` is required and must be a string").with_param("model"),
        );
    }
    if v.get("input").is_none_or(Value::is_null) {
        return Err(ApiError::invalid("`input` is required").with_param("input"));
    }
    let mut copilot = Copilot::connect(env, ctx).await?;
    let resp = copilot
        .send("/embeddings", Some(&text), &CallFacts::default())
        .await?;
    if !(200..300).contains(&resp.status_code()) {
        return Ok(upstream_failure(ApiFormat::OpenAi, resp).await);
    }
    Ok(forward_json(resp))
}

/// `/v1/messages`, `/v1/chat/completions`, `/v1/responses`.
pub async fn generate(
    api: Api,
    mut req: Request,
    env: &Env,
    ctx: &Context,
) -> Result<Response, ApiError> {
    let format = if api == Api::Messages {
        ApiFormat::Anthropic
    } else {
        ApiFormat::OpenAi
    };
    let beta = (api == Api::Messages)
        .then(|| req.headers().get("anthropic-beta").ok().flatten())
        .flatten();
    let text = read_body(&mut req).await?;
    let mut inbound = inbound::parse(api, &text)?;
    drop(text);

    let mut copilot = Copilot::connect(env, ctx).await?;
    let catalog = copilot.catalog().await?;
    let model = catalog.resolve(&inbound.model)?.clone();
    let (endpoints, _) = copilot.endpoints(&model).await;
    let target = routing::plan(api, &model.id, endpoints, crate::translate::available)?;

    inbound
        .body
        .insert("model".into(), Value::String(model.id.clone()));
    let facts = CallFacts {
        initiator: Some(inbound::initiator(api, &inbound.body)),
        vision: inbound::has_images(api, &inbound.body),
        anthropic_beta: if target == Api::Messages {
            filter_anthropic_beta(beta.as_deref())
        } else {
            None
        },
    };
    let body = serde_json::to_string(&inbound.body)
        .map_err(|e| ApiError::invalid(format!("request body could not be re-encoded: {e}")))?;
    let resp = copilot
        .send(target.upstream_path(), Some(&body), &facts)
        .await?;
    if !(200..300).contains(&resp.status_code()) {
        return Ok(upstream_failure(format, resp).await);
    }
    let is_sse = resp
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if inbound.stream && is_sse {
        relay_stream(api, resp)
    } else {
        Ok(forward_json(resp))
    }
}
