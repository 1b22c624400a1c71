//! Whole-database export and import. An import is one D1 batch (a transaction): it applies
//! completely or not at all. Rows travel as JSON parameters read with `json_each`, so a
//! large import is a handful of statements, not thousands.

use serde::Deserialize;
use serde_json::Value;
use worker::D1Database;

use super::{js, storage_error};
use crate::api_error::{ApiError, ErrorKind};
use crate::portability::{AccountRecord, Data, KeyRecord, Mode, SearchUsageRecord, UsageRecord};
use crate::search_config::StoredConfig;
use crate::secret::Secret;
use crate::token_crypto::{self, TokenCipher};

/// Tokens are exported opened (the document is the way to move a deployment, and the
/// target may have another secret); one that cannot be opened goes out as stored.
pub async fn export(db: &D1Database, cipher: Option<&TokenCipher>) -> Result<Data, ApiError> {
    let api_keys = db
        .prepare(
            "SELECT id, name, key_hash, prefix, created_at, last_used_at, rpm_limit, monthly_token_limit
             FROM api_keys ORDER BY created_at, id",
        )
        .all()
        .await
        .and_then(|r| r.results::<KeyRecord>())
        .map_err(|e| storage_error("export api_keys", e))?;
    #[derive(Deserialize)]
    struct AccountRow {
        id: i64,
        login: String,
        name: Option<String>,
        avatar_url: Option<String>,
        token: String,
        account_type: String,
        active: i64,
        disabled: i64,
        created_at: String,
    }
    let github_accounts = db
        .prepare(
            "SELECT id, login, name, avatar_url, token, account_type, active, disabled, created_at
             FROM github_accounts ORDER BY created_at, id",
        )
        .all()
        .await
        .and_then(|r| r.results::<AccountRow>())
        .map_err(|e| storage_error("export github_accounts", e))?
        .into_iter()
        .map(|a| AccountRecord {
            token: token_crypto::open(cipher, a.id, &a.token)
                .unwrap_or_else(|_| Secret::new(a.token)),
            id: a.id,
            login: a.login,
            name: a.name,
            avatar_url: a.avatar_url,
            account_type: a.account_type,
            active: a.active == 1,
            disabled: a.disabled == 1,
            created_at: a.created_at,
        })
        .collect();
    let usage = db
        .prepare(
            "SELECT key_id, model, hour, requests, errors, input_tokens, output_tokens, cache_read_tokens,
                    cache_creation_tokens, nano_aiu
             FROM usage ORDER BY hour, key_id, model",
        )
        .all()
        .await
        .and_then(|r| r.results::<UsageRecord>())
        .map_err(|e| storage_error("export usage", e))?;
    let search = super::search::load(db).await?;
    let search_config = (search != StoredConfig::default()).then(|| search.to_record(cipher));
    let search_usage = db
        .prepare(
            "SELECT key_id, provider, hour, requests, errors FROM search_usage
             ORDER BY hour, key_id, provider",
        )
        .all()
        .await
        .and_then(|r| r.results::<serde_json::Value>())
        .map_err(|e| storage_error("export search_usage", e))?
        .into_iter()
        // A row of a provider this version does not know is left out.
        .filter_map(|v| serde_json::from_value::<SearchUsageRecord>(v).ok())
        .collect();
    Ok(Data {
        api_keys,
        github_accounts,
        usage,
        search_config,
        search_usage,
        model_aliases: super::aliases::load(db).await?.list,
    })
}

/// Rows as JSON arrays of at most ~512 KB each (D1 caps a bound value at 2 MB).
fn chunks<T: serde::Serialize>(rows: &[T]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut size = 0;
    for r in rows {
        let v = serde_json::to_value(r).unwrap_or(Value::Null);
        size += v.to_string().len();
        current.push(v);
        if size > 512 * 1024 {
            out.push(Value::Array(std::mem::take(&mut current)).to_string());
            size = 0;
        }
    }
    if !current.is_empty() {
        out.push(Value::Array(current).to_string());
    }
    out
}

/// `search` is the imported search config as stored (sealed), if the document has one.
pub async fn import(
    db: &D1Database,
    mode: Mode,
    data: &Data,
    search: Option<&StoredConfig>,
    now: &str,
) -> Result<(), ApiError> {
    let mut statements = Vec::new();
    if mode == Mode::Replace {
        for table in [
            "usage",
            "rate_windows",
            "api_keys",
            "github_accounts",
            "search_usage",
            "search_config",
            "model_aliases",
        ] {
            statements.push(db.prepare(format!("DELETE FROM {table}")));
        }
    }
    let bind = |sql: &str, json: &str| {
        db.prepare(sql)
            .bind(&[js(json)])
            .map_err(|e| storage_error("import", e))
    };
    for chunk in chunks(&data.api_keys) {
        statements.push(bind(
            "INSERT INTO api_keys (id, name, key_hash, prefix, created_at, last_used_at, rpm_limit, monthly_token_limit)
             SELECT value ->> '$.id', value ->> '$.name', value ->> '$.key_hash', value ->> '$.prefix',
                    value ->> '$.created_at', value ->> '$.last_used_at', value ->> '$.rpm_limit',
                    value ->> '$.monthly_token_limit'
             FROM json_each(?1) WHERE true
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, key_hash = excluded.key_hash,
               prefix = excluded.prefix, created_at = excluded.created_at, last_used_at = excluded.last_used_at,
               rpm_limit = excluded.rpm_limit, monthly_token_limit = excluded.monthly_token_limit",
            &chunk,
        )?);
    }
    for chunk in chunks(&data.github_accounts) {
        // Accounts arrive inactive; the imported preferred one is activated below.
        statements.push(bind(
            "INSERT INTO github_accounts (id, login, name, avatar_url, token, account_type, active, disabled, created_at)
             SELECT value ->> '$.id', value ->> '$.login', value ->> '$.name', value ->> '$.avatar_url',
                    value ->> '$.token', value ->> '$.account_type', 0, value ->> '$.disabled', value ->> '$.created_at'
             FROM json_each(?1) WHERE true
             ON CONFLICT (id) DO UPDATE SET login = excluded.login, name = excluded.name,
               avatar_url = excluded.avatar_url, token = excluded.token, account_type = excluded.account_type,
               disabled = excluded.disabled, created_at = excluded.created_at",
            &chunk,
        )?);
    }
    if let Some(preferred) = data.github_accounts.iter().find(|a| a.active) {
        // Replace: the document's preferred account; merge: only if none is preferred yet.
        statements.push(
            db.prepare(
                "UPDATE github_accounts SET active = 1
                 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM github_accounts WHERE active = 1)",
            )
            .bind(&[worker::wasm_bindgen::JsValue::from_f64(preferred.id as f64)])
            .map_err(|e| storage_error("import", e))?,
        );
    }
    for chunk in chunks(&data.usage) {
        statements.push(bind(
            "INSERT INTO usage (key_id, model, hour, requests, errors, input_tokens, output_tokens,
                                cache_read_tokens, cache_creation_tokens, nano_aiu)
             SELECT value ->> '$.key_id', value ->> '$.model', value ->> '$.hour', value ->> '$.requests',
                    value ->> '$.errors', value ->> '$.input_tokens', value ->> '$.output_tokens',
                    value ->> '$.cache_read_tokens', value ->> '$.cache_creation_tokens',
                    value ->> '$.nano_aiu'
             FROM json_each(?1) WHERE true
             ON CONFLICT (key_id, model, hour) DO UPDATE SET requests = excluded.requests,
               errors = excluded.errors, input_tokens = excluded.input_tokens,
               output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
               cache_creation_tokens = excluded.cache_creation_tokens, nano_aiu = excluded.nano_aiu",
            &chunk,
        )?);
    }
    if let Some(config) = search {
        statements.push(super::search::save_statement(db, config, now)?);
    }
    for chunk in chunks(&data.search_usage) {
        statements.push(bind(
            "INSERT INTO search_usage (key_id, provider, hour, requests, errors)
             SELECT value ->> '$.key_id', value ->> '$.provider', value ->> '$.hour',
                    value ->> '$.requests', value ->> '$.errors'
             FROM json_each(?1) WHERE true
             ON CONFLICT (key_id, provider, hour) DO UPDATE SET requests = excluded.requests,
               errors = excluded.errors",
            &chunk,
        )?);
    }
    for a in &data.model_aliases {
        statements.push(super::aliases::save_statement(db, a, now)?);
    }
    if statements.is_empty() {
        return Ok(());
    }
    db.batch(statements).await.map_err(|e| {
        let msg = e.to_string();
        worker::console_error!("import failed: {msg}");
        if msg.contains("UNIQUE constraint failed: api_keys.key_hash") {
            ApiError::new(ErrorKind::Conflict, "an imported API key has the same hash as an existing key with another id; nothing was imported")
        } else {
            ApiError::new(ErrorKind::Unavailable, "the import could not be written; nothing was imported")
        }
    })?;
    Ok(())
}
