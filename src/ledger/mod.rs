//! The ledger: the atomic gate in front of every redemption and budget.
//!
//! Two implementations answer the same contract: [`redis::RedisLedger`] (production, Lua
//! scripts, one hash tag per campaign) and [`sql::SqlLedger`] (one database transaction; the
//! embedded default and the benchmark baseline). Both pass `tests/ledger_conformance.rs`.
//!
//! The contract grows with the checkout: for now a ledger must say whether it can serve
//! (`ping`), which `/readyz` reports and which the service checks before it takes traffic.

pub mod redis;
pub mod sql;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::customers::VoidedVoucher;

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger's backing service did not answer in time or refused the connection.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
}

/// The atomic gate for redemptions and budgets.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// `"redis"` or `"sql"`, for logs, metrics and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Succeeds when the ledger can commit a redemption right now; never waits past `timeout`.
    async fn ping(&self, timeout: Duration) -> Result<(), LedgerError>;

    /// The store has voided these vouchers (consent revoked, erasure): refuse them from now on.
    async fn void(&self, vouchers: &[VoidedVoucher]) -> Result<(), LedgerError>;

    /// A campaign's rules (budget, status, expiry) changed in the store: apply them to the next
    /// redemption.
    async fn campaign_changed(&self, campaign_id: i32) -> Result<(), LedgerError>;
}
