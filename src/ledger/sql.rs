//! The SQL ledger: every redemption is one database transaction that takes the campaign's row
//! lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), so redemptions of one
//! campaign are serialized by the database. No extra service to run; the embedded default and
//! the benchmark baseline.
//!
//! On SQLite every commit waits for the disk (`synchronous = FULL`), and SQLite has one writer
//! at a time anyway, so redemptions go through one committer thread that writes whatever is
//! waiting in one transaction ([`super::group`]: the same guards per member, a batch with any
//! refusal written one by one so each caller gets its own answer). One disk flush then serves
//! many redemptions instead of one.

use std::time::Duration;

use async_trait::async_trait;

use super::{group::GroupCommit, Ledger, LedgerError, Outcome};
use crate::store::{
    customers::VoidedVoucher,
    redemptions::{self, Redemption, RolledBack},
    Backend, Db,
};

/// A ledger kept in the relational store itself.
pub struct SqlLedger {
    db: Db,
    /// SQLite: the one committer that batches redemptions (`None` on PostgreSQL).
    group: Option<GroupCommit>,
}

/// How long a redemption may wait for SQLite's committer before it is answered 503 (and never
/// written).
const SQLITE_MAX_WAIT: Duration = Duration::from_secs(5);

impl SqlLedger {
    /// A ledger over the service's own database.
    pub fn new(db: Db) -> Self {
        let group = match db.kind() {
            Backend::Sqlite => match GroupCommit::start_with(db.clone(), SQLITE_MAX_WAIT, 1) {
                Ok(g) => Some(g),
                Err(e) => {
                    tracing::warn!(error = %e, "no committer thread; SQLite redemptions commit one by one");
                    None
                }
            },
            Backend::Postgres => None,
        };
        SqlLedger { db, group }
    }
}

#[async_trait]
impl Ledger for SqlLedger {
    fn kind(&self) -> &'static str {
        "sql"
    }

    async fn ping(&self, timeout: Duration) -> Result<(), LedgerError> {
        self.db.ping(timeout).await.map_err(|e| LedgerError::Unavailable(e.to_string()))
    }

    async fn redeem(&self, r: Redemption) -> Result<Outcome, LedgerError> {
        match &self.group {
            Some(group) => group.commit(r).await,
            None => Ok(self.db.run(move |c| redemptions::commit(c, &r, true)).await?),
        }
    }

    async fn rollback(&self, id: &str, reason: &str) -> Result<Option<RolledBack>, LedgerError> {
        let (id, reason) = (id.to_owned(), reason.to_owned());
        Ok(self.db.run(move |c| redemptions::rollback(c, &id, &reason)).await?)
    }

    async fn void(&self, _vouchers: &[VoidedVoucher]) -> Result<(), LedgerError> {
        // The voucher rows themselves are the SQL ledger's state: nothing else to change.
        Ok(())
    }

    async fn campaign_changed(&self, _campaign_id: i32) -> Result<(), LedgerError> {
        // Every redemption reads the campaign row under its lock: nothing is cached.
        Ok(())
    }
}
