//! Reports (scope reports): JSON, CSV, and HTML pages for a person in a browser. The pages
//! authenticate with the `Authorization` header or HTTP Basic (the API key as the password)
//! and challenge with Basic, so a browser asks for the key.

use actix_web::{get, http::header, web, HttpResponse};

use super::{
    auth::{Authorized, ReportsScope},
    campaigns::campaign_id,
    error::ApiError,
    report_page::{render_denied_page, render_index_page, render_report_page, IndexEntry},
    AppState,
};
use crate::{
    domain::report::{report_csv, Report},
    service::reporting,
};

/// Pages load nothing from anywhere, run no script and may not be framed (clickjacking).
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
                        form-action 'none'; frame-ancestors 'none'";

async fn load(state: &AppState, raw_id: &str) -> Result<Report, ApiError> {
    let id = campaign_id(raw_id)?;
    reporting::report(&state.db, id).await?.ok_or(ApiError::NotFound("campaign"))
}

/// The campaign's budget and A/B report as JSON (see API.md for every field).
#[utoipa::path(
    operation_id = "getCampaignReport",
    tag = "reports",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The report", body = Report),
        (status = 404, description = "No such campaign", body = super::error::Problem),
    )
)]
#[get("/v1/campaigns/{id}/report")]
#[tracing::instrument(name = "report_json", skip_all)]
pub async fn report_json(
    _auth: Authorized<ReportsScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&state, &path).await?))
}

/// The report as CSV: one row per variant, then one per day (columns in the header).
#[utoipa::path(
    operation_id = "getCampaignReportCsv",
    tag = "reports",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv", body = String),
        (status = 404, description = "No such campaign", body = super::error::Problem),
    )
)]
#[get("/v1/campaigns/{id}/report.csv")]
#[tracing::instrument(name = "report_csv", skip_all)]
pub async fn report_csv_route(
    _auth: Authorized<ReportsScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let report = load(&state, &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"campaign-{}-report.csv\"", report.campaign_id),
        ))
        .body(report_csv(&report)))
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A person without (or with a wrong) key gets a page and a Basic challenge, not JSON.
fn html_denied(e: ApiError) -> HttpResponse {
    let (status, _, title) = e.parts();
    let mut resp = HttpResponse::build(status);
    resp.content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if status.as_u16() == 401 {
        resp.insert_header((
            header::WWW_AUTHENTICATE,
            "Basic realm=\"vouchsafe reports\", charset=\"UTF-8\"",
        ));
    }
    resp.body(render_denied_page(title))
}

/// A page for a caller without a usable key; any other failure (the database down while
/// looking the key up) stays a problem+json error.
fn denied_page(auth: Result<Authorized<ReportsScope>, ApiError>) -> Result<Option<HttpResponse>, ApiError> {
    match auth {
        Ok(_) => Ok(None),
        Err(e @ (ApiError::MissingKey | ApiError::UnknownKey | ApiError::Forbidden(_))) => {
            Ok(Some(html_denied(e)))
        }
        Err(e) => Err(e),
    }
}

/// The campaign's report as a page with charts.
#[utoipa::path(
    operation_id = "getCampaignReportPage",
    tag = "reports",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "HTML page", content_type = "text/html", body = String),
        (status = 401, description = "A page asking for the key (HTTP Basic challenge)", content_type = "text/html", body = String),
        (status = 403, description = "A page: the key lacks the reports scope", content_type = "text/html", body = String),
        (status = 404, description = "No such campaign", body = super::error::Problem),
    )
)]
#[get("/reports/campaigns/{id}")]
#[tracing::instrument(name = "report_page", skip_all)]
pub async fn report_page(
    auth: Result<Authorized<ReportsScope>, ApiError>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if let Some(page) = denied_page(auth)? {
        return Ok(page);
    }
    Ok(html(render_report_page(&load(&state, &path).await?)))
}

/// Every campaign, linking to its report page.
#[utoipa::path(
    operation_id = "getReportIndex",
    tag = "reports",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "HTML page", content_type = "text/html", body = String),
        (status = 401, description = "A page asking for the key (HTTP Basic challenge)", content_type = "text/html", body = String),
        (status = 403, description = "A page: the key lacks the reports scope", content_type = "text/html", body = String),
    )
)]
#[get("/reports")]
#[tracing::instrument(name = "report_index", skip_all)]
pub async fn report_index(
    auth: Result<Authorized<ReportsScope>, ApiError>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(page) = denied_page(auth)? {
        return Ok(page);
    }
    let all = state.list_campaigns(None, 1000).await?;
    let entries: Vec<IndexEntry> = all
        .into_iter()
        .map(|c| IndexEntry {
            id: c.id.to_string(),
            name: c.name,
            status: c.status.as_str().to_owned(),
            currency: c.currency,
            spent: c.spent,
            max_amount: c.budget.max_amount.map(crate::domain::money::Money::minor),
        })
        .collect();
    Ok(html(render_index_page(&entries)))
}
