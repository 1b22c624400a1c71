//! GitHub: the device flow, the user behind a token, and the Copilot plan.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::headers::{github_api_headers, github_oauth_headers};
use super::{HttpRequest, Method, UpstreamConfig};
use crate::secret::Secret;

/// The VS Code Copilot OAuth app: the only client id Copilot's token exchange accepts.
pub const CLIENT_ID: &str = "Iv1.b507a08c87ecfe98";
pub const SCOPE: &str = "read:user";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub fn device_code_request(cfg: &UpstreamConfig) -> HttpRequest<'static> {
    HttpRequest {
        method: Method::Post,
        url: format!("{}/login/device/code", cfg.github_base),
        headers: github_oauth_headers(),
        body: Some(
            json!({ "client_id": CLIENT_ID, "scope": SCOPE })
                .to_string()
                .into(),
        ),
    }
}

/// What the admin app needs to show the user; the device code itself is not a secret
/// without the user's approval, and the browser polls with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
}

pub fn parse_device_code(body: &str) -> Result<DeviceCode, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|_| "GitHub answered with non-JSON".to_string())?;
    if let Some(err) = v.get("error").and_then(Value::as_str) {
        let desc = v
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or(err);
        return Err(format!("GitHub refused the device flow: {desc}"));
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(DeviceCode {
        device_code: s("device_code").ok_or("GitHub's answer has no device_code")?,
        user_code: s("user_code").ok_or("GitHub's answer has no user_code")?,
        verification_uri: s("verification_uri")
            .unwrap_or_else(|| "https://github.com/login/device".into()),
        expires_in: v.get("expires_in").and_then(Value::as_u64).unwrap_or(900),
        interval: v.get("interval").and_then(Value::as_u64).unwrap_or(5),
    })
}

pub fn poll_request(cfg: &UpstreamConfig, device_code: &str) -> HttpRequest<'static> {
    HttpRequest {
        method: Method::Post,
        url: format!("{}/login/oauth/access_token", cfg.github_base),
        headers: github_oauth_headers(),
        body: Some(
            json!({ "client_id": CLIENT_ID, "device_code": device_code, "grant_type": DEVICE_GRANT })
                .to_string()
                .into(),
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    Pending { interval: Option<u64> },
    SlowDown { interval: Option<u64> },
    Authorized { access_token: Secret },
    Failed { error: String, message: String },
}

pub fn parse_poll(body: &str) -> PollOutcome {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return PollOutcome::Failed {
            error: "bad_response".into(),
            message: "GitHub answered the poll with non-JSON".into(),
        };
    };
    let interval = v.get("interval").and_then(Value::as_u64);
    if let Some(token) = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return PollOutcome::Authorized {
            access_token: Secret::new(token),
        };
    }
    match v.get("error").and_then(Value::as_str) {
        Some("authorization_pending") => PollOutcome::Pending { interval },
        Some("slow_down") => PollOutcome::SlowDown { interval },
        Some(err) => {
            let message = match err {
                "expired_token" => {
                    "The code expired before it was entered. Start again.".to_string()
                }
                "access_denied" => "Authorization was cancelled on GitHub.".to_string(),
                _ => v
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or(err)
                    .to_string(),
            };
            PollOutcome::Failed {
                error: err.to_string(),
                message,
            }
        }
        None => PollOutcome::Failed {
            error: "bad_response".into(),
            message: "GitHub's answer has neither a token nor an error".into(),
        },
    }
}

pub fn user_request(cfg: &UpstreamConfig, github_token: &str) -> HttpRequest<'static> {
    HttpRequest {
        method: Method::Get,
        url: format!("{}/user", cfg.github_api_base),
        headers: github_api_headers(github_token),
        body: None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubUser {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

pub fn parse_user(body: &str) -> Result<GitHubUser, String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| "GitHub /user answered with non-JSON".to_string())?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(GitHubUser {
        id: v
            .get("id")
            .and_then(Value::as_i64)
            .ok_or("GitHub /user has no id")?,
        login: s("login").ok_or("GitHub /user has no login")?,
        name: s("name"),
        avatar_url: s("avatar_url"),
    })
}

/// The account's Copilot plan picks the default API host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountType {
    #[default]
    Individual,
    Business,
    Enterprise,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Individual => "individual",
            AccountType::Business => "business",
            AccountType::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> AccountType {
        match s {
            "business" => AccountType::Business,
            "enterprise" => AccountType::Enterprise,
            _ => AccountType::Individual,
        }
    }
}

pub fn copilot_user_request(cfg: &UpstreamConfig, github_token: &str) -> HttpRequest<'static> {
    HttpRequest {
        method: Method::Get,
        url: format!("{}/copilot_internal/user", cfg.github_api_base),
        headers: github_api_headers(github_token),
        body: None,
    }
}

/// `copilot_plan` from `/copilot_internal/user`; anything unknown counts as individual.
pub fn parse_plan(body: &str) -> AccountType {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("copilot_plan")
                .and_then(Value::as_str)
                .map(AccountType::parse)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> UpstreamConfig {
        UpstreamConfig::new(Some("http://gh"), Some("http://api"), None)
    }

    #[test]
    fn device_flow_requests() {
        let r = device_code_request(&cfg());
        assert_eq!(r.url, "http://gh/login/device/code");
        assert_eq!(r.method, Method::Post);
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"client_id": CLIENT_ID, "scope": "read:user"}));
        assert_eq!(r.header("accept"), Some("application/json"));
        let p = poll_request(&cfg(), "dc");
        assert_eq!(p.url, "http://gh/login/oauth/access_token");
        let body: Value = serde_json::from_str(p.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["device_code"], "dc");
        assert_eq!(body["grant_type"], DEVICE_GRANT);
    }

    #[test]
    fn parses_device_code() {
        let d = parse_device_code(r#"{"device_code":"d","user_code":"AB-12","verification_uri":"https://github.com/login/device","expires_in":899,"interval":5}"#).unwrap();
        assert_eq!(d.user_code, "AB-12");
        assert_eq!(d.expires_in, 899);
        assert!(
            parse_device_code(r#"{"error":"unauthorized_client","error_description":"nope"}"#)
                .unwrap_err()
                .contains("nope")
        );
        assert!(parse_device_code("<html>").is_err());
    }

    #[test]
    fn poll_outcomes() {
        assert_eq!(
            parse_poll(r#"{"error":"authorization_pending","error_description":"wait"}"#),
            PollOutcome::Pending { interval: None }
        );
        assert_eq!(
            parse_poll(r#"{"error":"slow_down","interval":10}"#),
            PollOutcome::SlowDown { interval: Some(10) }
        );
        assert_eq!(
            parse_poll(r#"{"access_token":"gho_1","token_type":"bearer"}"#),
            PollOutcome::Authorized {
                access_token: Secret::new("gho_1")
            }
        );
        assert!(
            matches!(parse_poll(r#"{"error":"access_denied"}"#), PollOutcome::Failed { error, .. } if error == "access_denied")
        );
        assert!(matches!(parse_poll("nope"), PollOutcome::Failed { .. }));
        assert!(matches!(parse_poll("{}"), PollOutcome::Failed { .. }));
    }

    #[test]
    fn user_and_plan() {
        let u = parse_user(r#"{"login":"octocat","id":1001,"name":"","avatar_url":"https://a/1"}"#)
            .unwrap();
        assert_eq!(
            u,
            GitHubUser {
                id: 1001,
                login: "octocat".into(),
                name: None,
                avatar_url: Some("https://a/1".into())
            }
        );
        assert!(parse_user(r#"{"message":"Bad credentials"}"#).is_err());
        assert_eq!(
            parse_plan(r#"{"copilot_plan":"business"}"#),
            AccountType::Business
        );
        assert_eq!(
            parse_plan(r#"{"copilot_plan":"free"}"#),
            AccountType::Individual
        );
        assert_eq!(parse_plan("x"), AccountType::Individual);
        assert_eq!(
            user_request(&cfg(), "t").header("authorization"),
            Some("token t")
        );
        assert_eq!(
            copilot_user_request(&cfg(), "t").url,
            "http://api/copilot_internal/user"
        );
    }
}
