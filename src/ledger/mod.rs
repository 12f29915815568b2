//! The ledger: the atomic gate in front of every redemption and budget.
//!
//! Two implementations answer the same contract and pass the same tests
//! (`tests/ledger_conformance.rs` calls this trait on both; the checkout tests run against
//! both too): [`redis::RedisLedger`] (production: one Lua script per decision, all keys of a
//! campaign under the hash tag `{c:<id>}`) and [`sql::SqlLedger`] (one database transaction
//! holding the campaign's row lock; the embedded default and the benchmark baseline).
//!
//! Protocol of a redemption, whatever the ledger: the code was verified and the campaign's
//! rules checked before (`domain::campaign::Rules`, which also gives the discount); the ledger
//! decides idempotency, the rules again (state, dates, currency, minimum order, discount),
//! the voucher's state and budget room atomically, and the redemption is written to the
//! database by `store::redemptions::commit` (which re-checks all of it) before any 2xx is
//! answered. Its answer is an [`Outcome`]: `Ok(Redeemed::New | Redeemed::Replay)` or
//! `Err(Refusal)`; failures are [`LedgerError`]s. The database is the source of truth; Redis
//! is a cache of it.

pub mod group;
pub mod redis;
pub mod redis_target;
pub mod sql;

use std::time::Duration;

use async_trait::async_trait;

pub use crate::store::redemptions::{Outcome, Redeemed};
use crate::store::{
    customers::VoidedVoucher,
    redemptions::{Redemption, RolledBack},
    StoreError,
};

/// Why the ledger could not answer (a failure, never a refusal: refusals are
/// [`Refusal`](crate::domain::Refusal)s, answers beside the successes).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger's backing service did not answer in time, or is shutting down.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// Redis refused the connection or the command.
    #[error("ledger unavailable: redis: {0}")]
    Redis(#[source] ::redis::RedisError),
    /// The database (source of truth) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The redemption breaks the ledger's contract (a discount other than the campaign's rules
    /// give, a number out of range): a bug of the caller, nothing was taken.
    #[error("redemption not accepted by the ledger: {0}")]
    Invalid(String),
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
    /// `Ok(Err(refusal))` when it may not be redeemed, by the campaign's rules
    /// (`domain::campaign::Rules`, at `r.redeemed_at`) or the voucher's state. `r.discount`
    /// must be the discount those rules give `r`'s order: a ledger writes no redemption whose
    /// discount disagrees (an error, not a refusal).
    async fn redeem(&self, r: Redemption) -> Result<Outcome, LedgerError>;

    /// Rolls a redemption back once, restoring the budget and the voucher (which stays voided
    /// when it was voided meanwhile or its campaign ended); `None` for an unknown id.
    async fn rollback(&self, id: &str, reason: &str) -> Result<Option<RolledBack>, LedgerError>;

    /// The store has voided these vouchers (consent revoked, erasure): refuse them from now on.
    async fn void(&self, vouchers: &[VoidedVoucher]) -> Result<(), LedgerError>;

    /// A campaign's rules (budget, status, expiry) changed in the store: apply them to the next
    /// redemption.
    async fn campaign_changed(&self, campaign_id: i32) -> Result<(), LedgerError>;
}
