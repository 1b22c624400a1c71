//! Usage accounting and per-key limits around a data-plane request. Usage is written
//! with `waitUntil` once the answer (or its stream) has ended, so no response waits on
//! D1; a failed write is logged, never shown to the caller.

use futures::channel::oneshot;
use worker::{Context, Env, Response};

use crate::accounting::{self, Outcome};
use crate::api_error::{ApiError, ErrorKind};
use crate::store::keys::KeyIdentity;
use crate::store::{db, memory, now_ms, usage};
use crate::timestamp::hour_bucket;

/// What a handler learned for accounting: the model, and how the request ended (now, or
/// when its stream ends).
#[derive(Default)]
pub struct Meter {
    pub model: Option<String>,
    pub outcome: Option<Outcome>,
    pending: Option<oneshot::Receiver<Outcome>>,
}

impl Meter {
    /// A sender for the stream to report its outcome when it ends.
    pub fn stream_reporter(&mut self) -> oneshot::Sender<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.pending = Some(rx);
        tx
    }
}

/// Records the request once: now for a finished answer, when the stream ends for a
/// streamed one. Failures count in `errors`, with the tokens the upstream reported.
pub fn settle(
    ctx: &Context,
    env: &Env,
    caller: &KeyIdentity,
    meter: Meter,
    result: &Result<Response, ApiError>,
) {
    let status_failed = match result {
        Ok(r) => r.status_code() >= 400,
        Err(_) => true,
    };
    let model = meter
        .model
        .map(|m| m.chars().take(100).collect::<String>())
        .unwrap_or_else(|| "-".to_string());
    let key_id = caller.id.clone();
    let env = env.clone();
    let pending = meter.pending.filter(|_| !status_failed);
    let immediate = if status_failed {
        Outcome {
            failed: true,
            ..meter.outcome.unwrap_or_default()
        }
    } else {
        meter.outcome.unwrap_or_default()
    };
    ctx.wait_until(async move {
        let outcome = match pending {
            Some(rx) => rx.await.unwrap_or(Outcome {
                failed: true,
                ..Outcome::default()
            }),
            None => immediate,
        };
        let Ok(db) = db(&env) else { return };
        let hour = hour_bucket(now_ms());
        if let Err(e) =
            usage::record(&db, &key_id, &model, &hour, outcome.usage, outcome.failed).await
        {
            worker::console_error!("usage write failed: {}", e.message);
        }
        memory::add_month_tokens(
            &key_id,
            outcome.usage.input_tokens + outcome.usage.output_tokens,
        );
    });
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
                let n = usage::tokens_since(&db, &caller.id, &since).await?;
                memory::put_month_tokens(&caller.id, n, now);
                n
            }
        };
        if used >= limit {
            let mut e = ApiError::new(
                ErrorKind::RateLimit,
                format!("this API key has used its {limit} tokens for this month; the budget resets on the 1st (UTC)"),
            )
            .with_code("monthly_token_limit");
            e.retry_after = Some(accounting::seconds_until_next_month(now).to_string());
            return Err(e);
        }
    }
    if let Some(limit) = caller.rpm_limit {
        let count = usage::hit_minute(&db, &caller.id, &accounting::minute_bucket(now)).await?;
        if count > limit {
            let mut e = ApiError::new(
                ErrorKind::RateLimit,
                format!("this API key is limited to {limit} requests per minute"),
            )
            .with_code("rate_limit_exceeded");
            e.retry_after = Some(accounting::seconds_until_next_minute(now).to_string());
            return Err(e);
        }
    }
    Ok(())
}
