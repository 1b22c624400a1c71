//! Isolate memory: short-lived copies of what every request needs, so a hot request
//! touches neither D1 nor KV. Admin changes clear the copies in their own isolate;
//! other isolates catch up within the TTLs below.

use std::cell::RefCell;
use std::rc::Rc;

use super::accounts::AccountRow;
use super::keys::KeyIdentity;
use crate::models::Catalog;
use crate::ttl_cache::TtlCache;
use crate::upstream::copilot::CopilotToken;

/// A deleted or rotated key keeps working in other isolates for at most this long.
pub const KEY_TTL_MS: u64 = 60_000;
pub const ACCOUNT_TTL_MS: u64 = 30_000;
pub const CATALOG_TTL_MS: u64 = 60_000;

thread_local! {
    static KEYS: RefCell<TtlCache<String, KeyIdentity>> = RefCell::new(TtlCache::new(512));
    static ACTIVE_ACCOUNT: RefCell<TtlCache<(), AccountRow>> = RefCell::new(TtlCache::new(1));
    static TOKENS: RefCell<TtlCache<i64, CopilotToken>> = RefCell::new(TtlCache::new(16));
    static CATALOGS: RefCell<TtlCache<i64, Rc<Catalog>>> = RefCell::new(TtlCache::new(16));
    /// Last `last_used_at` write per key id, so a busy key is written once a minute.
    static TOUCHED: RefCell<TtlCache<String, ()>> = RefCell::new(TtlCache::new(512));
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

pub fn active_account(now: u64) -> Option<AccountRow> {
    ACTIVE_ACCOUNT.with(|c| c.borrow().get(&(), now))
}

pub fn put_active_account(row: AccountRow, now: u64) {
    ACTIVE_ACCOUNT.with(|c| c.borrow_mut().put((), row, now + ACCOUNT_TTL_MS, now));
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
    ACTIVE_ACCOUNT.with(|c| c.borrow_mut().clear());
    TOKENS.with(|c| c.borrow_mut().clear());
    CATALOGS.with(|c| c.borrow_mut().clear());
}
