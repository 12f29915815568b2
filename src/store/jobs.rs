//! Generation jobs: state in the database, so a restart resumes a job from its cursor, and a
//! claim with an owner and a heartbeat (`updated_at`) so only one worker advances a job.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;

use super::{schema::generation_jobs as jobs, AnyConnection, Conn, StoreError};

/// A generation job as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub campaign_id: i32,
    pub status: String,
    pub total: i64,
    pub processed: i64,
    pub issued: i64,
    pub skipped_no_consent: i64,
    pub skipped_existing: i64,
    pub cursor: Option<String>,
    pub owner: Option<String>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What one batch added to a job's counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub processed: i64,
    pub issued: i64,
    pub skipped_no_consent: i64,
    pub skipped_existing: i64,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Queues a job for a campaign.
pub fn create(conn: &mut Conn, campaign_id: i32) -> Result<JobRow, StoreError> {
    let mut raw = [0u8; 10];
    rand::rng().fill_bytes(&mut raw);
    let id = format!("gen_{}", hex::encode(raw));
    let t = now();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(&id),
            jobs::campaign_id.eq(campaign_id),
            jobs::status.eq("queued"),
            jobs::created_at.eq(t),
            jobs::updated_at.eq(t),
        ))
        .execute(conn.any())?;
    get(conn, &id)?.ok_or(StoreError::NotFound)
}

/// Reads a job.
pub fn get(conn: &mut Conn, id: &str) -> Result<Option<JobRow>, StoreError> {
    Ok(jobs::table.find(id).select(JobRow::as_select()).first(conn.any()).optional()?)
}

/// Jobs a worker may take: queued ones, and running ones whose worker stopped beating
/// before `stale_before` (it crashed or was killed).
pub fn claimable(conn: &mut Conn, stale_before: NaiveDateTime) -> Result<Vec<String>, StoreError> {
    Ok(jobs::table
        .filter(
            jobs::status.eq("queued").or(jobs::status.eq("running").and(jobs::updated_at.lt(stale_before))),
        )
        .order(jobs::created_at)
        .select(jobs::id)
        .load(conn.any())?)
}

/// Takes a job for `owner`; `false` when another worker has it.
pub fn claim(
    conn: &mut Conn,
    id: &str,
    owner: &str,
    stale_before: NaiveDateTime,
) -> Result<bool, StoreError> {
    let n = diesel::update(jobs::table.find(id).filter(
        jobs::status.eq("queued").or(jobs::status.eq("running").and(jobs::updated_at.lt(stale_before))),
    ))
    .set((jobs::status.eq("running"), jobs::owner.eq(owner), jobs::updated_at.eq(now())))
    .execute(conn.any())?;
    Ok(n == 1)
}

/// Sets the job's total (customers in the segment when it started); `false` if not owned.
pub fn set_total(conn: &mut Conn, id: &str, owner: &str, total: i64) -> Result<bool, StoreError> {
    let n = diesel::update(jobs::table.find(id).filter(jobs::owner.eq(owner)))
        .set((jobs::total.eq(total), jobs::updated_at.eq(now())))
        .execute(conn.any())?;
    Ok(n == 1)
}

/// Adds a batch's progress and moves the cursor; `false` when the job is no longer ours, in
/// which case the caller must roll its batch back.
pub fn advance(
    conn: &mut Conn,
    id: &str,
    owner: &str,
    p: Progress,
    cursor: &str,
) -> Result<bool, StoreError> {
    let n =
        diesel::update(jobs::table.find(id).filter(jobs::owner.eq(owner)).filter(jobs::status.eq("running")))
            .set((
                jobs::processed.eq(jobs::processed + p.processed),
                jobs::issued.eq(jobs::issued + p.issued),
                jobs::skipped_no_consent.eq(jobs::skipped_no_consent + p.skipped_no_consent),
                jobs::skipped_existing.eq(jobs::skipped_existing + p.skipped_existing),
                jobs::cursor.eq(Some(cursor)),
                jobs::updated_at.eq(now()),
            ))
            .execute(conn.any())?;
    Ok(n == 1)
}

/// Ends a job as `done` or `failed`.
pub fn finish(
    conn: &mut Conn,
    id: &str,
    owner: &str,
    status: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(jobs::table.find(id).filter(jobs::owner.eq(owner)))
        .set((jobs::status.eq(status), jobs::error.eq(error), jobs::updated_at.eq(now())))
        .execute(conn.any())?;
    Ok(())
}

/// Takes the job's row lock in a batch's transaction, before the batch reads anything else, so
/// that an erasure ([`lock_all`]) either finishes before the batch looks at its customers or
/// starts after the batch is committed. SQLite needs nothing: its write transactions already
/// run one at a time (`BEGIN IMMEDIATE`).
pub fn lock_for_batch(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    if let AnyConnection::Pg(c) = conn.any() {
        jobs::table.find(id).select(jobs::id).for_update().first::<String>(c).optional()?;
    }
    Ok(())
}

/// Waits for every batch being written and holds new ones back until the caller's transaction
/// ends (PostgreSQL: an `EXCLUSIVE` table lock, which plain reads of jobs pass).
pub fn lock_all(conn: &mut Conn) -> Result<(), StoreError> {
    if let AnyConnection::Pg(c) = conn.any() {
        diesel::sql_query("LOCK TABLE generation_jobs IN EXCLUSIVE MODE").execute(c)?;
    }
    Ok(())
}

/// Moves every job whose cursor is `from` to `to` (erasure: the cursor must not name an erased
/// customer).
pub fn replace_cursor(conn: &mut Conn, from: &str, to: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(jobs::table.filter(jobs::cursor.eq(from)))
        .set(jobs::cursor.eq(to))
        .execute(conn.any())?)
}
