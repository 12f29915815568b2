//! First answers of writes made with an `Idempotency-Key`, per API key. A key is reserved
//! before the write runs (status 0), so two concurrent requests with one key cannot both run.

use chrono::Utc;
use diesel::prelude::*;

use super::{schema::idempotency_keys as idem, Conn, StoreError};
use crate::with_conn;

/// What a key holds.
#[derive(Debug, Clone, Queryable)]
pub struct Stored {
    pub request_hash: String,
    /// 0 while the first request is still running.
    pub status: i32,
    pub body: String,
}

/// Reserves `key` for a request with this hash; `None` when reserved now, else what the key
/// already holds.
pub fn reserve(
    conn: &mut Conn,
    api_key_id: &str,
    key: &str,
    hash: &str,
) -> Result<Option<Stored>, StoreError> {
    let inserted = with_conn!(conn, |c| diesel::insert_into(idem::table)
        .values((
            idem::api_key_id.eq(api_key_id),
            idem::idem_key.eq(key),
            idem::request_hash.eq(hash),
            idem::status.eq(0),
            idem::body.eq(""),
            idem::created_at.eq(Utc::now().naive_utc()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(None);
    }
    let stored = with_conn!(conn, |c| idem::table
        .find((api_key_id, key))
        .select((idem::request_hash, idem::status, idem::body))
        .first(c))?;
    Ok(Some(stored))
}

/// Records the first answer.
pub fn complete(
    conn: &mut Conn,
    api_key_id: &str,
    key: &str,
    status: i32,
    body: &str,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(idem::table.find((api_key_id, key)))
        .set((idem::status.eq(status), idem::body.eq(body)))
        .execute(c))?;
    Ok(())
}

/// Frees a reservation whose request failed, so a retry runs again.
pub fn release(conn: &mut Conn, api_key_id: &str, key: &str) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(idem::table.find((api_key_id, key)).filter(idem::status.eq(0)))
        .execute(c))?;
    Ok(())
}
