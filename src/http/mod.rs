//! The HTTP shell: thin handlers that read requests, call the pure cores and the
//! upstream/store modules, and shape responses.

pub mod admin;
pub mod data_plane;

use futures::StreamExt;
use serde_json::Value;
use worker::{Headers, Response};

use crate::api_error::{is_envelope_of, upstream_message, ApiError, ApiFormat, ErrorKind};
use crate::relay::Relay;
use crate::upstream::client;
use crate::upstream::routing::Api;

fn headers(pairs: &[(&str, &str)]) -> Headers {
    let h = Headers::new();
    for (k, v) in pairs {
        // Names and values here are ours and valid; a failure would only drop a header.
        let _ = h.set(k, v);
    }
    h
}

pub fn json_text(status: u16, body: String) -> Response {
    Response::builder()
        .with_status(status)
        .with_headers(headers(&[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ]))
        .fixed(body.into_bytes())
}

pub fn json(status: u16, v: &Value) -> Response {
    json_text(status, v.to_string())
}

pub fn no_content() -> Response {
    Response::builder().with_status(204).empty()
}

pub fn error(format: ApiFormat, e: &ApiError) -> Response {
    let mut r = json_text(e.status, e.render(format));
    if let Some(ra) = &e.retry_after {
        let _ = r.headers_mut().set("retry-after", ra);
    }
    r
}

/// A non-2xx answer from Copilot, in the caller's format: status, message and
/// `retry-after` kept; an envelope that already matches is forwarded byte for byte.
pub async fn upstream_failure(format: ApiFormat, mut resp: Response) -> Response {
    let status = resp.status_code();
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    let body = client::text(&mut resp).await.unwrap_or_default();
    // Copilot refused a token we had just minted: not the caller's credential at fault.
    if status == 401 {
        let e = ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "Copilot rejected the gateway's credentials: {}",
                upstream_message(&body)
            ),
        );
        return error(format, &e);
    }
    let mut r = if is_envelope_of(&body, format) {
        json_text(status, body)
    } else {
        let e = ApiError::new(ErrorKind::from_status(status), upstream_message(&body))
            .with_status(status);
        json_text(status, e.render(format))
    };
    if let Some(ra) = retry_after {
        let _ = r.headers_mut().set("retry-after", &ra);
    }
    r
}

/// Streams a native-path SSE answer to the client chunk by chunk, through the relay's
/// per-API fixes.
pub fn relay_stream(api: Api, mut upstream: Response) -> Result<Response, ApiError> {
    let body = upstream.stream().map_err(|_| {
        ApiError::new(
            ErrorKind::BadGateway,
            "Copilot answered a stream request without a body",
        )
    })?;
    let out = futures::stream::unfold(Some((body, Relay::new(api))), |state| async move {
        let (mut body, mut relay) = state?;
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    let bytes = relay.feed(&chunk);
                    if !bytes.is_empty() {
                        return Some((Ok::<Vec<u8>, worker::Error>(bytes), Some((body, relay))));
                    }
                }
                Some(Err(e)) => {
                    worker::console_error!("upstream stream failed: {e}");
                    let bytes = relay.fail("the upstream connection failed mid-stream");
                    return Some((Ok(bytes), None));
                }
                None => {
                    let bytes = relay.finish();
                    return Some((Ok(bytes), None));
                }
            }
        }
    });
    let resp = Response::from_stream(out)
        .map_err(|e| ApiError::new(ErrorKind::Api, format!("could not start the stream: {e}")))?;
    Ok(resp.with_headers(headers(&[
        ("content-type", "text/event-stream; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("x-accel-buffering", "no"),
    ])))
}

/// A non-stream JSON answer, forwarded without re-parsing.
pub fn forward_json(upstream: Response) -> Response {
    let status = upstream.status_code();
    let (_, body) = upstream.into_parts();
    Response::builder()
        .with_status(status)
        .with_headers(headers(&[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ]))
        .body(body)
}
