//! The use cases, one file each: what the HTTP handlers (`api/`) and the command line (`cli/`)
//! both call. A service combines the store, the ledger and the domain; it takes and returns
//! domain types (an [`Order`](crate::domain::order::Order), a
//! [`Campaign`](crate::domain::campaign::Campaign)), never a request body or a view, and
//! answers with a [`ServiceError`] that `api/error.rs` alone turns into problem+json.
//!
//! [`Services`] is the shared state every use case reaches: pools, ledger, caches, keyring.
//! It is not an HTTP thing; `api::AppState` wraps it.

pub mod campaigns;
pub mod checkout;
pub mod customers;
pub mod generation;
pub mod idempotency;
pub mod import;
pub mod issuance;
pub mod keys;
pub mod reporting;

use std::sync::Arc;

use crate::{
    domain::{code::CodeError, Refusal},
    ledger::{Ledger, LedgerError},
    signing::Signing,
    store::{customers::VoidedVoucher, Db, StoreError},
    telemetry::Metrics,
};

use self::generation::Generator;

/// Everything a use case may reach, shared by every request (and by a CLI command).
pub struct Services {
    pub db: Db,
    pub ledger: Arc<dyn Ledger>,
    pub metrics: Metrics,
    /// The code-signing keyring, refreshed in the background.
    pub signing: Arc<Signing>,
    /// Runs generation jobs.
    pub generator: Arc<Generator>,
    /// Campaigns for the checkout's checks, trusted for a second.
    pub campaigns: checkout::CampaignCache,
}

impl Services {
    /// The services over a store, a ledger and a keyring. The generator's background loop is
    /// not started here (see [`Generator::spawn`]): a CLI command runs its job in the foreground.
    pub fn new(db: Db, ledger: Arc<dyn Ledger>, signing: Arc<Signing>) -> Services {
        Services {
            generator: Generator::new(db.clone(), signing.clone()),
            db,
            ledger,
            metrics: Metrics::new(),
            campaigns: checkout::campaign_cache(),
            signing,
        }
    }

    /// Tells the ledger about vouchers the store has just voided (consent revoked, erasure).
    /// A ledger that cannot be told now learns it when it reloads the campaign.
    pub async fn ledger_void(&self, voided: Vec<VoidedVoucher>) {
        tell_ledger_voided(self.ledger.as_ref(), &voided).await;
    }

    /// Tells the ledger a campaign's rules changed (budget, status, expiry).
    pub async fn campaign_changed(&self, campaign_id: i32) {
        self.campaigns.invalidate(&campaign_id);
        if let Err(e) = self.ledger.campaign_changed(campaign_id).await {
            tracing::warn!(error = %ErrorChain(&e), campaign = campaign_id, "ledger not told of a campaign change");
        }
    }
}

/// Tells `ledger` about vouchers the store has just voided; a failure is logged, not returned,
/// because the ledger re-reads voided vouchers when it reloads the campaign.
pub async fn tell_ledger_voided(ledger: &dyn Ledger, voided: &[VoidedVoucher]) {
    if voided.is_empty() {
        return;
    }
    if let Err(e) = ledger.void(voided).await {
        tracing::warn!(error = %ErrorChain(&e), count = voided.len(), "ledger not told of voided vouchers; it reloads them");
    }
}

/// Displays an error with its whole `source()` chain (`outer: cause: root cause`), for logs.
/// A cause the message already ends with (`"query failed: {0}"` over that same cause) is not
/// repeated.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let next = e.to_string();
            if !text.ends_with(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            cause = e.source();
        }
        f.write_str(&text)
    }
}

/// Why a use case did not do what it was asked. Each variant is one answer of the contract;
/// `api/error.rs` maps every one to its status and `code` in one place.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is invalid (the field is named).
    #[error("{detail}")]
    Invalid { field: String, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The code does not verify, or names no stored campaign or voucher.
    #[error("this is not a valid voucher code{}", .0.map(|c| format!(" ({})", c.code())).unwrap_or_default())]
    InvalidCode(Option<CodeError>),
    /// The ledger or the campaign's rules refused a redemption.
    #[error("{0:?}")]
    Refused(Refusal),
    /// The campaign issues no more vouchers: it has ended (`true`) or expired.
    #[error("the campaign has {}; no more vouchers can be issued", if *.ended { "ended" } else { "expired" })]
    NoLongerIssuing { ended: bool },
    #[error("the customer has not granted personalized_offers consent")]
    NoConsent,
    #[error("the customer is not in the campaign's segment")]
    NotInSegment,
    #[error("the customer already has a voucher of this campaign")]
    AlreadyIssued,
    #[error("no active signing key; run `vouchsafe keys rotate-signing`")]
    NoSigningKey,
    /// The `Idempotency-Key` header is not 1 to 255 printable ASCII characters.
    #[error("{0}")]
    InvalidIdempotencyKey(&'static str),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still running; retry shortly")]
    IdempotencyInProgress,
    /// The request body could not be read to its end.
    #[error("the body could not be read: {0}")]
    BodyUnreadable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a voucher code could not be signed")]
    Code(#[source] CodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<(String, String)> for ServiceError {
    /// A domain validator's (field, detail).
    fn from((field, detail): (String, String)) -> Self {
        ServiceError::Invalid { field, detail }
    }
}

impl ServiceError {
    /// A validation error naming the field at fault.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ServiceError::Invalid { field: field.into(), detail: detail.into() }
    }
}
