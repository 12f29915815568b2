//! Vouchers: one row per issued code. (campaign, serial) is the key the code itself carries;
//! (campaign, customer) is unique, so no re-run or concurrent job ever issues twice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{schema::vouchers, Conn, StoreError};
use crate::with_conn;

/// A voucher about to be stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = vouchers, treat_none_as_default_value = false)]
pub struct NewVoucher {
    pub campaign_id: i32,
    pub serial: i64,
    pub customer_id: Option<String>,
    pub variant: i32,
    pub key_id: i32,
    pub code: Option<String>,
    pub status: String,
    pub issued_at: NaiveDateTime,
}

/// A stored voucher.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vouchers)]
pub struct VoucherRow {
    pub campaign_id: i32,
    pub serial: i64,
    pub customer_id: Option<String>,
    pub variant: i32,
    pub key_id: i32,
    pub code: Option<String>,
    pub status: String,
    pub issued_at: NaiveDateTime,
    pub voided_at: Option<NaiveDateTime>,
}

/// Inserts vouchers, skipping any whose (campaign, customer) already has one; returns how
/// many were inserted. One multi-row statement per chunk.
pub fn insert_batch(conn: &mut Conn, rows: &[NewVoucher]) -> Result<usize, StoreError> {
    let mut inserted = 0;
    // SQLite allows 32,766 bound values per statement: 8 columns × 4,000 rows stays below.
    for chunk in rows.chunks(4000) {
        inserted += with_conn!(conn, |c| diesel::insert_into(vouchers::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(inserted)
}

/// The voucher a customer holds in a campaign.
pub fn of_customer_in(
    conn: &mut Conn,
    campaign_id: i32,
    customer_id: &str,
) -> Result<Option<VoucherRow>, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::customer_id.eq(customer_id))
        .select(VoucherRow::as_select())
        .first(c)
        .optional())?)
}

/// Every voucher a customer holds.
pub fn of_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<VoucherRow>, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .filter(vouchers::customer_id.eq(customer_id))
        .order((vouchers::campaign_id, vouchers::serial))
        .select(VoucherRow::as_select())
        .load(c))?)
}

/// A voucher by the key its code carries.
pub fn get(conn: &mut Conn, campaign_id: i32, serial: i64) -> Result<Option<VoucherRow>, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .find((campaign_id, serial))
        .select(VoucherRow::as_select())
        .first(c)
        .optional())?)
}

/// A campaign's vouchers still linked to a customer, by serial after `after`, at most `limit`
/// (for streaming exports).
pub fn page(
    conn: &mut Conn,
    campaign_id: i32,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<VoucherRow>, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::serial.gt(after.unwrap_or(-1)))
        .filter(vouchers::customer_id.is_not_null())
        .order(vouchers::serial)
        .limit(limit)
        .select(VoucherRow::as_select())
        .load(c))?)
}

/// How many vouchers a campaign has issued (erased customers' included).
pub fn count_issued(conn: &mut Conn, campaign_id: i32) -> Result<i64, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .count()
        .get_result(c))?)
}

/// The serials of a campaign's voided vouchers, for a ledger reload.
pub fn voided_serials(conn: &mut Conn, campaign_id: i32) -> Result<Vec<i64>, StoreError> {
    Ok(with_conn!(conn, |c| vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::status.eq("voided"))
        .select(vouchers::serial)
        .load(c))?)
}
