//! A data-plane request's view of Copilot: the active account, a valid Copilot token,
//! the model catalog, capability probes, and sending with one token refresh on 401.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use serde::{Deserialize, Serialize};
use worker::{Context, Delay, Env, Response};

use crate::auth::sha256_hex;
use crate::ids;
use crate::models::{Catalog, Endpoints, ModelInfo};
use crate::protocol::error::{upstream_message, ApiError, ErrorKind};
use crate::protocol::Api;
use crate::store::accounts::{self, AccountRow};
use crate::store::{cache, db, memory, now_ms};
use crate::token_crypto;
use crate::upstream::copilot::{
    self, account_lost, exchange_error, worth_another_account, CopilotToken, CLIENT_OUTDATED,
    MISDIRECTED, REFRESH_MARGIN_SECS,
};
use crate::upstream::headers::{CopilotCall, Initiator};
use crate::upstream::limits::{self, Limit};
use crate::upstream::probe::{self, Known, ProbeBook, ProbeKey, ProbeRecord};
use crate::upstream::quota_headers::QuotaHeaders;
use crate::upstream::routing::{self, EndpointSource};
use crate::upstream::{client, UpstreamConfig};

pub fn config(env: &Env) -> UpstreamConfig {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    UpstreamConfig::new(
        var("GITHUB_BASE_URL").as_deref(),
        var("GITHUB_API_BASE_URL").as_deref(),
        var("COPILOT_API_BASE_URL").as_deref(),
    )
}

/// Facts about one upstream call beyond path and body.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    pub initiator: Option<Initiator>,
    pub vision: bool,
    pub anthropic_beta: Option<String>,
}

/// Owns what it needs (the `Env` handle is cheap to clone), so an upstream call can run
/// inside a response stream after the handler has returned.
pub struct Copilot {
    env: Env,
    cfg: UpstreamConfig,
    /// Enabled accounts in serving order: the conversation's account or the preferred one
    /// first, then the others (failover candidates).
    accounts: Vec<AccountRow>,
    current: usize,
    token: CopilotToken,
    /// A lost account was dropped and another serves (see `replace_lost_account`).
    switched: bool,
    /// Enabled accounts out of a Copilot usage window (left out of `accounts`), by login:
    /// when none is left, the caller's 429 names them and waits for the earliest reset.
    limited: Vec<(String, Limit)>,
}

thread_local! {
    /// Capability probes this isolate ran or read, and the ones running now.
    static PROBES: RefCell<ProbeBook> = RefCell::new(ProbeBook::new(256));
}

/// Ends a probe's claim when the probe finishes or its request goes away.
struct ProbeClaim(ProbeKey);

impl Drop for ProbeClaim {
    fn drop(&mut self) {
        PROBES.with(|b| b.borrow_mut().end(&self.0));
    }
}

/// How often a request waiting for another request's probe looks for its result.
const PROBE_POLL_MS: u64 = 100;
/// One probe call that takes longer than this is an unclear answer.
const PROBE_CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize)]
struct CachedCatalog {
    fetched_at: u64,
    body: String,
}

impl Copilot {
    /// Connects with the serving accounts; `first` (a conversation's sticky account) goes
    /// ahead of the preferred one when it is still enabled.
    pub async fn connect(
        env: &Env,
        ctx: &Context,
        first: Option<i64>,
    ) -> Result<Copilot, ApiError> {
        let mut accounts = serving_accounts(env, ctx).await?;
        // Accounts out of a usage window serve nothing until it resets.
        let now = now_ms();
        let limited: Vec<(String, Limit)> = accounts
            .iter()
            .filter_map(|a| a.limit(now).map(|l| (a.login.clone(), l)))
            .collect();
        if !limited.is_empty() {
            accounts.retain(|a| a.limit(now).is_none());
            if accounts.is_empty() {
                return Err(all_limited_error(&limited, None, now));
            }
        }
        if let Some(pos) = first.and_then(|id| accounts.iter().position(|a| a.id == id)) {
            let sticky = accounts.remove(pos);
            accounts.insert(0, sticky);
        }
        let cfg = config(env);
        // An account whose GitHub token was revoked (or that lost Copilot) is marked for
        // the admin and skipped; the first such error is the answer if none can serve.
        let mut first_error = None;
        while !accounts.is_empty() {
            match token_for(env, Some(ctx), &cfg, &accounts[0], false).await {
                Ok(token) => {
                    if accounts[0].problem.is_some() {
                        clear_problem(env, ctx, accounts[0].id);
                    }
                    return Ok(Copilot {
                        env: env.clone(),
                        cfg,
                        accounts,
                        current: 0,
                        token,
                        switched: false,
                        limited,
                    });
                }
                Err(e) if account_lost(&e) => {
                    mark_problem(env, ctx, accounts[0].id, &e);
                    accounts.remove(0);
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(first_error.unwrap_or(e)),
            }
        }
        Err(first_error.unwrap_or_else(|| {
            ApiError::new(ErrorKind::Unavailable, "no GitHub account can serve")
        }))
    }

    /// The account serving this request now.
    pub fn account(&self) -> &AccountRow {
        &self.accounts[self.current]
    }

    /// Whether another enabled account could take over.
    pub fn has_failover(&self) -> bool {
        self.accounts.len() > 1
    }

    /// Whether the account serving now is not the one the request started on.
    pub fn failed_over(&self) -> bool {
        self.current > 0 || self.switched
    }

    /// Puts the conversation's account (if it had one and it is still enabled) first.
    pub async fn stick_to_conversation(
        &mut self,
        ctx: &Context,
        conversation: &str,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        let sticky = match memory::sticky(conversation, now) {
            Some(id) => Some(id),
            None => {
                let id = cache::get::<i64>(&self.env, &cache::sticky_key(conversation)).await;
                if let Some(id) = id {
                    memory::put_sticky(conversation, id, now);
                }
                id
            }
        };
        let Some(pos) = sticky.and_then(|id| self.accounts.iter().position(|a| a.id == id)) else {
            return Ok(());
        };
        if pos != self.current {
            match token_for(&self.env, Some(ctx), &self.cfg, &self.accounts[pos], false).await {
                Ok(token) => {
                    let account = self.accounts.remove(pos);
                    self.accounts.insert(0, account);
                    self.current = 0;
                    self.token = token;
                }
                // The conversation's account is gone: marked, and the conversation moves on.
                Err(e) if account_lost(&e) => {
                    mark_problem(&self.env, ctx, self.accounts[pos].id, &e);
                    self.accounts.remove(pos);
                    self.switched = true;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// After a failover, the conversation stays on the account that served it.
    pub async fn remember_conversation(&self, conversation: Option<&str>) {
        let Some(conversation) = conversation.filter(|_| self.failed_over()) else {
            return;
        };
        let id = self.account().id;
        memory::put_sticky(conversation, id, now_ms());
        cache::put(
            &self.env,
            &cache::sticky_key(conversation),
            &id,
            cache::STICKY_TTL_SECS,
        )
        .await;
    }

    fn base(&self) -> String {
        copilot::api_base(&self.cfg, &self.token, self.account().account_type())
    }

    /// Sends to Copilot. A 401 means the token died early (revoked, or expired between
    /// check and use): mint a new one and try once more; if GitHub refuses that (the
    /// account is lost), the account is marked and the next enabled one serves. A 421
    /// means a plan host refused the token (the account changed plans): a fresh token
    /// names the right host, and the call is tried once more. A 429 saying the account ran
    /// out of a usage window marks it limited until the window resets and the next enabled
    /// account serves; with none left the caller gets a 429 at the earliest reset. Any
    /// other 429, 402 or 5xx (rate limited, out of quota, failing) moves the request once
    /// to the next enabled account, if there is one.
    pub async fn send(
        &mut self,
        path: &str,
        body: Option<&str>,
        facts: &CallFacts,
    ) -> Result<Response, ApiError> {
        self.send_on(path, body, facts, true).await
    }

    /// `send`, with `failover` false: the serving account only (a probe asks about this
    /// account, and must not add load to the others).
    async fn send_on(
        &mut self,
        path: &str,
        body: Option<&str>,
        facts: &CallFacts,
        failover: bool,
    ) -> Result<Response, ApiError> {
        let mut refreshed = false;
        let mut repointed = false;
        let mut moved = false;
        // The first lost account's error is the answer if no account can serve.
        let mut first_lost: Option<ApiError> = None;
        loop {
            let request_id = ids::uuid_v4();
            let call = CopilotCall {
                token: self.token.token.expose(),
                request_id: &request_id,
                initiator: facts.initiator,
                vision: facts.vision,
                anthropic_beta: facts.anthropic_beta.as_deref(),
                has_body: body.is_some(),
            };
            let req = copilot::request(&self.base(), path, &call, body);
            let mut resp = client::send(&req).await?;
            let status = resp.status_code();
            if (200..300).contains(&status) {
                self.answered(&resp).await;
                return Ok(resp);
            }
            if status == 401 && !refreshed {
                refreshed = true;
                memory::forget_token(self.account().id);
                match token_for(&self.env, None, &self.cfg, self.account(), true).await {
                    Ok(token) => self.token = token,
                    Err(e) if account_lost(&e) => {
                        mark_problem_now(&self.env, self.account().id, &e).await;
                        let replaced = failover && self.replace_lost_account(&e.message).await;
                        let first = first_lost.take().unwrap_or(e);
                        if !replaced {
                            return Err(first);
                        }
                        first_lost = Some(first);
                        refreshed = false;
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            if status == MISDIRECTED && !repointed {
                repointed = true;
                worker::console_warn!(
                    "Copilot's host refused account {}'s token (421); re-reading its endpoint",
                    self.account().login
                );
                memory::forget_token(self.account().id);
                self.token = token_for(&self.env, None, &self.cfg, self.account(), true).await?;
                continue;
            }
            if status == CLIENT_OUTDATED {
                let text = client::text(&mut resp).await.unwrap_or_default();
                note_client_outdated(&self.env, &text).await;
                return Ok(super::json_text(status, text));
            }
            if status == 429 {
                let text = client::text(&mut resp).await.unwrap_or_default();
                let header = |name: &str| resp.headers().get(name).ok().flatten();
                if let Some(limit) = limits::from_429(&text, header, now_ms()) {
                    self.mark_limited(limit).await;
                    if failover && self.next_unlimited().await {
                        refreshed = false;
                        repointed = false;
                        continue;
                    }
                    return Err(all_limited_error(
                        &self.limited,
                        Some(&upstream_message(&text)),
                        now_ms(),
                    ));
                }
                resp = rebuilt(&resp, status, text);
            }
            if failover
                && worth_another_account(status)
                && !moved
                && self.current + 1 < self.accounts.len()
            {
                moved = true;
                let next = &self.accounts[self.current + 1];
                match token_for(&self.env, None, &self.cfg, next, false).await {
                    Ok(token) => {
                        worker::console_warn!(
                            "account {} answered {status}; failing over to {}",
                            self.account().login,
                            next.login
                        );
                        self.current += 1;
                        self.token = token;
                        refreshed = false;
                        repointed = false;
                        continue;
                    }
                    // The next account cannot serve either: the first answer stands.
                    Err(e) => {
                        worker::console_warn!("failover to {} failed: {}", next.login, e.message);
                        if account_lost(&e) {
                            mark_problem_now(&self.env, next.id, &e).await;
                        }
                    }
                }
            }
            return Ok(resp);
        }
    }

    /// A successful answer: its quota headers are kept (written to D1 later, with usage),
    /// and a "client identity outdated" notice this isolate stored is lifted.
    async fn answered(&self, resp: &Response) {
        let entries: Vec<(String, String)> = resp.headers().entries().collect();
        let read = QuotaHeaders::read(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(q) = read {
            memory::observe_quota(self.account().id, q, now_ms());
        }
        if memory::take_client_outdated() {
            cache::delete(&self.env, cache::CLIENT_OUTDATED_KEY).await;
        }
    }

    /// The serving account ran out of a usage window: marked limited (D1 and this
    /// isolate's copy) and left out of the rest of this request.
    async fn mark_limited(&mut self, limit: Limit) {
        let account = self.account();
        worker::console_warn!(
            "account {} reached its Copilot {} limit until {}",
            account.login,
            limit.window.as_str(),
            crate::timestamp::iso8601(limit.until_ms)
        );
        memory::mark_limited(account.id, limit.until_ms, limit.window.as_str());
        if let Ok(db) = db(&self.env) {
            if let Err(e) = accounts::set_limited(&db, account.id, &limit).await {
                worker::console_warn!("could not store the limit: {}", e.message);
            }
        }
        self.limited.push((account.login.clone(), limit));
    }

    /// After the serving account ran out of a usage window: it leaves this request's list
    /// and the next enabled account that can mint a token serves (lost ones on the way are
    /// marked and dropped). False when none can; the limited account then stays.
    async fn next_unlimited(&mut self) -> bool {
        let limited = self.accounts.remove(self.current);
        while self.current < self.accounts.len() {
            let candidate = &self.accounts[self.current];
            match token_for(&self.env, None, &self.cfg, candidate, false).await {
                Ok(token) => {
                    worker::console_warn!(
                        "account {} is out of its usage limit; {} serves",
                        limited.login,
                        candidate.login
                    );
                    self.token = token;
                    self.switched = true;
                    return true;
                }
                Err(e) if account_lost(&e) => {
                    mark_problem_now(&self.env, candidate.id, &e).await;
                    self.accounts.remove(self.current);
                }
                Err(e) => {
                    worker::console_warn!("failover to {} failed: {}", candidate.login, e.message);
                    break;
                }
            }
        }
        self.accounts.insert(self.current, limited);
        false
    }

    /// The serving account is lost (its refresh failed with `why`, already marked): the
    /// next enabled account that can mint a token takes over; lost ones on the way are
    /// marked too. False when none can.
    async fn replace_lost_account(&mut self, why: &str) -> bool {
        let mut next = self.current + 1;
        while next < self.accounts.len() {
            let candidate = &self.accounts[next];
            match token_for(&self.env, None, &self.cfg, candidate, false).await {
                Ok(token) => {
                    worker::console_warn!(
                        "account {} is lost ({why}); failing over to {}",
                        self.account().login,
                        candidate.login
                    );
                    // The lost accounts leave this request's list; the new one serves.
                    self.accounts.drain(self.current..next);
                    self.token = token;
                    self.switched = true;
                    return true;
                }
                Err(e) if account_lost(&e) => {
                    mark_problem_now(&self.env, candidate.id, &e).await;
                    next += 1;
                }
                Err(e) => {
                    worker::console_warn!("failover to {} failed: {}", candidate.login, e.message);
                    break;
                }
            }
        }
        false
    }

    /// The catalog: isolate memory, then KV (fresh for 10 min), then `GET /models`; a
    /// failing `/models` falls back to the last copy KV still holds.
    pub async fn catalog(&mut self, ctx: &Context) -> Result<Rc<Catalog>, ApiError> {
        let now = now_ms();
        if let Some(c) = memory::catalog(self.account().id, now) {
            return Ok(c);
        }
        let key = cache::catalog_key(self.account().id);
        let stale = cache::get::<CachedCatalog>(&self.env, &key).await;
        if let Some(c) = stale
            .as_ref()
            .filter(|c| now.saturating_sub(c.fetched_at) < cache::CATALOG_FRESH_MS)
        {
            if let Ok(parsed) = Catalog::parse(&c.body) {
                let parsed = Rc::new(parsed);
                memory::put_catalog(self.account().id, parsed.clone(), now);
                return Ok(parsed);
            }
        }
        match self.fetch_catalog().await {
            Ok((body, parsed)) => {
                let parsed = Rc::new(parsed);
                memory::put_catalog(self.account().id, parsed.clone(), now);
                let env = self.env.clone();
                ctx.wait_until(async move {
                    let entry = CachedCatalog {
                        fetched_at: now,
                        body,
                    };
                    cache::put(&env, &key, &entry, cache::CATALOG_KEEP_SECS).await;
                });
                Ok(parsed)
            }
            Err(e) => match stale.and_then(|c| Catalog::parse(&c.body).ok()) {
                Some(old) => {
                    worker::console_warn!("using a stale model catalog: {}", e.message);
                    Ok(Rc::new(old))
                }
                None => memory::catalog_stale(self.account().id).ok_or(e),
            },
        }
    }

    async fn fetch_catalog(&mut self) -> Result<(String, Catalog), ApiError> {
        let mut resp = self.send("/models", None, &CallFacts::default()).await?;
        let status = resp.status_code();
        let body = client::text(&mut resp).await?;
        if status == CLIENT_OUTDATED {
            return Err(copilot::client_outdated(&body));
        }
        if status != 200 {
            return Err(ApiError::new(
                ErrorKind::from_status(status),
                format!(
                    "Copilot's model list failed ({status}): {}",
                    upstream_message(&body)
                ),
            )
            .with_status(status));
        }
        let parsed = Catalog::parse(&body).map_err(|e| {
            ApiError::new(
                ErrorKind::BadGateway,
                format!("Copilot's model list is unusable: {e}"),
            )
        })?;
        Ok((body, parsed))
    }

    /// The model's endpoints: from the catalog, else a probe's result (isolate memory,
    /// then KV), else a fresh probe of the serving account. A clear result is kept a day;
    /// an unclear one (throttled, failing) is the name's guess for five minutes, so a
    /// throttled account is not probed on every request. One probe per model runs in an
    /// isolate at a time; concurrent requests wait for its result.
    pub async fn endpoints(
        &mut self,
        ctx: &Context,
        model: &ModelInfo,
    ) -> (Endpoints, EndpointSource) {
        if let Some(e) = model.endpoints {
            return (e, EndpointSource::Catalog);
        }
        if model.is_embeddings() {
            return (Endpoints::default(), EndpointSource::Catalog);
        }

        let key: ProbeKey = (self.account().id, model.id.clone());
        // Claimed before the first await, so a concurrent request sees the claim.
        let mut polls: u64 = 0;
        let _claim = loop {
            let now = now_ms();
            let known = PROBES.with(|b| {
                let mut b = b.borrow_mut();
                let known = b.known(&key, now);
                if known == Known::Nothing {
                    b.begin(&key, now);
                }
                known
            });
            match known {
                Known::Result(r) => return from_record(r),
                Known::Nothing => break ProbeClaim(key.clone()),
                Known::InFlight => {
                    polls += 1;
                    if polls * PROBE_POLL_MS > probe::IN_FLIGHT_MS {
                        return (
                            routing::guess_endpoints(&model.id),
                            EndpointSource::Heuristic,
                        );
                    }
                    Delay::from(Duration::from_millis(PROBE_POLL_MS)).await;
                }
            }
        };

        let kv_key = cache::probe_key(key.0, &model.id);
        if let Some(r) = cache::get::<ProbeRecord>(&self.env, &kv_key).await {
            let ttl = probe::MEMORY_COPY_MS.min(r.ttl_secs() * 1000);
            PROBES.with(|b| b.borrow_mut().put(&key, r, ttl, now_ms()));
            return from_record(r);
        }
        let body = routing::probe_body(&model.id);
        let mut answers = Vec::with_capacity(3);
        while let Some(api) = probe::next_api(&answers) {
            let answer = self.probe_one(api, &body).await;
            answers.push((api, answer));
        }
        let record = probe::record(&model.id, &answers);
        let ttl = record.ttl_secs();
        if record.unclear {
            worker::console_warn!(
                "the capability probe of {} was unclear; guessing from the name for {ttl} s",
                model.id
            );
        }
        PROBES.with(|b| b.borrow_mut().put(&key, record, ttl * 1000, now_ms()));
        let env = self.env.clone();
        ctx.wait_until(async move {
            cache::put(&env, &kv_key, &record, ttl).await;
        });
        from_record(record)
    }

    /// One probe call on the serving account: yes, no, or None (unclear).
    async fn probe_one(&mut self, api: Api, body: &str) -> Option<bool> {
        let ask = async {
            let mut resp = self
                .send_on(
                    api.upstream_path(),
                    Some(body),
                    &CallFacts::default(),
                    false,
                )
                .await
                .ok()?;
            let status = resp.status_code();
            let text = client::text(&mut resp).await.unwrap_or_default();
            routing::classify_probe(status, &text)
        };
        match select(Box::pin(ask), Delay::from(PROBE_CALL_TIMEOUT)).await {
            Either::Left((answer, _)) => answer,
            Either::Right(_) => None,
        }
    }
}

/// A 429 read for its body, rebuilt for the caller with what it needs of the headers.
fn rebuilt(resp: &Response, status: u16, body: String) -> Response {
    let headers = worker::Headers::new();
    for name in ["content-type", "retry-after"] {
        if let Some(v) = resp.headers().get(name).ok().flatten() {
            let _ = headers.set(name, &v);
        }
    }
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}

fn all_limited_error(limited: &[(String, Limit)], upstream: Option<&str>, now: u64) -> ApiError {
    let each: Vec<(&str, &Limit)> = limited.iter().map(|(l, x)| (l.as_str(), x)).collect();
    limits::all_limited(&each, upstream, now)
}

/// What the admin sees while Copilot refuses the gateway's client identity (HTTP 466).
#[derive(Serialize, Deserialize)]
struct ClientOutdatedNotice {
    /// The identity Copilot refused: a redeploy with another one makes the notice moot.
    identity: String,
    message: String,
}

/// Copilot refused the client identity: logged, and stored (at most once a minute per
/// isolate) for the Accounts page, where it shows until an hour after the last refusal.
async fn note_client_outdated(env: &Env, body: &str) {
    let message = copilot::client_outdated(body).message;
    worker::console_error!("{message}");
    if !memory::note_client_outdated(now_ms()) {
        return;
    }
    let notice = ClientOutdatedNotice {
        identity: crate::upstream::headers::identity_summary(),
        message,
    };
    cache::put(
        env,
        cache::CLIENT_OUTDATED_KEY,
        &notice,
        cache::CLIENT_OUTDATED_TTL_SECS,
    )
    .await;
}

/// The "client identity outdated" message, while Copilot refuses the identity this
/// deployment sends.
pub async fn client_outdated_notice(env: &Env) -> Option<String> {
    let notice = cache::get::<ClientOutdatedNotice>(env, cache::CLIENT_OUTDATED_KEY).await?;
    (notice.identity == crate::upstream::headers::identity_summary()).then_some(notice.message)
}

fn from_record(r: ProbeRecord) -> (Endpoints, EndpointSource) {
    let source = if r.unclear {
        EndpointSource::Heuristic
    } else {
        EndpointSource::Probe
    };
    (r.endpoints(), source)
}

impl Copilot {
    /// Hashes of item ids Copilot rejected as foreign to the connection.
    pub async fn spotted_ids(&self) -> Vec<String> {
        cache::get::<Vec<String>>(&self.env, &cache::spotted_ids_key(self.account().id))
            .await
            .unwrap_or_default()
    }

    pub async fn remember_spotted(&self, ids: &[String]) {
        let key = cache::spotted_ids_key(self.account().id);
        let mut all = cache::get::<Vec<String>>(&self.env, &key)
            .await
            .unwrap_or_default();
        for id in ids {
            let h = spotted_hash(id);
            if !all.contains(&h) {
                all.push(h);
            }
        }
        if all.len() > cache::SPOTTED_MAX {
            all.drain(..all.len() - cache::SPOTTED_MAX);
        }
        cache::put(&self.env, &key, &all, cache::SPOTTED_TTL_SECS).await;
    }
}

pub fn spotted_hash(id: &str) -> String {
    sha256_hex(id)[..16].to_string()
}

/// Whether an account's failure is stored for the admin. An unreadable token is not: it
/// is shown from the secret's state and clears itself when the secret is restored.
fn worth_storing(e: &ApiError) -> bool {
    e.code.as_deref() != Some(token_crypto::UNREADABLE_CODE)
}

fn mark_problem(env: &Env, ctx: &Context, account: i64, e: &ApiError) {
    memory::forget_accounts();
    if !worth_storing(e) {
        return;
    }
    let env = env.clone();
    let problem = e.message.clone();
    ctx.wait_until(async move {
        if let Ok(db) = db(&env) {
            let _ = accounts::set_problem(&db, account, Some(&problem)).await;
        }
    });
}

/// `mark_problem` without a request context: the write is awaited (this can run inside a
/// response stream, after the handler returned).
async fn mark_problem_now(env: &Env, account: i64, e: &ApiError) {
    memory::forget_accounts();
    if !worth_storing(e) {
        return;
    }
    if let Ok(db) = db(env) {
        let _ = accounts::set_problem(&db, account, Some(&e.message)).await;
    }
}

fn clear_problem(env: &Env, ctx: &Context, account: i64) {
    memory::forget_accounts();
    let env = env.clone();
    ctx.wait_until(async move {
        if let Ok(db) = db(&env) {
            let _ = accounts::set_problem(&db, account, None).await;
        }
    });
}

/// Enabled accounts, preferred first: isolate memory (30 s), else D1. Tokens still stored
/// in clear are sealed once a TOKEN_ENCRYPTION_KEY is set.
async fn serving_accounts(env: &Env, ctx: &Context) -> Result<Vec<AccountRow>, ApiError> {
    let now = now_ms();
    if let Some(a) = memory::serving_accounts(now) {
        return Ok(a);
    }
    let a = match db(env) {
        Ok(db) => accounts::serving(&db).await,
        Err(e) => Err(e),
    };
    let a = match a {
        Ok(a) => a,
        // D1 unreachable: keep serving with the accounts this isolate last saw.
        Err(e) => match memory::serving_accounts_stale() {
            Some(stale) => {
                worker::console_warn!(
                    "D1 unavailable ({}); serving with cached accounts",
                    e.message
                );
                return Ok(stale);
            }
            None => return Err(e),
        },
    };
    if a.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Unavailable,
            "No GitHub account is connected (or all are disabled). An admin can connect one on the \
             admin page (or with POST /api/github/device).",
        ));
    }
    if let Some(cipher) = crate::store::token_cipher(env) {
        if a.iter()
            .any(|r| !token_crypto::is_sealed(r.stored_token.expose()))
        {
            let (env, mut rows) = (env.clone(), a.clone());
            ctx.wait_until(async move {
                if let Ok(db) = db(&env) {
                    if let Err(e) = accounts::seal_clear_tokens(&db, &mut rows, &cipher).await {
                        worker::console_warn!("could not encrypt stored tokens: {}", e.message);
                    }
                }
            });
        }
    }
    memory::put_serving_accounts(a.clone(), now);
    Ok(a)
}

/// A usable Copilot token for the account: isolate memory, then KV, then a token exchange
/// with GitHub (`force` skips the caches). The KV write runs after the response when a
/// request context is at hand, inline otherwise.
async fn token_for(
    env: &Env,
    ctx: Option<&Context>,
    cfg: &UpstreamConfig,
    account: &AccountRow,
    force: bool,
) -> Result<CopilotToken, ApiError> {
    let cipher = crate::store::token_cipher(env);
    let github_token = account.github_token(cipher.as_deref())?;
    let fp = github_fingerprint(github_token.expose());
    let now = now_ms();
    let now_s = now / 1000;
    let key = cache::token_key(account.id);
    if !force {
        if let Some(t) = memory::token(account.id, now).filter(|t| t.usable_at(now_s, &fp)) {
            return Ok(t);
        }
        if let Some(t) = cache::get::<CopilotToken>(env, &key)
            .await
            .filter(|t| t.usable_at(now_s, &fp))
        {
            memory::put_token(account.id, t.clone(), now);
            return Ok(t);
        }
    }
    let mut resp = client::send(&copilot::token_request(cfg, github_token.expose())).await?;
    let status = resp.status_code();
    let body = client::text(&mut resp).await?;
    if status != 200 {
        return Err(exchange_error(status, &body, &account.login));
    }
    let token = CopilotToken::parse(&body, &fp).map_err(|e| {
        ApiError::new(
            ErrorKind::BadGateway,
            format!("GitHub's Copilot token answer is unusable: {e}"),
        )
    })?;
    memory::put_token(account.id, token.clone(), now);
    let ttl = token.expires_at.saturating_sub(now_s + REFRESH_MARGIN_SECS);
    if ttl >= 60 {
        match ctx {
            Some(ctx) => {
                let env = env.clone();
                let cached = token.clone();
                ctx.wait_until(async move { cache::put(&env, &key, &cached, ttl).await });
            }
            None => cache::put(env, &key, &token, ttl).await,
        }
    }
    Ok(token)
}

/// Forgets every cached Copilot token and catalog of an account (after it changed).
pub async fn forget_account(env: &Env, account: i64) {
    memory::forget_accounts();
    cache::delete(env, &cache::token_key(account)).await;
    cache::delete(env, &cache::catalog_key(account)).await;
}

fn github_fingerprint(github_token: &str) -> String {
    sha256_hex(github_token)[..16].to_string()
}
