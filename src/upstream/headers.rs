//! Outgoing headers, built from scratch for every call. Client headers are never
//! forwarded: Copilot rejects OpenAI SDK headers (`x-stainless-*`, `openai-organization`)
//! and a client header could smuggle a credential upstream.

// The VS Code Copilot Chat identity Copilot expects: the one place to update when
// Copilot answers 466 ("the specified API version is no longer supported").
// Last checked 2026-12-03 against the values current peers send (Floway's
// provider-copilot auth, taken from caozhiyuan/copilot-api, who follow each VS Code
// Copilot Chat release). Since 2026-02-11 Copilot refuses old values with HTTP 466.

/// Date the identity below was last checked against a current VS Code Copilot Chat.
pub const IDENTITY_CHECKED: &str = "2026-12-03";
/// VS Code release (`editor-version`).
pub const EDITOR_VERSION: &str = "vscode/1.124.2";
/// Copilot Chat extension release (`editor-plugin-version`).
pub const EDITOR_PLUGIN_VERSION: &str = "copilot-chat/0.52.0";
/// The extension's user agent: its name and the same release as the plugin version.
pub const USER_AGENT: &str = "GitHubCopilotChat/0.52.0";
/// `X-GitHub-Api-Version` on the Copilot data plane (api.*githubcopilot.com).
pub const COPILOT_API_VERSION: &str = "2026-06-01";
/// `X-GitHub-Api-Version` on GitHub's REST API (token exchange, `/copilot_internal/user`).
pub const GITHUB_API_VERSION: &str = "2025-04-01";
pub const INTEGRATION_ID: &str = "vscode-chat";

/// The identity as an admin reads it in an error message.
pub fn identity_summary() -> String {
    format!(
        "editor-version {EDITOR_VERSION}, editor-plugin-version {EDITOR_PLUGIN_VERSION}, \
         X-GitHub-Api-Version {COPILOT_API_VERSION} (last checked {IDENTITY_CHECKED})"
    )
}

/// Who started the turn: Copilot bills a fresh user prompt, not an agent's tool loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    User,
    Agent,
}

impl Initiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::User => "user",
            Initiator::Agent => "agent",
        }
    }
}

/// Per-call facts that shape Copilot headers.
#[derive(Clone, Default)]
pub struct CopilotCall<'a> {
    pub token: &'a str,
    pub request_id: &'a str,
    pub initiator: Option<Initiator>,
    pub vision: bool,
    /// Already filtered to what Copilot accepts; native Messages only.
    pub anthropic_beta: Option<&'a str>,
    pub has_body: bool,
}

impl std::fmt::Debug for CopilotCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopilotCall")
            .field("token", &"[redacted]")
            .field("request_id", &self.request_id)
            .field("initiator", &self.initiator)
            .field("vision", &self.vision)
            .field("anthropic_beta", &self.anthropic_beta)
            .field("has_body", &self.has_body)
            .finish()
    }
}

pub fn copilot_headers(c: &CopilotCall) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("authorization", format!("Bearer {}", c.token)),
        ("accept", "application/json, text/event-stream".to_string()),
        ("editor-version", EDITOR_VERSION.to_string()),
        ("editor-plugin-version", EDITOR_PLUGIN_VERSION.to_string()),
        ("user-agent", USER_AGENT.to_string()),
        ("x-github-api-version", COPILOT_API_VERSION.to_string()),
        ("copilot-integration-id", INTEGRATION_ID.to_string()),
        ("openai-intent", "conversation-agent".to_string()),
        ("x-interaction-type", "conversation-agent".to_string()),
        ("x-request-id", c.request_id.to_string()),
        // Workers do not inflate streamed bodies we pass through; ask for plain bytes.
        ("accept-encoding", "identity".to_string()),
    ];
    if c.has_body {
        h.push(("content-type", "application/json".to_string()));
    }
    if let Some(i) = c.initiator {
        h.push(("x-initiator", i.as_str().to_string()));
    }
    if c.vision {
        h.push(("copilot-vision-request", "true".to_string()));
    }
    if let Some(b) = c.anthropic_beta.filter(|b| !b.is_empty()) {
        h.push(("anthropic-beta", b.to_string()));
    }
    h
}

/// Headers for api.github.com calls made with a GitHub OAuth token.
pub fn github_api_headers(github_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("token {github_token}")),
        ("accept", "application/json".to_string()),
        ("editor-version", EDITOR_VERSION.to_string()),
        ("editor-plugin-version", EDITOR_PLUGIN_VERSION.to_string()),
        ("user-agent", USER_AGENT.to_string()),
        ("x-github-api-version", GITHUB_API_VERSION.to_string()),
    ]
}

/// Headers for the device flow on github.com (no token yet).
pub fn github_oauth_headers() -> Vec<(&'static str, String)> {
    vec![
        ("accept", "application/json".to_string()),
        ("content-type", "application/json".to_string()),
        ("user-agent", USER_AGENT.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a [(&'static str, String)], k: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn copilot_headers_minimal() {
        let h = copilot_headers(&CopilotCall {
            token: "tok",
            request_id: "rid",
            ..Default::default()
        });
        assert_eq!(get(&h, "authorization"), Some("Bearer tok"));
        let call = CopilotCall {
            token: "tid=secret",
            ..Default::default()
        };
        assert!(!format!("{call:?}").contains("tid=secret"));
        assert_eq!(get(&h, "copilot-integration-id"), Some("vscode-chat"));
        assert_eq!(get(&h, "x-request-id"), Some("rid"));
        assert!(get(&h, "editor-version").unwrap().starts_with("vscode/"));
        assert_eq!(get(&h, "x-initiator"), None);
        assert_eq!(get(&h, "copilot-vision-request"), None);
        assert_eq!(get(&h, "anthropic-beta"), None);
        assert_eq!(get(&h, "content-type"), None);
        // Every name is lower-case and unique.
        for (i, (k, _)) in h.iter().enumerate() {
            assert_eq!(*k, k.to_ascii_lowercase());
            assert!(h[i + 1..].iter().all(|(o, _)| o != k));
        }
    }

    #[test]
    fn copilot_headers_optional_parts() {
        let h = copilot_headers(&CopilotCall {
            token: "t",
            request_id: "r",
            initiator: Some(Initiator::Agent),
            vision: true,
            anthropic_beta: Some("interleaved-thinking-2025-05-14"),
            has_body: true,
        });
        assert_eq!(get(&h, "x-initiator"), Some("agent"));
        assert_eq!(get(&h, "copilot-vision-request"), Some("true"));
        assert_eq!(
            get(&h, "anthropic-beta"),
            Some("interleaved-thinking-2025-05-14")
        );
        assert_eq!(get(&h, "content-type"), Some("application/json"));
        let empty_beta = copilot_headers(&CopilotCall {
            anthropic_beta: Some(""),
            ..Default::default()
        });
        assert_eq!(get(&empty_beta, "anthropic-beta"), None);
    }

    #[test]
    fn the_identity_is_todays_and_consistent() {
        // The user agent names the same extension release as the plugin version.
        assert_eq!(
            USER_AGENT.strip_prefix("GitHubCopilotChat/"),
            EDITOR_PLUGIN_VERSION.strip_prefix("copilot-chat/")
        );
        // Dates sort as text: the data plane's version is the one current peers send.
        assert!(COPILOT_API_VERSION >= "2026-06-01", "{COPILOT_API_VERSION}");
        assert!(crate::timestamp::parse_iso8601(IDENTITY_CHECKED).is_some());
        let h = copilot_headers(&CopilotCall::default());
        assert_eq!(get(&h, "editor-version"), Some("vscode/1.124.2"));
        assert_eq!(
            get(&h, "editor-plugin-version"),
            Some("copilot-chat/0.52.0")
        );
        assert_eq!(get(&h, "user-agent"), Some("GitHubCopilotChat/0.52.0"));
        assert_eq!(get(&h, "x-github-api-version"), Some("2026-06-01"));
        assert_eq!(
            get(&github_api_headers("t"), "x-github-api-version"),
            Some("2025-04-01")
        );
        let summary = identity_summary();
        assert!(summary.contains(EDITOR_VERSION) && summary.contains(IDENTITY_CHECKED));
    }

    #[test]
    fn github_headers() {
        let h = github_api_headers("gho_x");
        assert_eq!(get(&h, "authorization"), Some("token gho_x"));
        assert!(get(&h, "user-agent").is_some());
        assert_eq!(get(&github_oauth_headers(), "authorization"), None);
    }
}
