//! KV: the Copilot token per account, the model catalog per account, capability probes.
//! KV is a cache here: a failed read is a miss and a failed write is logged, never
//! surfaced to the caller.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, KvStore};

/// Catalog entries stay in KV a day so a failing `/models` can fall back to a stale copy;
/// they count as fresh for ten minutes.
pub const CATALOG_FRESH_MS: u64 = 10 * 60 * 1000;
pub const CATALOG_KEEP_SECS: u64 = 24 * 3600;

pub fn token_key(account: i64) -> String {
    format!("copilot-token:v1:{account}")
}

pub fn catalog_key(account: i64) -> String {
    format!("models:v1:{account}")
}

pub fn probe_key(account: i64, model: &str) -> String {
    format!("probe:v1:{account}:{model}")
}

/// Copilot `/responses` item ids seen rejected as foreign to the connection, per account,
/// as SHA-256 prefixes: one KV value per account, so one read covers a whole request.
pub fn spotted_ids_key(account: i64) -> String {
    format!("spotted-ids:v1:{account}")
}
pub const SPOTTED_TTL_SECS: u64 = 3600;

/// A conversation's account after a failover (a day: long sessions come back after breaks).
pub fn sticky_key(conversation: &str) -> String {
    format!("sticky:v1:{conversation}")
}
pub const STICKY_TTL_SECS: u64 = 24 * 3600;
/// Bounded, so the value stays small; the oldest fall out first.
pub const SPOTTED_MAX: usize = 4096;

/// An account's last `/copilot_internal/user` answer (normalized): quota headers of
/// data-plane answers update it, so GitHub is asked again only when they stop.
pub fn quota_key(account: i64) -> String {
    format!("quota:v1:{account}")
}
pub const QUOTA_KEEP_SECS: u64 = 6 * 3600;

/// Copilot refused the gateway's client identity (HTTP 466): shown to the admin with the
/// accounts until an hour after the last refusal, or until a redeploy changes the identity.
pub const CLIENT_OUTDATED_KEY: &str = "notice:v1:client-outdated";
pub const CLIENT_OUTDATED_TTL_SECS: u64 = 3600;

fn kv(env: &Env) -> Option<KvStore> {
    match env.kv("KV") {
        Ok(kv) => Some(kv),
        Err(e) => {
            worker::console_error!("KV binding unavailable: {e}");
            None
        }
    }
}

pub async fn get<T: DeserializeOwned>(env: &Env, key: &str) -> Option<T> {
    let kv = kv(env)?;
    match kv.get(key).json::<T>().await {
        Ok(v) => v,
        Err(e) => {
            worker::console_error!("KV read {key} failed: {e}");
            None
        }
    }
}

/// Writes with a TTL in seconds (KV's minimum is 60).
pub async fn put<T: Serialize>(env: &Env, key: &str, value: &T, ttl_secs: u64) {
    let Some(kv) = kv(env) else { return };
    let result = match kv.put(key, value) {
        Ok(b) => b.expiration_ttl(ttl_secs.max(60)).execute().await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        worker::console_error!("KV write {key} failed: {e}");
    }
}

pub async fn delete(env: &Env, key: &str) {
    if let Some(kv) = kv(env) {
        if let Err(e) = kv.delete(key).await {
            worker::console_error!("KV delete {key} failed: {e}");
        }
    }
}
