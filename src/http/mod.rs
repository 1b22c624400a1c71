//! The HTTP shell: thin handlers that read requests, call the pure cores and the
//! upstream/store modules, and shape responses.

pub mod admin;
pub mod aliases;
pub mod copilot;
pub mod data_plane;
pub mod gemini;
pub mod incoming;
pub mod metering;
pub mod portability;
pub mod responses_socket;
pub mod search_admin;
pub mod search_loop;
pub mod session;
pub mod streaming;
pub mod timer;
pub mod web_search;

use serde_json::Value;
use worker::{Headers, Response};

use crate::protocol::error::{is_envelope_of, upstream_message, ApiError, ApiFormat};
use crate::upstream::client;
use crate::upstream::copilot::from_upstream;

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
    json_text(status, crate::json_write::to_string(v))
}

pub fn no_content() -> Response {
    Response::builder().with_status(204).empty()
}

pub fn error(format: ApiFormat, e: &ApiError) -> Response {
    let mut r = json_text(e.status, e.render(format));
    if let Some(ra) = &e.retry_after {
        let _ = r.headers_mut().set("retry-after", ra);
    }
    if e.final_answer {
        let _ = r.headers_mut().set("x-should-retry", "false");
    }
    r
}

/// A non-2xx answer from Copilot, in the caller's format: status, message and
/// `retry-after` kept; an envelope that already matches is forwarded byte for byte.
pub async fn upstream_failure(format: ApiFormat, mut resp: Response) -> Response {
    let status = resp.status_code();
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    let body = client::text(&mut resp).await.unwrap_or_default();
    let e = upstream_error(format, status, &body);
    let mut r = if e.status == status
        && e.message == upstream_message(&body)
        && is_envelope_of(&body, format)
    {
        json_text(status, body)
    } else {
        json_text(e.status, e.render(format))
    };
    if let Some(ra) = retry_after {
        let _ = r.headers_mut().set("retry-after", &ra);
    }
    if e.final_answer {
        let _ = r.headers_mut().set("x-should-retry", "false");
    }
    r
}

pub fn upstream_error(format: ApiFormat, status: u16, body: &str) -> ApiError {
    from_upstream(format, status, body)
}

/// Headers on every Worker answer. Control-plane JSON additionally may not be framed,
/// cached or read as anything but JSON.
pub fn security_headers(resp: &mut Response, format: ApiFormat) {
    let h = resp.headers_mut();
    let _ = h.set("x-content-type-options", "nosniff");
    let _ = h.set("referrer-policy", "no-referrer");
    if format == ApiFormat::Control {
        let _ = h.set(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        );
        let _ = h.set("x-frame-options", "DENY");
        let _ = h.set("cache-control", "no-store");
    }
}
