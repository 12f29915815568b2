//! The deployment id: random, made once by a migration, so that state kept outside the
//! database (Redis) can be bound to the one database it belongs to.

use diesel::{sql_query, sql_types::Text, QueryableByName, RunQueryDsl};

use super::{Conn, StoreError};
use crate::per_backend;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
}

/// This database's deployment id (16 hex characters).
pub fn id(conn: &mut Conn) -> Result<String, StoreError> {
    let row: Row = per_backend!(conn, |c| sql_query("SELECT id FROM deployment LIMIT 1").get_result(c))?;
    Ok(row.id)
}
