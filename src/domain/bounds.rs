//! The bounds of every number, length and shape a request may carry, in one place: the
//! validators check against these constants and `/openapi.json` declares them
//! (`api::schema_doc`), so the document and the service cannot disagree.

use std::ops::RangeInclusive;

/// The most variants a campaign may have (the code carries the variant in 4 bits).
pub const MAX_VARIANTS: usize = 16;
/// The longest customer id accepted (CRM ids are pseudonymous keys, not free text).
pub const MAX_ID_LEN: usize = 128;
/// The longest loyalty tier name.
pub const MAX_TIER_LEN: usize = 64;
/// The largest amount any request may carry: 10^12 minor units (ten billion euros).
pub const MAX_MINOR: i64 = 1_000_000_000_000;
/// The most tiers one segment may list.
pub const MAX_TIERS: usize = 50;

/// `?limit=` of a list.
pub const PAGE_LIMIT: RangeInclusive<u32> = 1..=500;
/// A percent discount.
pub const PERCENT: RangeInclusive<u32> = 1..=100;
/// A variant's relative weight.
pub const WEIGHT: RangeInclusive<u32> = 1..=1_000_000;
/// A birthday segment's window, in days.
pub const WINDOW_DAYS: RangeInclusive<u32> = 1..=366;
/// An abandoned-cart segment's look-back, in hours.
pub const WITHIN_HOURS: RangeInclusive<u32> = 1..=8760;
/// A campaign's name, in characters once trimmed.
pub const CAMPAIGN_NAME_CHARS: RangeInclusive<usize> = 1..=200;
/// A variant's name, in characters once trimmed.
pub const VARIANT_NAME_CHARS: RangeInclusive<usize> = 1..=64;
/// A free-text label (consent source, policy version, cart id), in characters once trimmed.
pub const LABEL_CHARS: RangeInclusive<usize> = 1..=128;

/// A code prefix: 1 to 8 of A-Z0-9.
pub const PREFIX_PATTERN: &str = "^[A-Z0-9]{1,8}$";
/// An ISO 4217 currency code.
pub const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";
/// A consent purpose: snake_case, 1 to 64 bytes.
pub const PURPOSE_PATTERN: &str = "^[a-z_]{1,64}$";
/// A customer id: no control character (Unicode Cc), no white space at either end.
pub const CUSTOMER_ID_PATTERN: &str =
    r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";
