//! The states a voucher and a generation job go through, by their stored and wire names.

use serde::{Deserialize, Serialize};

/// A voucher's state (defined with the voucher).
pub use super::voucher::VoucherStatus;

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
