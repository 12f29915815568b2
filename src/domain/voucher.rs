//! A voucher's life: issued, then redeemed or voided. A rollback takes a redeemed voucher back
//! to issued, or to voided when it was voided meanwhile or its campaign ended.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Where a voucher is in its life. The names are the stored (`vouchers.status`, a text column;
/// `store::vouchers` reads and writes it) and wire ones.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    /// Open: it may be redeemed.
    Issued,
    /// Used by a live redemption.
    Redeemed,
    /// Never redeemable again (consent withdrawn, data erased).
    Voided,
}

impl VoucherStatus {
    /// Every status, in the order of a voucher's life.
    pub const ALL: [VoucherStatus; 3] =
        [VoucherStatus::Issued, VoucherStatus::Redeemed, VoucherStatus::Voided];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VoucherStatus::Issued => "issued",
            VoucherStatus::Redeemed => "redeemed",
            VoucherStatus::Voided => "voided",
        }
    }
}

impl fmt::Display for VoucherStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status that names none of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown voucher status `{0}`")]
pub struct UnknownVoucherStatus(pub String);

impl FromStr for VoucherStatus {
    type Err = UnknownVoucherStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VoucherStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVoucherStatus(s.to_owned()))
    }
}

impl TryFrom<String> for VoucherStatus {
    type Error = UnknownVoucherStatus;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<VoucherStatus> for String {
    fn from(s: VoucherStatus) -> String {
        s.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in VoucherStatus::ALL {
            assert_eq!(s.as_str().parse::<VoucherStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(
            ["issued", "redeemed", "voided"].map(|n| n.parse::<VoucherStatus>().unwrap()),
            VoucherStatus::ALL
        );
        assert!("Issued".parse::<VoucherStatus>().is_err());
    }
}
