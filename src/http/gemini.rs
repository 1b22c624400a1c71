//! The Gemini API's routes: each request is translated to a Messages request
//! (`translate::gemini_to_messages`) and served by the Messages front door, so routing,
//! accounts, failover, web search and metering are the same as for every other client;
//! the answer, whole or streamed, is translated back.

use futures::StreamExt;
use serde_json::{Map, Value};
use worker::{Context, Env, Headers, Response};

use super::data_plane::{count_text, described_models, read_body, serve_text};
use super::incoming::Incoming;
use super::metering::Meter;
use super::{json, json_text};
use crate::protocol::error::{ApiError, ApiFormat, ErrorKind};
use crate::protocol::Api;
use crate::translate::gemini_to_messages::{
    self as gemini, answer, count_request, model_id, Framing, GeminiStream,
};
use crate::upstream::copilot::from_upstream;

fn parse_object(text: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid("request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// `:generateContent` and `:streamGenerateContent` (`alt=sse`, else one JSON array).
pub async fn generate(
    model: &str,
    stream: bool,
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let framing = match req.query_param("alt").as_deref() {
        Some("sse") => Framing::Sse,
        _ => Framing::JsonArray,
    };
    let text = read_body(&req).await?;
    let size = text.len();
    let body = parse_object(&text)?;
    drop(text);
    let (messages, reply) = gemini::request(body, model_id(model), stream)?;
    let payload = crate::json_write::object_to_string(&messages, size + size / 8);
    drop(messages);
    let resp = serve_text(Api::Messages, false, payload, None, env, ctx, meter).await?;
    let mut resp = match (200..300).contains(&resp.status_code()) {
        true => resp,
        false => return Ok(failure(resp).await),
    };
    let event_stream = resp
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    if !event_stream {
        // A whole Messages answer (also what a stream request gets when Copilot answered
        // one in a piece).
        let text = crate::upstream::client::text(&mut resp).await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| ApiError::new(ErrorKind::BadGateway, "the answer could not be read"))?;
        let whole = answer(&v, reply);
        if !stream {
            return Ok(json(200, &whole));
        }
        let mut gem = GeminiStream::new(framing, reply);
        let bytes = gem.whole(&whole);
        return Ok(with_type(Response::from_bytes(bytes), gem.content_type()));
    }
    // The Messages front door's own stream (not a byte stream: read without BYOB).
    let chunks = resp
        .stream()
        .map_err(|_| ApiError::new(ErrorKind::BadGateway, "the stream had no body"))?;
    let gem = GeminiStream::new(framing, reply);
    let content_type = gem.content_type();
    let out = futures::stream::unfold(Some((chunks, gem)), |state| async move {
        let (mut chunks, mut gem) = state?;
        loop {
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    let bytes = gem.feed(&chunk);
                    if !bytes.is_empty() {
                        return Some((Ok::<_, worker::Error>(bytes), Some((chunks, gem))));
                    }
                }
                Some(Err(_)) => {
                    let bytes = gem.fail("the stream failed");
                    return Some((Ok(bytes), None));
                }
                None => return Some((Ok(gem.finish()), None)),
            }
        }
    });
    let resp = Response::from_stream(out)
        .map_err(|e| ApiError::new(ErrorKind::Api, format!("could not start the stream: {e}")))?;
    Ok(with_type(Ok(resp), content_type))
}

fn with_type(resp: worker::Result<Response>, content_type: &str) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", content_type);
    let _ = headers.set("cache-control", "no-cache");
    let _ = headers.set("x-accel-buffering", "no");
    match resp {
        Ok(r) => r.with_headers(headers),
        Err(e) => super::error(
            ApiFormat::Google,
            &ApiError::new(ErrorKind::Api, format!("could not answer: {e}")),
        ),
    }
}

/// A failure of the Messages front door (in Anthropic's shape) in Google's.
async fn failure(mut resp: Response) -> Response {
    let status = resp.status_code();
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    let text = crate::upstream::client::text(&mut resp)
        .await
        .unwrap_or_default();
    let e = from_upstream(ApiFormat::Google, status, &text);
    let mut r = json_text(e.status, e.render(ApiFormat::Google));
    if let Some(ra) = retry_after {
        let _ = r.headers_mut().set("retry-after", &ra);
    }
    r
}

/// `:countTokens`.
pub async fn count_tokens(
    model: &str,
    req: Incoming,
    env: &Env,
    ctx: &Context,
    meter: &mut Meter,
) -> Result<Response, ApiError> {
    let text = read_body(&req).await?;
    let body = parse_object(&text)?;
    let messages = count_request(body, model_id(model))?;
    let payload = crate::json_write::object_to_string(&messages, text.len());
    let n = count_text(&payload, None, env, ctx, meter).await?;
    Ok(json(200, &serde_json::json!({ "totalTokens": n })))
}

/// `GET /v1beta/models`: the Copilot catalog (and the admin's aliases) in Google's shape.
pub async fn models(env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    let described = described_models(env, ctx).await?;
    Ok(json(200, &gemini::model_list(&described)))
}

/// `GET /v1beta/models/{model}`: a catalog model or an alias, as the list shows it.
pub async fn model(name: &str, env: &Env, ctx: &Context) -> Result<Response, ApiError> {
    let described = described_models(env, ctx).await?;
    let id = model_id(name);
    let found = described["data"]
        .as_array()
        .and_then(|d| d.iter().find(|m| m["id"] == id));
    match found {
        Some(m) => Ok(json(200, &gemini::model(m))),
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("model {id:?} is not in the catalog"),
        )),
    }
}
