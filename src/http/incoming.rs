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

    /// A query parameter, percent-decoded (the first of that name).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.raw.url(), name)
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

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_found_and_decoded() {
        let url = "https://g.example/v1beta/models/m:streamGenerateContent?alt=sse&key=k%2Db+c#x";
        assert_eq!(query_param(url, "alt").as_deref(), Some("sse"));
        assert_eq!(query_param(url, "key").as_deref(), Some("k-b c"));
        assert_eq!(query_param(url, "nope"), None);
        assert_eq!(query_param("https://g.example/v1/models", "key"), None);
        assert_eq!(
            query_param("https://g.example/?key=%4", "key").as_deref(),
            Some("%4")
        );
        assert_eq!(
            query_param("https://g.example/?key", "key").as_deref(),
            Some("")
        );
    }
}
