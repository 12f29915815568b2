//! API keys as stored: id, name, scopes and the hash of the token (never the token).

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{schema::api_keys, Conn, StoreError};
use crate::domain::access::{new_token, Scopes, TokenHash};

/// One row of `api_keys`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
struct NewApiKeyRow<'a> {
    id: &'a str,
    name: &'a str,
    secret_hash: &'a str,
    scopes: &'a str,
    created_at: NaiveDateTime,
}

/// A key as the rest of the service sees it.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Scopes,
    pub hash: Option<TokenHash>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        // A row that does not parse (a hand-edited database) authenticates nobody rather than
        // failing every listing: its hash is dropped and it shows with the least scope.
        let parsed = row.scopes.parse::<Scopes>();
        if parsed.is_err() {
            tracing::warn!(key_id = %row.id, "api key has unreadable scopes; it cannot authenticate");
        }
        let hash = match parsed {
            Ok(_) => TokenHash::from_hex(&row.secret_hash),
            Err(_) => None,
        };
        ApiKey {
            scopes: parsed.unwrap_or(Scopes::READS_ONLY),
            hash,
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Creates a key and returns it with its token, which is not kept anywhere.
pub fn create(conn: &mut Conn, name: &str, scopes: Scopes) -> Result<(ApiKey, String), StoreError> {
    let token = new_token();
    let now = Utc::now().naive_utc();
    let hash_hex = token.hash.to_hex();
    let scopes_text = scopes.to_string();
    let row =
        NewApiKeyRow { id: &token.id, name, secret_hash: &hash_hex, scopes: &scopes_text, created_at: now };
    diesel::insert_into(api_keys::table).values(&row).execute(conn.any())?;
    let key = ApiKey {
        id: token.id.clone(),
        name: name.to_owned(),
        scopes,
        hash: Some(token.hash),
        created_at: now,
        revoked_at: None,
    };
    Ok((key, token.token))
}

/// Finds a key by its public id.
pub fn find(conn: &mut Conn, id: &str) -> Result<Option<ApiKey>, StoreError> {
    let row = api_keys::table.find(id).select(ApiKeyRow::as_select()).first(conn.any()).optional()?;
    Ok(row.map(ApiKey::from))
}

/// Keys ordered by id, starting after `after`, at most `limit`.
pub fn list(conn: &mut Conn, after: Option<&str>, limit: i64) -> Result<Vec<ApiKey>, StoreError> {
    let rows = {
        let mut q =
            api_keys::table.select(ApiKeyRow::as_select()).order(api_keys::id).limit(limit).into_boxed();
        if let Some(after) = after {
            q = q.filter(api_keys::id.gt(after.to_owned()));
        }
        q.load(conn.any())
    }?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// Revokes a key; revoking twice keeps the first time. `NotFound` for an unknown id.
pub fn revoke(conn: &mut Conn, id: &str) -> Result<ApiKey, StoreError> {
    let now = Utc::now().naive_utc();
    diesel::update(api_keys::table.find(id).filter(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(Some(now)))
        .execute(conn.any())?;
    find(conn, id)?.ok_or(StoreError::NotFound)
}

/// Whether any key that is not revoked exists (the first start explains how to make one).
pub fn any_active(conn: &mut Conn) -> Result<bool, StoreError> {
    let n: i64 = api_keys::table.filter(api_keys::revoked_at.is_null()).count().get_result(conn.any())?;
    Ok(n > 0)
}
