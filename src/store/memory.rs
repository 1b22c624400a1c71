//! Isolate memory: short-lived copies of what every request needs, so a hot request
//! touches neither D1 nor KV. Admin changes clear the copies in their own isolate;
//! other isolates catch up within the TTLs below.

use std::cell::RefCell;
use std::rc::Rc;

use super::accounts::AccountRow;
use super::keys::KeyIdentity;
use crate::model_aliases::Aliases;
use crate::models::Catalog;
use crate::search_config::StoredConfig;
use crate::ttl_cache::TtlCache;
use crate::upstream::copilot::CopilotToken;
use crate::upstream::quota_headers::QuotaHeaders;

/// A deleted or rotated key keeps working in other isolates for at most this long.
pub const KEY_TTL_MS: u64 = 60_000;
pub const ACCOUNT_TTL_MS: u64 = 30_000;
pub const CATALOG_TTL_MS: u64 = 60_000;
/// A changed search provider or key reaches other isolates within this.
pub const SEARCH_CONFIG_TTL_MS: u64 = 30_000;
/// A changed model alias reaches other isolates within this.
pub const ALIASES_TTL_MS: u64 = 30_000;

thread_local! {
    static KEYS: RefCell<TtlCache<String, KeyIdentity>> = RefCell::new(TtlCache::new(512));
    static SERVING_ACCOUNTS: RefCell<TtlCache<(), Vec<AccountRow>>> = RefCell::new(TtlCache::new(1));
    static STICKY: RefCell<TtlCache<String, i64>> = RefCell::new(TtlCache::new(1024));
    static TOKENS: RefCell<TtlCache<i64, CopilotToken>> = RefCell::new(TtlCache::new(16));
    static CATALOGS: RefCell<TtlCache<i64, Rc<Catalog>>> = RefCell::new(TtlCache::new(16));
    /// Tokens a key used this month (for its monthly limit), as last read plus local use.
    static MONTH_TOKENS: RefCell<TtlCache<String, u64>> = RefCell::new(TtlCache::new(512));
    /// Last `last_used_at` write per key id, so a busy key is written once a minute.
    static TOUCHED: RefCell<TtlCache<String, ()>> = RefCell::new(TtlCache::new(512));
    /// The web-search settings row (credentials as stored: sealed or clear).
    static SEARCH_CONFIG: RefCell<TtlCache<(), Rc<StoredConfig>>> = RefCell::new(TtlCache::new(1));
    /// The model aliases, read by every generation request.
    static ALIASES: RefCell<TtlCache<(), Rc<Aliases>>> = RefCell::new(TtlCache::new(1));
    /// Per account: the quota its latest answer's headers reported, when, and when that
    /// was last written to D1.
    static QUOTA_SEEN: RefCell<Vec<QuotaSeen>> = const { RefCell::new(Vec::new()) };
    /// When this isolate last stored the "client identity outdated" notice (0: it did not,
    /// or cleared it since).
    static CLIENT_OUTDATED_NOTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

struct QuotaSeen {
    account: i64,
    headers: QuotaHeaders,
    at: u64,
    written_at: u64,
}

/// Quota headers are written to D1 at most this often per account and isolate.
pub const QUOTA_WRITE_EVERY_MS: u64 = 60_000;

/// Keeps the quota an answer of `account` reported.
pub fn observe_quota(account: i64, headers: QuotaHeaders, now: u64) {
    QUOTA_SEEN.with(|q| {
        let mut q = q.borrow_mut();
        match q.iter_mut().find(|s| s.account == account) {
            Some(seen) => {
                seen.headers = headers;
                seen.at = now;
            }
            None => {
                if q.len() >= 64 {
                    q.remove(0);
                }
                q.push(QuotaSeen {
                    account,
                    headers,
                    at: now,
                    written_at: 0,
                });
            }
        }
    });
}

/// What this isolate saw of an account's quota, and when.
pub fn quota_seen(account: i64) -> Option<(QuotaHeaders, u64)> {
    QUOTA_SEEN.with(|q| {
        q.borrow()
            .iter()
            .find(|s| s.account == account)
            .map(|s| (s.headers.clone(), s.at))
    })
}

/// Quotas seen since their last write, not written in the last minute: taken as written.
pub fn quota_to_write(now: u64) -> Vec<(i64, QuotaHeaders, u64)> {
    QUOTA_SEEN.with(|q| {
        q.borrow_mut()
            .iter_mut()
            .filter(|s| {
                s.at > s.written_at && now.saturating_sub(s.written_at) >= QUOTA_WRITE_EVERY_MS
            })
            .map(|s| {
                s.written_at = now;
                (s.account, s.headers.clone(), s.at)
            })
            .collect()
    })
}

/// Whether the "client identity outdated" notice should be (re)written now (at most once
/// a minute); records that it is.
pub fn note_client_outdated(now: u64) -> bool {
    CLIENT_OUTDATED_NOTED.with(|c| {
        if c.get() != 0 && now.saturating_sub(c.get()) < 60_000 {
            return false;
        }
        c.set(now);
        true
    })
}

/// True once after this isolate stored the notice: a success means it can be cleared.
pub fn take_client_outdated() -> bool {
    CLIENT_OUTDATED_NOTED.with(|c| c.replace(0) != 0)
}

/// An account just ran out of a usage window: the cached serving list learns it at once
/// (D1 has it too, for other isolates within `ACCOUNT_TTL_MS`).
pub fn mark_limited(account: i64, until_ms: u64, window: &str) {
    SERVING_ACCOUNTS.with(|c| {
        let mut c = c.borrow_mut();
        let now = super::now_ms();
        c.update(&(), now, |rows| {
            for r in rows.iter_mut().filter(|r| r.id == account) {
                r.limited_until = Some(until_ms as f64);
                r.limited_window = Some(window.to_string());
            }
        });
    });
}

pub fn search_config(now: u64) -> Option<Rc<StoredConfig>> {
    SEARCH_CONFIG.with(|c| c.borrow().get(&(), now))
}

pub fn search_config_stale() -> Option<Rc<StoredConfig>> {
    SEARCH_CONFIG.with(|c| c.borrow().get_stale(&()))
}

pub fn put_search_config(config: Rc<StoredConfig>, now: u64) {
    SEARCH_CONFIG.with(|c| {
        c.borrow_mut()
            .put((), config, now + SEARCH_CONFIG_TTL_MS, now)
    });
}

pub fn forget_search_config() {
    SEARCH_CONFIG.with(|c| c.borrow_mut().clear());
}

pub fn aliases(now: u64) -> Option<Rc<Aliases>> {
    ALIASES.with(|c| c.borrow().get(&(), now))
}

pub fn aliases_stale() -> Option<Rc<Aliases>> {
    ALIASES.with(|c| c.borrow().get_stale(&()))
}

pub fn put_aliases(aliases: Rc<Aliases>, now: u64) {
    ALIASES.with(|c| c.borrow_mut().put((), aliases, now + ALIASES_TTL_MS, now));
}

pub fn forget_aliases() {
    ALIASES.with(|c| c.borrow_mut().clear());
}

pub fn key(hash: &str, now: u64) -> Option<KeyIdentity> {
    KEYS.with(|c| c.borrow().get(&hash.to_string(), now))
}

pub fn put_key(hash: &str, id: KeyIdentity, now: u64) {
    KEYS.with(|c| {
        c.borrow_mut()
            .put(hash.to_string(), id, now + KEY_TTL_MS, now)
    });
}

pub fn forget_keys() {
    KEYS.with(|c| c.borrow_mut().clear());
}

pub fn month_tokens(key: &str, now: u64) -> Option<u64> {
    MONTH_TOKENS.with(|c| c.borrow().get(&key.to_string(), now))
}

pub fn put_month_tokens(key: &str, tokens: u64, now: u64) {
    MONTH_TOKENS.with(|c| {
        c.borrow_mut()
            .put(key.to_string(), tokens, now + 60_000, now)
    });
}

/// Adds this isolate's own use to the cached month total, so a burst cannot run far past
/// a budget while the cache is fresh.
pub fn add_month_tokens(key: &str, tokens: u64) {
    let now = super::now_ms();
    MONTH_TOKENS.with(|c| {
        c.borrow_mut()
            .update(&key.to_string(), now, |n| *n = n.saturating_add(tokens))
    });
}

/// True when this isolate has not written `last_used_at` for `id` in the last minute.
pub fn should_touch(id: &str, now: u64) -> bool {
    TOUCHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.get(&id.to_string(), now).is_some() {
            return false;
        }
        c.put(id.to_string(), (), now + 60_000, now);
        true
    })
}

pub fn serving_accounts(now: u64) -> Option<Vec<AccountRow>> {
    SERVING_ACCOUNTS.with(|c| c.borrow().get(&(), now))
}

pub fn put_serving_accounts(rows: Vec<AccountRow>, now: u64) {
    SERVING_ACCOUNTS.with(|c| c.borrow_mut().put((), rows, now + ACCOUNT_TTL_MS, now));
}

/// A conversation's account, once it had to move off the preferred one.
pub fn sticky(conversation: &str, now: u64) -> Option<i64> {
    STICKY.with(|c| c.borrow().get(&conversation.to_string(), now))
}

pub fn put_sticky(conversation: &str, account: i64, now: u64) {
    STICKY.with(|c| {
        c.borrow_mut()
            .put(conversation.to_string(), account, now + 3_600_000, now)
    });
}

pub fn token(account: i64, now: u64) -> Option<CopilotToken> {
    TOKENS.with(|c| c.borrow().get(&account, now))
}

pub fn put_token(account: i64, token: CopilotToken, now: u64) {
    let until = token.expires_at.saturating_mul(1000);
    TOKENS.with(|c| c.borrow_mut().put(account, token, until, now));
}

pub fn forget_token(account: i64) {
    TOKENS.with(|c| c.borrow_mut().remove(&account));
}

pub fn catalog(account: i64, now: u64) -> Option<Rc<Catalog>> {
    CATALOGS.with(|c| c.borrow().get(&account, now))
}

pub fn put_catalog(account: i64, catalog: Rc<Catalog>, now: u64) {
    CATALOGS.with(|c| {
        c.borrow_mut()
            .put(account, catalog, now + CATALOG_TTL_MS, now)
    });
}

/// After any account change: the active account, tokens and catalogs may all differ.
pub fn forget_accounts() {
    SERVING_ACCOUNTS.with(|c| c.borrow_mut().clear());
    STICKY.with(|c| c.borrow_mut().clear());
    TOKENS.with(|c| c.borrow_mut().clear());
    CATALOGS.with(|c| c.borrow_mut().clear());
}

/// Last known values past their freshness, for when D1 cannot be reached: the data plane
/// keeps serving the keys and accounts it has already seen.
pub fn key_stale(hash: &str) -> Option<KeyIdentity> {
    KEYS.with(|c| c.borrow().get_stale(&hash.to_string()))
}

pub fn serving_accounts_stale() -> Option<Vec<AccountRow>> {
    SERVING_ACCOUNTS.with(|c| c.borrow().get_stale(&()))
}

pub fn catalog_stale(account: i64) -> Option<Rc<Catalog>> {
    CATALOGS.with(|c| c.borrow().get_stale(&account))
}
