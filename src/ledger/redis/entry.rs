//! What the ledger keeps in Redis about one redemption, and what the redeem script answers.

use super::*;

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct PendingEntry {
    pub(super) at_ms: i64,
    pub(super) redemption: RedemptionEntry,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct RedemptionEntry {
    pub(super) id: String,
    pub(super) campaign_id: i32,
    pub(super) serial: i64,
    pub(super) discount: i64,
    pub(super) api_key_id: String,
    pub(super) idem_key: Option<String>,
    pub(super) order_id: String,
    /// Lets a reload restore the entry's idempotency answer (absent in older entries).
    #[serde(default)]
    pub(super) request_hash: String,
}

impl RedemptionEntry {
    pub(super) fn of(r: &Redemption) -> Self {
        RedemptionEntry {
            id: r.id.clone(),
            campaign_id: r.campaign_id,
            serial: r.serial,
            discount: r.discount,
            api_key_id: r.api_key_id.clone(),
            idem_key: r.idem_key.clone(),
            order_id: r.order_id.clone(),
            request_hash: r.request_hash.clone(),
        }
    }
}

impl PendingEntry {
    pub(super) fn release_view(&self) -> Redemption {
        let e = &self.redemption;
        Redemption {
            id: e.id.clone(),
            campaign_id: e.campaign_id,
            serial: e.serial,
            customer_id: None,
            code: None,
            order_id: e.order_id.clone(),
            order_amount: 0,
            currency: String::new(),
            discount: e.discount,
            variant: 0,
            api_key_id: e.api_key_id.clone(),
            idem_key: e.idem_key.clone(),
            request_hash: String::new(),
            redeemed_at: chrono::DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default().naive_utc(),
            rolled_back_at: None,
            rollback_reason: None,
        }
    }
}

/// What the redeem script answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// Taken in Redis, with a pending entry: the database write follows.
    Taken,
    /// The same request was taken before, as this redemption id.
    Replay(String),
    /// The campaign is not loaded: reload it and ask again.
    NotLoaded,
    Refused(Refusal),
}

/// The one place the redeem script's reply codes (see `lua/redeem.lua`) become types; `r` is
/// the redemption asked for.
pub(super) fn parse_reply(reply: &[String], r: &Redemption) -> Result<Reply, LedgerError> {
    let arg = |i: usize| reply.get(i).cloned().unwrap_or_default();
    let refusal = match reply.first().map(String::as_str) {
        Some("OK") => return Ok(Reply::Taken),
        Some("REPLAY") => return Ok(Reply::Replay(arg(1))),
        Some("NOLOAD") => return Ok(Reply::NotLoaded),
        Some("PAUSED") => Refusal::Paused,
        Some("ENDED") => Refusal::Ended,
        Some("NOT_STARTED") => Refusal::NotStarted,
        Some("EXPIRED") => Refusal::Expired,
        Some("CURRENCY") => Refusal::CurrencyMismatch { campaign: arg(1), order: r.currency.clone() },
        Some("MINIMUM") => Refusal::OrderBelowMinimum {
            min_order: arg(1)
                .parse()
                .map_err(|_| LedgerError::Unavailable(format!("bad ledger answer {reply:?}")))?,
            currency: arg(2),
        },
        Some("VOIDED") => Refusal::Voided,
        Some("ALREADY") => Refusal::AlreadyRedeemed,
        Some("BUDGET") => Refusal::BudgetExhausted,
        Some("IDEM_REUSED") => Refusal::IdempotencyKeyReused,
        Some("DISCOUNT") => {
            return Err(LedgerError::Invalid(format!(
                "redemption {}: discount {} is not the {} the campaign's rules give",
                r.id,
                r.discount,
                arg(1)
            )))
        }
        Some("BAD_INPUT") => {
            return Err(LedgerError::Invalid(format!("redemption {}: a number is out of range", r.id)))
        }
        Some(other) => return Err(LedgerError::Unavailable(format!("unexpected ledger answer {other}"))),
        None => return Err(LedgerError::Unavailable("empty ledger answer".into())),
    };
    Ok(Reply::Refused(refusal))
}

// Used by the sweeper to undo a pending entry without the full row.
impl From<&PendingEntry> for Redemption {
    fn from(p: &PendingEntry) -> Self {
        p.release_view()
    }
}
