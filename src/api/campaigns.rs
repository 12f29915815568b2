//! Campaigns (scope crm to write; crm or reports to read), generation jobs, single issuance
//! and the streamed voucher export.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    auth::{Authorized, CampaignReadScope, CrmScope},
    customers::utc,
    error::{parse_body, ApiError},
    idempotent, AppState,
};
use crate::{
    domain::{
        campaign::{
            check_dates, parse_name, parse_prefix, validate_variants, Analysis, Budget, Campaign,
            CampaignStatus, Discount, Variant,
        },
        customer::{parse_currency, CustomerId},
        money::Money,
        plan::{self, Plan},
        segment::Segment,
        voucher::VoucherStatus,
    },
    service::{
        generation, idempotency,
        issuance::{self, IssuedVoucher},
    },
    store::{
        campaigns::{self, CampaignPatch, NewCampaign},
        jobs::JobRow,
    },
};

/// The code's look.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    /// 1 to 8 of A-Z0-9, printed before the code body.
    #[schema(example = "BDAY")]
    pub prefix: String,
}

/// A new campaign.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    #[schema(example = "Birthday November")]
    pub name: String,
    #[schema(example = "EUR")]
    pub currency: String,
    pub segment: Segment,
    pub discount: Discount,
    /// Minimum order amount (minor units) for a code to apply; default 0.
    #[serde(default)]
    pub min_order: Money,
    #[serde(default)]
    pub budget: Budget,
    /// Default: now.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// Default: one variant named `default` with the campaign's discount.
    #[serde(default)]
    pub variants: Option<Vec<Variant>>,
    /// Default: prefix `VS`.
    #[serde(default)]
    pub code: Option<CodeSpec>,
    /// How the A/B results are analysed; default: sequential, alpha 0.05, no margin, +10%.
    #[serde(default)]
    pub analysis: Option<Analysis>,
}

impl CreateCampaign {
    fn parse(self) -> Result<NewCampaign, ApiError> {
        let name = parse_name(&self.name)?;
        let currency = parse_currency(&self.currency).map_err(|e| ApiError::invalid("currency", e))?;
        let segment = self.segment.validated().map_err(|(f, d)| ApiError::invalid(f, d))?;
        let discount = self.discount.validated("discount")?;
        let budget = self.budget.validated()?;
        let now = Utc::now();
        let starts_at = self.starts_at.unwrap_or(now);
        check_dates(starts_at.naive_utc(), self.expires_at.naive_utc(), now.naive_utc())?;
        let variants = self
            .variants
            .unwrap_or_else(|| vec![Variant { name: "default".into(), weight: 1, discount: None }]);
        let variants = validate_variants(variants)?;
        let prefix = match self.code {
            Some(c) => parse_prefix(&c.prefix).map_err(|e| ApiError::invalid("code.prefix", e))?,
            None => "VS".to_owned(),
        };
        Ok(NewCampaign {
            name,
            currency,
            segment,
            discount,
            min_order: self.min_order.minor(),
            budget,
            starts_at: starts_at.naive_utc(),
            expires_at: self.expires_at.naive_utc(),
            prefix,
            variants,
            analysis: self
                .analysis
                .unwrap_or_default()
                .validated()
                .map_err(|(f, d)| ApiError::invalid(f, d))?,
        })
    }
}

/// A campaign.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    #[schema(example = "42")]
    pub id: String,
    pub name: String,
    pub currency: String,
    pub segment: Segment,
    pub discount: Discount,
    pub min_order: i64,
    pub budget: Budget,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
    pub code: CodeSpec,
    pub status: CampaignStatus,
    pub analysis: Analysis,
    /// Power at creation: vouchers each arm needs to detect `analysis.min_detectable_lift`;
    /// `null` with one variant.
    pub plan: Option<Plan>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        let plan = plan::plan(&c.variants, &c.analysis, &c.budget);
        CampaignView {
            id: c.id.to_string(),
            name: c.name,
            currency: c.currency,
            segment: c.segment,
            discount: c.discount,
            min_order: c.min_order,
            budget: c.budget,
            starts_at: utc(c.starts_at),
            expires_at: utc(c.expires_at),
            variants: c.variants,
            code: CodeSpec { prefix: c.prefix },
            status: c.status,
            plan,
            analysis: c.analysis,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A page of campaigns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignPage {
    pub items: Vec<CampaignView>,
    pub next_cursor: Option<String>,
}

/// A change to a campaign.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCampaign {
    pub name: Option<String>,
    /// Up or down; replaces both limits (omit one to make it unlimited).
    pub budget: Option<Budget>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: Option<CampaignStatus>,
    /// Replaces the analysis settings (fields left out take their defaults).
    pub analysis: Option<Analysis>,
}

/// A generation job's progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    pub campaign_id: String,
    #[schema(value_type = crate::domain::status::JobStatus)]
    pub status: String,
    /// Customers in the segment when the job started.
    pub total: i64,
    pub processed: i64,
    pub issued: i64,
    pub skipped_no_consent: i64,
    /// Consented customers who already had a voucher of this campaign.
    pub skipped_existing: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<JobRow> for JobView {
    fn from(j: JobRow) -> Self {
        JobView {
            id: j.id,
            campaign_id: j.campaign_id.to_string(),
            status: j.status,
            total: j.total,
            processed: j.processed,
            issued: j.issued,
            skipped_no_consent: j.skipped_no_consent,
            skipped_existing: j.skipped_existing,
            error: j.error,
            created_at: utc(j.created_at),
            updated_at: utc(j.updated_at),
        }
    }
}

/// Who gets a voucher now.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    pub customer_id: String,
}

/// A voucher as exported to the CRM.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoucherView {
    pub customer_id: String,
    pub code: String,
    pub variant: String,
    pub expires_at: DateTime<Utc>,
    pub status: VoucherStatus,
}

impl From<IssuedVoucher> for VoucherView {
    fn from(v: IssuedVoucher) -> Self {
        VoucherView {
            customer_id: v.customer_id,
            code: v.code,
            variant: v.variant,
            expires_at: v.expires_at,
            status: v.status,
        }
    }
}

/// The voucher export as JSON (`format=json`): every voucher in one streamed document, shaped
/// like the other lists; `next_cursor` is always null, as the export is never cut into pages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoucherExport {
    pub items: Vec<VoucherView>,
    pub next_cursor: Option<String>,
}

/// Query of the voucher export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// json (default), ndjson or csv.
    #[param(value_type = Option<super::schema_doc::ExportFormat>)]
    pub format: Option<String>,
}

/// Query of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Parses a campaign id from a path; an id that cannot exist is simply not found.
pub fn campaign_id(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>().ok().filter(|id| *id > 0).ok_or(ApiError::NotFound("campaign"))
}

async fn load_campaign(state: &AppState, id: i32) -> Result<Campaign, ApiError> {
    Ok(issuance::load_campaign(state, id).await?)
}

/// Creates a campaign (Idempotency-Key honoured).
#[utoipa::path(
    operation_id = "createCampaign",
    tag = "campaigns",
    security(("api_key" = [])),
    request_body = CreateCampaign,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer")),
    responses(
        (status = 201, description = "Created", body = CampaignView),
        (status = 422, description = "A field is invalid (named in `field`)", body = super::error::Problem),
    )
)]
#[post("/v1/campaigns")]
#[tracing::instrument(name = "create_campaign", skip_all)]
pub async fn create_campaign(
    auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let raw = body.into_inner();
    let idem = idempotent::context(&req, &auth.caller, &raw);
    let parsed: CreateCampaign = parse_body(raw)?;
    let new = parsed.parse()?;
    let answer = idempotency::once(&state.db, idem, move |c| {
        let campaign = campaigns::create(c, &new)?;
        tracing::info!(campaign = campaign.id, "campaign created");
        Ok((201, serde_json::to_value(CampaignView::from(campaign)).unwrap_or_default()))
    })
    .await?;
    Ok(idempotent::respond(answer))
}

/// Lists campaigns by id.
#[utoipa::path(
    operation_id = "listCampaigns",
    tag = "campaigns",
    security(("api_key" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page", body = CampaignPage))
)]
#[get("/v1/campaigns")]
#[tracing::instrument(name = "list_campaigns", skip_all)]
pub async fn list_campaigns(
    _auth: Authorized<CampaignReadScope>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !crate::domain::bounds::PAGE_LIMIT.contains(&limit) {
        return Err(ApiError::InvalidParameter("limit must be between 1 and 500".into()));
    }
    let after = match &query.cursor {
        Some(c) => Some(c.parse::<i32>().map_err(|_| ApiError::InvalidParameter("unknown cursor".into()))?),
        None => None,
    };
    let mut items = state.list_campaigns(after, i64::from(limit) + 1).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        .json(CampaignPage { items: items.into_iter().map(CampaignView::from).collect(), next_cursor }))
}

/// Reads a campaign.
#[utoipa::path(
    operation_id = "getCampaign",
    tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The campaign", body = CampaignView),
        (status = 404, description = "No such campaign", body = super::error::Problem),
    )
)]
#[get("/v1/campaigns/{id}")]
#[tracing::instrument(name = "get_campaign", skip_all)]
pub async fn get_campaign(
    _auth: Authorized<CampaignReadScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let campaign = load_campaign(&state, campaign_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(campaign)))
}

/// Changes a campaign's name, budget, expiry or status; every instance applies it to the next
/// redemption.
#[utoipa::path(
    operation_id = "updateCampaign",
    tag = "campaigns",
    security(("api_key" = [])),
    params(("id" = String, Path)),
    request_body = PatchCampaign,
    responses(
        (status = 200, description = "Changed", body = CampaignView),
        (status = 404, description = "No such campaign", body = super::error::Problem),
        (status = 409, description = "`conflict`: an ended campaign cannot change status", body = super::error::Problem),
    )
)]
#[patch("/v1/campaigns/{id}")]
#[tracing::instrument(name = "patch_campaign", skip_all)]
pub async fn patch_campaign(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let body: PatchCampaign = parse_body(body.into_inner())?;
    // The same validators as create: a change may not make what create refuses.
    let name = body.name.as_deref().map(parse_name).transpose()?;
    let budget = body.budget.map(Budget::validated).transpose()?;
    if let Some(expires_at) = body.expires_at {
        let current = load_campaign(&state, id).await?;
        check_dates(current.starts_at, expires_at.naive_utc(), Utc::now().naive_utc())?;
    }
    let change = CampaignPatch {
        name,
        budget,
        expires_at: body.expires_at.map(|t| t.naive_utc()),
        status: body.status,
        analysis: body
            .analysis
            .map(Analysis::validated)
            .transpose()
            .map_err(|(f, d)| ApiError::invalid(f, d))?,
    };
    let campaign = state.patch_campaign(id, change).await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(campaign)))
}

/// Starts a generation job: one voucher for every consented customer of the segment without
/// one (Idempotency-Key honoured).
#[utoipa::path(
    operation_id = "startCampaignGeneration",
    tag = "generation",
    security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 202, description = "Queued", body = JobView),
        (status = 404, description = "No such campaign", body = super::error::Problem),
        (status = 410, description = "`expired`: the campaign has ended or expired", body = super::error::Problem),
    )
)]
#[post("/v1/campaigns/{id}/generations")]
#[tracing::instrument(name = "start_generation", skip_all)]
pub async fn start_generation(
    auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let idem = idempotent::context(&req, &auth.caller, &serde_json::Value::Null);
    let answer = generation::start(&state, id, idem, |job| {
        serde_json::to_value(JobView::from(job)).unwrap_or_default()
    })
    .await?;
    Ok(idempotent::respond(answer))
}

/// A generation job's progress.
#[utoipa::path(
    operation_id = "getGenerationJob",
    tag = "generation",
    security(("api_key" = [])),
    params(("job" = String, Path)),
    responses(
        (status = 200, description = "Progress", body = JobView),
        (status = 404, description = "No such job", body = super::error::Problem),
    )
)]
#[get("/v1/generations/{job}")]
#[tracing::instrument(name = "get_generation", skip_all)]
pub async fn get_generation(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let job = state.generation_job(id).await?;
    Ok(HttpResponse::Ok().json(JobView::from(job)))
}

/// Issues one voucher now (a real-time trigger), if the customer is consented, in the segment
/// and has none yet.
#[utoipa::path(
    operation_id = "issueCampaignVoucher",
    tag = "generation",
    security(("api_key" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer")),
    request_body = IssueBody,
    responses(
        (status = 201, description = "Issued", body = VoucherView),
        (status = 404, description = "`not_found`: no such campaign or customer", body = super::error::Problem),
        (status = 409, description = "`already_issued`, or `idempotency_in_progress`", body = super::error::Problem),
        (status = 410, description = "`expired`: the campaign has ended or expired", body = super::error::Problem),
        (status = 422, description = "`no_consent`, `not_in_segment`, `idempotency_key_reused`", body = super::error::Problem),
    )
)]
#[post("/v1/campaigns/{id}/vouchers")]
#[tracing::instrument(name = "issue_voucher", skip_all)]
pub async fn issue_voucher(
    auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let raw = body.into_inner();
    let idem = idempotent::context(&req, &auth.caller, &raw);
    let body: IssueBody = parse_body(raw)?;
    let customer = CustomerId::parse(&body.customer_id).map_err(|e| ApiError::invalid("customer_id", e))?;
    let answer = issuance::issue(&state, id, customer, idem, |voucher| {
        serde_json::to_value(VoucherView::from(voucher)).unwrap_or_default()
    })
    .await?;
    Ok(idempotent::respond(answer))
}

/// Every voucher of a campaign, streamed: `format=json` (default), `ndjson` or `csv`
/// (columns customer_id, code, variant, expires_at, status). Scope crm only: codes are
/// secrets (whoever holds one can redeem it), so a `reports` key, which may read campaigns,
/// may not read this.
#[utoipa::path(
    operation_id = "exportCampaignVouchers",
    tag = "generation",
    security(("api_key" = [])),
    params(("id" = String, Path), ExportQuery),
    responses(
        (status = 200, description = "The vouchers, in the media type `format` asks for: one JSON document \
                                      (`format=json`), one voucher object per line (`ndjson`), or CSV with a \
                                      header line (`csv`)",
         content(
             (VoucherExport = "application/json"),
             (VoucherView = "application/x-ndjson"),
             (String = "text/csv"),
         )),
        (status = 404, description = "No such campaign", body = super::error::Problem),
    )
)]
#[get("/v1/campaigns/{id}/vouchers")]
#[tracing::instrument(name = "export_vouchers", skip_all)]
pub async fn export_vouchers(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = campaign_id(&path)?;
    let format = match query.format.as_deref().unwrap_or("json") {
        "json" => issuance::ExportFormat::Json,
        "ndjson" => issuance::ExportFormat::Ndjson,
        "csv" => issuance::ExportFormat::Csv,
        other => {
            return Err(ApiError::InvalidParameter(format!(
                "format must be json, ndjson or csv, not `{other}`"
            )))
        }
    };
    let campaign = load_campaign(&state, id).await?;
    let stream = issuance::export_stream(state.db.clone(), campaign, format);
    Ok(HttpResponse::Ok().content_type(format.content_type()).streaming(stream))
}
