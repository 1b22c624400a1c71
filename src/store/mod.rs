//! D1 and KV access, behind small typed functions. Isolate memory (`memory`) sits in
//! front of both so a hot request does not wait on either.

pub mod accounts;
pub mod aliases;
pub mod cache;
pub mod keys;
pub mod memory;
pub mod portability;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod usage;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::protocol::error::{ApiError, ErrorKind};
use crate::token_crypto::{self, TokenCipher};

thread_local! {
    /// The token cipher, derived once per isolate (an isolate's secrets never change).
    static CIPHER: OnceCell<Option<Rc<TokenCipher>>> = const { OnceCell::new() };
}

/// The cipher for GitHub tokens at rest, when TOKEN_ENCRYPTION_KEY is set.
pub fn token_cipher(env: &Env) -> Option<Rc<TokenCipher>> {
    CIPHER.with(|c| {
        c.get_or_init(|| {
            let secret = env
                .secret(token_crypto::SECRET_NAME)
                .ok()
                .map(|s| s.to_string());
            TokenCipher::from_secret(secret.as_deref()).map(Rc::new)
        })
        .clone()
    })
}

pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn db(env: &Env) -> Result<D1Database, ApiError> {
    env.d1("DB").map_err(|e| storage_error("D1 binding DB", e))
}

/// Storage failures are logged in full and answered without internals.
pub fn storage_error(what: &str, e: impl std::fmt::Display) -> ApiError {
    worker::console_error!("storage error ({what}): {e}");
    ApiError::new(
        ErrorKind::Unavailable,
        format!("storage is unavailable ({what}); try again shortly"),
    )
}

/// A query's rows as arrays of cells (column order as selected), for aggregate queries
/// whose columns have no names worth deserializing by.
pub async fn raw_rows(
    db: &D1Database,
    sql: String,
    binds: &[JsValue],
    what: &str,
) -> Result<Vec<Vec<serde_json::Value>>, ApiError> {
    db.prepare(sql)
        .bind(binds)
        .map_err(|e| storage_error(what, e))?
        .raw::<serde_json::Value>()
        .await
        .map_err(|e| storage_error(what, e))
}

/// A text cell (NULL: None).
pub fn cell_str(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// A count cell (SUM() of nothing is NULL: 0).
pub fn cell_u64(v: &serde_json::Value) -> u64 {
    v.as_f64().map(|f| f as u64).unwrap_or(0)
}

pub fn js(s: &str) -> JsValue {
    JsValue::from_str(s)
}

pub fn js_opt(s: Option<&str>) -> JsValue {
    s.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}
