//! The states a voucher and a generation job go through, by their stored and wire names.

use serde::{Deserialize, Serialize};

/// A voucher's state: open until redeemed (a rollback reopens it) or voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    /// Open: it can be redeemed.
    Issued,
    Redeemed,
    /// Withdrawn (consent revoked, customer erased, rolled back on an ended campaign): final.
    Voided,
}

/// A generation job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// The job stopped; `error` says why.
    Failed,
}
