//! Customers, consents, carts, export and erasure (scope crm), and the NDJSON import.

use actix_web::{delete, get, post, put, web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::{
    auth::{Authorized, CrmScope},
    error::ApiError,
    AppState,
};
use crate::{
    domain::customer::{parse_currency, parse_label, Birthday, CustomerId},
    domain::{money::Money, voucher::VoucherStatus},
    service::{
        customers::CustomerRecord,
        import::{self, double_option, parse_consent, parse_profile, Imported},
    },
    store::{
        customers::{CartRow, ConsentRow, CustomerRow, NewConsent, ProfilePatch},
        redemptions::Redemption,
        vouchers::VoucherRow,
    },
};

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

/// A profile change: absent fields are left alone, `null` clears one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Birthday>)]
    pub birthday: Option<Option<Birthday>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "gold")]
    pub loyalty_tier: Option<Option<String>>,
}

impl CustomerBody {
    /// The validated change; the error names the field.
    pub fn parse(self) -> Result<ProfilePatch, (&'static str, &'static str, String)> {
        parse_profile(self.birthday, self.loyalty_tier)
    }
}

/// A customer's profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub birthday: Option<Birthday>,
    pub loyalty_tier: Option<String>,
    /// Whether `personalized_offers` is currently granted.
    pub personalized_offers: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CustomerRow> for CustomerView {
    fn from(r: CustomerRow) -> Self {
        CustomerView {
            birthday: r.birth_md.and_then(Birthday::from_md),
            id: r.id,
            loyalty_tier: r.loyalty_tier,
            personalized_offers: r.offers_consent,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// A consent statement as sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    #[schema(example = "personalized_offers")]
    pub purpose: String,
    pub granted: bool,
    #[schema(example = "preference_center")]
    pub source: String,
    #[schema(example = "2026-01")]
    pub policy_version: String,
}

impl ConsentBody {
    fn parse(self) -> Result<NewConsent, (&'static str, String)> {
        parse_consent(&self.purpose, self.granted, &self.source, &self.policy_version)
    }
}

/// One entry of the consent history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub purpose: String,
    pub granted: bool,
    pub source: String,
    pub policy_version: String,
    pub recorded_at: DateTime<Utc>,
}

impl From<ConsentRow> for ConsentView {
    fn from(r: ConsentRow) -> Self {
        ConsentView {
            purpose: r.purpose,
            granted: r.granted,
            source: r.source,
            policy_version: r.policy_version,
            recorded_at: utc(r.recorded_at),
        }
    }
}

/// The answer to a consent statement.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentRecorded {
    #[serde(flatten)]
    pub consent: ConsentView,
    /// Open vouchers voided by this statement (a revoked personalized_offers).
    pub voided_vouchers: usize,
}

/// The consent history, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentPage {
    pub items: Vec<ConsentView>,
    pub next_cursor: Option<String>,
}

/// An abandoned cart.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartBody {
    #[schema(example = "c-1")]
    pub cart_id: String,
    /// Minor units, 0 to 10^12.
    pub value: Money,
    #[schema(example = "EUR")]
    pub currency: String,
    pub abandoned_at: DateTime<Utc>,
}

/// A voucher as the customer export shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerVoucher {
    pub campaign_id: String,
    pub code: Option<String>,
    pub variant: i32,
    pub status: VoucherStatus,
    pub issued_at: DateTime<Utc>,
}

impl From<VoucherRow> for CustomerVoucher {
    fn from(v: VoucherRow) -> Self {
        CustomerVoucher {
            campaign_id: v.campaign_id.to_string(),
            code: v.code,
            variant: v.variant,
            status: v.status,
            issued_at: utc(v.issued_at),
        }
    }
}

/// Everything held on a customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerExport {
    pub customer: CustomerView,
    pub consents: Vec<ConsentView>,
    pub carts: Vec<CartBody>,
    pub vouchers: Vec<CustomerVoucher>,
    pub redemptions: Vec<CustomerRedemption>,
}

/// A redemption as the customer export shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerRedemption {
    pub id: String,
    pub campaign_id: String,
    pub code: Option<String>,
    pub order_id: String,
    pub order_amount: i64,
    pub currency: String,
    pub discount: i64,
    pub redeemed_at: DateTime<Utc>,
    pub rolled_back_at: Option<DateTime<Utc>>,
}

impl From<Redemption> for CustomerRedemption {
    fn from(r: Redemption) -> Self {
        CustomerRedemption {
            id: r.id,
            campaign_id: r.campaign_id.to_string(),
            code: r.code,
            order_id: r.order_id,
            order_amount: r.order_amount,
            currency: r.currency,
            discount: r.discount,
            redeemed_at: utc(r.redeemed_at),
            rolled_back_at: r.rolled_back_at.map(utc),
        }
    }
}

fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).map_err(|e| ApiError::invalid("customer_id", e))
}

/// Creates or changes a customer's profile.
#[utoipa::path(
    operation_id = "upsertCustomer",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path, description = "The CRM's pseudonymous id (≤ 128 chars)")),
    request_body = CustomerBody,
    responses(
        (status = 201, description = "Created", body = CustomerView),
        (status = 200, description = "Updated", body = CustomerView),
        (status = 422, description = "Invalid field", body = super::error::Problem),
    )
)]
#[put("/v1/customers/{customer_id}")]
#[tracing::instrument(name = "upsert_customer", skip_all)]
pub async fn upsert_customer(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<CustomerBody>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let patch = body.into_inner().parse().map_err(|(field, _, detail)| ApiError::invalid(field, detail))?;
    let (row, created) = state.upsert_customer(id, patch).await?;
    let view = CustomerView::from(row);
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// The largest JSON-array import body (NDJSON is streamed and has no total limit).
pub const MAX_IMPORT_JSON: usize = 16 << 20;

/// One customer of an import, as the document describes it: an NDJSON line, or an item of the
/// JSON array (parsed by `service::import`). Absent profile fields are left alone, `null`
/// clears one; `consent` appends a statement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ImportCustomer)]
#[allow(dead_code)] // only its schema is used
struct ImportLine {
    #[schema(example = "c-1001")]
    id: String,
    #[schema(value_type = Option<Birthday>)]
    birthday: Option<Option<Birthday>>,
    #[schema(value_type = Option<String>, example = "gold")]
    loyalty_tier: Option<Option<String>>,
    consent: Option<ConsentBody>,
}

/// A line (or array item) the import refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReject {
    /// 1-based line number in the NDJSON body, or 1-based position in the JSON array.
    pub line: usize,
    pub code: &'static str,
    pub detail: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// Lines written (created or updated customers).
    pub imported: usize,
    /// The first 1000 refused lines, by line number.
    pub rejected: Vec<ImportReject>,
    /// How many lines were refused in all.
    pub rejected_total: usize,
    /// Open vouchers voided by revoked consents in the file.
    pub voided_vouchers: usize,
}

impl From<Imported> for ImportSummary {
    fn from(i: Imported) -> Self {
        ImportSummary {
            imported: i.imported,
            rejected: i
                .rejected
                .into_iter()
                .map(|r| ImportReject { line: r.line, code: r.code, detail: r.detail })
                .collect(),
            rejected_total: i.rejected_total,
            voided_vouchers: i.voided_vouchers,
        }
    }
}

/// An NDJSON body in the document: bytes (`format: binary`), so generators pass a file or a buffer.
pub struct NdjsonLines;

impl utoipa::PartialSchema for NdjsonLines {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("NDJSON: one `ImportCustomer` object per line"))
            .into()
    }
}

impl utoipa::ToSchema for NdjsonLines {}

/// Imports customers from NDJSON, one object per line, streamed.
///
/// One media type per operation: generators (openapi-python-client 0.29) write broken code for an
/// operation with two request media types, so the JSON-array form is its own operation,
/// [`import_customers_json`]. This route still takes `application/json` too, for clients that
/// send it here.
#[utoipa::path(
    operation_id = "importCustomers",
    tag = "customers",
    security(("api_key" = [])),
    request_body(
        content((NdjsonLines = "application/x-ndjson")),
        description = "NDJSON: one `ImportCustomer` object per line (`{\"id\", \"birthday\"?, \"loyalty_tier\"?, \
                       \"consent\"?}`), streamed, any size. A JSON array sent as `application/json` is taken \
                       too (typed: `POST /v1/customers/import.json`)"
    ),
    responses(
        (status = 200, description = "Good lines imported, bad ones reported", body = ImportSummary),
        (status = 413, description = "`payload_too_large`: a JSON array body over 16 MiB", body = super::error::Problem),
        (status = 422, description = "`invalid_body`: a JSON body that is not an array", body = super::error::Problem),
    )
)]
#[post("/v1/customers/import")]
#[tracing::instrument(name = "import_customers", skip_all)]
pub async fn import_customers(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let json = req.mime_type().ok().flatten().is_some_and(|m| m.essence_str() == "application/json");
    let imported = if json {
        import_json_array(&state, payload).await?
    } else {
        import::import_ndjson(&state, payload).await?
    };
    Ok(HttpResponse::Ok().json(ImportSummary::from(imported)))
}

/// Imports customers from a JSON array (at most 16 MiB); each item is answered like an NDJSON line.
#[utoipa::path(
    operation_id = "importCustomersJson",
    tag = "customers",
    security(("api_key" = [])),
    request_body(
        content((Vec<ImportLine> = "application/json")),
        description = "A JSON array of `ImportCustomer` objects, at most 16 MiB; item k is reported as line k"
    ),
    responses(
        (status = 200, description = "Good items imported, bad ones reported", body = ImportSummary),
        (status = 413, description = "`payload_too_large`: over 16 MiB; send larger imports as NDJSON", body = super::error::Problem),
        (status = 422, description = "`invalid_body`: the body is not an array", body = super::error::Problem),
    )
)]
#[post("/v1/customers/import.json")]
#[tracing::instrument(name = "import_customers_json", skip_all)]
pub async fn import_customers_json(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let imported = import_json_array(&state, payload).await?;
    Ok(HttpResponse::Ok().json(ImportSummary::from(imported)))
}

/// Reads a JSON array of customers (bounded by [`MAX_IMPORT_JSON`]) and imports its items.
async fn import_json_array(state: &AppState, mut payload: web::Payload) -> Result<Imported, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidParameter(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > MAX_IMPORT_JSON {
            return Err(ApiError::PayloadTooLarge(format!(
                "a JSON import may have at most {MAX_IMPORT_JSON} bytes; send larger ones as NDJSON"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::Invalid {
                field: None,
                detail: format!("the body must be a JSON array of customers: {e}"),
            }
        } else {
            ApiError::MalformedJson(e.to_string())
        }
    })?;
    Ok(import::import_items(state, items).await?)
}

/// Appends a consent statement; a revoked personalized_offers voids the customer's open vouchers.
#[utoipa::path(
    operation_id = "addCustomerConsent",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path)),
    request_body = ConsentBody,
    responses(
        (status = 201, description = "Appended", body = ConsentRecorded),
        (status = 422, description = "`invalid_body`: the customer id or a field is invalid", body = super::error::Problem),
    )
)]
#[post("/v1/customers/{customer_id}/consents")]
#[tracing::instrument(name = "add_consent", skip_all)]
pub async fn add_consent(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ConsentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let consent = body.into_inner().parse().map_err(|(f, d)| ApiError::invalid(f, d))?;
    let recorded = consent.clone();
    let n = state.add_consent(id, consent).await?;
    Ok(HttpResponse::Created().json(ConsentRecorded {
        consent: ConsentView {
            purpose: recorded.purpose,
            granted: recorded.granted,
            source: recorded.source,
            policy_version: recorded.policy_version,
            recorded_at: Utc::now(),
        },
        voided_vouchers: n,
    }))
}

/// The consent history, newest first.
#[utoipa::path(
    operation_id = "listCustomerConsents",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path)),
    responses(
        (status = 200, description = "History", body = ConsentPage),
        (status = 404, description = "No such customer", body = super::error::Problem),
        (status = 422, description = "`invalid_body`: the customer id is invalid", body = super::error::Problem),
    )
)]
#[get("/v1/customers/{customer_id}/consents")]
#[tracing::instrument(name = "list_consents", skip_all)]
pub async fn list_consents(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let history = state.consent_history(id).await?;
    Ok(HttpResponse::Ok()
        .json(ConsentPage { items: history.into_iter().map(ConsentView::from).collect(), next_cursor: None }))
}

/// Records an abandoned cart (the same cart_id again replaces it).
#[utoipa::path(
    operation_id = "recordCustomerCart",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path)),
    request_body = CartBody,
    responses(
        (status = 201, description = "Recorded", body = CartBody),
        (status = 422, description = "`invalid_body`: the customer id or a field is invalid", body = super::error::Problem),
    )
)]
#[post("/v1/customers/{customer_id}/carts")]
#[tracing::instrument(name = "put_cart", skip_all)]
pub async fn put_cart(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let body: CartBody = super::error::parse_body(body.into_inner())?;
    let cart = CartRow {
        customer_id: id.as_str().to_owned(),
        cart_id: parse_label("cart_id", &body.cart_id).map_err(|e| ApiError::invalid("cart_id", e))?,
        value: body.value.minor(),
        currency: parse_currency(&body.currency).map_err(|e| ApiError::invalid("currency", e))?,
        abandoned_at: body.abandoned_at.naive_utc().trunc_subsecs(6),
    };
    let view = CartBody {
        cart_id: cart.cart_id.clone(),
        value: body.value,
        currency: cart.currency.clone(),
        abandoned_at: body.abandoned_at,
    };
    state.put_cart(cart).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Removes a cart that was bought: it no longer puts the customer in a segment.
#[utoipa::path(
    operation_id = "deleteCustomerCart",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path), ("cart_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such cart", body = super::error::Problem),
    )
)]
#[delete("/v1/customers/{customer_id}/carts/{cart_id}")]
#[tracing::instrument(name = "delete_cart", skip_all)]
pub async fn delete_cart(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (customer, cart) = path.into_inner();
    state.delete_cart(customer, cart).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Everything held on a customer: profile, consents, carts, vouchers, redemptions.
#[utoipa::path(
    operation_id = "exportCustomer",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path)),
    responses(
        (status = 200, description = "The export", body = CustomerExport),
        (status = 404, description = "No such customer (or erased)", body = super::error::Problem),
        (status = 422, description = "`invalid_body`: the customer id is invalid", body = super::error::Problem),
    )
)]
#[get("/v1/customers/{customer_id}/export")]
#[tracing::instrument(name = "export_customer", skip_all)]
pub async fn export_customer(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let CustomerRecord { customer, consents, carts, vouchers, redemptions } =
        state.export_customer(id).await?;
    Ok(HttpResponse::Ok().json(CustomerExport {
        customer: customer.into(),
        consents: consents.into_iter().map(ConsentView::from).collect(),
        carts: carts
            .into_iter()
            .map(|c| CartBody {
                cart_id: c.cart_id,
                value: Money::from_stored(c.value),
                currency: c.currency,
                abandoned_at: utc(c.abandoned_at),
            })
            .collect(),
        vouchers: vouchers.into_iter().map(CustomerVoucher::from).collect(),
        redemptions: redemptions.into_iter().map(CustomerRedemption::from).collect(),
    }))
}

/// Erasure: deletes the customer's personal data and unlinks their vouchers and redemptions
/// (open vouchers are voided); campaign totals stay exact.
#[utoipa::path(
    operation_id = "eraseCustomer",
    tag = "customers",
    security(("api_key" = [])),
    params(("customer_id" = String, Path)),
    responses(
        (status = 204, description = "Erased"),
        (status = 404, description = "No such customer", body = super::error::Problem),
        (status = 422, description = "`invalid_body`: the customer id is invalid", body = super::error::Problem),
    )
)]
#[delete("/v1/customers/{customer_id}")]
#[tracing::instrument(name = "erase_customer", skip_all)]
pub async fn erase_customer(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    state.erase_customer(id).await?;
    Ok(HttpResponse::NoContent().finish())
}
