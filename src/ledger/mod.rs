//! The ledger: the atomic gate in front of every redemption and budget.
//!
//! Two implementations answer the same contract and pass the same tests (the checkout tests
//! run against both): [`redis::RedisLedger`] (production: one Lua script per decision, all
//! keys of a campaign under the hash tag `{c:<id>}`) and [`sql::SqlLedger`] (one database
//! transaction holding the campaign's row lock; the embedded default and the benchmark
//! baseline).
//!
//! Protocol of a redemption, whatever the ledger: the code was verified and the campaign's
//! fixed rules (currency, minimum order, discount) checked before; the ledger decides single
//! use, budget room, campaign state and idempotency atomically, and the redemption is written
//! to the database by `store::redemptions::commit` (which re-checks single use and budget)
//! before any 2xx is answered. The database is the source of truth; Redis is a cache of it.

pub mod group;
pub mod redis;
pub mod redis_target;
pub mod sql;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::{
    customers::VoidedVoucher,
    redemptions::{Redemption, Refusal, RolledBack},
    StoreError,
};

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger's backing service did not answer in time or refused the connection.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The database (source of truth) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful redemption: new (201) or the first answer again (200).
#[derive(Debug, Clone)]
pub enum Redeemed {
    New(Redemption),
    Replay(Redemption),
}

/// The atomic gate for redemptions and budgets.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// `"redis"` or `"sql"`, for logs, metrics and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Succeeds when the ledger can commit a redemption right now; never waits past `timeout`.
    async fn ping(&self, timeout: Duration) -> Result<(), LedgerError>;

    /// Redeems `r` exactly once: `Ok(Ok(New))` only after the redemption is in the database;
    /// `Ok(Ok(Replay))` for the same Idempotency-Key or (voucher, order id) again;
    /// `Ok(Err(refusal))` when it may not be redeemed.
    async fn redeem(&self, r: Redemption) -> Result<Result<Redeemed, Refusal>, LedgerError>;

    /// Rolls a redemption back once, restoring the budget and the voucher (which stays voided
    /// when it was voided meanwhile or its campaign ended); `None` for an unknown id.
    async fn rollback(&self, id: &str, reason: &str) -> Result<Option<RolledBack>, LedgerError>;

    /// The store has voided these vouchers (consent revoked, erasure): refuse them from now on.
    async fn void(&self, vouchers: &[VoidedVoucher]) -> Result<(), LedgerError>;

    /// A campaign's rules (budget, status, expiry) changed in the store: apply them to the next
    /// redemption.
    async fn campaign_changed(&self, campaign_id: i32) -> Result<(), LedgerError>;
}
