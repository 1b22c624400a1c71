//! Sends an `HttpRequest`: the one place the gateway talks to the network.

use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Fetch, Headers, Request, RequestInit, Response};

use super::{HttpRequest, Method};
use crate::protocol::error::{ApiError, ErrorKind};

pub async fn send(req: &HttpRequest<'_>) -> Result<Response, ApiError> {
    let fail = |what: &str, e: worker::Error| {
        // The URL carries no secret; headers (which do) are never logged.
        worker::console_error!("upstream {what} {}: {e}", req.url);
        ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "could not reach the upstream service ({}): {what} failed",
                host_of(&req.url)
            ),
        )
    };
    let headers = Headers::new();
    for (k, v) in &req.headers {
        headers.set(k, v).map_err(|e| fail("building headers", e))?;
    }
    let mut init = RequestInit::new();
    init.with_method(match req.method {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
    })
    .with_headers(headers);
    if let Some(body) = &req.body {
        // Bytes, not a JS string: a body can be a megabyte, and a string would be decoded
        // to UTF-16 here and encoded back to UTF-8 by the runtime.
        let bytes = worker::js_sys::Uint8Array::from(body.as_bytes());
        init.with_body(Some(JsValue::from(bytes)));
    }
    let request =
        Request::new_with_init(&req.url, &init).map_err(|e| fail("building the request", e))?;
    // If this future is dropped before the answer arrives (the client went away, or a
    // timeout won), the request is aborted instead of running on unobserved.
    let controller = AbortController::default();
    let signal = controller.signal();
    let guard = AbortOnDrop(Some(controller));
    let result = Fetch::Request(request).send_with_signal(&signal).await;
    guard.disarm();
    result.map_err(|e| fail("the request", e))
}

struct AbortOnDrop(Option<AbortController>);

impl AbortOnDrop {
    /// The answer arrived: its body stream now decides (it cancels itself when dropped).
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.abort();
        }
    }
}

/// Reads a whole (small) upstream body as text; a broken body is a 502.
pub async fn text(resp: &mut Response) -> Result<String, ApiError> {
    super::body::text(resp).await.map_err(|e| {
        worker::console_error!("upstream body read failed: {e}");
        ApiError::new(
            ErrorKind::BadGateway,
            "the upstream response body could not be read",
        )
    })
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}
