//! Group commit: redemptions the Redis script allowed are written to the database together.
//!
//! Every redemption must be in the database before its 2xx, and on PostgreSQL one transaction
//! per redemption is bounded by the hot campaign row (each holds its lock through a WAL flush).
//! Here a few committer threads each take whatever redemptions are waiting (up to [`MAX_BATCH`])
//! and write them in one transaction ([`redemptions::commit_batch`]): one budget update per
//! campaign for the sum, one voucher update, one multi-row insert, one flush. There is no
//! timer: while one batch commits, the next one gathers, so an idle service answers at once and
//! a busy one commits more per flush. A batch the database would refuse in part (possible only
//! after Redis lost data) is written one by one instead, so each caller gets its own answer.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot};

use super::{LedgerError, Outcome, Redeemed};
use crate::store::{
    redemptions::{self, Redemption},
    Db, StoreError,
};

/// The most redemptions one transaction writes (16 columns each: well under the parameter
/// limits of PostgreSQL and SQLite).
pub const MAX_BATCH: usize = 256;
/// Committer tasks: one gathers while another commits.
const COMMITTERS: usize = 4;

type Answer = Result<Outcome, LedgerError>;
/// What the database said to one member of a batch.
type Written = Result<Outcome, StoreError>;

struct Job {
    redemption: Redemption,
    answer: oneshot::Sender<Answer>,
    /// Not written after this: its pending entry may be near the sweeper's grace by then.
    deadline: Instant,
}

/// The queue in front of the committers.
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Job>,
    max_wait: Duration,
}

impl GroupCommit {
    /// Starts the committers, each on its own thread (they wait on the database, and belong to
    /// no async runtime, so no HTTP worker's shutdown takes them along); they stop when this is
    /// dropped. A redemption still queued after `max_wait` is answered unavailable and never
    /// written (keep it well under the sweeper's grace, so the sweeper never releases what is
    /// then written).
    pub fn start(db: Db, max_wait: Duration) -> std::io::Result<Self> {
        Self::start_with(db, max_wait, COMMITTERS)
    }

    /// [`GroupCommit::start`] with `committers` threads (SQLite, one writer at a time: one).
    pub fn start_with(db: Db, max_wait: Duration, committers: usize) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..committers.max(1) {
            let (db, rx) = (db.clone(), rx.clone());
            std::thread::Builder::new()
                .name(format!("vouchsafe-commit-{i}"))
                .spawn(move || committer(&db, &rx))?;
        }
        Ok(GroupCommit { queue, max_wait })
    }

    /// Writes `r` to the database with whatever else is waiting, as [`redemptions::commit`]
    /// would on its own.
    pub async fn commit(&self, r: Redemption) -> Answer {
        let (answer, done) = oneshot::channel();
        self.queue
            .send(Job { redemption: r, answer, deadline: Instant::now() + self.max_wait })
            .map_err(|_| LedgerError::Unavailable("the ledger is shutting down".into()))?;
        done.await.map_err(|_| LedgerError::Unavailable("the ledger is shutting down".into()))?
    }
}

fn committer(db: &Db, rx: &std::sync::Mutex<mpsc::UnboundedReceiver<Job>>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match rx.blocking_recv() {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        let now = Instant::now();
        let (jobs, late): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.deadline > now);
        for job in late {
            let _ =
                job.answer.send(Err(LedgerError::Unavailable("the database did not commit in time".into())));
        }
        if jobs.is_empty() {
            continue;
        }
        let rows: Vec<Redemption> = jobs.iter().map(|j| j.redemption.clone()).collect();
        match db.get().and_then(|mut c| write(&mut c, rows)) {
            Ok(answers) => {
                for (job, answer) in jobs.into_iter().zip(answers) {
                    let _ = job.answer.send(answer.map_err(LedgerError::from));
                }
            }
            Err(e) => {
                // Nothing acknowledged; the pending entries stay for the sweeper.
                let why = e.to_string();
                for job in jobs {
                    let _ = job.answer.send(Err(LedgerError::Store(StoreError::Unavailable(why.clone()))));
                }
            }
        }
    }
}

/// The batch in one transaction, else each on its own.
fn write(c: &mut crate::store::Conn, rows: Vec<Redemption>) -> Result<Vec<Written>, StoreError> {
    if rows.len() > 1 && redemptions::commit_batch(c, &rows)? {
        return Ok(rows.into_iter().map(|r| Ok(Ok(Redeemed::New(r)))).collect());
    }
    Ok(rows.iter().map(|r| redemptions::commit(c, r, false)).collect())
}
