//! Web search for agents. Copilot has no hosted web search, so when a client offers its
//! model a server-side search tool (Anthropic's `web_search_2025…`, OpenAI's `web_search`),
//! the gateway offers the model a plain function tool instead, runs the searches the model
//! asks for with a configured provider, and answers in the client's own shapes.
//!
//! This module is pure: the shapes every part shares (what a search asks, what it
//! found, how it failed), the provider requests and answers (`provider`), and the loop's
//! state machines per client API. The shell runs the provider calls and upstream turns.

pub mod messages;
pub mod opaque;
pub mod provider;
pub mod responses;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// A failed search: the code for the client, a message for the model (and the admin's
/// test), which never carries a credential, and whether a provider was asked at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFailure {
    pub code: SearchErrorCode,
    pub message: String,
    /// False when the search was refused before any provider call (it counts in no
    /// `web_search_requests`).
    pub sent: bool,
}

impl SearchFailure {
    pub fn new(code: SearchErrorCode, message: impl Into<String>) -> SearchFailure {
        SearchFailure {
            code,
            message: message.into(),
            sent: true,
        }
    }

    /// The same failure, decided before any provider call.
    pub fn unsent(mut self) -> SearchFailure {
        self.sent = false;
        self
    }

    /// No provider is configured: the model is told, so it can tell the user.
    pub fn not_configured() -> SearchFailure {
        SearchFailure::new(
            SearchErrorCode::Unavailable,
            "Web search is not configured on this gateway: an admin must choose a search \
             provider on the admin page (Web search) before searches can run.",
        )
        .unsent()
    }
}

/// Whether a search counts as run (`web_search_requests`): the provider was asked.
pub fn was_run(outcome: &Result<Vec<SearchHit>, SearchFailure>) -> bool {
    outcome.as_ref().err().is_none_or(|f| f.sent)
}

/// The `query` of a search call's arguments (empty when there is none: planning refuses it).
pub fn query_of(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// A turn's search calls with their plans and outcomes, in order; `executed` counts those
/// that reached a provider.
pub fn settle<C>(
    calls: Vec<C>,
    planned: Vec<PlannedSearch>,
    outcomes: Vec<Result<Vec<SearchHit>, SearchFailure>>,
    executed: &mut u64,
) -> Vec<(C, PlannedSearch, Result<Vec<SearchHit>, SearchFailure>)> {
    let settled: Vec<_> = calls
        .into_iter()
        .zip(planned)
        .zip(outcomes)
        .map(|((c, p), o)| (c, p, o))
        .collect();
    *executed += settled
        .iter()
        .filter(|(_, p, o)| p.run.is_ok() && was_run(o))
        .count() as u64;
    settled
}

/// Queries longer than this are refused before any provider call (as Anthropic does).
pub const MAX_QUERY_CHARS: usize = 1000;

/// What the loops read of a client event before deciding whether it passes untouched:
/// its type and position (`index` in Messages, `output_index` and `sequence_number` in
/// Responses), read without building a `Value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peek {
    pub kind: Option<String>,
    pub index: Option<u64>,
    pub sequence_number: Option<u64>,
}

impl Peek {
    pub fn of(ev: &crate::translate::OutEvent) -> Option<Peek> {
        use crate::json_read::{once, Reader};
        use crate::translate::OutEvent;
        let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        match ev {
            OutEvent::Event { data, .. } => Some(Peek {
                kind: data
                    .get("type")
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                index: num(data, "index").or_else(|| num(data, "output_index")),
                sequence_number: num(data, "sequence_number"),
            }),
            OutEvent::Raw { data, .. } => {
                let mut r = Reader::new(data);
                let (mut kind, mut index, mut seq) = (None, None, None);
                r.object(|r, key| match key.as_ref() {
                    "type" => once(&mut kind, r.string().map(|s| s.into_owned())),
                    "index" | "output_index" => once(&mut index, r.u64()),
                    "sequence_number" => once(&mut seq, r.u64()),
                    _ => r.skip(),
                })?;
                Some(Peek {
                    kind,
                    index,
                    sequence_number: seq,
                })
            }
            OutEvent::Done => None,
        }
    }
}

/// The static name of a client event of `api` (None for names the loops do not know:
/// their data still says their type).
pub fn event_name(api: crate::protocol::Api, name: &str) -> Option<&'static str> {
    match api {
        crate::protocol::Api::Messages => messages::static_name(name),
        _ => Some(responses::static_name(name)).filter(|n| !n.is_empty()),
    }
}

/// Results asked of the provider per search.
pub const RESULTS_PER_SEARCH: usize = 8;
/// Model turns in one client request at most: past it the answer pauses (Anthropic's
/// `pause_turn`) or ends, and the client's next request carries on.
pub const MAX_TURNS: usize = 8;

/// The function tool the model is offered in place of the client's server tool.
pub const TOOL_NAME: &str = "web_search";
pub const TOOL_DESCRIPTION: &str = "Search the web for up-to-date information. Returns result \
     pages with their title, URL and text. Use it for anything recent or anything you are not \
     sure of, and cite the pages you use.";

/// The tool's JSON schema (both APIs take the same one).
pub fn tool_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"query": {"type": "string", "description": "The search query"}},
        "required": ["query"],
    })
}

/// What the client's tool definition asked of every search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchLimits {
    /// Searches allowed in this request (None: up to `MAX_TURNS` turns' worth).
    pub max_uses: Option<u64>,
    pub allowed_domains: Vec<String>,
    pub blocked_domains: Vec<String>,
    pub user_location: Option<UserLocation>,
}

/// A tool definition's list of domains (lower-cased, trimmed); None for a value that is
/// not a list of non-empty strings (absent or null: an empty list).
pub fn domain_list(v: Option<&serde_json::Value>) -> Option<Vec<String>> {
    match v {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|d| {
                d.as_str()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
            })
            .collect(),
        Some(_) => None,
    }
}

/// A tool definition's `user_location` (both APIs use Anthropic's field names); None for
/// a value that is not an object (absent or null: Some(None)).
pub fn user_location(v: Option<&serde_json::Value>) -> Option<Option<UserLocation>> {
    match v {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(serde_json::Value::Object(l)) => {
            let s = |k: &str| l.get(k).and_then(|v| v.as_str()).map(str::to_string);
            Some(Some(UserLocation {
                city: s("city"),
                region: s("region"),
                country: s("country"),
                timezone: s("timezone"),
            }))
        }
        Some(_) => None,
    }
}

/// One search call the model made, as the loop plans it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSearch {
    pub query: String,
    /// What to run, or why it is refused without a provider call.
    pub run: Result<SearchRequest, SearchFailure>,
}

/// How a model turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// The answer is complete: its closing events are out.
    Done,
    /// The model asked for searches: run them, then hand the outcomes to the loop.
    Search(Vec<PlannedSearch>),
}

/// After the searches' results went to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSearch {
    /// The answer ends here (other tool calls wait for the client, or the turn budget
    /// is spent): its closing events are out.
    Done,
    /// The next model turn follows: the request has been extended with the results.
    Continue,
}

/// Plans the searches of one turn: blank and over-long queries are refused, and past
/// `max_uses` (counting `used` so far) every search is refused. `used` counts the
/// searches that will run.
pub fn plan(queries: Vec<String>, limits: &SearchLimits, used: &mut u64) -> Vec<PlannedSearch> {
    queries
        .into_iter()
        .map(|query| {
            let q = query.trim();
            let run = if q.is_empty() {
                Err(SearchFailure::new(
                    SearchErrorCode::InvalidToolInput,
                    "the search query is empty",
                )
                .unsent())
            } else if q.chars().count() > MAX_QUERY_CHARS {
                Err(SearchFailure::new(
                    SearchErrorCode::QueryTooLong,
                    format!("the search query is longer than {MAX_QUERY_CHARS} characters"),
                )
                .unsent())
            } else if limits.max_uses.is_some_and(|max| *used >= max) {
                Err(SearchFailure::new(
                    SearchErrorCode::MaxUsesExceeded,
                    "the maximum number of web searches for this request has been reached; \
                     answer with what you have found",
                )
                .unsent())
            } else {
                *used += 1;
                Ok(SearchRequest {
                    query: q.to_string(),
                    allowed_domains: limits.allowed_domains.clone(),
                    blocked_domains: limits.blocked_domains.clone(),
                    user_location: limits.user_location.clone(),
                    max_results: RESULTS_PER_SEARCH,
                })
            };
            PlannedSearch { query, run }
        })
        .collect()
}

/// The results as the model reads them in a tool result (plain text, for models that
/// cannot take Anthropic's `search_result` blocks).
pub fn results_text(outcome: &Result<Vec<SearchHit>, SearchFailure>) -> String {
    match outcome {
        Err(f) => format!("Web search failed ({}): {}", f.code.as_str(), f.message),
        Ok(hits) if hits.is_empty() => "No results.".to_string(),
        Ok(hits) => hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let age = h
                    .page_age
                    .as_deref()
                    .map(|a| format!("\nPublished: {a}"))
                    .unwrap_or_default();
                format!("[{}] {}\n{}{age}\n{}", i + 1, h.title, h.url, h.content)
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planning_refuses_what_no_provider_should_see() {
        let limits = SearchLimits {
            max_uses: Some(2),
            allowed_domains: vec!["example.org".into()],
            ..SearchLimits::default()
        };
        let mut used = 1;
        let plans = plan(
            vec![
                "  rust  ".into(),
                "".into(),
                "x".repeat(1001),
                "more".into(),
            ],
            &limits,
            &mut used,
        );
        let req = plans[0].run.as_ref().unwrap();
        assert_eq!(req.query, "rust");
        assert_eq!(req.allowed_domains, ["example.org"]);
        assert_eq!(req.max_results, RESULTS_PER_SEARCH);
        let code = |i: usize| plans[i].run.as_ref().unwrap_err().code;
        assert_eq!(code(1), SearchErrorCode::InvalidToolInput);
        assert_eq!(code(2), SearchErrorCode::QueryTooLong);
        assert_eq!(code(3), SearchErrorCode::MaxUsesExceeded);
        assert_eq!(used, 2);
        let mut unlimited = 100;
        assert!(
            plan(vec!["a".into()], &SearchLimits::default(), &mut unlimited)[0]
                .run
                .is_ok()
        );
    }

    #[test]
    fn results_as_text() {
        let hits = vec![SearchHit {
            url: "https://example.org".into(),
            title: "Example".into(),
            content: "Body".into(),
            page_age: Some("2026-11-01".into()),
        }];
        assert_eq!(
            results_text(&Ok(hits)),
            "[1] Example\nhttps://example.org\nPublished: 2026-11-01\nBody"
        );
        assert_eq!(results_text(&Ok(vec![])), "No results.");
        assert!(results_text(&Err(SearchFailure::not_configured())).contains("admin"));
        assert!(!was_run(&Err(SearchFailure::not_configured())));
        assert!(was_run(&Err(SearchFailure::new(
            SearchErrorCode::TooManyRequests,
            "slow"
        ))));
        assert!(was_run(&Ok(vec![])));
    }
}
