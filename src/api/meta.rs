//! Health, readiness, metrics and the OpenAPI document: what operators and load balancers ask.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use super::{error::ApiError, AppState};

const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Liveness: the process answers.
#[utoipa::path(operation_id = "getHealth", tag = "meta", responses((status = 200, description = "The process is alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness as reported by `/readyz`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    /// `redis` or `sql`.
    pub ledger: &'static str,
}

/// Readiness: the database and the ledger both answer within a second.
#[utoipa::path(
    operation_id = "getReadiness",
    tag = "meta",
    responses(
        (status = 200, description = "Ready to take traffic", body = Readiness),
        (status = 503, description = "The database or the ledger does not answer", body = super::error::Problem,
         content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (db, ledger) = tokio::join!(state.db.ping(CHECK_TIMEOUT), state.ledger.ping(CHECK_TIMEOUT));
    let mut failures = Vec::new();
    if let Err(e) = db {
        tracing::warn!(error = %e, "readiness: database does not answer");
        failures.push(format!("database ({}) does not answer", state.db.backend()));
    }
    if let Err(e) = ledger {
        tracing::warn!(error = %e, "readiness: ledger does not answer");
        failures.push(format!("ledger ({}) does not answer", state.ledger.kind()));
    }
    if !failures.is_empty() {
        return Err(ApiError::NotReady(failures.join("; ")));
    }
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        database: state.db.backend(),
        ledger: state.ledger.kind(),
    }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(operation_id = "getMetrics", tag = "meta", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

/// This API's OpenAPI 3.1 document, generated from the handlers.
#[utoipa::path(operation_id = "getOpenApiDocument", tag = "meta", responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.openapi_json().to_owned())
}
