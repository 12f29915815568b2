//! Who is calling, and may they? The [`authenticate`] middleware resolves the credentials of
//! every request before routing; the `Authorized<R>` extractor then answers at once: 401
//! without a known key, 403 when the key lacks every scope of rule `R`.
//!
//! Why not look the key up in the extractor: actix runs a handler's extractors side by side
//! and answers with the first error, so a key still being looked up loses to a body that fails
//! at once. An unknown key sending the wrong content type got 415, a key without the scope
//! was told what was wrong with its body instead of 403. Decided before the extractors run,
//! 401 and 403 come first on every route, whatever the body.

use std::{marker::PhantomData, sync::Arc, time::Duration};

use actix_web::{
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web, FromRequest, HttpMessage, HttpRequest,
};
use base64::Engine;
use futures_util::future::{ready, Ready};

use super::{error::ApiError, AppState};
use crate::{
    domain::access::{token_id, Scope, Scopes, TokenHash},
    store::{api_keys, Db},
};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's public id (safe to log).
    pub key_id: String,
    /// What the key may do.
    pub scopes: Scopes,
}

#[derive(Clone)]
struct CachedKey {
    hash: TokenHash,
    scopes: Scopes,
}

/// Keys looked up by id and kept for a short time, so the hot path rarely touches the
/// database while a revocation still takes effect within the time-to-live.
#[derive(Clone)]
pub struct KeyCache {
    db: Db,
    cache: moka::sync::Cache<String, Option<Arc<CachedKey>>>,
}

impl KeyCache {
    /// A cache over `db` that trusts an entry for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        let cache = moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build();
        KeyCache { db, cache }
    }

    /// The caller a bearer token stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, ApiError> {
        let id = token_id(token).ok_or(ApiError::UnknownKey)?;
        let entry = match self.cache.get(id) {
            Some(entry) => entry,
            None => {
                let owned = id.to_owned();
                let key = self.db.run(move |c| api_keys::find(c, &owned)).await?;
                let entry = key
                    .filter(|k| k.revoked_at.is_none())
                    .and_then(|k| Some(Arc::new(CachedKey { hash: k.hash?, scopes: k.scopes })));
                self.cache.insert(id.to_owned(), entry.clone());
                entry
            }
        };
        let key = entry.ok_or(ApiError::UnknownKey)?;
        if !TokenHash::of(token).matches(&key.hash) {
            return Err(ApiError::UnknownKey);
        }
        Ok(Caller { key_id: id.to_owned(), scopes: key.scopes })
    }
}

/// The token in `Authorization: Bearer <key>` or, for a person in a browser, HTTP Basic with
/// the key as the password (any user name).
fn presented_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

/// A set of scopes of which the caller needs at least one.
pub trait ScopeRule {
    /// Any of these lets the caller in (admin always does).
    const ANY_OF: &'static [Scope];
    /// How the rule reads in a 403's detail.
    const DESCRIPTION: &'static str;
}

macro_rules! scope_rule {
    ($(#[$doc:meta])* $name:ident, [$($scope:ident),+], $desc:literal) => {
        $(#[$doc])*
        pub struct $name;
        impl ScopeRule for $name {
            const ANY_OF: &'static [Scope] = &[$(Scope::$scope),+];
            const DESCRIPTION: &'static str = $desc;
        }
    };
}

scope_rule!(
    /// Customers, consents, campaigns, generation.
    CrmScope, [Crm], "crm"
);
scope_rule!(
    /// Validations, redemptions, rollbacks.
    CheckoutScope, [Checkout], "checkout"
);
scope_rule!(
    /// Reports.
    ReportsScope, [Reports], "reports"
);
scope_rule!(
    /// Reading campaign data: a CRM or a report reader.
    CampaignReadScope, [Crm, Reports], "crm or reports"
);
scope_rule!(
    /// Keys and everything else.
    AdminScope, [Admin], "admin"
);

/// What a request's credentials came to, left in its extensions by [`authenticate`] for the
/// one `Authorized` extractor of the route to take.
struct Authentication(Result<Caller, ApiError>);

/// Middleware: authenticates the request's `Authorization` header, if any (a cached key or one
/// database look-up), before the route's extractors run. It refuses nothing itself: public
/// routes ignore the outcome and `Authorized` turns it into 401 or 403.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(token) = presented_token(req.request()) {
        let keys = req.app_data::<web::Data<AppState>>().map(|s| s.keys.clone());
        let outcome = match keys {
            Some(keys) => keys.authenticate(&token).await,
            None => Err(ApiError::Internal("app state missing".into())),
        };
        if let Ok(caller) = &outcome {
            tracing::Span::current().record("key_id", caller.key_id.as_str());
        }
        req.extensions_mut().insert(Authentication(outcome));
    }
    next.call(req).await
}

/// A caller allowed by rule `R`.
pub struct Authorized<R: ScopeRule> {
    pub caller: Caller,
    _rule: PhantomData<R>,
}

impl<R: ScopeRule> FromRequest for Authorized<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = req.extensions_mut().remove::<Authentication>();
        ready(match outcome {
            None => Err(ApiError::MissingKey),
            Some(Authentication(Err(e))) => Err(e),
            Some(Authentication(Ok(caller))) if !R::ANY_OF.iter().any(|s| caller.scopes.allows(*s)) => {
                Err(ApiError::Forbidden(R::DESCRIPTION))
            }
            Some(Authentication(Ok(caller))) => Ok(Authorized { caller, _rule: PhantomData }),
        })
    }
}
