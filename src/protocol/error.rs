//! Errors rendered in the caller's own API format.
//!
//! The Anthropic SDK, the OpenAI SDK and the admin app each parse a different error
//! envelope, so one error value renders three ways.

use serde_json::{json, Value};

/// Which envelope a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    /// `{"type":"error","error":{"type","message"}}` (/v1/messages*).
    Anthropic,
    /// `{"error":{"message","type","param","code"}}` (/v1/chat/completions, /v1/responses, ...).
    OpenAi,
    /// `{"error":{"message","type"}}` (/api/*, /auth/*).
    Control,
    /// `{"error":{"code","message","status"}}` (the Gemini API's routes).
    Google,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RequestTooLarge,
    UnsupportedMediaType,
    RateLimit,
    Api,
    BadGateway,
    Unavailable,
    Timeout,
    Overloaded,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RateLimit => 429,
            ErrorKind::Api => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::Unavailable => 503,
            ErrorKind::Timeout => 504,
            ErrorKind::Overloaded => 529,
        }
    }

    /// The kind an arbitrary upstream status maps to.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::RequestTooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            429 => ErrorKind::RateLimit,
            502 => ErrorKind::BadGateway,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::Timeout,
            529 => ErrorKind::Overloaded,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Api,
        }
    }

    /// Anthropic's `error.type` vocabulary.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::MethodNotAllowed
            | ErrorKind::Conflict
            | ErrorKind::UnsupportedMediaType => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Overloaded | ErrorKind::Unavailable => "overloaded_error",
            ErrorKind::Api | ErrorKind::BadGateway => "api_error",
        }
    }

    /// Google's `error.status` vocabulary (gRPC code names).
    fn google_status(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::MethodNotAllowed
            | ErrorKind::RequestTooLarge
            | ErrorKind::UnsupportedMediaType => "INVALID_ARGUMENT",
            ErrorKind::Authentication => "UNAUTHENTICATED",
            ErrorKind::Permission => "PERMISSION_DENIED",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Conflict => "ABORTED",
            ErrorKind::RateLimit => "RESOURCE_EXHAUSTED",
            ErrorKind::Api => "INTERNAL",
            ErrorKind::BadGateway | ErrorKind::Unavailable | ErrorKind::Overloaded => "UNAVAILABLE",
            ErrorKind::Timeout => "DEADLINE_EXCEEDED",
        }
    }

    /// OpenAI's `error.type` vocabulary.
    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::Conflict
            | ErrorKind::RequestTooLarge
            | ErrorKind::UnsupportedMediaType
            | ErrorKind::Authentication => "invalid_request_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Api
            | ErrorKind::BadGateway
            | ErrorKind::Unavailable
            | ErrorKind::Timeout
            | ErrorKind::Overloaded => "server_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
    /// Seconds, sent as `retry-after`.
    pub retry_after: Option<String>,
    /// Sent as `x-should-retry: false`: the OpenAI and Anthropic SDKs (and so Claude Code
    /// and Codex) then do not repeat a 5xx that no retry can fix.
    pub final_answer: bool,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status: kind.status(),
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
            final_answer: false,
        }
    }

    /// Marks an error that retrying cannot fix (see `final_answer`).
    pub fn final_answer(mut self) -> Self {
        self.final_answer = true;
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn to_value(&self, format: ApiFormat) -> Value {
        match format {
            ApiFormat::Anthropic => json!({
                "type": "error",
                "error": { "type": self.kind.anthropic_type(), "message": self.message },
            }),
            ApiFormat::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": self.param,
                    "code": self.code,
                },
            }),
            ApiFormat::Control => {
                let mut error =
                    json!({ "message": self.message, "type": self.kind.anthropic_type() });
                if let Some(code) = &self.code {
                    error["code"] = json!(code);
                }
                json!({ "error": error })
            }
            ApiFormat::Google => json!({
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "status": self.kind.google_status(),
                },
            }),
        }
    }

    pub fn render(&self, format: ApiFormat) -> String {
        self.to_value(format).to_string()
    }
}

/// Pulls a human message out of an upstream error body of any of the shapes Copilot
/// and GitHub use, falling back to the (truncated) text itself.
pub fn upstream_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let candidates = [
            v.pointer("/error/message"),
            v.get("message"),
            v.get("error_description"),
            v.get("error").filter(|e| e.is_string()),
            v.get("detail"),
        ];
        for c in candidates.into_iter().flatten() {
            if let Some(s) = c.as_str() {
                if !s.is_empty() {
                    return s.to_string();
                }
            }
        }
    }
    let text = body.trim();
    if text.is_empty() {
        return "empty response body".to_string();
    }
    let mut end = text.len().min(500);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Pulls the machine-readable code out of an upstream error body, when there is one.
pub fn upstream_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let code = v
        .pointer("/error/code")
        .or_else(|| v.pointer("/error/type"))
        .or_else(|| v.get("code"))?;
    code.as_str().map(str::to_string)
}

/// True when `body` already is a well-formed error envelope of `format`, so it can be
/// forwarded byte for byte.
pub fn is_envelope_of(body: &str, format: ApiFormat) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    match format {
        ApiFormat::Anthropic => {
            v.get("type").and_then(Value::as_str) == Some("error")
                && v.pointer("/error/message").is_some_and(Value::is_string)
        }
        ApiFormat::OpenAi | ApiFormat::Control => {
            v.pointer("/error/message").is_some_and(Value::is_string)
        }
        ApiFormat::Google => {
            v.pointer("/error/message").is_some_and(Value::is_string)
                && v.pointer("/error/status").is_some_and(Value::is_string)
        }
    }
}

pub const MALFORMED: &str = "Copilot sent a malformed event; the stream was stopped";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_envelope() {
        let e = ApiError::new(ErrorKind::NotFound, "no such model")
            .with_param("model")
            .with_code("model_not_found");
        assert_eq!(e.status, 404);
        assert_eq!(
            e.to_value(ApiFormat::Anthropic),
            json!({"type":"error","error":{"type":"not_found_error","message":"no such model"}})
        );
        assert_eq!(
            e.to_value(ApiFormat::OpenAi),
            json!({"error":{"message":"no such model","type":"invalid_request_error","param":"model","code":"model_not_found"}})
        );
        assert_eq!(
            e.to_value(ApiFormat::Control),
            json!({"error":{"message":"no such model","type":"not_found_error","code":"model_not_found"}})
        );
        assert_eq!(
            e.to_value(ApiFormat::Google),
            json!({"error":{"code":404,"message":"no such model","status":"NOT_FOUND"}})
        );
        for (status, name) in [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ] {
            let v = ApiError::new(ErrorKind::from_status(status), "x").to_value(ApiFormat::Google);
            assert_eq!(
                (v["error"]["code"].as_u64(), v["error"]["status"].as_str()),
                (Some(status as u64), Some(name))
            );
        }
        let google = r#"{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}}"#;
        assert!(is_envelope_of(google, ApiFormat::Google));
        assert!(!is_envelope_of(
            r#"{"error":{"message":"m"}}"#,
            ApiFormat::Google
        ));
    }

    #[test]
    fn openai_envelope_keeps_null_param_and_code() {
        let v = ApiError::invalid("bad").to_value(ApiFormat::OpenAi);
        assert_eq!(v["error"]["param"], Value::Null);
        assert_eq!(v["error"]["code"], Value::Null);
    }

    #[test]
    fn status_mapping_round_trips() {
        for s in [400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 529] {
            assert_eq!(ErrorKind::from_status(s).status(), s);
        }
        assert_eq!(ErrorKind::from_status(422), ErrorKind::InvalidRequest);
        assert_eq!(ErrorKind::from_status(599), ErrorKind::Api);
    }

    #[test]
    fn extracts_upstream_messages() {
        assert_eq!(
            upstream_message(r#"{"error":{"message":"boom","code":"x"}}"#),
            "boom"
        );
        assert_eq!(
            upstream_message(r#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(
            upstream_message("unauthorized: token expired\n"),
            "unauthorized: token expired"
        );
        assert_eq!(upstream_message(""), "empty response body");
        let long = "é".repeat(400);
        assert!(upstream_message(&long).len() <= 500);
        assert_eq!(
            upstream_code(r#"{"error":{"message":"m","code":"unsupported_api_for_model"}}"#)
                .as_deref(),
            Some("unsupported_api_for_model")
        );
    }

    #[test]
    fn recognises_envelopes() {
        let anthropic =
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"x"}}"#;
        assert!(is_envelope_of(anthropic, ApiFormat::Anthropic));
        assert!(is_envelope_of(anthropic, ApiFormat::OpenAi));
        assert!(!is_envelope_of(
            r#"{"error":{"message":"x"}}"#,
            ApiFormat::Anthropic
        ));
        assert!(!is_envelope_of("nope", ApiFormat::OpenAi));
    }
}
