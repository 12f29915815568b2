//! Issuing single vouchers (real-time triggers) and streaming a campaign's vouchers out.

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::{
    api::{campaigns::VoucherView, customers::utc},
    domain::{
        code::Keyring,
        csv::{self, Cell},
        customer::{Birthday, Cart, CustomerFacts},
    },
    generation::issue_codes,
    store::{
        campaigns::{self, Campaign},
        customers, vouchers,
        vouchers::VoucherRow,
        Conn, Db, StoreError,
    },
};

/// Why a single voucher was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no such customer")]
    NoCustomer,
    #[error("no consent")]
    NoConsent,
    #[error("not in segment")]
    NotInSegment,
    #[error("already issued")]
    AlreadyIssued,
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What segments look at for one stored customer.
pub fn facts_of(conn: &mut Conn, customer_id: &str) -> Result<Option<CustomerFacts>, StoreError> {
    let Some(row) = customers::find(conn, customer_id)? else { return Ok(None) };
    let carts = customers::carts_of(conn, customer_id)?
        .into_iter()
        .map(|c| Cart { value: c.value, currency: c.currency, abandoned_at: utc(c.abandoned_at) })
        .collect();
    Ok(Some(CustomerFacts {
        birthday: row.birth_md.and_then(Birthday::from_md),
        tier: row.loyalty_tier,
        offers_consent: row.offers_consent,
        carts,
    }))
}

/// Issues one voucher if the customer is consented, in the segment at `now`, and has none.
pub fn issue_one(
    conn: &mut Conn,
    campaign: &Campaign,
    keyring: &Keyring,
    customer_id: &str,
    now: DateTime<Utc>,
) -> Result<VoucherRow, IssueError> {
    let facts = facts_of(conn, customer_id)?.ok_or(IssueError::NoCustomer)?;
    if !facts.offers_consent {
        return Err(IssueError::NoConsent);
    }
    if !campaign.segment.matches(&facts, &campaign.currency, now) {
        return Err(IssueError::NotInSegment);
    }
    if vouchers::of_customer_in(conn, campaign.id, customer_id)?.is_some() {
        return Err(IssueError::AlreadyIssued);
    }
    let key = keyring.current().ok_or_else(|| IssueError::Other("no active signing key".into()))?;
    let serial = campaigns::allocate_serials(conn, campaign.id, 1)?;
    let new =
        issue_codes(campaign, key, serial, &[customer_id]).map_err(|e| IssueError::Other(e.to_string()))?;
    if vouchers::insert_batch(conn, &new)? == 0 {
        return Err(IssueError::AlreadyIssued);
    }
    vouchers::get(conn, campaign.id, serial)?.ok_or(IssueError::Store(StoreError::NotFound))
}

/// A voucher as the CRM sees it.
pub fn view(campaign: &Campaign, v: VoucherRow) -> VoucherView {
    VoucherView {
        customer_id: v.customer_id.unwrap_or_default(),
        code: v.code.unwrap_or_default(),
        variant: campaign.variants.get(v.variant as usize).map(|x| x.name.clone()).unwrap_or_default(),
        expires_at: utc(campaign.expires_at),
        status: v.status,
    }
}

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Ndjson,
    Csv,
}

impl ExportFormat {
    /// The media type of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

fn render(format: ExportFormat, v: &VoucherView, first: bool, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Json => {
            if !first {
                out.push(b',');
            }
            out.extend(serde_json::to_vec(v).unwrap_or_default());
        }
        ExportFormat::Ndjson => {
            out.extend(serde_json::to_vec(v).unwrap_or_default());
            out.push(b'\n');
        }
        ExportFormat::Csv => {
            let expires_at = v.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let mut line = String::new();
            csv::write_row(
                &mut line,
                &[
                    Cell::Text(&v.customer_id),
                    Cell::Text(&v.code),
                    Cell::Text(&v.variant),
                    Cell::Text(&expires_at),
                    Cell::Text(&v.status),
                ],
            );
            out.extend(line.as_bytes());
        }
    }
}

/// Vouchers per database page of an export.
pub const EXPORT_PAGE: i64 = 2_000;

struct ExportState {
    db: Db,
    campaign: std::sync::Arc<Campaign>,
    format: ExportFormat,
    after: Option<i64>,
    started: bool,
    done: bool,
    any: bool,
}

/// The vouchers of a campaign as a byte stream, read page by page (constant memory).
pub fn export_stream(
    db: Db,
    campaign: Campaign,
    format: ExportFormat,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let state = ExportState {
        db,
        campaign: std::sync::Arc::new(campaign),
        format,
        after: None,
        started: false,
        done: false,
        any: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = Vec::new();
        if !st.started {
            st.started = true;
            match st.format {
                ExportFormat::Json => out.extend(b"{\"items\":["),
                ExportFormat::Csv => {
                    let mut header = String::new();
                    let names = ["customer_id", "code", "variant", "expires_at", "status"];
                    csv::write_row(&mut header, &names.map(Cell::Text));
                    out.extend(header.as_bytes());
                }
                ExportFormat::Ndjson => {}
            }
        }
        let (campaign_id, after) = (st.campaign.id, st.after);
        let page = st.db.run(move |c| vouchers::page(c, campaign_id, after, EXPORT_PAGE)).await;
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "voucher export failed mid-stream");
                st.done = true;
                return Some((Err(actix_web::error::ErrorServiceUnavailable("export interrupted")), st));
            }
        };
        if let Some(last) = page.last() {
            st.after = Some(last.serial);
        }
        if (page.len() as i64) < EXPORT_PAGE {
            st.done = true;
        }
        for v in page {
            let first = !st.any;
            st.any = true;
            render(st.format, &view(&st.campaign, v), first, &mut out);
        }
        if st.done && st.format == ExportFormat::Json {
            out.extend(b"],\"next_cursor\":null}");
        }
        Some((Ok(Bytes::from(out)), st))
    })
}
