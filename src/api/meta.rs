//! Health, readiness, metrics and the OpenAPI document: what operators and load balancers ask.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;

use super::{error::ApiError, AppState};

const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// What `GET /` answers: what this is and where to go next.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Index {
    /// `vouchsafe`.
    pub service: &'static str,
    /// The running version.
    pub version: &'static str,
    /// One line on what the links lead to.
    pub about: &'static str,
    pub links: IndexLinks,
}

/// The service's entry points, as paths on this host.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IndexLinks {
    /// The campaign report pages, for a browser (HTTP Basic: any user name, a `reports` key as
    /// the password).
    pub reports: &'static str,
    /// The OpenAPI document: every route, its scopes and answers.
    pub openapi: &'static str,
    /// Liveness.
    pub healthz: &'static str,
    /// Readiness (database and ledger).
    pub readyz: &'static str,
    /// Prometheus metrics.
    pub metrics: &'static str,
}

/// The service's front door: a small JSON answer naming the report pages and the OpenAPI
/// document, for whoever opens the service's address.
#[utoipa::path(operation_id = "getIndex", tag = "meta", responses((status = 200, description = "What this is and where to go next", body = Index)))]
#[get("/")]
pub async fn index() -> HttpResponse {
    HttpResponse::Ok().json(Index {
        service: "vouchsafe",
        version: env!("CARGO_PKG_VERSION"),
        about: "Personalized single-use vouchers. Reports for a browser at /reports (user name: \
                anything, password: an API key with scope reports); every API route in /openapi.json.",
        links: IndexLinks {
            reports: "/reports",
            openapi: "/openapi.json",
            healthz: "/healthz",
            readyz: "/readyz",
            metrics: "/metrics",
        },
    })
}

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
