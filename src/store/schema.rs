//! Brings the D1 schema up to date on first use: one cheap read per isolate when all is
//! applied; otherwise each missing migration runs as one batch (a transaction) together
//! with its row in wrangler's migrations table. Isolates starting at once may race to
//! apply the same migration: the loser's batch fails and rolls back, and it finds the
//! migration recorded by the winner.

use std::cell::Cell;

use serde::Deserialize;
use worker::D1Database;

use super::{js, storage_error};
use crate::protocol::error::{ApiError, ErrorKind};
use crate::schema::{self, Migration, MIGRATIONS};

thread_local! {
    /// This isolate found the schema current.
    static CURRENT: Cell<bool> = const { Cell::new(false) };
}

/// Ok when the schema is current (or D1 cannot be reached: the request's own storage
/// calls then decide what the caller gets). A migration that fails is a 503 naming it;
/// nothing of it was applied.
pub async fn ensure(db: &D1Database) -> Result<(), ApiError> {
    if CURRENT.with(Cell::get) {
        return Ok(());
    }
    let applied = match applied(db).await {
        Ok(a) => a,
        Err(Unreachable) => return Ok(()),
    };
    for m in schema::pending(MIGRATIONS, &applied) {
        if let Err(e) = apply(db, m).await {
            // Another isolate may have applied it meanwhile.
            match self::applied(db).await {
                Ok(now) if now.iter().any(|n| n == m.name) => continue,
                _ => {
                    worker::console_error!("migration {} failed: {e}", m.name);
                    return Err(ApiError::new(
                        ErrorKind::Unavailable,
                        format!(
                            "the database schema could not be brought up to date: migration {} \
                             failed ({e}); nothing of it was applied. Check the database with \
                             `npx wrangler d1 migrations list DB --remote`.",
                            m.name
                        ),
                    ));
                }
            }
        }
    }
    CURRENT.with(|c| c.set(true));
    Ok(())
}

struct Unreachable;

/// Names of the applied migrations (none when the table does not exist yet).
async fn applied(db: &D1Database) -> Result<Vec<String>, Unreachable> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    match db.prepare(schema::APPLIED).all().await {
        Ok(r) => Ok(r
            .results::<Row>()
            .map_err(|_| Unreachable)?
            .into_iter()
            .map(|r| r.name)
            .collect()),
        Err(e) if e.to_string().contains("no such table") => Ok(Vec::new()),
        Err(e) => {
            storage_error("schema check", e);
            Err(Unreachable)
        }
    }
}

async fn apply(db: &D1Database, m: &Migration) -> Result<(), worker::Error> {
    let mut batch = vec![db.prepare(schema::MIGRATIONS_TABLE)];
    batch.extend(schema::statements(m.sql).into_iter().map(|s| db.prepare(s)));
    batch.push(db.prepare(schema::RECORD).bind(&[js(m.name)])?);
    db.batch(batch).await?;
    Ok(())
}
