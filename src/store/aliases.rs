//! Model aliases in D1: one row per alias, its models as a JSON array.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::{js, storage_error};
use crate::api_error::ApiError;
use crate::model_aliases::{Alias, Aliases};

#[derive(Deserialize)]
struct Row {
    alias: String,
    models: String,
}

pub async fn load(db: &D1Database) -> Result<Aliases, ApiError> {
    let rows = db
        .prepare("SELECT alias, models FROM model_aliases")
        .all()
        .await
        .map_err(|e| storage_error("model aliases", e))?
        .results::<Row>()
        .map_err(|e| storage_error("model aliases", e))?;
    // A row that does not parse (written by hand) is left out rather than failing requests.
    let list = rows
        .into_iter()
        .filter_map(|r| {
            let models = serde_json::from_str::<Vec<String>>(&r.models).ok()?;
            Some(Alias {
                alias: r.alias,
                models,
            })
        })
        .collect();
    Ok(Aliases::new(list))
}

/// Inserts or replaces one alias (also part of an import's batch).
pub fn save_statement(
    db: &D1Database,
    a: &Alias,
    now: &str,
) -> Result<D1PreparedStatement, ApiError> {
    let models = serde_json::to_string(&a.models).unwrap_or_else(|_| "[]".into());
    db.prepare(
        "INSERT INTO model_aliases (alias, models, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (alias) DO UPDATE SET alias = excluded.alias, models = excluded.models,
           updated_at = excluded.updated_at",
    )
    .bind(&[js(&a.alias), js(&models), js(now)])
    .map_err(|e| storage_error("model aliases", e))
}

pub async fn save(db: &D1Database, a: &Alias, now: &str) -> Result<(), ApiError> {
    save_statement(db, a, now)?
        .run()
        .await
        .map_err(|e| storage_error("model aliases", e))?;
    Ok(())
}

/// Whether an alias was there to delete.
pub async fn delete(db: &D1Database, alias: &str) -> Result<bool, ApiError> {
    let row = db
        .prepare("DELETE FROM model_aliases WHERE alias = ?1 RETURNING alias")
        .bind(&[js(alias)])
        .map_err(|e| storage_error("model aliases", e))?
        .first::<serde_json::Value>(None)
        .await
        .map_err(|e| storage_error("model aliases", e))?;
    Ok(row.is_some())
}
