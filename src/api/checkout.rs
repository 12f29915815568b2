//! Checkout (scope checkout): validate, redeem, roll back.
//!
//! Order of checks: code format and signature (no I/O: a forged code costs one HMAC), the
//! customer binding (in the signature), the campaign's state, currency and minimum order
//! (from a one-second campaign cache), then the ledger, which re-checks state and budget
//! atomically and writes the redemption to the database before any 2xx.

use std::{sync::Arc, time::Instant};

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::{
    auth::{Authorized, CheckoutScope},
    customers::utc,
    error::{parse_body, ApiError},
    idempotency, AppState,
};
use crate::{
    domain::{
        code::{self, CodeError},
        customer::{parse_currency, parse_label, CustomerId},
        money::Money,
    },
    ledger::Redeemed,
    store::{
        campaigns::{self, Campaign},
        redemptions::{self, Redemption},
    },
};

/// The order a code is used on.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    #[schema(example = "o-1")]
    pub id: String,
    /// Minor units, 0 to 10^12.
    pub amount: Money,
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A code presented at checkout.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    #[schema(example = "BDAY-20EC-E185-BGX0-ZF80-Z2ET-X686")]
    pub code: String,
    pub customer_id: String,
    pub order: Order,
}

/// The answer to a validation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Validation {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Why not, when `valid` is false (the same codes a redemption would answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A redemption.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedemptionView {
    pub id: String,
    pub code: Option<String>,
    pub customer_id: Option<String>,
    pub order_id: String,
    pub order_amount: i64,
    pub currency: String,
    pub discount: i64,
    pub campaign_id: String,
    pub variant: String,
    pub redeemed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_reason: Option<String>,
}

/// Why a redemption is rolled back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    #[schema(example = "order_cancelled")]
    pub reason: String,
}

/// A code that passed every check before the ledger.
pub struct Prepared {
    pub campaign: Arc<Campaign>,
    pub fields: code::Fields,
    pub customer: CustomerId,
    pub order: Order,
    pub discount: Money,
}

/// Campaigns by number, trusted for a second (the ledger re-checks what can change).
pub type CampaignCache = moka::sync::Cache<i32, Arc<Campaign>>;

/// A campaign cache.
pub fn campaign_cache() -> CampaignCache {
    moka::sync::Cache::builder().max_capacity(10_000).time_to_live(std::time::Duration::from_secs(1)).build()
}

async fn campaign(state: &AppState, id: i32) -> Result<Option<Arc<Campaign>>, ApiError> {
    if let Some(c) = state.campaigns.get(&id) {
        return Ok(Some(c));
    }
    let found = state.db.run(move |c| campaigns::get(c, id)).await?.map(Arc::new);
    if let Some(c) = &found {
        state.campaigns.insert(id, c.clone());
    }
    Ok(found)
}

/// Every check before the ledger, in the documented order.
pub async fn prepare(state: &AppState, body: CheckoutBody) -> Result<Prepared, ApiError> {
    let customer = CustomerId::parse(&body.customer_id).map_err(|e| ApiError::invalid("customer_id", e))?;
    let order_id = parse_label("order.id", &body.order.id).map_err(|e| ApiError::invalid("order.id", e))?;
    let currency =
        parse_currency(&body.order.currency).map_err(|e| ApiError::invalid("order.currency", e))?;
    let keyring = state.signing.keyring();
    let fields = code::verify(&keyring, &body.code, customer.as_str()).map_err(|e| match e {
        CodeError::CustomerMismatch => ApiError::CustomerMismatch,
        other => ApiError::InvalidCode(format!("this is not a valid voucher code ({})", other.code())),
    })?;
    let campaign = campaign(state, fields.campaign as i32)
        .await?
        .ok_or_else(|| ApiError::InvalidCode("this is not a valid voucher code".into()))?;
    let prefix_ok = code::normalize(&body.code).map(|n| n.prefix() == campaign.prefix).unwrap_or(false);
    if !prefix_ok {
        return Err(ApiError::InvalidCode("this is not a valid voucher code".into()));
    }
    let discount = campaign.rules(fields.variant as usize).check(
        body.order.amount,
        &currency,
        Utc::now().naive_utc(),
    )?;
    Ok(Prepared {
        campaign,
        fields,
        customer,
        order: Order { id: order_id, amount: body.order.amount, currency },
        discount,
    })
}

fn view(campaign: &Campaign, r: Redemption) -> RedemptionView {
    RedemptionView {
        variant: campaign.variants.get(r.variant as usize).map(|v| v.name.clone()).unwrap_or_default(),
        campaign_id: r.campaign_id.to_string(),
        id: r.id,
        code: r.code,
        customer_id: r.customer_id,
        order_id: r.order_id,
        order_amount: r.order_amount,
        currency: r.currency,
        discount: r.discount,
        redeemed_at: utc(r.redeemed_at),
        rolled_back_at: r.rolled_back_at.map(utc),
        rollback_reason: r.rollback_reason,
    }
}

/// Checks a code against an order without changing anything.
#[utoipa::path(
    tag = "checkout",
    security(("api_key" = [])),
    request_body = CheckoutBody,
    responses((status = 200, description = "valid, or not with the reason", body = Validation))
)]
#[post("/v1/validations")]
#[tracing::instrument(name = "validate", skip_all)]
pub async fn validate(
    _auth: Authorized<CheckoutScope>,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: CheckoutBody = parse_body(body.into_inner())?;
    let invalid = |e: ApiError| {
        let (_, code, _) = e.parts();
        Validation {
            valid: false,
            discount: None,
            campaign_id: None,
            variant: None,
            code: Some(code),
            detail: Some(e.to_string()),
        }
    };
    let p = match prepare(&state, body).await {
        Ok(p) => p,
        Err(e @ (ApiError::Invalid { .. } | ApiError::Store(_) | ApiError::Internal(_))) => return Err(e),
        Err(e) => return Ok(HttpResponse::Ok().json(invalid(e))),
    };
    let (cid, serial, customer, discount) =
        (p.campaign.id, i64::from(p.fields.serial), p.customer.as_str().to_owned(), p.discount.minor());
    let refusal = state.db.run(move |c| redemptions::check(c, cid, serial, &customer, discount)).await?;
    if let Some(r) = refusal {
        return Ok(HttpResponse::Ok().json(invalid(r.into())));
    }
    Ok(HttpResponse::Ok().json(Validation {
        valid: true,
        discount: Some(p.discount.minor()),
        campaign_id: Some(p.campaign.id.to_string()),
        variant: p.campaign.variants.get(p.fields.variant as usize).map(|v| v.name.clone()),
        code: None,
        detail: None,
    }))
}

/// Redeems a code exactly once. The same code and order id again (or the same
/// Idempotency-Key) answers 200 with the first body.
#[utoipa::path(
    tag = "checkout",
    security(("api_key" = [])),
    request_body = CheckoutBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 201, description = "Redeemed", body = RedemptionView),
        (status = 200, description = "The first answer again", body = RedemptionView),
        (status = 422, description = "invalid_code, order_below_minimum, currency_mismatch, idempotency_key_reused", body = super::error::Problem),
        (status = 403, description = "customer_mismatch", body = super::error::Problem),
        (status = 409, description = "already_redeemed, budget_exhausted, campaign_paused", body = super::error::Problem),
        (status = 410, description = "expired, not_started, voided", body = super::error::Problem),
        (status = 503, description = "ledger_unavailable", body = super::error::Problem),
    )
)]
#[post("/v1/redemptions")]
#[tracing::instrument(name = "redeem", skip_all)]
pub async fn redeem(
    auth: Authorized<CheckoutScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: CheckoutBody = parse_body(body.into_inner())?;
    let request_hash = idempotency::fingerprint(&req, &serde_json::to_value(&body).unwrap_or_default());
    let idem_key = idempotency::key_of(&req)?;
    let result = async {
        let p = prepare(&state, body.clone()).await?;
        let r = Redemption {
            id: redemptions::new_id(),
            campaign_id: p.campaign.id,
            serial: i64::from(p.fields.serial),
            customer_id: Some(p.customer.as_str().to_owned()),
            code: code::normalize(&body.code).ok().map(|n| n.to_string()),
            order_id: p.order.id.clone(),
            order_amount: p.order.amount.minor(),
            currency: p.order.currency.clone(),
            discount: p.discount.minor(),
            variant: i32::from(p.fields.variant),
            api_key_id: auth.caller.key_id.clone(),
            idem_key,
            request_hash,
            redeemed_at: Utc::now().naive_utc().trunc_subsecs(6),
            rolled_back_at: None,
            rollback_reason: None,
        };
        let started = Instant::now();
        let outcome = state.ledger.redeem(r).await;
        state.metrics.observe_ledger(state.ledger.kind(), started.elapsed().as_secs_f64());
        match outcome? {
            Ok(Redeemed::New(r)) => Ok(HttpResponse::Created().json(view(&p.campaign, r))),
            Ok(Redeemed::Replay(r)) => Ok(HttpResponse::Ok().json(view(&p.campaign, r))),
            Err(refusal) => Err(ApiError::from(refusal)),
        }
    }
    .await;
    let outcome = match &result {
        Ok(resp) if resp.status().as_u16() == 201 => "created",
        Ok(_) => "replayed",
        Err(e) => e.parts().1,
    };
    state.metrics.observe_redemption(outcome);
    result
}

/// Rolls a redemption back (order cancelled): voucher and budget are restored exactly once;
/// again answers 200 with the same body.
#[utoipa::path(
    tag = "checkout",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    request_body = RollbackBody,
    responses(
        (status = 200, description = "Rolled back", body = RedemptionView),
        (status = 404, description = "No such redemption", body = super::error::Problem),
        (status = 503, description = "`ledger_unavailable`", body = super::error::Problem),
    )
)]
#[post("/v1/redemptions/{id}/rollback")]
#[tracing::instrument(name = "rollback", skip_all)]
pub async fn rollback(
    _auth: Authorized<CheckoutScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body: RollbackBody = parse_body(body.into_inner())?;
    let reason = parse_label("reason", &body.reason).map_err(|e| ApiError::invalid("reason", e))?;
    let id = path.into_inner();
    let r = state.ledger.rollback(&id, &reason).await?.ok_or(ApiError::NotFound("redemption"))?.redemption;
    let campaign = campaign(&state, r.campaign_id).await?.ok_or(ApiError::NotFound("campaign"))?;
    Ok(HttpResponse::Ok().json(view(&campaign, r)))
}
