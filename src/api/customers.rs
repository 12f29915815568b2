//! Customers, consents, carts, export and erasure (scope crm), and the NDJSON import.

use actix_web::{delete, get, post, put, web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    auth::{Authorized, CrmScope},
    error::ApiError,
    AppState,
};
use crate::{
    domain::customer::{parse_currency, parse_label, parse_purpose, Birthday, CustomerId, LoyaltyTier},
    domain::money::Money,
    store::{
        customers::{self, CartRow, ConsentRow, CustomerRow, ImportRecord, NewConsent, ProfilePatch},
        vouchers::{self, VoucherRow},
    },
};

/// The largest NDJSON line accepted by the import.
pub const MAX_IMPORT_LINE: usize = 64 * 1024;
/// The largest JSON-array import body (NDJSON is streamed and has no total limit).
pub const MAX_IMPORT_JSON: usize = 16 << 20;
/// Customers written per import transaction.
pub const IMPORT_BATCH: usize = 1000;
/// At most this many rejected lines are listed (all are counted).
pub const MAX_REJECTS_LISTED: usize = 1000;

fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

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
        let birthday = match self.birthday {
            Some(Some(b)) => {
                Some(Some(Birthday::new(b.month, b.day).map_err(|e| ("birthday", "invalid_birthday", e))?))
            }
            other => other.map(|_| None),
        };
        let loyalty_tier = match self.loyalty_tier {
            Some(Some(t)) => Some(Some(
                LoyaltyTier::parse(&t)
                    .map_err(|e| ("loyalty_tier", "invalid_loyalty_tier", e))?
                    .as_str()
                    .to_owned(),
            )),
            other => other.map(|_| None),
        };
        Ok(ProfilePatch { birthday, loyalty_tier })
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
        Ok(NewConsent {
            purpose: parse_purpose(&self.purpose).map_err(|e| ("purpose", e))?,
            granted: self.granted,
            source: parse_label("source", &self.source).map_err(|e| ("source", e))?,
            policy_version: parse_label("policy_version", &self.policy_version)
                .map_err(|e| ("policy_version", e))?,
        })
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
    #[schema(value_type = crate::domain::status::VoucherStatus)]
    pub status: String,
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

impl From<crate::store::redemptions::Redemption> for CustomerRedemption {
    fn from(r: crate::store::redemptions::Redemption) -> Self {
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
    let (row, created) = state.db.run(move |c| customers::upsert(c, id.as_str(), &patch)).await?;
    let view = CustomerView::from(row);
    Ok(if created { HttpResponse::Created().json(view) } else { HttpResponse::Ok().json(view) })
}

/// One customer of an import: an NDJSON line, or an item of the JSON array. Absent profile
/// fields are left alone, `null` clears one; `consent` appends a statement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ImportCustomer)]
struct ImportLine {
    #[schema(example = "c-1001")]
    id: String,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Birthday>)]
    birthday: Option<Option<Birthday>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "gold")]
    loyalty_tier: Option<Option<String>>,
    #[serde(default)]
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

impl ImportSummary {
    fn reject(&mut self, line: usize, code: &'static str, detail: String) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_REJECTS_LISTED {
            self.rejected.push(ImportReject { line, code, detail });
        }
    }
}

/// Parses one NDJSON line into an import record, or says why not.
pub fn parse_import_line(line: &[u8]) -> Result<ImportRecord, (&'static str, String)> {
    let parsed: ImportLine = serde_json::from_slice(line).map_err(|e| {
        if e.is_data() {
            ("invalid_body", e.to_string())
        } else {
            ("malformed_json", e.to_string())
        }
    })?;
    let id = CustomerId::parse(&parsed.id).map_err(|e| ("invalid_customer_id", e))?;
    let profile = CustomerBody { birthday: parsed.birthday, loyalty_tier: parsed.loyalty_tier }
        .parse()
        .map_err(|(_, code, detail)| (code, detail))?;
    let consent =
        parsed.consent.map(ConsentBody::parse).transpose().map_err(|(_, d)| ("invalid_consent", d))?;
    Ok(ImportRecord { id: id.as_str().to_owned(), profile, consent })
}

/// Imports customers: NDJSON, one object per line, streamed; or (`Content-Type:
/// application/json`) a JSON array of the same objects, at most 16 MiB (`MAX_IMPORT_JSON`).
/// Either way each customer is taken or refused on its own, and a refusal names its line (its
/// 1-based position in the array).
#[utoipa::path(
    operation_id = "importCustomers",
    tag = "customers",
    security(("api_key" = [])),
    request_body(
        content(
            (Vec<ImportLine> = "application/json"),
            (String = "application/x-ndjson"),
        ),
        description = "A JSON array of customers (at most 16 MiB), or NDJSON: one `ImportCustomer` \
                       object per line (`{\"id\", \"birthday\"?, \"loyalty_tier\"?, \"consent\"?}`)"
    ),
    responses((status = 200, description = "Good lines imported, bad ones reported", body = ImportSummary))
)]
#[post("/v1/customers/import")]
#[tracing::instrument(name = "import_customers", skip_all)]
pub async fn import_customers(
    _auth: Authorized<CrmScope>,
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let json = req.mime_type().ok().flatten().is_some_and(|m| m.essence_str() == "application/json");
    if json {
        return import_json_array(&state, payload).await;
    }
    let mut summary = ImportSummary::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut batch: Vec<(usize, ImportRecord)> = Vec::with_capacity(IMPORT_BATCH);
    let mut line_no = 0usize;
    let mut skipping_long_line = false;
    loop {
        let chunk = payload.next().await;
        let at_end = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk =
                chunk.map_err(|e| ApiError::InvalidParameter(format!("the body could not be read: {e}")))?;
            buf.extend_from_slice(&chunk);
        }
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + pos];
            start += pos + 1;
            line_no += 1;
            if skipping_long_line {
                skipping_long_line = false;
                summary.reject(
                    line_no,
                    "line_too_long",
                    format!("a line may have at most {MAX_IMPORT_LINE} bytes"),
                );
                continue;
            }
            take_line(line, line_no, &mut summary, &mut batch);
        }
        buf.drain(..start);
        if buf.len() > MAX_IMPORT_LINE {
            buf.clear();
            skipping_long_line = true;
        }
        if at_end && (!buf.is_empty() || skipping_long_line) {
            line_no += 1;
            if skipping_long_line {
                summary.reject(
                    line_no,
                    "line_too_long",
                    format!("a line may have at most {MAX_IMPORT_LINE} bytes"),
                );
            } else {
                let line = std::mem::take(&mut buf);
                take_line(&line, line_no, &mut summary, &mut batch);
            }
        }
        if batch.len() >= IMPORT_BATCH || (at_end && !batch.is_empty()) {
            write_batch(&state, std::mem::take(&mut batch), &mut summary).await?;
        }
        if at_end {
            break;
        }
    }
    summary.rejected.sort_by_key(|r| r.line);
    Ok(HttpResponse::Ok().json(summary))
}

/// The JSON-array form of the import: buffered (it is one document), then taken item by item
/// exactly as NDJSON lines are.
async fn import_json_array(state: &AppState, mut payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
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
    let mut summary = ImportSummary::default();
    let mut batch: Vec<(usize, ImportRecord)> = Vec::with_capacity(IMPORT_BATCH);
    for (i, item) in items.iter().enumerate() {
        let line = serde_json::to_vec(item).unwrap_or_default();
        take_line(&line, i + 1, &mut summary, &mut batch);
        if batch.len() >= IMPORT_BATCH {
            write_batch(state, std::mem::take(&mut batch), &mut summary).await?;
        }
    }
    if !batch.is_empty() {
        write_batch(state, batch, &mut summary).await?;
    }
    summary.rejected.sort_by_key(|r| r.line);
    Ok(HttpResponse::Ok().json(summary))
}

fn take_line(
    line: &[u8],
    line_no: usize,
    summary: &mut ImportSummary,
    batch: &mut Vec<(usize, ImportRecord)>,
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if line.len() > MAX_IMPORT_LINE {
        summary.reject(line_no, "line_too_long", format!("a line may have at most {MAX_IMPORT_LINE} bytes"));
        return;
    }
    match parse_import_line(line) {
        Ok(record) => batch.push((line_no, record)),
        Err((code, detail)) => summary.reject(line_no, code, detail),
    }
}

async fn write_batch(
    state: &AppState,
    batch: Vec<(usize, ImportRecord)>,
    summary: &mut ImportSummary,
) -> Result<(), ApiError> {
    let records: Vec<ImportRecord> = batch.iter().map(|(_, r)| r.clone()).collect();
    let n = records.len();
    let voided = state.db.run(move |c| customers::import_batch(c, &records)).await?;
    summary.imported += n;
    summary.voided_vouchers += voided.len();
    state.ledger_void(voided).await;
    Ok(())
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
    let voided = state.db.run(move |c| customers::add_consent(c, id.as_str(), &consent)).await?;
    let n = voided.len();
    state.ledger_void(voided).await;
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
    let history = state
        .db
        .run(move |c| {
            if customers::find(c, id.as_str())?.is_none() {
                return Ok(None);
            }
            customers::consent_history(c, id.as_str()).map(Some)
        })
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
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
    state.db.run(move |c| customers::put_cart(c, &cart)).await?;
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
    let gone = state.db.run(move |c| customers::delete_cart(c, &customer, &cart)).await?;
    if gone {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("cart"))
    }
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
    let export = state
        .db
        .run(move |c| {
            let Some(customer) = customers::find(c, id.as_str())? else { return Ok(None) };
            let consents = customers::consent_history(c, id.as_str())?;
            let carts = customers::carts_of(c, id.as_str())?;
            let vouchers = vouchers::of_customer(c, id.as_str())?;
            let redemptions = crate::store::redemptions::of_customer(c, id.as_str())?;
            Ok(Some((customer, consents, carts, vouchers, redemptions)))
        })
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let (customer, consents, carts, vouchers, redemptions) = export;
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
    let voided = state
        .db
        .run(move |c| customers::erase(c, id.as_str()))
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    state.ledger_void(voided).await;
    Ok(HttpResponse::NoContent().finish())
}
