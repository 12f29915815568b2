//! One error type for the HTTP edge and its RFC 9457 problem+json form.
//!
//! Every status and every machine `code` a client can see is decided in [`ApiError::parts`],
//! one match, so the contract in API.md is readable in one place. The errors of the layers
//! below (`ServiceError`, `Refusal`, `StoreError`, `LedgerError`) become an `ApiError` here
//! and nowhere else; server-side failures keep their cause (`source()`) and are logged with
//! the whole chain.

use actix_web::{
    body::BoxBody,
    dev::ServiceResponse,
    http::{header, Method, StatusCode},
    middleware::ErrorHandlerResponse,
    HttpResponse, ResponseError,
};
use serde::Serialize;

use crate::{
    domain::Refusal,
    ledger::LedgerError,
    service::{ErrorChain, ServiceError},
    store::StoreError,
};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, plus our stable `code` and, for validation errors, the field.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; its last segment is `code`.
    #[serde(rename = "type")]
    #[schema(example = "https://vouchsafe.dev/problems/invalid_body")]
    pub kind: String,
    /// A short, human-readable summary of the problem type.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a person.
    pub detail: String,
    /// Stable machine-readable reason (snake_case); clients match on this.
    #[schema(example = "invalid_body")]
    pub code: &'static str,
    /// The request field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Every error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("an API key is required: send `Authorization: Bearer <key>`")]
    MissingKey,
    #[error("the API key is unknown or revoked (keys live in the database: a key made by `vouchsafe keys create` works only on a service using the same DATABASE_URL)")]
    UnknownKey,
    #[error("this API key lacks the scope this route needs ({0})")]
    Forbidden(&'static str),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{detail}")]
    Invalid { field: Option<String>, detail: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("no route {method} {path}")]
    RouteNotFound { method: Method, path: String },
    #[error("{method} is not allowed here; allowed: {}", allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", "))]
    MethodNotAllowed { method: Method, allow: Vec<Method> },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidCode(String),
    #[error("this code was issued to another customer")]
    CustomerMismatch,
    #[error("this voucher has already been redeemed")]
    AlreadyRedeemed,
    #[error("the campaign's budget has no room for this discount")]
    BudgetExhausted,
    #[error("{0}")]
    Expired(String),
    #[error("the campaign has not started yet")]
    NotStarted,
    #[error("this voucher was voided (consent withdrawn or data erased)")]
    Voided,
    #[error("{0}")]
    OrderBelowMinimum(String),
    #[error("{0}")]
    CurrencyMismatch(String),
    #[error("the campaign is paused")]
    CampaignPaused,
    /// A use case's answer that needs no other words than the service's (`no_consent`, …).
    #[error(transparent)]
    Service(ServiceError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Ledger(LedgerError),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid { field, detail } => ApiError::Invalid { field: Some(field), detail },
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            e @ ServiceError::InvalidCode(_) => ApiError::InvalidCode(e.to_string()),
            ServiceError::Refused(r) => r.into(),
            e @ ServiceError::NoLongerIssuing { .. } => ApiError::Expired(e.to_string()),
            ServiceError::InvalidIdempotencyKey(detail) => ApiError::InvalidParameter(detail.into()),
            e @ (ServiceError::NoConsent
            | ServiceError::NotInSegment
            | ServiceError::AlreadyIssued
            | ServiceError::IdempotencyKeyReused
            | ServiceError::IdempotencyInProgress) => ApiError::Service(e),
            e @ ServiceError::BodyUnreadable(_) => ApiError::InvalidParameter(e.to_string()),
            e @ (ServiceError::NoSigningKey | ServiceError::Code(_)) => ApiError::Internal(Box::new(e)),
            ServiceError::Store(e) => e.into(),
            ServiceError::Ledger(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Store(other),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(s) => s.into(),
            LedgerError::Invalid(m) => ApiError::Internal(m.into()),
            other => ApiError::Ledger(other),
        }
    }
}

impl From<Refusal> for ApiError {
    /// Why the campaign's rules or a ledger refused a redemption.
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::AlreadyRedeemed => ApiError::AlreadyRedeemed,
            Refusal::BudgetExhausted => ApiError::BudgetExhausted,
            Refusal::Voided => ApiError::Voided,
            Refusal::UnknownVoucher => ApiError::InvalidCode("this is not a valid voucher code".into()),
            Refusal::CustomerMismatch => ApiError::CustomerMismatch,
            Refusal::Paused => ApiError::CampaignPaused,
            Refusal::Ended => ApiError::Expired("the campaign has ended".into()),
            Refusal::Expired => ApiError::Expired("the voucher has expired".into()),
            Refusal::NotStarted => ApiError::NotStarted,
            Refusal::IdempotencyKeyReused => ApiError::Service(ServiceError::IdempotencyKeyReused),
            Refusal::CurrencyMismatch { campaign, order } => ApiError::CurrencyMismatch(format!(
                "the campaign pays in {campaign}, the order is in {order}"
            )),
            Refusal::OrderBelowMinimum { min_order, currency } => ApiError::OrderBelowMinimum(format!(
                "the order must be at least {min_order} minor units of {currency}"
            )),
        }
    }
}

/// Parses a JSON body into `T`, naming the field at fault (`budget.max_amount`,
/// `variants[1].discount.amount`, `order.amount`) in the 422.
pub fn parse_body<T: serde::de::DeserializeOwned>(raw: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        ApiError::Invalid { field, detail: e.into_inner().to_string() }
    })
}

impl From<(String, String)> for ApiError {
    /// A domain validator's (field, detail).
    fn from((field, detail): (String, String)) -> Self {
        ApiError::Invalid { field: Some(field), detail }
    }
}

impl ApiError {
    /// A validation error naming the field at fault.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Invalid { field: Some(field.into()), detail: detail.into() }
    }

    /// Status, stable code and title: the whole error contract in one match.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            MissingKey => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            UnknownKey => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Missing scope"),
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON"),
            Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", "Invalid request body"),
            UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
            PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
            InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter", "Invalid parameter"),
            RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route_not_found", "No such route"),
            MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed")
            }
            NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready", "Not ready"),
            Service(ServiceError::IdempotencyKeyReused) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", "Idempotency key reused")
            }
            Service(ServiceError::IdempotencyInProgress) => {
                (StatusCode::CONFLICT, "idempotency_in_progress", "Request in progress")
            }
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Service(ServiceError::NoConsent) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "no_consent", "No consent")
            }
            Service(ServiceError::NotInSegment) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "not_in_segment", "Not in segment")
            }
            Service(ServiceError::AlreadyIssued) => {
                (StatusCode::CONFLICT, "already_issued", "Already issued")
            }
            InvalidCode(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_code", "Invalid code"),
            CustomerMismatch => (StatusCode::FORBIDDEN, "customer_mismatch", "Customer mismatch"),
            AlreadyRedeemed => (StatusCode::CONFLICT, "already_redeemed", "Already redeemed"),
            BudgetExhausted => (StatusCode::CONFLICT, "budget_exhausted", "Budget exhausted"),
            Expired(_) => (StatusCode::GONE, "expired", "Expired"),
            NotStarted => (StatusCode::GONE, "not_started", "Not started"),
            Voided => (StatusCode::GONE, "voided", "Voided"),
            OrderBelowMinimum(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "order_below_minimum", "Order below minimum")
            }
            CurrencyMismatch(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch", "Currency mismatch")
            }
            CampaignPaused => (StatusCode::CONFLICT, "campaign_paused", "Campaign paused"),
            Store(StoreError::Unavailable(_) | StoreError::Pool(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "Database unavailable")
            }
            Service(_) | Store(_) | Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
            Ledger(_) => (StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", "Ledger unavailable"),
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::Invalid { field, .. } => field.clone(),
            _ => None,
        }
    }

    /// What a client is told: internal failures are described in the log, not to the caller.
    fn detail(&self) -> String {
        match self {
            ApiError::Store(StoreError::Unavailable(_) | StoreError::Pool(_)) => {
                "the database did not answer; retry shortly".into()
            }
            ApiError::Ledger(_) => "the redemption ledger did not answer; retry shortly".into(),
            ApiError::Store(_) | ApiError::Internal(_) | ApiError::Service(_)
                if self.parts().0 == StatusCode::INTERNAL_SERVER_ERROR =>
            {
                "an internal error occurred; it has been logged with this request's id".into()
            }
            other => other.to_string(),
        }
    }
}

/// Builds a problem+json response.
pub fn problem_response(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
) -> HttpResponse {
    let body = Problem {
        kind: format!("https://vouchsafe.dev/problems/{code}"),
        title,
        status: status.as_u16(),
        detail,
        code,
        field,
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".into()))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let (status, code, title) = self.parts();
        match self {
            ApiError::Store(StoreError::Unavailable(_) | StoreError::Pool(_))
            | ApiError::Ledger(_)
            | ApiError::NotReady(_) => {
                tracing::warn!(error = %ErrorChain(self), code, "dependency unavailable")
            }
            _ if status.is_server_error() => {
                tracing::error!(error = %ErrorChain(self), code, "request failed")
            }
            _ => {}
        }
        let mut resp = problem_response(status, code, title, self.detail(), self.field());
        let headers = resp.headers_mut();
        match self {
            ApiError::MissingKey | ApiError::UnknownKey => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"vouchsafe\""),
                );
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                let list = allow.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                if let Ok(v) = header::HeaderValue::from_str(&list) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::NotReady(_)
            | ApiError::Ledger(_)
            | ApiError::Store(StoreError::Unavailable(_) | StoreError::Pool(_)) => {
                headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp
    }
}

fn code_for_status(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad_request", "Bad request"),
        401 => ("unauthorized", "Authentication required"),
        403 => ("forbidden", "Forbidden"),
        404 => ("route_not_found", "No such route"),
        405 => ("method_not_allowed", "Method not allowed"),
        408 => ("request_timeout", "Request timeout"),
        413 => ("payload_too_large", "Payload too large"),
        415 => ("unsupported_media_type", "Unsupported media type"),
        s if s >= 500 => ("internal", "Internal error"),
        _ => ("bad_request", "Bad request"),
    }
}

/// Last line of defence: any error response that is not already problem+json (actix's own
/// plain-text defaults, a payload error raised before a handler ran) is rewritten as one.
pub fn problemize<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Our own answers (problem+json, or a page for a person) pass; actix's defaults do not.
    let ours = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()) || v.as_bytes().starts_with(b"text/html")
    });
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = res
        .response()
        .error()
        .map(|e| e.to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let (req, _) = res.into_parts();
    let (code, title) = code_for_status(status);
    let resp = problem_response(status, code, title, detail, None);
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, resp).map_into_right_body()))
}
