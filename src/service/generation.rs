//! Voucher generation: one signed code per consented customer of a campaign's segment.
//!
//! A job walks the segment in keyset-paginated batches (by customer id). For each batch it
//! reserves serials, assigns variants, signs codes in memory, then in one transaction inserts
//! the vouchers (multi-row, skipping customers who already have one) and advances the job's
//! counters and cursor. A crash loses at most the batch in flight; the job is taken over from
//! its cursor by the next worker once its heartbeat is stale. Two jobs of one campaign, or a
//! re-run, never issue twice: (campaign, customer) is unique in the database.

use std::{sync::Arc, time::Duration};

use chrono::{NaiveDateTime, Utc};
use rand::RngCore;
use tokio::sync::Notify;

use super::{
    idempotency::{self, Answer, Idempotent},
    issuance, ServiceError, Services,
};
use crate::{
    domain::{campaign::Campaign, code},
    signing::Signing,
    store::{
        campaigns, customers,
        jobs::{self, Progress},
        segments::{self, SegmentAt},
        vouchers::{self, NewVoucher},
        Conn, Db, StoreError,
    },
};

/// Queues a generation job for campaign `campaign_id`, at most once per Idempotency-Key, and
/// wakes the worker; `answer` writes the 202 body kept for replays.
pub async fn start(
    s: &Services,
    campaign_id: i32,
    idem: Idempotent,
    answer: impl FnOnce(jobs::JobRow) -> serde_json::Value + Send + 'static,
) -> Result<Answer, ServiceError> {
    let campaign = issuance::load_campaign(s, campaign_id).await?;
    issuance::still_issuing(&campaign, Utc::now())?;
    let answer =
        idempotency::once(&s.db, idem, move |c| Ok((202, answer(jobs::create(c, campaign_id)?)))).await?;
    s.generator.wake();
    Ok(answer)
}

/// Customers per batch.
pub const BATCH: i64 = 5_000;
/// A running job whose worker has not advanced it for this long is taken over.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// Why a job stopped early.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("campaign {0} does not exist")]
    NoCampaign(i32),
    #[error("campaign {0} has ended")]
    Ended(i32),
    #[error("no active signing key; run `vouchsafe keys rotate-signing`")]
    NoSigningKey,
    #[error("code could not be signed: {0}")]
    Code(#[from] code::CodeError),
    #[error("another worker took the job over")]
    LostClaim,
}

impl From<diesel::result::Error> for GenerationError {
    fn from(e: diesel::result::Error) -> Self {
        GenerationError::Store(e.into())
    }
}

/// Runs generation jobs in the background of a service (or in the foreground of the CLI).
pub struct Generator {
    db: Db,
    signing: Arc<Signing>,
    owner: String,
    wake: Notify,
}

fn stale_before() -> NaiveDateTime {
    Utc::now().naive_utc() - chrono::Duration::from_std(STALE_AFTER).expect("small duration")
}

impl Generator {
    /// A generator with a random worker identity.
    pub fn new(db: Db, signing: Arc<Signing>) -> Arc<Generator> {
        let mut raw = [0u8; 8];
        rand::rng().fill_bytes(&mut raw);
        Arc::new(Generator { db, signing, owner: format!("w_{}", hex::encode(raw)), wake: Notify::new() })
    }

    /// Wakes the worker loop: a job was queued (by a caller that wrote it itself).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Queues a job and wakes the worker.
    pub async fn enqueue(&self, campaign_id: i32) -> Result<jobs::JobRow, StoreError> {
        let job = self.db.run(move |c| jobs::create(c, campaign_id)).await?;
        self.wake.notify_one();
        Ok(job)
    }

    /// Works through claimable jobs until the generator is dropped: woken by `enqueue`, and
    /// every few seconds to take over jobs whose worker died.
    pub fn spawn(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(this) = weak.upgrade() else { break };
                match this.db.run(|c| jobs::claimable(c, stale_before())).await {
                    Ok(ids) => {
                        for id in ids {
                            if let Err(e) = this.run(&id).await {
                                tracing::warn!(job = %id, error = %super::ErrorChain(&e), "generation job stopped");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %super::ErrorChain(&e), "cannot list generation jobs"),
                }
                let sleep = tokio::time::sleep(Duration::from_secs(2));
                tokio::select! {
                    _ = this.wake.notified() => {}
                    _ = sleep => {}
                }
            }
        });
    }

    /// Claims a job and runs it to the end. Returns `false` when another worker has it.
    pub async fn run(&self, job_id: &str) -> Result<bool, GenerationError> {
        let (id, owner) = (job_id.to_owned(), self.owner.clone());
        if !self.db.run(move |c| jobs::claim(c, &id, &owner, stale_before())).await? {
            return Ok(false);
        }
        let result = self.run_claimed(job_id).await;
        let (id, owner) = (job_id.to_owned(), self.owner.clone());
        match &result {
            Ok(()) => {
                self.db.run(move |c| jobs::finish(c, &id, &owner, "done", None)).await?;
                tracing::info!(job = %job_id, "generation job done");
            }
            Err(GenerationError::LostClaim) => {}
            Err(e) => {
                let msg = e.to_string();
                self.db.run(move |c| jobs::finish(c, &id, &owner, "failed", Some(&msg))).await?;
            }
        }
        result.map(|()| true)
    }

    async fn run_claimed(&self, job_id: &str) -> Result<(), GenerationError> {
        let id = job_id.to_owned();
        let job = self.db.run(move |c| jobs::get(c, &id)).await?.ok_or(StoreError::NotFound)?;
        let campaign_id = job.campaign_id;
        let campaign = self
            .db
            .run(move |c| campaigns::get(c, campaign_id))
            .await?
            .ok_or(GenerationError::NoCampaign(campaign_id))?;
        if campaign.status == crate::domain::campaign::CampaignStatus::Ended {
            return Err(GenerationError::Ended(campaign_id));
        }
        let campaign = Arc::new(campaign);
        // The segment is evaluated as of the job's creation, for every batch alike.
        let at_time = job.created_at;
        if job.cursor.is_none() {
            let (c2, id, owner) = (campaign.clone(), job_id.to_owned(), self.owner.clone());
            let owned = self
                .db
                .run(move |c| {
                    let at = SegmentAt { segment: &c2.segment, currency: &c2.currency, now: at_time };
                    let total = segments::count(c, &at)?;
                    jobs::set_total(c, &id, &owner, total)
                })
                .await?;
            if !owned {
                return Err(GenerationError::LostClaim);
            }
        }
        // Two stages on two connections, one batch apart: while one batch is written, the next
        // is read from the segment and signed. The job's cursor moves only when a batch is
        // written, so a takeover resumes after the last written batch.
        let (ready, mut batches) = tokio::sync::mpsc::channel::<Batch>(1);
        let reader = {
            let (c2, signing, db, after) =
                (campaign.clone(), self.signing.clone(), self.db.clone(), job.cursor.clone());
            tokio::task::spawn_blocking(move || -> Result<(), GenerationError> {
                let mut after = after;
                loop {
                    // A connection per batch, given back before waiting for the writer: a pool
                    // of one (SQLite in memory) alternates instead of deadlocking.
                    let keyring = signing.keyring();
                    let next = prepare_batch(&mut db.get()?, &c2, &keyring, after.as_deref(), at_time)?;
                    let Some(batch) = next else { return Ok(()) };
                    after = Some(batch.last.clone());
                    if ready.blocking_send(batch).is_err() {
                        return Ok(()); // the writer stopped; its error is the one to report
                    }
                }
            })
        };
        while let Some(batch) = batches.recv().await {
            let (id, owner, db) = (job_id.to_owned(), self.owner.clone(), self.db.clone());
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get()?;
                write_batch(&mut conn, batch, &id, &owner)
            })
            .await
            .map_err(StoreError::Join)??;
        }
        reader.await.map_err(StoreError::Join)?
    }
}

/// One batch read, signed and written on one connection; returns the new cursor, or `None`
/// when the segment is exhausted. (The job runs the two halves as a pipeline.)
pub fn run_batch(
    conn: &mut Conn,
    campaign: &Campaign,
    keyring: &code::Keyring,
    job_id: &str,
    owner: &str,
    after: Option<&str>,
    at_time: NaiveDateTime,
) -> Result<Option<String>, GenerationError> {
    let Some(batch) = prepare_batch(conn, campaign, keyring, after, at_time)? else { return Ok(None) };
    let last = batch.last.clone();
    write_batch(conn, batch, job_id, owner)?;
    Ok(Some(last))
}

/// Vouchers signed for the next customers of a segment, not yet written.
pub struct Batch {
    vouchers: Vec<NewVoucher>,
    progress: Progress,
    /// The last customer id read: the job's cursor once this batch is written.
    last: String,
}

/// Reads the next customers of the segment after `after` and signs their vouchers (serials
/// allocated); `None` when the segment is exhausted.
pub fn prepare_batch(
    conn: &mut Conn,
    campaign: &Campaign,
    keyring: &code::Keyring,
    after: Option<&str>,
    at_time: NaiveDateTime,
) -> Result<Option<Batch>, GenerationError> {
    let at = SegmentAt { segment: &campaign.segment, currency: &campaign.currency, now: at_time };
    let customers = segments::page(conn, &at, after, BATCH)?;
    let Some((last, _)) = customers.last().cloned() else {
        return Ok(None);
    };
    let consented: Vec<&str> = customers.iter().filter(|(_, ok)| *ok).map(|(id, _)| id.as_str()).collect();
    let progress = Progress {
        processed: customers.len() as i64,
        skipped_no_consent: (customers.len() - consented.len()) as i64,
        ..Progress::default()
    };
    let vouchers = if consented.is_empty() {
        Vec::new()
    } else {
        let key = keyring.current().ok_or(GenerationError::NoSigningKey)?;
        let first = campaigns::allocate_serials(conn, campaign.id, consented.len() as i64)?;
        issuance::issue_codes(campaign, key, first, &consented)?
    };
    Ok(Some(Batch { vouchers, progress, last }))
}

/// Writes a batch and moves the job's cursor past it, in one transaction, if `owner` still
/// holds the job. A customer erased since the batch was read gets no voucher, and the cursor
/// is the greatest id still there up to the batch's last, so it never names an erased customer
/// and still resumes right after this batch.
pub fn write_batch(conn: &mut Conn, batch: Batch, job_id: &str, owner: &str) -> Result<(), GenerationError> {
    let Batch { mut vouchers, mut progress, last } = batch;
    conn.transaction_with(|conn| {
        // Before reading customers: an erasure in progress finishes first (see `customers::erase`).
        jobs::lock_for_batch(conn, job_id)?;
        let ids: Vec<&str> = vouchers.iter().filter_map(|v| v.customer_id.as_deref()).collect();
        let present = customers::existing(conn, &ids)?;
        vouchers.retain(|v| v.customer_id.as_ref().is_some_and(|id| present.contains(id)));
        let cursor = customers::greatest_id(conn, &last, true)?.unwrap_or_default();
        let inserted = vouchers::insert_batch(conn, &vouchers)? as i64;
        progress.issued = inserted;
        progress.skipped_existing = vouchers.len() as i64 - inserted;
        if jobs::advance(conn, job_id, owner, progress, &cursor)? {
            Ok(())
        } else {
            Err(GenerationError::LostClaim)
        }
    })
}
