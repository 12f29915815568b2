//! A customer's record: profile, consents, carts, the export of everything held on them, and
//! erasure. Consent withdrawal and erasure void the customer's open vouchers, in the store and
//! then in the ledger.

use super::{ServiceError, Services};
use crate::{
    domain::customer::CustomerId,
    store::{
        customers::{self, CartRow, ConsentRow, CustomerRow, NewConsent, ProfilePatch},
        redemptions::{self, Redemption},
        vouchers::{self, VoucherRow},
    },
};

/// Everything held on one customer (the data-subject export).
pub struct CustomerRecord {
    pub customer: CustomerRow,
    pub consents: Vec<ConsentRow>,
    pub carts: Vec<CartRow>,
    pub vouchers: Vec<VoucherRow>,
    pub redemptions: Vec<Redemption>,
}

impl Services {
    /// Creates or updates a customer's profile; `true` when it was created.
    pub async fn upsert_customer(
        &self,
        id: CustomerId,
        patch: ProfilePatch,
    ) -> Result<(CustomerRow, bool), ServiceError> {
        Ok(self.db.run(move |c| customers::upsert(c, id.as_str(), &patch)).await?)
    }

    /// Appends a consent statement (creating the customer if needed). A withdrawal of
    /// `personalized_offers` voids the customer's open vouchers; returns how many.
    pub async fn add_consent(&self, id: CustomerId, consent: NewConsent) -> Result<usize, ServiceError> {
        let voided = self.db.run(move |c| customers::add_consent(c, id.as_str(), &consent)).await?;
        let n = voided.len();
        self.ledger_void(voided).await;
        Ok(n)
    }

    /// The consent history, newest first.
    pub async fn consent_history(&self, id: CustomerId) -> Result<Vec<ConsentRow>, ServiceError> {
        self.db
            .run(move |c| {
                if customers::find(c, id.as_str())?.is_none() {
                    return Ok(None);
                }
                customers::consent_history(c, id.as_str()).map(Some)
            })
            .await?
            .ok_or(ServiceError::NotFound("customer"))
    }

    /// Records an abandoned cart (the same cart id again replaces it).
    pub async fn put_cart(&self, cart: CartRow) -> Result<(), ServiceError> {
        Ok(self.db.run(move |c| customers::put_cart(c, &cart)).await?)
    }

    /// Removes a cart that was bought.
    pub async fn delete_cart(&self, customer: String, cart: String) -> Result<(), ServiceError> {
        match self.db.run(move |c| customers::delete_cart(c, &customer, &cart)).await? {
            true => Ok(()),
            false => Err(ServiceError::NotFound("cart")),
        }
    }

    /// Everything held on a customer, read in one connection.
    pub async fn export_customer(&self, id: CustomerId) -> Result<CustomerRecord, ServiceError> {
        self.db
            .run(move |c| {
                let Some(customer) = customers::find(c, id.as_str())? else { return Ok(None) };
                Ok(Some(CustomerRecord {
                    customer,
                    consents: customers::consent_history(c, id.as_str())?,
                    carts: customers::carts_of(c, id.as_str())?,
                    vouchers: vouchers::of_customer(c, id.as_str())?,
                    redemptions: redemptions::of_customer(c, id.as_str())?,
                }))
            })
            .await?
            .ok_or(ServiceError::NotFound("customer"))
    }

    /// Erasure: deletes the customer's personal data, unlinks their vouchers and redemptions
    /// and voids the open vouchers (campaign totals stay exact).
    pub async fn erase_customer(&self, id: CustomerId) -> Result<(), ServiceError> {
        let voided = self
            .db
            .run(move |c| customers::erase(c, id.as_str()))
            .await?
            .ok_or(ServiceError::NotFound("customer"))?;
        self.ledger_void(voided).await;
        Ok(())
    }
}
