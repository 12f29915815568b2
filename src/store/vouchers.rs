//! Vouchers: one row per issued code. (campaign, serial) is the key the code itself carries;
//! (campaign, customer) is unique, so no re-run or concurrent job ever issues twice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{schema::vouchers, AnyConnection, Conn, StoreError};
use crate::domain::voucher::VoucherStatus;

impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for VoucherStatus
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, DB>) -> diesel::serialize::Result {
        self.as_str().to_sql(out)
    }
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for VoucherStatus
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(String::from_sql(bytes)?.parse()?)
    }
}

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
    pub status: VoucherStatus,
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
    pub status: VoucherStatus,
    pub issued_at: NaiveDateTime,
    pub voided_at: Option<NaiveDateTime>,
}

/// Inserts vouchers, skipping any whose (campaign, customer) already has one; returns how
/// many were inserted.
///
/// PostgreSQL: one `INSERT … SELECT FROM unnest(…)` with one array per column, so a batch of
/// any size is one statement of eight parameters (a multi-row `VALUES` of 4,000 rows has
/// 32,000, and parsing and planning it cost a quarter of generation). SQLite: multi-row
/// `VALUES` in chunks under its bound-parameter limit. Both name the conflict target, so only
/// the (campaign, customer) index is probed for it; a serial taken twice is an error, never
/// skipped.
pub fn insert_batch(conn: &mut Conn, rows: &[NewVoucher]) -> Result<usize, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    match conn.any() {
        AnyConnection::Pg(c) => {
            use diesel::sql_types::{Array, Int4, Int8, Nullable, Text, Timestamp};
            let column = |f: fn(&NewVoucher) -> i32| rows.iter().map(f).collect::<Vec<i32>>();
            Ok(diesel::sql_query(
                "INSERT INTO vouchers (campaign_id, serial, customer_id, variant, key_id, code, status, issued_at) \
                 SELECT * FROM unnest($1::int4[], $2::int8[], $3::text[], $4::int4[], $5::int4[], $6::text[], \
                 $7::text[], $8::timestamp[]) \
                 ON CONFLICT (campaign_id, customer_id) DO NOTHING",
            )
            .bind::<Array<Int4>, _>(column(|v| v.campaign_id))
            .bind::<Array<Int8>, _>(rows.iter().map(|v| v.serial).collect::<Vec<i64>>())
            .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|v| v.customer_id.clone()).collect::<Vec<_>>())
            .bind::<Array<Int4>, _>(column(|v| v.variant))
            .bind::<Array<Int4>, _>(column(|v| v.key_id))
            .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|v| v.code.clone()).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(rows.iter().map(|v| v.status.as_str()).collect::<Vec<_>>())
            .bind::<Array<Timestamp>, _>(rows.iter().map(|v| v.issued_at).collect::<Vec<_>>())
            .execute(c)?)
        }
        AnyConnection::Sqlite(c) => {
            let mut inserted = 0;
            // SQLite allows 32,766 bound values per statement: 8 columns × 4,000 rows stays below.
            for chunk in rows.chunks(4000) {
                inserted += diesel::insert_into(vouchers::table)
                    .values(chunk)
                    .on_conflict((vouchers::campaign_id, vouchers::customer_id))
                    .do_nothing()
                    .execute(c)?;
            }
            Ok(inserted)
        }
    }
}

/// The voucher a customer holds in a campaign.
pub fn of_customer_in(
    conn: &mut Conn,
    campaign_id: i32,
    customer_id: &str,
) -> Result<Option<VoucherRow>, StoreError> {
    Ok(vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::customer_id.eq(customer_id))
        .select(VoucherRow::as_select())
        .first(conn.any())
        .optional()?)
}

/// Every voucher a customer holds.
pub fn of_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<VoucherRow>, StoreError> {
    Ok(vouchers::table
        .filter(vouchers::customer_id.eq(customer_id))
        .order((vouchers::campaign_id, vouchers::serial))
        .select(VoucherRow::as_select())
        .load(conn.any())?)
}

/// A voucher by the key its code carries.
pub fn get(conn: &mut Conn, campaign_id: i32, serial: i64) -> Result<Option<VoucherRow>, StoreError> {
    Ok(vouchers::table
        .find((campaign_id, serial))
        .select(VoucherRow::as_select())
        .first(conn.any())
        .optional()?)
}

/// A campaign's vouchers still linked to a customer, by serial after `after`, at most `limit`
/// (for streaming exports).
pub fn page(
    conn: &mut Conn,
    campaign_id: i32,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<VoucherRow>, StoreError> {
    Ok(vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::serial.gt(after.unwrap_or(-1)))
        .filter(vouchers::customer_id.is_not_null())
        .order(vouchers::serial)
        .limit(limit)
        .select(VoucherRow::as_select())
        .load(conn.any())?)
}

/// How many vouchers a campaign has issued (erased customers' included).
pub fn count_issued(conn: &mut Conn, campaign_id: i32) -> Result<i64, StoreError> {
    Ok(vouchers::table.filter(vouchers::campaign_id.eq(campaign_id)).count().get_result(conn.any())?)
}

/// The serials of a campaign's voided vouchers, for a ledger reload.
pub fn voided_serials(conn: &mut Conn, campaign_id: i32) -> Result<Vec<i64>, StoreError> {
    Ok(vouchers::table
        .filter(vouchers::campaign_id.eq(campaign_id))
        .filter(vouchers::status.eq(VoucherStatus::Voided))
        .select(vouchers::serial)
        .load(conn.any())?)
}
