//! One web search, for the agent loop and the admin's test: the configured provider
//! (isolate memory, then D1), the call bounded by a timeout, and its count in search
//! usage. Credentials are opened only to build the request's headers; nothing here logs
//! or returns one.

use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use worker::{Delay, Env};

use crate::protocol::error::ApiError;
use crate::search::provider::{self, display_name, BaseUrls, Target};
use crate::search::{ProviderKind, SearchErrorCode, SearchFailure, SearchHit, SearchRequest};
use crate::search_config::StoredConfig;
use crate::store::{db, memory, now_ms, search as store, token_cipher};
use crate::timestamp::hour_bucket;
use crate::upstream::client;

/// A provider that has not answered by then has failed (the model can try again).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Counting a search never holds its answer back longer than this.
const RECORD_TIMEOUT: Duration = Duration::from_secs(3);

/// The providers' base URLs (vars; defaults are the real services).
pub fn bases(env: &Env) -> BaseUrls {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    BaseUrls::new(
        var("TAVILY_BASE_URL").as_deref(),
        var("MICROSOFT_GROUNDING_BASE_URL").as_deref(),
        var("BRAVE_SEARCH_BASE_URL").as_deref(),
    )
}

/// The settings row: isolate memory for ~30 s, then D1 (the last known copy when D1
/// cannot be reached).
pub async fn settings(env: &Env) -> Result<Rc<StoredConfig>, ApiError> {
    let now = now_ms();
    if let Some(c) = memory::search_config(now) {
        return Ok(c);
    }
    let loaded = match db(env) {
        Ok(db) => store::load(&db).await,
        Err(e) => Err(e),
    };
    match loaded {
        Ok(c) => {
            let c = Rc::new(c);
            memory::put_search_config(Rc::clone(&c), now);
            Ok(c)
        }
        Err(e) => memory::search_config_stale().ok_or(e),
    }
}

/// Runs one search with the configured provider (SearchFailure::not_configured() when none),
/// bounded by a timeout (~20 s), and records it once in search usage for `key_id`
/// (errors counted as errors). Never logs or returns a credential.
pub async fn run(
    env: &worker::Env,
    key_id: &str,
    req: &crate::search::SearchRequest,
) -> Result<Vec<crate::search::SearchHit>, crate::search::SearchFailure> {
    let config = settings(env).await.map_err(|_| {
        SearchFailure::new(
            SearchErrorCode::Unavailable,
            "Web search settings could not be read right now; try again shortly.",
        )
        .unsent()
    })?;
    let Some(kind) = config.provider() else {
        return Err(SearchFailure::not_configured());
    };
    let target = match config.target(token_cipher(env).as_deref(), &bases(env), kind) {
        Ok(t) => t,
        Err(f) => {
            // Chosen, but its credential is missing or cannot be read: a failed search.
            record(env, key_id, kind, true).await;
            return Err(f.unsent());
        }
    };
    // A query refused before any call (blank, too long, a bad domain) is not counted.
    let request = provider::build_request(&target, req).map_err(SearchFailure::unsent)?;
    let result = call(&target, &request, req).await;
    record(env, key_id, kind, result.is_err()).await;
    result
}

/// A search with a given provider (the admin's test): not counted in usage.
pub async fn search(target: &Target, req: &SearchRequest) -> Result<Vec<SearchHit>, SearchFailure> {
    let request = provider::build_request(target, req)?;
    call(target, &request, req).await
}

async fn call(
    target: &Target,
    request: &crate::upstream::HttpRequest<'_>,
    req: &SearchRequest,
) -> Result<Vec<SearchHit>, SearchFailure> {
    let name = display_name(target.kind);
    let attempt = async {
        let mut resp = client::send(request).await.map_err(|_| {
            SearchFailure::new(
                SearchErrorCode::Unavailable,
                format!("{name} could not be reached."),
            )
        })?;
        let status = resp.status_code();
        let body = client::text(&mut resp).await.map_err(|_| {
            SearchFailure::new(
                SearchErrorCode::Unavailable,
                format!("{name}'s answer could not be read."),
            )
        })?;
        provider::parse_answer(target, req, status, &body)
    };
    let outcome = select(Box::pin(attempt), Box::pin(Delay::from(SEARCH_TIMEOUT))).await;
    match outcome {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(SearchFailure::new(
            SearchErrorCode::Unavailable,
            format!(
                "{name} did not answer within {} seconds.",
                SEARCH_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// One upsert; a failed or slow write is logged, never the searcher's problem.
async fn record(env: &Env, key_id: &str, kind: ProviderKind, failed: bool) {
    let hour = hour_bucket(now_ms());
    let write = async {
        let db = db(env)?;
        store::record(&db, key_id, kind, &hour, failed).await
    };
    let outcome = select(Box::pin(write), Box::pin(Delay::from(RECORD_TIMEOUT))).await;
    match outcome {
        Either::Left((Ok(()), _)) => {}
        Either::Left((Err(e), _)) => {
            worker::console_error!("search usage not recorded: {}", e.message)
        }
        Either::Right(_) => worker::console_warn!("search usage write still pending after 3 s"),
    };
}
