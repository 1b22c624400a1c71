//! Web search for agents. Copilot has no hosted web search, so when a client offers its
//! model a server-side search tool (Anthropic's `web_search_2025…`, OpenAI's `web_search`),
//! the gateway offers the model a plain function tool instead, runs the searches the model
//! asks for with a configured provider, and answers in the client's own shapes.
//!
//! This module is pure: the shapes every part shares (what a search asks, what it
//! found, how it failed), the provider requests and answers (`provider`), and the loop's
//! state machines per client API. The shell runs the provider calls and upstream turns.

pub mod provider;

use serde::{Deserialize, Serialize};

/// The providers an admin can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Tavily,
    MicrosoftGrounding,
    Brave,
    Searxng,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Tavily => "tavily",
            ProviderKind::MicrosoftGrounding => "microsoft-grounding",
            ProviderKind::Brave => "brave",
            ProviderKind::Searxng => "searxng",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        Some(match s {
            "tavily" => ProviderKind::Tavily,
            "microsoft-grounding" => ProviderKind::MicrosoftGrounding,
            "brave" => ProviderKind::Brave,
            "searxng" => ProviderKind::Searxng,
            _ => return None,
        })
    }
}

/// Where the searching user is, as the client gave it (Anthropic's `user_location`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLocation {
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub timezone: Option<String>,
}

/// One search the model asked for, with the limits the client's tool definition set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: String,
    /// Only results from these domains (and their subdomains).
    pub allowed_domains: Vec<String>,
    /// Never results from these domains.
    pub blocked_domains: Vec<String>,
    pub user_location: Option<UserLocation>,
    /// How many results to ask for.
    pub max_results: usize,
}

/// One result, as every provider's answer is normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub url: String,
    pub title: String,
    /// The page text the provider returned (a snippet or passage), what the model reads.
    pub content: String,
    /// When the page was published or last updated, as the provider said it.
    pub page_age: Option<String>,
}

/// Why a search gave no results, in the codes Anthropic's `web_search_tool_result_error`
/// uses (`max_uses_exceeded` is decided by the loop, not by a provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchErrorCode {
    TooManyRequests,
    InvalidToolInput,
    MaxUsesExceeded,
    QueryTooLong,
    RequestTooLarge,
    Unavailable,
}

impl SearchErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchErrorCode::TooManyRequests => "too_many_requests",
            SearchErrorCode::InvalidToolInput => "invalid_tool_input",
            SearchErrorCode::MaxUsesExceeded => "max_uses_exceeded",
            SearchErrorCode::QueryTooLong => "query_too_long",
            SearchErrorCode::RequestTooLarge => "request_too_large",
            SearchErrorCode::Unavailable => "unavailable",
        }
    }
}

/// A failed search: the code for the client, and a message for the model (and the
/// admin's test), which never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFailure {
    pub code: SearchErrorCode,
    pub message: String,
}

impl SearchFailure {
    pub fn new(code: SearchErrorCode, message: impl Into<String>) -> SearchFailure {
        SearchFailure {
            code,
            message: message.into(),
        }
    }

    /// No provider is configured: the model is told, so it can tell the user.
    pub fn not_configured() -> SearchFailure {
        SearchFailure::new(
            SearchErrorCode::Unavailable,
            "Web search is not configured on this gateway: an admin must choose a search \
             provider on the admin page (Search) before searches can run.",
        )
    }
}

/// Queries longer than this are refused before any provider call (as Anthropic does).
pub const MAX_QUERY_CHARS: usize = 1000;
