//! Usage accounting and per-key limits around a data-plane request. Usage is counted in
//! the isolate once the answer (or its stream) has ended and written with `waitUntil` a
//! moment later, together with whatever other requests counted meanwhile, so no response
//! waits on D1; a failed write is logged, never shown to the caller, and tried again
//! with the next one.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use futures::channel::oneshot;
use worker::{Context, Delay, Env, Response};

use crate::accounting::{self, Outcome};
use crate::api_error::ApiError;
use crate::store::keys::KeyIdentity;
use crate::store::{accounts, db, memory, now_ms, usage};
use crate::timestamp::hour_bucket;
use crate::usage_batch::{UsageBatch, MAX_ROWS};

/// How long counted usage waits for more before it is written.
const GATHER: Duration = Duration::from_millis(500);
/// A gathering `waitUntil` older than this was cancelled by the runtime; another takes over.
const STALE_GATHER_MS: u64 = 10_000;

thread_local! {
    static PENDING: RefCell<UsageBatch> = RefCell::new(UsageBatch::default());
    /// When a request's `waitUntil` started gathering (it writes the pending rows); 0: none.
    static GATHERING_SINCE: Cell<u64> = const { Cell::new(0) };
    /// Batches being written now.
    static WRITING: Cell<u32> = const { Cell::new(0) };
}

/// Writes every row this isolate has counted (nothing: no D1 call; a few statements
/// however many rows); false when the write failed. The quota answers' headers reported
/// rides along (an account's at most once a minute).
async fn write_pending(env: &Env) -> bool {
    write_quota(env).await;
    let rows = PENDING.with(|p| p.borrow_mut().take(MAX_ROWS));
    if rows.is_empty() {
        return true;
    }
    WRITING.with(|w| w.set(w.get() + 1));
    let result = match db(env) {
        Ok(db) => usage::record(&db, &rows).await,
        Err(e) => Err(e),
    };
    WRITING.with(|w| w.set(w.get() - 1));
    if let Err(e) = result {
        let lost = PENDING.with(|p| p.borrow_mut().restore(rows));
        worker::console_error!(
            "usage write failed (kept for the next write, {lost} rows dropped): {}",
            e.message
        );
        return false;
    }
    true
}

/// Each account's latest quota headers (seen since their last write, not written in the
/// last minute), so other isolates and `GET /api/quota` know them. A failure is logged.
async fn write_quota(env: &Env) {
    let due = memory::quota_to_write(now_ms());
    if due.is_empty() {
        return;
    }
    let Ok(db) = db(env) else { return };
    for (account, headers, at) in due {
        if let Err(e) = accounts::set_quota_headers(&db, account, &headers, at).await {
            worker::console_warn!("quota headers not stored: {}", e.message);
        }
    }
}

/// Before usage is read: everything this isolate counted is written, and writes in flight
/// have landed (polled: a future shared between requests must not wake another's task).
/// Rows of a failed write stay pending for the next one.
pub async fn flush(env: &Env) {
    write_pending(env).await;
    for _ in 0..200 {
        if WRITING.with(Cell::get) == 0 {
            return;
        }
        Delay::from(Duration::from_millis(5)).await;
    }
}

/// What a handler learned for accounting: the model, and how the request ended (now, or
/// when its stream ends).
#[derive(Default)]
pub struct Meter {
    /// The caller's key id (what the web-search usage is recorded under).
    pub key_id: String,
    pub model: Option<String>,
    pub outcome: Option<Outcome>,
    pending: Option<oneshot::Receiver<Outcome>>,
    /// Set by the WebSocket transport, which sends a streamed answer's events itself: the
    /// stream is left in `events` instead of becoming a response body.
    pub socket: bool,
    pub events: Option<EventBytes>,
}

/// A client stream's bytes (SSE), as a response body would carry them.
pub type EventBytes =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Vec<u8>, worker::Error>>>>;

impl Meter {
    pub fn for_key(key_id: &str) -> Meter {
        Meter {
            key_id: key_id.to_string(),
            ..Meter::default()
        }
    }

    /// A sender for the stream to report its outcome when it ends.
    pub fn stream_reporter(&mut self) -> oneshot::Sender<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.pending = Some(rx);
        tx
    }
}

/// Records the request once: now for a finished answer or a refusal, when the stream
/// ends for a streamed one. Failures count in `errors`, with the tokens the upstream
/// reported.
pub fn settle(
    ctx: &Context,
    env: &Env,
    caller: &KeyIdentity,
    meter: Meter,
    result: &Result<Response, ApiError>,
) {
    let answer_failed = match result {
        Ok(r) => r.status_code() >= 400,
        Err(_) => true,
    };
    ctx.wait_until(record(
        env.clone(),
        caller.id.clone(),
        meter,
        answer_failed,
        true,
    ));
}

/// `settle` for a WebSocket turn, awaited: `waitUntil` work registered after an upgrade
/// is dropped by the runtime, so the turn's row is written before the next turn starts.
pub async fn settle_now(env: &Env, caller: &KeyIdentity, meter: Meter, answer_failed: bool) {
    record(env.clone(), caller.id.clone(), meter, answer_failed, false).await;
}

/// Counts the request once its outcome is known, then writes: after gathering others
/// for a moment (`gather`), or at once.
async fn record(env: Env, key_id: String, meter: Meter, answer_failed: bool, gather: bool) {
    let model = accounting::row_model(meter.model.as_deref());
    let pending = meter.pending.filter(|_| !answer_failed);
    let immediate = accounting::settled(answer_failed, meter.outcome);
    let outcome = match pending {
        // A stream that ends without reporting (its task was dropped) failed.
        Some(rx) => rx.await.unwrap_or_else(|_| accounting::settled(true, None)),
        None => immediate,
    };
    let hour = hour_bucket(now_ms());
    PENDING.with(|p| {
        p.borrow_mut()
            .add(&key_id, &model, &hour, outcome.usage, outcome.failed)
    });
    memory::add_month_tokens(&key_id, accounting::budget_tokens(&outcome.usage));
    if !gather {
        write_pending(&env).await;
        return;
    }
    let now = now_ms();
    let since = GATHERING_SINCE.with(Cell::get);
    // Another request's waitUntil writes it (unless that one was cancelled long ago).
    if since != 0 && now.saturating_sub(since) < STALE_GATHER_MS {
        return;
    }
    GATHERING_SINCE.with(|g| g.set(now));
    Delay::from(GATHER).await;
    GATHERING_SINCE.with(|g| g.set(0));
    write_pending(&env).await;
}

/// Per-key limits: requests per minute (a D1 counter, only for keys that have the limit)
/// and tokens per calendar month (the usage table, cached a minute per isolate).
pub async fn enforce_limits(env: &Env, caller: &KeyIdentity) -> Result<(), ApiError> {
    if caller.rpm_limit.is_none() && caller.monthly_token_limit.is_none() {
        return Ok(());
    }
    match check_limits(env, caller).await {
        // Limits protect a budget; an unreachable D1 must not take the gateway down.
        Err(e) if e.status == 503 => {
            worker::console_warn!("limits not checked, storage unavailable: {}", e.message);
            Ok(())
        }
        other => other,
    }
}

async fn check_limits(env: &Env, caller: &KeyIdentity) -> Result<(), ApiError> {
    let now = now_ms();
    let db = db(env)?;
    if let Some(limit) = caller.monthly_token_limit {
        let used = match memory::month_tokens(&caller.id, now) {
            Some(n) => n,
            None => {
                let since = accounting::month_start(&hour_bucket(now));
                let written = usage::tokens_since(&db, &caller.id, &since).await?;
                let n = PENDING
                    .with(|p| p.borrow().tokens_since(&caller.id, &since))
                    .saturating_add(written);
                memory::put_month_tokens(&caller.id, n, now);
                n
            }
        };
        if let Some(refused) = accounting::monthly_refusal(used, limit, now) {
            return Err(refused);
        }
    }
    if let Some(limit) = caller.rpm_limit {
        let count = usage::hit_minute(&db, &caller.id, &accounting::minute_bucket(now)).await?;
        if let Some(refused) = accounting::rpm_refusal(count, limit, now) {
            return Err(refused);
        }
    }
    Ok(())
}
