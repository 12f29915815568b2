//! A campaign's report, from the store's aggregates through the pure report builder.

use chrono::{DateTime, Utc};

use crate::{
    domain::report::{build_report, DailyInput, Report, ReportInput, VariantInput},
    store::{campaigns, reports, Db, StoreError},
};

fn utc(t: chrono::NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

/// An exact sum, as the report's `i64` fields carry it: sums of amounts within API.md's bound
/// stay far below `i64::MAX`; only rows written before the bound could reach it.
fn clamp(sum: i128) -> i64 {
    i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX })
}

/// The report of a campaign as of now; `None` when there is no such campaign.
pub async fn report(db: &Db, campaign_id: i32) -> Result<Option<Report>, StoreError> {
    let data = db
        .run(move |c| {
            let Some(campaign) = campaigns::get(c, campaign_id)? else { return Ok(None) };
            let aggregates = reports::aggregates(c, campaign_id, campaign.variants.len())?;
            Ok(Some((campaign, aggregates)))
        })
        .await?;
    let Some((campaign, agg)) = data else { return Ok(None) };
    let input = ReportInput {
        campaign_id: campaign.id.to_string(),
        campaign_name: campaign.name.clone(),
        currency: campaign.currency.clone(),
        status: campaign.status.as_str().to_owned(),
        starts_at: utc(campaign.starts_at),
        expires_at: utc(campaign.expires_at),
        as_of: Utc::now(),
        max_amount: campaign.budget.max_amount.map(crate::domain::money::Money::minor),
        max_redemptions: campaign.budget.max_redemptions,
        analysis: campaign.analysis,
        variants: campaign
            .variants
            .iter()
            .zip(&agg.variants)
            .enumerate()
            .map(|(i, (v, t))| VariantInput {
                name: v.name.clone(),
                weight: v.weight,
                issued: t.issued.max(0) as u64,
                redeemed: t.redeemed.max(0) as u64,
                discount_spent: clamp(t.discount),
                order_value: clamp(t.order_value),
                open: t.open.max(0) as u64,
                max_discount: campaign.discount_of(i).max_per_voucher(),
                rolled_back: t.rolled_back.max(0) as u64,
                order_value_sq: t.order_sq,
                discount_sq: t.discount_sq,
                order_discount: t.order_discount,
            })
            .collect(),
        daily: agg
            .daily
            .iter()
            .map(|(date, n, d)| DailyInput {
                date: *date,
                redemptions: (*n).max(0) as u64,
                discount_spent: clamp(*d),
            })
            .collect(),
    };
    Ok(Some(build_report(&input)))
}
