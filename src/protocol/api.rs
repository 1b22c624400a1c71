//! The three generation APIs the gateway speaks, as clients call them and as Copilot
//! serves them.

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

/// The `max_tokens` a Messages request gets when neither the client nor the catalog gives
/// one (the Messages API requires the field).
pub const DEFAULT_MAX_TOKENS: u64 = 8192;
