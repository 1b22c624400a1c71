//! The client's request as workerd hands it over. `worker::Request` reads the request's
//! `cf` object when it is built (a JS object of a few dozen properties, built for the
//! call): about 0.2 ms of CPU per request under Miniflare, for a field the gateway never
//! uses. Data-plane requests are read through this instead; the control plane still
//! converts to a `worker::Request`.

use worker::js_sys::Uint8Array;
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{Headers, Method, Request};

pub struct Incoming {
    raw: web_sys::Request,
}

impl Incoming {
    pub fn new(raw: web_sys::Request) -> Incoming {
        Incoming { raw }
    }

    /// The same request (the admin app's playground reaches the data plane this way).
    pub fn of(req: &Request) -> Incoming {
        Incoming {
            raw: Clone::clone(req.inner()),
        }
    }

    pub fn path(&self) -> String {
        path_from_url(&self.raw.url())
    }

    pub fn url(&self) -> String {
        self.raw.url()
    }

    pub fn method(&self) -> Method {
        self.raw.method().into()
    }

    pub fn headers(&self) -> Headers {
        Headers(self.raw.headers())
    }

    /// The whole body (read once).
    pub async fn bytes(&self) -> Result<Vec<u8>, worker::Error> {
        let buffer = JsFuture::from(self.raw.array_buffer()?).await?;
        Ok(Uint8Array::new(&buffer).to_vec())
    }

    pub fn into_request(self) -> Request {
        Request::from(self.raw)
    }
}

/// The path of an already-serialized WHATWG URL, as `worker::Request::path` reads it.
fn path_from_url(url: &str) -> String {
    let host_start = match url.find("://") {
        Some(i) => i + 3,
        None => {
            return if url.starts_with('/') {
                url.to_string()
            } else {
                "/".to_string() + url
            };
        }
    };
    match url[host_start..].find('/') {
        Some(i) => {
            let path = &url[host_start + i..];
            path[..path.find(['?', '#']).unwrap_or(path.len())].to_string()
        }
        None => "/".to_string(),
    }
}
