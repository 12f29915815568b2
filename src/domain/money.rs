//! Money: an amount in minor units (cents), bounded to `0 ..= 10^12` (API.md, Conventions).
//!
//! The bound is what keeps every other piece of arithmetic exact: a discount, a budget and an
//! order amount fit in an `i64` with room to add, a Lua script (whose numbers are doubles,
//! exact to 2^53) compares them exactly, and a report's sums over at most 2^32 vouchers of a
//! campaign fit in an `i128` ([`Money::sum`]). An amount outside the bound never gets past the
//! edge: it is a 422 naming the field.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use super::bounds::MAX_MINOR;

/// An amount in minor units, `0 ..= 10^12`. The currency travels beside it (campaign, order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Money(i64);

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(MAX_MINOR))
            .description(Some(
                "An amount in minor units (cents) of the campaign's or order's currency, 0 to 10^12.",
            ))
            .examples([serde_json::json!(12000)])
            .into()
    }
}

impl utoipa::ToSchema for Money {
    fn name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }
}

/// An amount outside `0 ..= 10^12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be an amount in minor units from 0 to {MAX_MINOR}, not {0}")]
pub struct OutOfRange(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);
    pub const MAX: Money = Money(MAX_MINOR);

    /// The amount, if within the bound.
    pub const fn new(minor: i64) -> Result<Money, OutOfRange> {
        if minor >= 0 && minor <= MAX_MINOR {
            Ok(Money(minor))
        } else {
            Err(OutOfRange(minor))
        }
    }

    /// An amount read back from storage, where only bounded amounts were ever written; an
    /// out-of-range value (a row from before the bound) is clamped into it.
    pub fn from_stored(minor: i64) -> Money {
        Money(minor.clamp(0, MAX_MINOR))
    }

    /// Minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Money) -> Money {
        Money(self.0.min(other.0))
    }

    /// `self + other`, if still within the bound.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::new(self.0.checked_add(other.0)?).ok()
    }

    /// `self - other`, if not below zero.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        Money::new(self.0.checked_sub(other.0)?).ok()
    }

    /// `percent`% of the amount, rounded down to the minor unit (`percent` ≤ 100 keeps it
    /// within the bound).
    pub fn percent(self, percent: u32) -> Money {
        let p = i128::from(percent.min(100));
        Money((i128::from(self.0) * p / 100) as i64)
    }

    /// The exact sum of any number of stored amounts (an `i128` cannot overflow on the sums
    /// a campaign can hold: at most 2^32 vouchers of at most 2^63 each).
    pub fn sum(amounts: impl IntoIterator<Item = i64>) -> i128 {
        amounts.into_iter().map(i128::from).sum()
    }
}

impl TryFrom<i64> for Money {
    type Error = OutOfRange;

    fn try_from(minor: i64) -> Result<Self, Self::Error> {
        Money::new(minor)
    }
}

impl From<Money> for i64 {
    fn from(m: Money) -> i64 {
        m.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_bound_is_inclusive_and_nothing_negative_passes() {
        assert_eq!(Money::new(0), Ok(Money::ZERO));
        assert_eq!(Money::new(MAX_MINOR), Ok(Money::MAX));
        assert_eq!(Money::new(MAX_MINOR + 1), Err(OutOfRange(MAX_MINOR + 1)));
        assert!(Money::new(-1).is_err());
        assert!(Money::new(i64::MAX).is_err() && Money::new(i64::MIN).is_err());
        assert_eq!(Money::from_stored(i64::MAX), Money::MAX);
        assert_eq!(Money::from_stored(-5), Money::ZERO);
    }

    #[test]
    fn json_rejects_out_of_range_amounts_with_the_bound_in_the_message() {
        assert_eq!(serde_json::from_str::<Money>("12000").unwrap(), Money(12000));
        let e = serde_json::from_str::<Money>("9223372036854775807").unwrap_err().to_string();
        assert!(e.contains("from 0 to 1000000000000"), "{e}");
        assert!(serde_json::from_str::<Money>("-1").is_err());
        assert!(serde_json::from_str::<Money>("1.5").is_err());
        assert!(serde_json::from_str::<Money>("1e30").is_err());
        assert_eq!(serde_json::to_string(&Money(7)).unwrap(), "7");
    }

    #[test]
    fn sums_of_extreme_amounts_are_exact() {
        let n = 1u64 << 20;
        let s = Money::sum(std::iter::repeat_n(i64::MAX, n as usize));
        assert_eq!(s, i128::from(i64::MAX) * n as i128);
    }

    proptest! {
        #[test]
        fn arithmetic_stays_within_the_bound(a in 0..=MAX_MINOR, b in 0..=MAX_MINOR, p in 0u32..=200) {
            let (a, b) = (Money(a), Money(b));
            match a.checked_add(b) {
                Some(s) => prop_assert_eq!(s.minor(), a.minor() + b.minor()),
                None => prop_assert!(a.minor() + b.minor() > MAX_MINOR),
            }
            match a.checked_sub(b) {
                Some(d) => prop_assert_eq!(d.minor(), a.minor() - b.minor()),
                None => prop_assert!(a < b),
            }
            let x = a.percent(p);
            prop_assert!(x <= a && Money::new(x.minor()).is_ok());
        }
    }
}
