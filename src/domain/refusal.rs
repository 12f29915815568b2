//! Why a voucher may not be redeemed: the product's reasons, one vocabulary for the campaign
//! rules ([`super::campaign::Rules`]), both ledgers and the validation answer.
//!
//! A refusal is an answer, not a failure: the ledgers return it beside their successes
//! (`Result<Redeemed, Refusal>`), and infrastructure failures travel separately
//! (`LedgerError`). A replay is a success (the first answer again), so it is not here.
//! `api::error` maps each reason to its status and stable `code` (in brackets below).

/// Why a redemption (or a validation) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The voucher has a live redemption for another order (`already_redeemed`).
    AlreadyRedeemed,
    /// The Idempotency-Key was used for another request (`idempotency_key_reused`).
    IdempotencyKeyReused,
    /// The budget has no room for this discount, in money or in count (`budget_exhausted`).
    BudgetExhausted,
    /// The voucher was voided: consent withdrawn, data erased, or rolled back after its
    /// campaign ended (`voided`).
    Voided,
    /// No voucher with that serial: a code signed but never stored (`invalid_code`).
    UnknownVoucher,
    /// The code was issued to another customer (`customer_mismatch`).
    CustomerMismatch,
    /// The campaign is paused (`campaign_paused`).
    Paused,
    /// The campaign has ended (`expired`).
    Ended,
    /// Before the campaign's `starts_at` (`not_started`).
    NotStarted,
    /// At or after the campaign's `expires_at` (`expired`).
    Expired,
    /// The order is in another currency than the campaign pays in (`currency_mismatch`).
    CurrencyMismatch { campaign: String, order: String },
    /// The order is below the campaign's minimum, in minor units (`order_below_minimum`).
    OrderBelowMinimum { min_order: i64, currency: String },
}
