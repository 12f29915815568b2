//! Checkout (scope checkout): validate, redeem, roll back. The checks and their order are
//! `service::checkout`'s; the handlers parse, call it, and shape the answer.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    auth::{Authorized, CheckoutScope},
    customers::utc,
    error::{parse_body, ApiError},
    idempotent, AppState,
};
pub use crate::domain::order::Order;
use crate::{
    domain::campaign::Campaign,
    ledger::Redeemed,
    service::checkout::{self, Presented, Redeem, Validation as Checked},
    store::redemptions::Redemption,
};

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

impl From<CheckoutBody> for Presented {
    fn from(b: CheckoutBody) -> Self {
        Presented { code: b.code, customer_id: b.customer_id, order: b.order }
    }
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
    operation_id = "validateVoucher",
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
    let answer = match checkout::validate(&state, body.into()).await? {
        Checked::Valid(p) => Validation {
            valid: true,
            discount: Some(p.discount.minor()),
            campaign_id: Some(p.campaign.id.to_string()),
            variant: p.variant(),
            code: None,
            detail: None,
        },
        Checked::Refused(why) => {
            let e = ApiError::from(why);
            Validation {
                valid: false,
                discount: None,
                campaign_id: None,
                variant: None,
                code: Some(e.parts().1),
                detail: Some(e.to_string()),
            }
        }
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// Redeems a code exactly once. The same code and order id again (or the same
/// Idempotency-Key) answers 200 with the first body.
#[utoipa::path(
    operation_id = "redeemVoucher",
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
    let ask = Redeem {
        request_hash: idempotent::fingerprint(&req, &serde_json::to_value(&body).unwrap_or_default()),
        idem_key: idempotent::key_of(&req),
        api_key_id: auth.caller.key_id,
        presented: body.into(),
    };
    let result = checkout::redeem(&state, ask).await.map_err(ApiError::from);
    let outcome = match &result {
        Ok((Redeemed::New(_), _)) => "created",
        Ok((Redeemed::Replay(_), _)) => "replayed",
        Err(e) => e.parts().1,
    };
    state.metrics.observe_redemption(outcome);
    Ok(match result? {
        (Redeemed::New(r), campaign) => HttpResponse::Created().json(view(&campaign, r)),
        (Redeemed::Replay(r), campaign) => HttpResponse::Ok().json(view(&campaign, r)),
    })
}

/// Rolls a redemption back (order cancelled): voucher and budget are restored exactly once;
/// again answers 200 with the same body.
#[utoipa::path(
    operation_id = "rollbackRedemption",
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
    let (r, campaign) = checkout::rollback(&state, &path.into_inner(), &body.reason).await?;
    Ok(HttpResponse::Ok().json(view(&campaign, r)))
}
