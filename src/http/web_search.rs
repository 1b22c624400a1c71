//! Placeholder until the search backend lands: no provider is ever configured.

use crate::search::{ProviderKind, SearchFailure, SearchHit, SearchRequest};

pub async fn configured(_env: &worker::Env) -> Option<ProviderKind> {
    None
}

pub async fn run(
    _env: &worker::Env,
    _key_id: &str,
    _req: &SearchRequest,
) -> Result<Vec<SearchHit>, SearchFailure> {
    Err(SearchFailure::not_configured())
}
