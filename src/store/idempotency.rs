//! First answers of writes made with an `Idempotency-Key`, per API key.
//!
//! [`once_in_tx`] reserves the key, runs the write and records its answer in one database
//! transaction (as zero-to-production does): a crash or an error anywhere before the commit
//! leaves nothing behind, so a retry simply runs again, and a concurrent request with the same
//! key waits for the first one's commit (PostgreSQL blocks on the unique key; SQLite's
//! `BEGIN IMMEDIATE` serializes writers) and then gets its answer. A reservation without an
//! answer (status 0) is never committed any more; one left by an older version, or by a write
//! that is not a database write, is a lease that expires after [`LEASE`].

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{schema::idempotency_keys as idem, Conn, StoreError};
use crate::per_backend;

/// How long an unanswered reservation holds its key before a retry may run.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// What a key holds.
#[derive(Debug, Clone, Queryable)]
pub struct Stored {
    pub request_hash: String,
    /// 0 while the first request is still running.
    pub status: i32,
    pub body: String,
}

/// What [`once_in_tx`] did.
#[derive(Debug)]
pub enum Once<E> {
    /// The write ran and its answer was stored with the key.
    Ran { status: i32, body: String },
    /// The key was used before: its stored answer (compare the request hash).
    Stored(Stored),
    /// The write failed; nothing was stored, the key stays free.
    Failed(E),
}

enum Abort<E> {
    Store(StoreError),
    Write(E),
}

impl<E> From<StoreError> for Abort<E> {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

impl<E> From<diesel::result::Error> for Abort<E> {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Store(e.into())
    }
}

/// Runs `write` at most once per (API key, Idempotency-Key): reservation, write and answer in
/// one transaction.
pub fn once_in_tx<E>(
    conn: &mut Conn,
    api_key_id: &str,
    key: &str,
    hash: &str,
    write: impl FnOnce(&mut Conn) -> Result<(i32, String), E>,
) -> Result<Once<E>, StoreError> {
    let outcome = conn.transaction_with(|conn| {
        if let Some(stored) = reserve(conn, api_key_id, key, hash, Utc::now().naive_utc())? {
            return Ok(Once::Stored(stored));
        }
        let (status, body) = write(conn).map_err(Abort::Write)?;
        complete(conn, api_key_id, key, status, &body)?;
        Ok(Once::Ran { status, body })
    });
    match outcome {
        Ok(done) => Ok(done),
        Err(Abort::Write(e)) => Ok(Once::Failed(e)),
        Err(Abort::Store(e)) => Err(e),
    }
}

/// Reserves `key` for a request with this hash at `now`; `None` when reserved now, else what
/// the key already holds. An unanswered reservation older than [`LEASE`] is taken over.
pub fn reserve(
    conn: &mut Conn,
    api_key_id: &str,
    key: &str,
    hash: &str,
    now: NaiveDateTime,
) -> Result<Option<Stored>, StoreError> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(idem::table)
        .values((
            idem::api_key_id.eq(api_key_id),
            idem::idem_key.eq(key),
            idem::request_hash.eq(hash),
            idem::status.eq(0),
            idem::body.eq(""),
            idem::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(None);
    }
    let expired = now - Duration::from_std(LEASE).unwrap_or_else(|_| Duration::seconds(60));
    let taken = diesel::update(
        idem::table.find((api_key_id, key)).filter(idem::status.eq(0)).filter(idem::created_at.lt(expired)),
    )
    .set((idem::request_hash.eq(hash), idem::created_at.eq(now)))
    .execute(conn.any())?;
    if taken == 1 {
        return Ok(None);
    }
    let stored = idem::table
        .find((api_key_id, key))
        .select((idem::request_hash, idem::status, idem::body))
        .first(conn.any())?;
    Ok(Some(stored))
}

/// Records the first answer.
fn complete(conn: &mut Conn, api_key_id: &str, key: &str, status: i32, body: &str) -> Result<(), StoreError> {
    diesel::update(idem::table.find((api_key_id, key)))
        .set((idem::status.eq(status), idem::body.eq(body)))
        .execute(conn.any())?;
    Ok(())
}
