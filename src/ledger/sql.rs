//! The SQL ledger: every redemption is one database transaction that takes the campaign's row
//! lock (PostgreSQL `SELECT … FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), so redemptions of one
//! campaign are serialized by the database. No extra service to run; the embedded default and
//! the benchmark baseline.

use std::time::Duration;

use async_trait::async_trait;

use super::{Ledger, LedgerError, Redeemed};
use crate::store::{
    customers::VoidedVoucher,
    redemptions::{self, Redemption, Refusal, RolledBack},
    Db,
};

/// A ledger kept in the relational store itself.
#[derive(Clone)]
pub struct SqlLedger {
    db: Db,
}

impl SqlLedger {
    /// A ledger over the service's own database.
    pub fn new(db: Db) -> Self {
        SqlLedger { db }
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

    async fn redeem(&self, r: Redemption) -> Result<Result<Redeemed, Refusal>, LedgerError> {
        let outcome = self.db.run(move |c| redemptions::commit(c, &r, true)).await?;
        Ok(match outcome {
            Ok(r) => Ok(Redeemed::New(r)),
            Err(Refusal::Replay(first)) => Ok(Redeemed::Replay(*first)),
            Err(refusal) => Err(refusal),
        })
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
