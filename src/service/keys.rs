//! API keys: created with their secret shown once, listed without secrets, revoked. The HTTP
//! API (scope admin) and `vouchsafe keys …` both call these.

use super::ServiceError;
use crate::{
    domain::access::Scopes,
    store::{
        api_keys::{self, ApiKey},
        Db, StoreError,
    },
};

/// A new key and its secret (the only time the secret exists outside its hash).
pub async fn create(db: &Db, name: String, scopes: Scopes) -> Result<(ApiKey, String), ServiceError> {
    let (key, secret) = db.run(move |c| api_keys::create(c, &name, scopes)).await?;
    tracing::info!(new_key_id = %key.id, scopes = %key.scopes, "api key created");
    Ok((key, secret))
}

/// Up to `limit` keys after the id `after`, by id.
pub async fn list(db: &Db, after: Option<String>, limit: i64) -> Result<Vec<ApiKey>, ServiceError> {
    Ok(db.run(move |c| api_keys::list(c, after.as_deref(), limit)).await?)
}

/// Revokes a key (again: unchanged).
pub async fn revoke(db: &Db, id: String) -> Result<ApiKey, ServiceError> {
    db.run(move |c| api_keys::revoke(c, &id)).await.map_err(|e| match e {
        StoreError::NotFound => ServiceError::NotFound("key"),
        other => other.into(),
    })
}
