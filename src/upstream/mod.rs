//! Everything the gateway says to GitHub and Copilot. Requests are built and answers
//! parsed by pure functions here; `client` (wasm only) is the one place that sends them,
//! and `crate::http::copilot` the request's session (account, token, catalog) around it.

pub mod copilot;
pub mod github;
pub mod headers;
pub mod limits;
pub mod probe;
pub mod quota_headers;
pub mod routing;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod body;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod client;

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An outgoing request as plain data. The body is borrowed where it can be, so a large
/// client body is not copied on its way out.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Cow<'a, str>>,
}

/// Headers that carry a credential (GitHub, Copilot, the search providers).
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-apikey", "x-subscription-token"];

/// Credentials in headers are redacted, and the body shown by its size only.
impl std::fmt::Debug for HttpRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c));
                (*k, if secret { "[redacted]" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl HttpRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Upstream base URLs (vars `GITHUB_BASE_URL`, `GITHUB_API_BASE_URL`, `COPILOT_API_BASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub github_base: String,
    pub github_api_base: String,
    /// None: use the token's `endpoints.api`, else the account type's default.
    pub copilot_api_base: Option<String>,
}

impl UpstreamConfig {
    pub fn new(github: Option<&str>, github_api: Option<&str>, copilot_api: Option<&str>) -> Self {
        let clean = |v: Option<&str>| {
            v.map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
        };
        UpstreamConfig {
            github_base: clean(github).unwrap_or_else(|| "https://github.com".into()),
            github_api_base: clean(github_api).unwrap_or_else(|| "https://api.github.com".into()),
            copilot_api_base: clean(copilot_api),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_credentials() {
        let r = HttpRequest {
            method: Method::Get,
            url: "https://api.github.com/user".into(),
            headers: vec![
                ("authorization", "token gho_secret".into()),
                ("accept", "x".into()),
            ],
            body: Some("{\"device_code\":\"d\"}".into()),
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("gho_secret") && !shown.contains("device_code"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]") && shown.contains("accept"));
    }

    #[test]
    fn config_defaults_and_trims() {
        let c = UpstreamConfig::new(None, Some(" http://127.0.0.1:9/api/ "), Some(""));
        assert_eq!(c.github_base, "https://github.com");
        assert_eq!(c.github_api_base, "http://127.0.0.1:9/api");
        assert_eq!(c.copilot_api_base, None);
    }
}
