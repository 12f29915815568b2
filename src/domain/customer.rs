//! A customer as the CRM describes them: a pseudonymous id and only the zero-party data that
//! segments need. Each type here can only hold a valid value ("parse, don't validate").

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub use super::bounds::{MAX_ID_LEN, MAX_TIER_LEN};
/// The purpose whose consent allows personal vouchers.
pub const OFFERS_PURPOSE: &str = "personalized_offers";

/// The CRM's pseudonymous id for a customer: 1 to 128 characters, no control characters,
/// no surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(String);

impl CustomerId {
    /// Parses an id as sent by a client.
    pub fn parse(s: &str) -> Result<CustomerId, String> {
        if s.is_empty() {
            return Err("customer id must not be empty".into());
        }
        if s.len() > MAX_ID_LEN {
            return Err(format!("customer id is longer than {MAX_ID_LEN} bytes"));
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err("customer id must not have surrounding spaces or control characters".into());
        }
        Ok(CustomerId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A birthday without a year: the only date of birth a segment needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Birthday {
    /// 1 to 12.
    pub month: u32,
    /// 1 to the month's length (29 for February).
    pub day: u32,
}

impl Birthday {
    /// A birthday that exists in some year (29 February included).
    pub fn new(month: u32, day: u32) -> Result<Birthday, String> {
        // 2000 is a leap year, so every real month/day exists in it.
        NaiveDate::from_ymd_opt(2000, month, day)
            .map(|_| Birthday { month, day })
            .ok_or_else(|| format!("{month:02}-{day:02} is not a day of the year"))
    }

    /// `month * 100 + day`, the stored and indexed form.
    pub fn md(self) -> i32 {
        (self.month * 100 + self.day) as i32
    }

    /// The inverse of [`Birthday::md`].
    pub fn from_md(md: i32) -> Option<Birthday> {
        Birthday::new((md / 100) as u32, (md % 100) as u32).ok()
    }
}

/// A loyalty tier: free text from the shop's vocabulary, trimmed and compared without case
/// (stored in lower case), at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoyaltyTier(String);

impl LoyaltyTier {
    /// Parses a tier name.
    pub fn parse(s: &str) -> Result<LoyaltyTier, String> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > MAX_TIER_LEN || t.chars().any(char::is_control) {
            return Err(format!("loyalty tier must be 1 to {MAX_TIER_LEN} printable characters"));
        }
        Ok(LoyaltyTier(t.to_lowercase()))
    }

    /// The tier as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A consent purpose: lower-case snake_case, at most 64 characters.
pub fn parse_purpose(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("purpose must be snake_case, e.g. personalized_offers".into())
    }
}

/// A short free-text label (consent source, policy version, cart id): 1 to 128 printable
/// characters, trimmed.
pub fn parse_label(what: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    if !super::bounds::LABEL_CHARS.contains(&t.chars().count()) || t.chars().any(char::is_control) {
        return Err(format!("{what} must be 1 to 128 printable characters"));
    }
    Ok(t.to_owned())
}

/// An ISO 4217 currency code: three upper-case letters.
pub fn parse_currency(s: &str) -> Result<String, String> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(s.to_owned())
    } else {
        Err("currency must be an ISO 4217 code of three upper-case letters, e.g. EUR".into())
    }
}

/// What segments look at for one customer.
#[derive(Debug, Clone, Default)]
pub struct CustomerFacts {
    pub birthday: Option<Birthday>,
    pub tier: Option<String>,
    pub offers_consent: bool,
    pub carts: Vec<Cart>,
}

/// An abandoned cart.
#[derive(Debug, Clone)]
pub struct Cart {
    pub value: i64,
    pub currency: String,
    pub abandoned_at: DateTime<Utc>,
}

/// The day-of-year a birthday falls on in `year`: 29 February is celebrated on 28 February
/// in years without one.
pub fn birthday_in(year: i32, birthday: Birthday) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, birthday.month, birthday.day)
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .expect("28 February exists every year")
}

/// Helper for tests and segments: the date's month and day as a [`Birthday`].
pub fn month_day(date: NaiveDate) -> Birthday {
    Birthday { month: date.month(), day: date.day() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn birthdays_must_exist() {
        assert!(Birthday::new(2, 29).is_ok());
        assert!(Birthday::new(2, 30).is_err());
        assert!(Birthday::new(4, 31).is_err());
        assert!(Birthday::new(13, 1).is_err());
        assert!(Birthday::new(0, 1).is_err());
        assert_eq!(
            Birthday::from_md(Birthday::new(12, 31).unwrap().md()),
            Some(Birthday { month: 12, day: 31 })
        );
    }

    #[test]
    fn feb_29_is_celebrated_on_feb_28_in_common_years() {
        let leapling = Birthday::new(2, 29).unwrap();
        assert_eq!(birthday_in(2028, leapling), NaiveDate::from_ymd_opt(2028, 2, 29).unwrap());
        assert_eq!(birthday_in(2027, leapling), NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
    }

    #[test]
    fn ids_and_tiers_parse() {
        assert!(CustomerId::parse("c-1").is_ok());
        assert!(CustomerId::parse("").is_err());
        assert!(CustomerId::parse(" c").is_err());
        assert!(CustomerId::parse(&"x".repeat(129)).is_err());
        assert!(CustomerId::parse(&"x".repeat(128)).is_ok());
        assert_eq!(LoyaltyTier::parse("  Gold ").unwrap().as_str(), "gold");
        assert!(LoyaltyTier::parse("   ").is_err());
        assert!(parse_currency("EUR").is_ok());
        assert!(parse_currency("eur").is_err());
        assert!(parse_currency("EURO").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".*") {
            let _ = CustomerId::parse(&s);
            let _ = LoyaltyTier::parse(&s);
            let _ = parse_purpose(&s);
            let _ = parse_currency(&s);
        }

        #[test]
        fn every_valid_birthday_round_trips(m in 1u32..=12, d in 1u32..=31) {
            if let Ok(b) = Birthday::new(m, d) {
                prop_assert_eq!(Birthday::from_md(b.md()), Some(b));
            }
        }
    }
}
