//! Where the Redis ledger lives: one Redis server (`redis://…`) or a Redis Cluster
//! (`redis+cluster://host:port,host:port`, the seed nodes), behind one connection type.
//!
//! [`RedisConn`] implements the crate's `aio::ConnectionLike`, so every command, pipeline and
//! script of the ledger is written once for both. On a cluster, the crate's async cluster client
//! routes each command by its key's hash slot, follows MOVED and ASK, refreshes its slot map
//! after a failover and reconnects to promoted replicas by itself; every script of the ledger
//! takes only keys of one campaign (hash tag `{c:N}`), so each runs on one node. Scripts go out
//! as EVALSHA and fall back to SCRIPT LOAD (on every primary) when a node answers NOSCRIPT, as a
//! freshly promoted replica does: scripts are not replicated.

use std::time::Duration;

use redis::{
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    Cmd, Pipeline, RedisFuture, Value,
};

/// The scheme of a Redis Cluster URL: `redis+cluster://[user:password@]host:port,host:port`.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A Redis to connect to, parsed from `REDIS_URL`.
#[derive(Clone)]
pub enum RedisTarget {
    /// One server (`redis://`, `rediss://`, `redis+unix://`).
    Single(redis::Client),
    /// A cluster, reached through its seed nodes (each a `redis://host:port` URL).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Parses a Redis URL; the error never repeats the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        match url.strip_prefix(CLUSTER_SCHEME) {
            Some(rest) => cluster_seeds(rest).map(RedisTarget::Cluster),
            None => redis::Client::open(url)
                .map(RedisTarget::Single)
                .map_err(|e| format!("not a valid Redis URL ({:?})", e.kind())),
        }
    }

    /// True for a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisTarget::Cluster(_))
    }

    /// A multiplexed connection that reconnects by itself and gives up on a call after
    /// `timeout` (on a cluster: retried across MOVED, ASK and a failover until then).
    pub async fn connect(&self, timeout: Duration) -> redis::RedisResult<RedisConn> {
        match self {
            RedisTarget::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1);
                Ok(RedisConn::Single(ConnectionManager::new_with_config(client.clone(), config).await?))
            }
            RedisTarget::Cluster(seeds) => {
                let client = ClusterClientBuilder::new(seeds.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(4)
                    .min_retry_wait(50)
                    .max_retry_wait(500)
                    .build()?;
                Ok(RedisConn::Cluster(client.get_async_connection().await?))
            }
        }
    }
}

/// `host:port,host:port` (after the scheme, optionally `user:password@` first) → the seed
/// nodes as `redis://[user:password@]host:port`.
fn cluster_seeds(rest: &str) -> Result<Vec<String>, String> {
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((auth, hosts)) => (format!("{auth}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.trim_end_matches('/');
    let mut seeds = Vec::new();
    for (i, node) in hosts.split(',').enumerate() {
        let node = node.trim();
        let ok = node
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(format!("seed node {} of the cluster URL is not host:port", i + 1));
        }
        let seed = format!("redis://{auth}{node}");
        redis::Client::open(seed.as_str())
            .map_err(|e| format!("seed node {} of the cluster URL is not valid ({:?})", i + 1, e.kind()))?;
        seeds.push(seed);
    }
    Ok(seeds)
}

/// A connection to one Redis or to a cluster; cheap to clone (both are multiplexed).
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// True on a cluster, where one pipeline may only touch one hash slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConn::Cluster(_))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        let t = RedisTarget::parse("redis+cluster://127.0.0.1:7001,127.0.0.1:7002").unwrap();
        let RedisTarget::Cluster(seeds) = t else { panic!("not a cluster") };
        assert_eq!(seeds, ["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"]);
        let RedisTarget::Cluster(seeds) = RedisTarget::parse("redis+cluster://:pw@h:1").unwrap() else {
            panic!("not a cluster")
        };
        assert_eq!(seeds, ["redis://:pw@h:1"]);
        assert!(!RedisTarget::parse("redis://127.0.0.1:6379").unwrap().is_cluster());
        for bad in ["redis+cluster://", "redis+cluster://h", "redis+cluster://h:1,", "redis+cluster://h:x"] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
        }
        let e = RedisTarget::parse("redis+cluster://:hunter2@h:1,h:zz").err().unwrap();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
