//! The Redis ledger: single-slot Lua scripts per campaign (hash tag `{c:<id>}`), Redis as a
//! cache of the database. The connection is made lazily and re-made after a failure, so the
//! service starts while Redis is down and recovers by itself when it returns.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

use super::{Ledger, LedgerError};
use crate::store::customers::VoidedVoucher;

/// A ledger in Redis.
pub struct RedisLedger {
    client: redis::Client,
    prefix: String,
    conn: Mutex<Option<ConnectionManager>>,
}

impl RedisLedger {
    /// A ledger on `url` whose keys all start with `prefix:` (several deployments or test
    /// runs may share one Redis). Does not connect yet.
    pub fn new(url: &str, prefix: &str) -> Result<Self, LedgerError> {
        let client = redis::Client::open(url).map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        Ok(RedisLedger { client, prefix: prefix.to_owned(), conn: Mutex::new(None) })
    }

    /// The prefix of this ledger's keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A multiplexed connection, made on first use and after the last one was dropped.
    pub async fn connection(&self, timeout: Duration) -> Result<ConnectionManager, LedgerError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn =
            tokio::time::timeout(timeout, ConnectionManager::new_with_config(self.client.clone(), config))
                .await
                .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?
                .map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

#[async_trait]
impl Ledger for RedisLedger {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self, timeout: Duration) -> Result<(), LedgerError> {
        let mut conn = self.connection(timeout).await?;
        let answer = tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?;
        match answer {
            Ok(_) => Ok(()),
            Err(e) => Err(LedgerError::Unavailable(e.to_string())),
        }
    }
    async fn void(&self, _vouchers: &[VoidedVoucher]) -> Result<(), LedgerError> {
        Ok(())
    }

    async fn campaign_changed(&self, _campaign_id: i32) -> Result<(), LedgerError> {
        Ok(())
    }
}
