//! API keys over HTTP (scope admin). The CLI's `vouchsafe keys …` does the same from a shell.
//!
//! Creation is not idempotent on purpose: a replayed answer would have to store the secret.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    auth::{AdminScope, Authorized},
    error::ApiError,
    AppState,
};
use crate::{
    domain::access::{parse_key_name, Scope, Scopes},
    service::keys,
    store::api_keys::ApiKey,
};

/// A new key's name and scopes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Who or what uses the key, e.g. `checkout-eu`.
    #[schema(example = "checkout-eu")]
    pub name: String,
    /// At least one of `crm`, `checkout`, `reports`, `admin`.
    pub scopes: Vec<Scope>,
}

/// A key as listed (never with its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<&'static str>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created, with the secret shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: KeyView,
    /// The bearer token. It is not stored and cannot be shown again.
    pub secret: String,
}

/// A page of keys.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyPage {
    pub items: Vec<KeyView>,
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=` of a list.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// 1 to 500, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id,
            name: k.name,
            scopes: k.scopes.names(),
            created_at: utc(k.created_at),
            revoked_at: k.revoked_at.map(utc),
        }
    }
}

/// Creates an API key.
#[utoipa::path(
    operation_id = "createKey",
    tag = "keys",
    security(("api_key" = [])),
    request_body = CreateKey,
    responses(
        (status = 201, description = "Created; the secret is shown only here", body = CreatedKey),
        (status = 422, description = "Invalid name or scopes", body = super::error::Problem),
    )
)]
#[post("/v1/keys")]
#[tracing::instrument(name = "create_key", skip_all)]
pub async fn create_key(
    _auth: Authorized<AdminScope>,
    state: web::Data<AppState>,
    body: web::Json<CreateKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = parse_key_name(&body.name).map_err(|d| ApiError::invalid("name", d))?;
    let scopes = Scopes::new(body.scopes)
        .ok_or_else(|| ApiError::invalid("scopes", "at least one scope is needed"))?;
    let (key, secret) = keys::create(&state.db, name, scopes).await?;
    Ok(HttpResponse::Created().json(CreatedKey { key: key.into(), secret }))
}

/// Lists API keys (without secrets), by id.
#[utoipa::path(
    operation_id = "listKeys",
    tag = "keys",
    security(("api_key" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of keys", body = KeyPage))
)]
#[get("/v1/keys")]
#[tracing::instrument(name = "list_keys", skip_all)]
pub async fn list_keys(
    _auth: Authorized<AdminScope>,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !crate::domain::bounds::PAGE_LIMIT.contains(&limit) {
        return Err(ApiError::InvalidParameter("limit must be between 1 and 500".into()));
    }
    let cursor = query.cursor.clone();
    let mut keys = keys::list(&state.db, cursor, i64::from(limit) + 1).await?;
    let next_cursor = if keys.len() > limit as usize {
        keys.truncate(limit as usize);
        keys.last().map(|k| k.id.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(KeyPage { items: keys.into_iter().map(KeyView::from).collect(), next_cursor }))
}

/// Revokes an API key; it stops working within the key cache's time-to-live (2 s by default).
#[utoipa::path(
    operation_id = "revokeKey",
    tag = "keys",
    security(("api_key" = [])),
    params(("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Revoked (again: unchanged)", body = KeyView),
        (status = 404, description = "No such key", body = super::error::Problem),
    )
)]
#[delete("/v1/keys/{key_id}")]
#[tracing::instrument(name = "revoke_key", skip_all)]
pub async fn revoke_key(
    _auth: Authorized<AdminScope>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let key = keys::revoke(&state.db, id).await?;
    Ok(HttpResponse::Ok().json(KeyView::from(key)))
}
