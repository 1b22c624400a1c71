//! The routing plan: which Copilot API serves a request, from the API the client speaks
//! and what the model supports. Pure; the catalog, a cached probe or a name heuristic
//! supply the model's endpoints.

use serde_json::json;

use crate::api_error::{upstream_code, upstream_message, ApiError};
use crate::models::Endpoints;

/// The three generation APIs, both as what clients speak and as Copilot targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Messages,
    Responses,
    ChatCompletions,
}

impl Api {
    /// The path the client called (for messages).
    pub fn client_path(self) -> &'static str {
        match self {
            Api::Messages => "/v1/messages",
            Api::Responses => "/v1/responses",
            Api::ChatCompletions => "/v1/chat/completions",
        }
    }

    /// Copilot's path for this API.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Api::Messages => "/v1/messages",
            Api::Responses => "/responses",
            Api::ChatCompletions => "/chat/completions",
        }
    }

    pub fn all() -> [Api; 3] {
        [Api::Messages, Api::Responses, Api::ChatCompletions]
    }
}

pub fn supports(e: Endpoints, api: Api) -> bool {
    match api {
        Api::Messages => e.messages,
        Api::Responses => e.responses,
        Api::ChatCompletions => e.chat,
    }
}

/// Targets in order of preference for each client API. Native first for Messages and
/// Responses; Chat prefers Anthropic's own API for Claude, which keeps thinking and tool
/// structure that Copilot's chat endpoint flattens.
pub fn preference(source: Api) -> [Api; 3] {
    match source {
        Api::Messages => [Api::Messages, Api::Responses, Api::ChatCompletions],
        Api::Responses => [Api::Responses, Api::Messages, Api::ChatCompletions],
        Api::ChatCompletions => [Api::Messages, Api::ChatCompletions, Api::Responses],
    }
}

/// Where a model's endpoints came from: the catalog, a probe, or the name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    Catalog,
    Probe,
    Heuristic,
}

/// Endpoints guessed from a model id when neither the catalog nor a probe knows.
pub fn guess_endpoints(model: &str) -> Endpoints {
    let m = model.to_ascii_lowercase();
    if m.starts_with("claude") {
        Endpoints {
            messages: true,
            responses: false,
            chat: true,
        }
    } else if m.contains("codex") {
        Endpoints {
            messages: false,
            responses: true,
            chat: false,
        }
    } else if m.starts_with("gpt-5")
        || m.starts_with("o1")
        || m.starts_with("o3")
        || m.starts_with("o4")
    {
        Endpoints {
            messages: false,
            responses: true,
            chat: true,
        }
    } else {
        Endpoints {
            messages: false,
            responses: false,
            chat: true,
        }
    }
}

/// Picks the target. `translatable(source, target)` says whether the gateway has the
/// translator pair; a native target always qualifies.
pub fn plan(
    source: Api,
    model: &str,
    endpoints: Endpoints,
    translatable: impl Fn(Api, Api) -> bool,
) -> Result<Api, ApiError> {
    let order = preference(source);
    if let Some(t) = order
        .iter()
        .copied()
        .find(|&t| supports(endpoints, t) && (t == source || translatable(source, t)))
    {
        return Ok(t);
    }
    let served: Vec<&str> = Api::all()
        .into_iter()
        .filter(|&t| supports(endpoints, t))
        .map(Api::upstream_path)
        .collect();
    let msg = if served.is_empty() {
        format!(
            "model '{model}' cannot serve {}: Copilot offers it on none of /v1/messages, /responses \
             or /chat/completions (it may be an embeddings model).",
            source.client_path()
        )
    } else {
        format!(
            "model '{model}' is served only through Copilot's {} API, and this gateway has no \
             translator from {} to it. Use a model that supports {} natively.",
            served.join(" and "),
            source.client_path(),
            source.upstream_path()
        )
    };
    Err(ApiError::invalid(msg)
        .with_param("model")
        .with_code("unsupported_api_for_model"))
}

/// A capability probe: a deliberately incomplete request. Copilot checks the model
/// against the endpoint before it validates the body, so the error says which it was
/// and no tokens are spent.
pub fn probe_body(model: &str) -> String {
    json!({ "model": model }).to_string()
}

/// Some(true) = the endpoint serves the model, Some(false) = it does not, None = the
/// answer says neither (try again later; do not cache).
pub fn classify_probe(status: u16, body: &str) -> Option<bool> {
    if (200..300).contains(&status) {
        return Some(true);
    }
    if status != 400 && status != 404 && status != 422 {
        return None;
    }
    let code = upstream_code(body).unwrap_or_default();
    let msg = upstream_message(body).to_ascii_lowercase();
    if code == "unsupported_api_for_model"
        || code == "model_not_supported"
        || msg.contains("not supported via")
        || msg.contains("not accessible via")
        || msg.contains("does not support")
    {
        Some(false)
    } else {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: Endpoints = Endpoints {
        messages: true,
        responses: false,
        chat: true,
    };
    const CODEX: Endpoints = Endpoints {
        messages: false,
        responses: true,
        chat: false,
    };
    const DUAL: Endpoints = Endpoints {
        messages: false,
        responses: true,
        chat: true,
    };
    const CHAT: Endpoints = Endpoints {
        messages: false,
        responses: false,
        chat: true,
    };
    const NONE: Endpoints = Endpoints {
        messages: false,
        responses: false,
        chat: false,
    };

    fn all(_: Api, _: Api) -> bool {
        true
    }
    fn no_translation(_: Api, _: Api) -> bool {
        false
    }

    #[test]
    fn preference_orders_with_every_translator() {
        use Api::*;
        let p = |s, e| plan(s, "m", e, all).unwrap();
        assert_eq!(p(Messages, CLAUDE), Messages);
        assert_eq!(p(Messages, CODEX), Responses);
        assert_eq!(p(Messages, DUAL), Responses);
        assert_eq!(p(Messages, CHAT), ChatCompletions);
        assert_eq!(p(Responses, DUAL), Responses);
        assert_eq!(p(Responses, CLAUDE), Messages);
        assert_eq!(p(Responses, CHAT), ChatCompletions);
        assert_eq!(p(ChatCompletions, CLAUDE), Messages);
        assert_eq!(p(ChatCompletions, DUAL), ChatCompletions);
        assert_eq!(p(ChatCompletions, CODEX), Responses);
    }

    #[test]
    fn native_path_when_translation_is_missing() {
        use Api::*;
        assert_eq!(
            plan(ChatCompletions, "m", CLAUDE, no_translation).unwrap(),
            ChatCompletions
        );
        let e = plan(ChatCompletions, "gpt-5.1-codex", CODEX, no_translation).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message.contains("only through Copilot's /responses API"),
            "{}",
            e.message
        );
        assert_eq!(e.code.as_deref(), Some("unsupported_api_for_model"));
    }

    #[test]
    fn model_with_no_generation_endpoint() {
        let e = plan(Api::Responses, "text-embedding-3-small", NONE, all).unwrap_err();
        assert!(e.message.contains("text-embedding-3-small"));
        assert!(e.message.contains("/v1/responses"));
    }

    #[test]
    fn heuristic_guesses() {
        assert_eq!(guess_endpoints("claude-3.5-sonnet"), CLAUDE);
        assert_eq!(guess_endpoints("gpt-5-codex"), CODEX);
        assert_eq!(guess_endpoints("gpt-5"), DUAL);
        assert_eq!(guess_endpoints("gpt-4o"), CHAT);
    }

    #[test]
    fn probe_classification() {
        assert_eq!(
            classify_probe(
                400,
                r#"{"error":{"message":"model x is not accessible via the /responses endpoint","code":"unsupported_api_for_model"}}"#
            ),
            Some(false)
        );
        assert_eq!(
            classify_probe(400, r#"{"error":{"message":"messages: Field required"}}"#),
            Some(true)
        );
        assert_eq!(classify_probe(200, "{}"), Some(true));
        assert_eq!(classify_probe(500, "oops"), None);
        assert_eq!(classify_probe(429, "slow down"), None);
        assert_eq!(probe_body("m"), r#"{"model":"m"}"#);
    }
}
