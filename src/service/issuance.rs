//! Issuing single vouchers (real-time triggers) and streaming a campaign's vouchers out.

// `Bytes` is what a streamed HTTP body is made of; the CLI writes the same chunks to stdout.
use actix_web::web::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::Stream;
use serde::Serialize;

use super::{
    idempotency::{self, Answer, Idempotent},
    ErrorChain, ServiceError, Services,
};
use crate::{
    domain::{
        campaign::{Campaign, CampaignStatus},
        code::{self, Keyring},
        csv::{self, Cell},
        customer::{Birthday, Cart, CustomerFacts, CustomerId},
        variant,
        voucher::VoucherStatus,
    },
    store::{
        campaigns, customers, vouchers,
        vouchers::{NewVoucher, VoucherRow},
        Conn, Db, StoreError,
    },
};

/// A stored time as UTC.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
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
) -> Result<VoucherRow, ServiceError> {
    let facts = facts_of(conn, customer_id)?.ok_or(ServiceError::NotFound("customer"))?;
    if !facts.offers_consent {
        return Err(ServiceError::NoConsent);
    }
    if !campaign.segment.matches(&facts, &campaign.currency, now) {
        return Err(ServiceError::NotInSegment);
    }
    if vouchers::of_customer_in(conn, campaign.id, customer_id)?.is_some() {
        return Err(ServiceError::AlreadyIssued);
    }
    let key = keyring.current().ok_or(ServiceError::NoSigningKey)?;
    let serial = campaigns::allocate_serials(conn, campaign.id, 1)?;
    let new = issue_codes(campaign, key, serial, &[customer_id]).map_err(ServiceError::Code)?;
    if vouchers::insert_batch(conn, &new)? == 0 {
        return Err(ServiceError::AlreadyIssued);
    }
    Ok(vouchers::get(conn, campaign.id, serial)?.ok_or(StoreError::NotFound)?)
}

/// Signs one voucher per customer, with serials `first..`, variants by hash.
pub fn issue_codes(
    campaign: &Campaign,
    key: &code::SigningKey,
    first_serial: i64,
    customers: &[&str],
) -> Result<Vec<NewVoucher>, code::CodeError> {
    let weights = campaign.weights();
    let issued_at = Utc::now().naive_utc();
    customers
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let serial = first_serial + i as i64;
            let v = variant::assign(&campaign.salt, customer, &weights);
            let code =
                code::encode(key, &campaign.prefix, campaign.id as u32, v as u8, serial as u32, customer)?;
            Ok(NewVoucher {
                campaign_id: campaign.id,
                serial,
                customer_id: Some((*customer).to_owned()),
                variant: v as i32,
                key_id: i32::from(key.id()),
                code: Some(code),
                status: VoucherStatus::Issued,
                issued_at,
            })
        })
        .collect()
}

/// A voucher as the CRM sees it: one line of an export, the answer to a single issuance.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedVoucher {
    pub customer_id: String,
    pub code: String,
    /// The variant's name.
    pub variant: String,
    pub expires_at: DateTime<Utc>,
    pub status: VoucherStatus,
}

/// A stored voucher as the CRM sees it.
pub fn view(campaign: &Campaign, v: VoucherRow) -> IssuedVoucher {
    IssuedVoucher {
        customer_id: v.customer_id.unwrap_or_default(),
        code: v.code.unwrap_or_default(),
        variant: campaign.variants.get(v.variant as usize).map(|x| x.name.clone()).unwrap_or_default(),
        expires_at: utc(campaign.expires_at),
        status: v.status,
    }
}

/// A campaign, or `not_found`.
pub async fn load_campaign(s: &Services, id: i32) -> Result<Campaign, ServiceError> {
    s.db.run(move |c| campaigns::get(c, id)).await?.ok_or(ServiceError::NotFound("campaign"))
}

/// `NoLongerIssuing` for a campaign that issues no more vouchers: ended, or past its expiry.
pub fn still_issuing(campaign: &Campaign, now: DateTime<Utc>) -> Result<(), ServiceError> {
    if campaign.status == CampaignStatus::Ended {
        return Err(ServiceError::NoLongerIssuing { ended: true });
    }
    if now.naive_utc() >= campaign.expires_at {
        return Err(ServiceError::NoLongerIssuing { ended: false });
    }
    Ok(())
}

/// Issues one voucher of campaign `campaign_id` to `customer` now (a real-time trigger), at
/// most once per Idempotency-Key; `answer` writes the 201 body kept for replays.
pub async fn issue(
    s: &Services,
    campaign_id: i32,
    customer: CustomerId,
    idem: Idempotent,
    answer: impl FnOnce(IssuedVoucher) -> serde_json::Value + Send + 'static,
) -> Result<Answer, ServiceError> {
    let campaign = load_campaign(s, campaign_id).await?;
    still_issuing(&campaign, Utc::now())?;
    let keyring = s.signing.keyring();
    idempotency::once(&s.db, idem, move |c| {
        let voucher = issue_one(c, &campaign, &keyring, customer.as_str(), Utc::now())?;
        let body = answer(view(&campaign, voucher));
        Ok((201, body))
    })
    .await
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

fn render(format: ExportFormat, v: &IssuedVoucher, first: bool, out: &mut Vec<u8>) {
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
                    Cell::Text(v.status.as_str()),
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

/// The vouchers of a campaign as a byte stream, read page by page (constant memory). A
/// failure mid-stream (the database gone) ends the stream with its error.
pub fn export_stream(
    db: Db,
    campaign: Campaign,
    format: ExportFormat,
) -> impl Stream<Item = Result<Bytes, ServiceError>> {
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
                tracing::error!(error = %ErrorChain(&e), "voucher export failed mid-stream");
                st.done = true;
                return Some((Err(ServiceError::Store(e)), st));
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
