//! The order a voucher code is used on at checkout.

use serde::{Deserialize, Serialize};

use super::money::Money;

/// The order a code is used on.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    #[schema(example = "o-1")]
    pub id: String,
    /// Minor units, 0 to 10^12.
    pub amount: Money,
    #[schema(example = "EUR")]
    pub currency: String,
}
