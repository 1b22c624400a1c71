//! The routing plan: which Copilot API serves a request, from the API the client speaks
//! and what the model supports. Pure; the catalog, a cached probe or a name heuristic
//! supply the model's endpoints.

use serde_json::json;

use crate::models::Endpoints;
use crate::protocol::error::{upstream_code, upstream_message, ApiError};
use crate::protocol::Api;

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
/// answer says neither (throttled, failing, or an error shape not known here).
///
/// "Serves" is read only from an error about the probe's missing fields: that error comes
/// after the endpoint accepted the model. Any other 4xx proves nothing about the model.
pub fn classify_probe(status: u16, body: &str) -> Option<bool> {
    if (200..300).contains(&status) {
        return Some(true);
    }
    if status != 400 && status != 404 && status != 422 {
        return None;
    }
    let code = upstream_code(body).unwrap_or_default();
    let msg = upstream_message(body).to_ascii_lowercase();
    if refuses_model(&code, &msg) {
        Some(false)
    } else if wants_fields(&code, &msg) {
        Some(true)
    } else {
        None
    }
}

/// Copilot's "this model is not served here" answers: `unsupported_api_for_model` ("model
/// x is not accessible via the /responses endpoint"), `model_not_supported` ("The
/// requested model is not supported.").
fn refuses_model(code: &str, msg: &str) -> bool {
    const CODES: [&str; 3] = [
        "unsupported_api_for_model",
        "model_not_supported",
        "model_not_found",
    ];
    const MESSAGES: [&str; 4] = [
        "not accessible via",
        "not supported via",
        "does not support",
        "model is not supported",
    ];
    CODES.contains(&code) || MESSAGES.iter().any(|m| msg.contains(m))
}

/// The body's validation, past the model check: OpenAI-style "Missing required parameter:
/// 'messages'." (`missing_required_parameter`), Anthropic-style "max_tokens: Field
/// required", CAPI's schema check ("failed to validate schema … missing property"). A
/// header complaint is about the gateway, not the model.
fn wants_fields(code: &str, msg: &str) -> bool {
    const MESSAGES: [&str; 6] = [
        "field required",
        "missing required parameter",
        "is required",
        "is a required property",
        "missing property",
        "failed to validate schema",
    ];
    if msg.contains("header") {
        return false;
    }
    code == "missing_required_parameter" || MESSAGES.iter().any(|m| msg.contains(m))
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

    /// The mock's answers to `{"model": m}` (tests/mock/capi.mjs, chat.mjs, responses.mjs,
    /// messages.mjs) and shapes recorded from Copilot (../shared/reference).
    #[test]
    fn probe_classification() {
        let refused = [
            r#"{"error":{"message":"model gpt-3.5-turbo is not accessible via the /v1/messages endpoint","code":"unsupported_api_for_model","param":"model","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"model gpt-5.1-codex is not accessible via the /chat/completions endpoint","code":"unsupported_api_for_model","param":"model","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"The requested model is not supported.","code":"model_not_supported","param":"model","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"The requested model is not supported."}}"#,
            r#"{"error":{"message":"GPT 5.4 not accessible via the /chat/completions"}}"#,
            r#"{"error":{"message":"Model x does not support the /responses endpoint.","type":"invalid_request_error"}}"#,
        ];
        for body in refused {
            assert_eq!(classify_probe(400, body), Some(false), "{body}");
        }
        let served = [
            r#"{"error":{"message":"Missing required parameter: 'messages'.","code":"missing_required_parameter","param":"messages","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"Missing required parameter: 'input'.","code":"missing_required_parameter","param":"input","type":"invalid_request_error"}}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_1"}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: Field required"}}"#,
            r#"{"error":{"message":"invalid request body, failed to validate schema: (1) Reason: missing property 'messages', Location: /required.","code":"invalid_request_body"}}"#,
            r#"{"error":{"message":"'messages' is a required property"}}"#,
        ];
        for body in served {
            assert_eq!(classify_probe(400, body), Some(true), "{body}");
            assert_eq!(classify_probe(422, body), Some(true), "{body}");
        }
        let unclear = [
            (
                400,
                r#"{"error":{"message":"Bad request: something else"}}"#,
            ),
            (400, "bad request: missing Copilot-Integration-Id header\n"),
            (
                400,
                r#"{"error":{"message":"missing required Copilot-Vision-Request header for vision requests","code":"invalid_request_body"}}"#,
            ),
            (
                404,
                r#"{"error":{"message":"No route for POST /responses","type":"not_found","code":"not_found"}}"#,
            ),
            (400, ""),
            (403, "forbidden: unsupported User-Agent"),
            (
                429,
                r#"{"error":{"message":"rate limited","code":"rate_limited"}}"#,
            ),
            (500, "oops"),
            (503, "Service Unavailable"),
        ];
        for (status, body) in unclear {
            assert_eq!(classify_probe(status, body), None, "{status} {body}");
        }
        assert_eq!(classify_probe(200, "{}"), Some(true));
        assert_eq!(probe_body("m"), r#"{"model":"m"}"#);
    }
}
