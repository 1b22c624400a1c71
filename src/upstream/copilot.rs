//! Copilot: the short-lived API token minted from a GitHub token, the API host, and
//! requests to the Copilot API.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::github::AccountType;
use super::headers::{copilot_headers, github_api_headers, CopilotCall};
use super::{HttpRequest, Method, UpstreamConfig};
use crate::protocol::error::{upstream_code, upstream_message, ApiError, ApiFormat, ErrorKind};
use crate::secret::Secret;
use crate::token_crypto;

/// Refresh this long before `expires_at`, so a token never dies mid-request.
pub const REFRESH_MARGIN_SECS: u64 = 60;

pub fn token_request(cfg: &UpstreamConfig, github_token: &str) -> HttpRequest<'static> {
    HttpRequest {
        method: Method::Get,
        url: format!("{}/copilot_internal/v2/token", cfg.github_api_base),
        headers: github_api_headers(github_token),
        body: None,
    }
}

/// A Copilot API token as cached in KV and isolate memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopilotToken {
    pub token: Secret,
    /// Unix seconds.
    pub expires_at: u64,
    /// `endpoints.api` from the exchange, when GitHub sent one.
    pub api_base: Option<String>,
    /// Fingerprint of the GitHub token it was minted from: a re-connected account with a
    /// new GitHub token must not keep using the old account's Copilot token.
    pub github_fp: String,
}

impl CopilotToken {
    pub fn parse(body: &str, github_fp: &str) -> Result<CopilotToken, String> {
        let v: Value = serde_json::from_str(body)
            .map_err(|_| "token exchange answered with non-JSON".to_string())?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or("token exchange answer has no token")?;
        let expires_at = v
            .get("expires_at")
            .and_then(Value::as_u64)
            .ok_or("token exchange answer has no expires_at")?;
        Ok(CopilotToken {
            token: Secret::new(token),
            expires_at,
            api_base: v
                .pointer("/endpoints/api")
                .and_then(Value::as_str)
                .map(|s| s.trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty()),
            github_fp: github_fp.to_string(),
        })
    }

    pub fn usable_at(&self, now_secs: u64, github_fp: &str) -> bool {
        self.github_fp == github_fp && self.expires_at > now_secs + REFRESH_MARGIN_SECS
    }
}

/// The Copilot API host: the configured override, else the token's own endpoint, else the
/// account type's default.
pub fn api_base(cfg: &UpstreamConfig, token: &CopilotToken, account: AccountType) -> String {
    if let Some(b) = &cfg.copilot_api_base {
        return b.clone();
    }
    if let Some(b) = &token.api_base {
        return b.clone();
    }
    match account {
        AccountType::Individual => "https://api.githubcopilot.com",
        AccountType::Business => "https://api.business.githubcopilot.com",
        AccountType::Enterprise => "https://api.enterprise.githubcopilot.com",
    }
    .to_string()
}

/// A failed token exchange as the caller sees it.
pub fn exchange_error(status: u16, body: &str, login: &str) -> ApiError {
    match status {
        401 => ApiError::new(
            ErrorKind::Authentication,
            format!(
                "GitHub rejected the token of the connected account '{login}' (revoked or expired). \
                 An admin must reconnect it on the admin page."
            ),
        )
        .with_code("github_token_invalid"),
        403 | 404 => ApiError::new(
            ErrorKind::Permission,
            format!("GitHub account '{login}' has no Copilot access: {}", upstream_message(body)),
        )
        .with_code("no_copilot_access"),
        _ => ApiError::new(
            ErrorKind::BadGateway,
            format!("GitHub's Copilot token exchange failed ({status}): {}", upstream_message(body)),
        ),
    }
}

/// A token exchange failure no retry fixes: GitHub revoked the token (401), the account
/// lost Copilot (403), or its stored token cannot be read (a missing or other
/// TOKEN_ENCRYPTION_KEY). The next account serves; a 5xx or a network error is passing.
pub fn account_lost(e: &ApiError) -> bool {
    e.status == 401 || e.status == 403 || e.code.as_deref() == Some(token_crypto::UNREADABLE_CODE)
}

/// A plan host (`api.business.githubcopilot.com`, …) refusing a token minted for another
/// plan: the token's own `endpoints.api` names the right host.
pub const MISDIRECTED: u16 = 421;

/// Copilot's status for a client identity it no longer supports (an old
/// `X-GitHub-Api-Version` or editor release): "the specified API version is no longer
/// supported".
pub const CLIENT_OUTDATED: u16 = 466;

/// The error a 466 becomes: the gateway's own identity is at fault, not the caller's
/// request nor the account, so a 502 that says what an admin must update, and that SDKs
/// must not retry (every retry, and every other account, gets the same answer).
pub fn client_outdated(body: &str) -> ApiError {
    ApiError::new(
        ErrorKind::BadGateway,
        format!(
            "The gateway's Copilot client identity is outdated: Copilot refused it with HTTP 466 \
             ({}). An admin must update the identity in src/upstream/headers.rs (now {}) to a \
             current VS Code Copilot Chat release and redeploy.",
            upstream_message(body).trim_end(),
            super::headers::identity_summary()
        ),
    )
    .with_code("copilot_client_outdated")
    .final_answer()
}

/// Copilot answers that move a request to the next enabled account: rate limited (429),
/// out of quota (402), failing (5xx).
pub fn worth_another_account(status: u16) -> bool {
    status == 429 || status == 402 || status >= 500
}

/// A Copilot API request. `path` starts with '/'.
pub fn request<'a>(
    base: &str,
    path: &str,
    call: &CopilotCall,
    body: Option<&'a str>,
) -> HttpRequest<'a> {
    HttpRequest {
        method: if body.is_some() {
            Method::Post
        } else {
            Method::Get
        },
        url: format!("{base}{path}"),
        headers: copilot_headers(&CopilotCall {
            has_body: body.is_some(),
            ..call.clone()
        }),
        body: body.map(Cow::Borrowed),
    }
}

/// An upstream error answer as an error for a client of `format`: status kept, message
/// extracted. A context-window overflow becomes Anthropic's "prompt is too long" 400 for
/// Messages clients: that exact error is what makes Claude Code compact the conversation.
pub fn from_upstream(format: ApiFormat, status: u16, body: &str) -> ApiError {
    if format == ApiFormat::Anthropic && is_context_overflow(body) {
        return ApiError::invalid(
            "prompt is too long: your prompt is too long. Please reduce the number of messages \
             or use a model with a larger context window.",
        );
    }
    if status == CLIENT_OUTDATED {
        return client_outdated(body);
    }
    if status == MISDIRECTED {
        // Still refused after a fresh token. Passed on, a 421 would tell the client that
        // the gateway is the wrong host (Node's fetch drops the connection).
        return ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "Copilot's API host refused the account's token even after a fresh one (421): {}",
                upstream_message(body).trim_end()
            ),
        );
    }
    if status == 401 {
        // Copilot refused a token the gateway had just minted: not the caller's key at fault.
        return ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "Copilot rejected the gateway's credentials: {}",
                upstream_message(body)
            ),
        );
    }
    let mut e =
        ApiError::new(ErrorKind::from_status(status), upstream_message(body)).with_status(status);
    e.code = upstream_code(body).filter(|_| format != ApiFormat::Anthropic);
    e
}

fn is_context_overflow(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("context_length_exceeded")
        || b.contains("too large for model context window")
        || b.contains("prompt is too long")
        || b.contains("exceeds the context window")
        || b.contains("maximum context length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCHANGE: &str = r#"{"token":"tid=abc;exp=1800000000;sku=x","expires_at":1800000000,"refresh_in":1500,
        "endpoints":{"api":"https://api.individual.githubcopilot.com/","proxy":"https://proxy"}}"#;

    #[test]
    fn parses_exchange() {
        let t = CopilotToken::parse(EXCHANGE, "fp").unwrap();
        assert_eq!(t.token.expose(), "tid=abc;exp=1800000000;sku=x");
        assert!(!format!("{t:?}").contains("tid=abc"));
        assert_eq!(t.expires_at, 1_800_000_000);
        assert_eq!(
            t.api_base.as_deref(),
            Some("https://api.individual.githubcopilot.com")
        );
        assert!(CopilotToken::parse(r#"{"message":"Not Found"}"#, "fp").is_err());
        assert!(CopilotToken::parse("", "fp").is_err());
    }

    #[test]
    fn usable_until_the_margin() {
        let t = CopilotToken::parse(EXCHANGE, "fp").unwrap();
        assert!(t.usable_at(1_800_000_000 - 61, "fp"));
        assert!(!t.usable_at(1_800_000_000 - 60, "fp"));
        assert!(!t.usable_at(1_700_000_000, "other-github-token"));
    }

    #[test]
    fn base_url_precedence() {
        let t = CopilotToken::parse(EXCHANGE, "fp").unwrap();
        let none = UpstreamConfig::new(None, None, None);
        assert_eq!(
            api_base(&none, &t, AccountType::Business),
            "https://api.individual.githubcopilot.com"
        );
        let bare = CopilotToken {
            api_base: None,
            ..t.clone()
        };
        assert_eq!(
            api_base(&none, &bare, AccountType::Business),
            "https://api.business.githubcopilot.com"
        );
        assert_eq!(
            api_base(&none, &bare, AccountType::Enterprise),
            "https://api.enterprise.githubcopilot.com"
        );
        assert_eq!(
            api_base(&none, &bare, AccountType::Individual),
            "https://api.githubcopilot.com"
        );
        let forced = UpstreamConfig::new(None, None, Some("http://127.0.0.1:1/copilot"));
        assert_eq!(
            api_base(&forced, &t, AccountType::Individual),
            "http://127.0.0.1:1/copilot"
        );
    }

    #[test]
    fn lost_accounts_are_told_from_passing_failures() {
        let revoked = exchange_error(401, r#"{"message":"Bad credentials"}"#, "octocat");
        assert!(account_lost(&revoked));
        assert_eq!(revoked.status, 401);
        assert_eq!(revoked.code.as_deref(), Some("github_token_invalid"));
        assert!(revoked.message.contains("'octocat'") && revoked.message.contains("reconnect"));
        let no_copilot = exchange_error(404, r#"{"message":"Not Found"}"#, "monalisa");
        assert!(account_lost(&no_copilot));
        assert_eq!(no_copilot.status, 403);
        for passing in [
            exchange_error(500, "oops", "octocat"),
            exchange_error(429, "slow down", "octocat"),
            ApiError::new(
                ErrorKind::BadGateway,
                "could not reach the upstream service",
            ),
        ] {
            assert!(!account_lost(&passing), "{}", passing.message);
        }
    }

    #[test]
    fn what_moves_a_request_to_another_account() {
        for s in [429, 402, 500, 502, 503, 529] {
            assert!(worth_another_account(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 413, 422] {
            assert!(!worth_another_account(s), "{s}");
        }
    }

    #[test]
    fn an_outdated_identity_names_what_to_update() {
        let body = r#"{"error":{"message":"bad request: the specified API version is no longer supported. You may need to update your client to a newer version.\n","type":"error"}}"#;
        for format in [ApiFormat::Anthropic, ApiFormat::OpenAi] {
            let e = from_upstream(format, CLIENT_OUTDATED, body);
            assert_eq!(e.status, 502);
            assert!(e.final_answer);
            assert_eq!(e.code.as_deref(), Some("copilot_client_outdated"));
            assert!(
                e.message.contains("client identity is outdated"),
                "{}",
                e.message
            );
            assert!(e.message.contains("no longer supported. You may need"));
            assert!(e
                .message
                .contains(crate::upstream::headers::COPILOT_API_VERSION));
            assert!(e.message.contains("src/upstream/headers.rs"));
            assert!(!e.message.contains("\n"));
        }
        assert!(!worth_another_account(CLIENT_OUTDATED));
        // A plan host that still refuses: a 502 naming it, never a 421 to the client.
        let e = from_upstream(
            ApiFormat::OpenAi,
            MISDIRECTED,
            "misdirected request: this token is not valid for api.business.githubcopilot.com\n",
        );
        assert_eq!(e.status, 502);
        assert!(e.message.contains("(421)") && e.message.ends_with(".githubcopilot.com"));
    }

    #[test]
    fn builds_requests() {
        let call = CopilotCall {
            token: "t",
            request_id: "r",
            ..Default::default()
        };
        let get = request("http://c", "/models", &call, None);
        assert_eq!(
            (get.method, get.url.as_str()),
            (Method::Get, "http://c/models")
        );
        assert_eq!(get.header("content-type"), None);
        let post = request("http://c", "/chat/completions", &call, Some("{}"));
        assert_eq!(post.method, Method::Post);
        assert_eq!(post.header("content-type"), Some("application/json"));
        assert_eq!(
            token_request(&UpstreamConfig::new(None, None, None), "g").url,
            "https://api.github.com/copilot_internal/v2/token"
        );
    }

    #[test]
    fn upstream_errors_keep_status_and_message() {
        let e = from_upstream(
            ApiFormat::OpenAi,
            429,
            r#"{"error":{"message":"slow down","code":"rate_limited"}}"#,
        );
        assert_eq!(
            (e.status, e.message.as_str(), e.code.as_deref()),
            (429, "slow down", Some("rate_limited"))
        );
        assert_eq!(
            from_upstream(ApiFormat::OpenAi, 401, "unauthorized").status,
            502
        );
        let overflow = r#"{"error":{"message":"Request body is too large for model context window","code":"context_length_exceeded"}}"#;
        let e = from_upstream(ApiFormat::Anthropic, 413, overflow);
        assert_eq!(e.status, 400);
        assert_eq!(
            e.to_value(ApiFormat::Anthropic)["error"]["type"],
            "invalid_request_error"
        );
        assert!(e.message.starts_with("prompt is too long"));
        assert_eq!(
            from_upstream(ApiFormat::OpenAi, 400, overflow).message,
            "Request body is too large for model context window"
        );
    }
}
