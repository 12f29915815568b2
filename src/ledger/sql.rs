//! The SQL ledger: redemptions gated by one database transaction holding the campaign's row
//! lock. No extra service to run; the embedded default and the benchmark baseline.

use std::time::Duration;

use async_trait::async_trait;

use super::{Ledger, LedgerError};
use crate::store::customers::VoidedVoucher;
use crate::store::Db;

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
    async fn void(&self, _vouchers: &[VoidedVoucher]) -> Result<(), LedgerError> {
        // The voucher rows themselves are the SQL ledger's state: nothing else to change.
        Ok(())
    }

    async fn campaign_changed(&self, _campaign_id: i32) -> Result<(), LedgerError> {
        // Every redemption reads the campaign row under its lock: nothing is cached.
        Ok(())
    }
}
