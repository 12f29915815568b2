//! Checkout: validate, redeem, roll back.
//!
//! Order of checks: code format and signature (no I/O: a forged code costs one HMAC), the
//! customer binding (in the signature), the campaign's state, currency and minimum order
//! (from a one-second campaign cache), then the ledger, which re-checks state and budget
//! atomically and writes the redemption to the database before any 2xx.

use std::{sync::Arc, time::Instant};

use chrono::{SubsecRound, Utc};

use super::{ServiceError, Services};
use crate::{
    domain::{
        campaign::Campaign,
        code::{self, CodeError},
        customer::{parse_currency, parse_label, CustomerId},
        money::Money,
        order::Order,
        Refusal,
    },
    ledger::Redeemed,
    store::{
        campaigns,
        redemptions::{self, Redemption},
        StoreError,
    },
};

/// A code presented at checkout, for a customer, on an order.
#[derive(Debug, Clone)]
pub struct Presented {
    pub code: String,
    pub customer_id: String,
    pub order: Order,
}

/// A code that passed every check before the ledger.
pub struct Prepared {
    pub campaign: Arc<Campaign>,
    pub fields: code::Fields,
    pub customer: CustomerId,
    pub order: Order,
    pub discount: Money,
}

impl Prepared {
    /// The name of the code's variant.
    pub fn variant(&self) -> Option<String> {
        self.campaign.variants.get(self.fields.variant as usize).map(|v| v.name.clone())
    }
}

/// Campaigns by number, trusted for a second (the ledger re-checks what can change).
pub type CampaignCache = moka::sync::Cache<i32, Arc<Campaign>>;

/// A campaign cache.
pub fn campaign_cache() -> CampaignCache {
    moka::sync::Cache::builder().max_capacity(10_000).time_to_live(std::time::Duration::from_secs(1)).build()
}

async fn campaign(s: &Services, id: i32) -> Result<Option<Arc<Campaign>>, StoreError> {
    if let Some(c) = s.campaigns.get(&id) {
        return Ok(Some(c));
    }
    let found = s.db.run(move |c| campaigns::get(c, id)).await?.map(Arc::new);
    if let Some(c) = &found {
        s.campaigns.insert(id, c.clone());
    }
    Ok(found)
}

/// Every check before the ledger, in the documented order.
pub async fn prepare(s: &Services, presented: Presented) -> Result<Prepared, ServiceError> {
    let Presented { code: raw_code, customer_id, order } = presented;
    let customer = CustomerId::parse(&customer_id).map_err(|e| ServiceError::invalid("customer_id", e))?;
    let order_id = parse_label("order.id", &order.id).map_err(|e| ServiceError::invalid("order.id", e))?;
    let currency = parse_currency(&order.currency).map_err(|e| ServiceError::invalid("order.currency", e))?;
    let keyring = s.signing.keyring();
    let fields = code::verify(&keyring, &raw_code, customer.as_str()).map_err(|e| match e {
        CodeError::CustomerMismatch => ServiceError::Refused(Refusal::CustomerMismatch),
        other => ServiceError::InvalidCode(Some(other)),
    })?;
    let campaign = campaign(s, fields.campaign as i32).await?.ok_or(ServiceError::InvalidCode(None))?;
    let prefix_ok = code::normalize(&raw_code).map(|n| n.prefix() == campaign.prefix).unwrap_or(false);
    if !prefix_ok {
        return Err(ServiceError::InvalidCode(None));
    }
    let discount = campaign
        .rules(fields.variant as usize)
        .check(order.amount, &currency, Utc::now().naive_utc())
        .map_err(ServiceError::Refused)?;
    Ok(Prepared {
        campaign,
        fields,
        customer,
        order: Order { id: order_id, amount: order.amount, currency },
        discount,
    })
}

/// What a validation found: the code would be redeemed (with this discount), or why not.
pub enum Validation {
    Valid(Prepared),
    /// Why a redemption would be refused, as it would answer.
    Refused(ServiceError),
}

/// Checks a code against an order without changing anything. A request that is itself
/// invalid (a field) or cannot be answered (the database) is an error, not a refusal.
pub async fn validate(s: &Services, presented: Presented) -> Result<Validation, ServiceError> {
    let p = match prepare(s, presented).await {
        Ok(p) => p,
        Err(e @ (ServiceError::Invalid { .. } | ServiceError::Store(_) | ServiceError::Ledger(_))) => {
            return Err(e)
        }
        Err(e) => return Ok(Validation::Refused(e)),
    };
    let (cid, serial, customer, discount) =
        (p.campaign.id, i64::from(p.fields.serial), p.customer.as_str().to_owned(), p.discount.minor());
    let refusal = s.db.run(move |c| redemptions::check(c, cid, serial, &customer, discount)).await?;
    Ok(match refusal {
        Some(r) => Validation::Refused(ServiceError::Refused(r)),
        None => Validation::Valid(p),
    })
}

/// A redemption asked for: the code, by whom, under which Idempotency-Key.
pub struct Redeem {
    pub presented: Presented,
    /// The caller's API key id.
    pub api_key_id: String,
    /// The `Idempotency-Key` as sent, if it was.
    pub idem_key: Option<Vec<u8>>,
    /// A fingerprint of the request (see `idempotency::fingerprint`).
    pub request_hash: String,
}

/// Redeems a code exactly once through the ledger. The same code and order id again (or the
/// same Idempotency-Key) is `Redeemed::Replay` of the first redemption.
pub async fn redeem(s: &Services, ask: Redeem) -> Result<(Redeemed, Arc<Campaign>), ServiceError> {
    let idem_key = ask.idem_key.as_deref().map(super::idempotency::parse_key).transpose()?;
    let code = code::normalize(&ask.presented.code).ok().map(|n| n.to_string());
    let p = prepare(s, ask.presented).await?;
    let r = Redemption {
        id: redemptions::new_id(),
        campaign_id: p.campaign.id,
        serial: i64::from(p.fields.serial),
        customer_id: Some(p.customer.as_str().to_owned()),
        code,
        order_id: p.order.id.clone(),
        order_amount: p.order.amount.minor(),
        currency: p.order.currency.clone(),
        discount: p.discount.minor(),
        variant: i32::from(p.fields.variant),
        api_key_id: ask.api_key_id,
        idem_key,
        request_hash: ask.request_hash,
        redeemed_at: Utc::now().naive_utc().trunc_subsecs(6),
        rolled_back_at: None,
        rollback_reason: None,
    };
    let started = Instant::now();
    let outcome = s.ledger.redeem(r).await;
    s.metrics.observe_ledger(s.ledger.kind(), started.elapsed().as_secs_f64());
    match outcome? {
        Ok(redeemed) => Ok((redeemed, p.campaign)),
        Err(refusal) => Err(ServiceError::Refused(refusal)),
    }
}

/// Rolls a redemption back (order cancelled): voucher and budget are restored exactly once;
/// again, the same redemption.
pub async fn rollback(
    s: &Services,
    id: &str,
    reason: &str,
) -> Result<(Redemption, Arc<Campaign>), ServiceError> {
    let reason = parse_label("reason", reason).map_err(|e| ServiceError::invalid("reason", e))?;
    let r = s.ledger.rollback(id, &reason).await?.ok_or(ServiceError::NotFound("redemption"))?.redemption;
    let campaign = campaign(s, r.campaign_id).await?.ok_or(ServiceError::NotFound("campaign"))?;
    Ok((r, campaign))
}
