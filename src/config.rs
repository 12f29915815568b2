//! Settings shared by every command: where the database and the ledger live, where to listen.
//!
//! Every value comes from a flag or its environment variable and is parsed into a typed value at
//! start-up, so a wrong value is one clear line from clap instead of a panic later on.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use crate::ledger::redis_target::{RedisTarget, CLUSTER_SCHEME};

/// The settings whose value may hold a secret (a password, the master key), as flag and
/// environment variable: their values are never printed, not even in a parse error.
pub const SECRET_SETTINGS: [(&str, &str); 3] = [
    ("--database-url", "DATABASE_URL"),
    ("--redis-url", "REDIS_URL"),
    ("--master-key", "VOUCHSAFE_MASTER_KEY"),
];

/// Query parameters that carry a password (libpq's `password`, redis+unix's `pass`).
const SECRET_PARAMS: [&str; 3] = ["password", "pass", "sslpassword"];

/// A URL for display: its password and password parameters replaced by `***`.
fn redacted(mut u: url::Url) -> String {
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let secret = |k: &str| SECRET_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p));
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) { "***".to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Where the relational store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://…` or `postgresql://…`, handed to libpq as written.
    Postgres(String),
    /// `sqlite://path`, `sqlite:path` or `sqlite::memory:`.
    Sqlite(SqliteTarget),
}

/// The file (or memory) an embedded database lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqliteTarget {
    File(PathBuf),
    Memory,
}

impl DatabaseUrl {
    /// The backend's name, for logs and the start-up banner.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Postgres(_) => "postgres",
            DatabaseUrl::Sqlite(_) => "sqlite",
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            url::Url::parse(s).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
            return Ok(DatabaseUrl::Postgres(s.to_owned()));
        }
        if s == "sqlite::memory:" || s == "sqlite://:memory:" {
            return Ok(DatabaseUrl::Sqlite(SqliteTarget::Memory));
        }
        if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("sqlite URL needs a file path, e.g. sqlite://vouchsafe.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(SqliteTarget::File(PathBuf::from(path))));
        }
        Err("expected postgres://…, sqlite://PATH or sqlite::memory:".into())
    }
}

impl fmt::Display for DatabaseUrl {
    /// Never prints a password: PostgreSQL URLs are shown without their credentials' secret part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(u) => f.write_str(&redacted(u)),
                Err(_) => f.write_str("postgres://(unparsable)"),
            },
            DatabaseUrl::Sqlite(SqliteTarget::Memory) => f.write_str("sqlite::memory:"),
            DatabaseUrl::Sqlite(SqliteTarget::File(p)) => write!(f, "sqlite://{}", p.display()),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A Redis URL, checked for shape at start-up (the server itself may come later).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(pub String);

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with(CLUSTER_SCHEME) {
            RedisTarget::parse(s)?;
            return Ok(RedisUrl(s.to_owned()));
        }
        if !(s.starts_with("redis://") || s.starts_with("rediss://") || s.starts_with("redis+unix://")) {
            return Err("expected redis://HOST:PORT[/DB] or redis+cluster://HOST:PORT,HOST:PORT".into());
        }
        url::Url::parse(s).map_err(|e| format!("not a valid Redis URL: {e}"))?;
        redis::Client::open(s).map_err(|e| format!("not a valid Redis URL: {e}"))?;
        Ok(RedisUrl(s.to_owned()))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rest) = self.0.strip_prefix(CLUSTER_SCHEME) {
            // Seed nodes are not one URL's authority; everything before the last `@` is credentials.
            let hosts = rest.rsplit_once('@').map(|(_, h)| format!("***@{h}")).unwrap_or_else(|| rest.into());
            return write!(f, "{CLUSTER_SCHEME}{hosts}");
        }
        match url::Url::parse(&self.0) {
            Ok(u) => f.write_str(&redacted(u)),
            Err(_) => f.write_str("redis://(unparsable)"),
        }
    }
}

/// The key that encrypts signing-key secrets at rest: 32 bytes as 64 hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(pub [u8; 32]);

impl FromStr for MasterKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The messages give the length, never the value (nor a part of it).
        const EXPECTED: &str = "expected 64 hex characters (32 random bytes, e.g. `openssl rand -hex 32`)";
        let s = s.trim();
        let len = s.chars().count();
        if len != 64 {
            return Err(format!("{EXPECTED}, got {len} characters"));
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(s, &mut key)
            .map_err(|_| format!("{EXPECTED}; it has a character that is not a hex digit"))?;
        Ok(MasterKey(key))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

fn parse_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("not a log filter ({e}); try info, debug or vouchsafe=debug,info"))
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s.parse().map_err(|_| "expected a number of seconds".to_string())?;
    if !(0.0..=3600.0).contains(&v) {
        return Err("expected between 0 and 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(v))
}

/// The settings every subcommand reads (flags win over the environment).
#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    /// Database: postgres://USER@HOST:PORT/DB, sqlite://PATH or sqlite::memory:
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://vouchsafe.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: DatabaseUrl,

    /// Redis for the redemption ledger: redis://HOST:PORT, or a Redis Cluster's seed nodes as
    /// redis+cluster://HOST:PORT,HOST:PORT; unset = the SQL ledger in the database.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<RedisUrl>,

    /// Address the HTTP service listens on.
    #[arg(long, env = "VOUCHSAFE_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,

    /// Log filter (tracing EnvFilter syntax), e.g. info or vouchsafe=debug,info.
    #[arg(long, env = "VOUCHSAFE_LOG", default_value = "info", value_parser = parse_filter, global = true)]
    pub log: String,

    /// Prefix of every Redis key, so several deployments (or tests) can share one Redis.
    #[arg(long, env = "VOUCHSAFE_REDIS_PREFIX", default_value = "vs", global = true)]
    pub redis_prefix: String,

    /// How long a looked-up API key is trusted before it is read again (revocation delay).
    #[arg(long = "key-cache-secs", env = "VOUCHSAFE_KEY_CACHE_SECS", default_value = "2", value_parser = parse_secs, global = true)]
    pub key_cache_ttl: Duration,

    /// Encrypts code-signing secrets at rest (AES-256-GCM): 64 hex characters. Optional.
    #[arg(long, env = "VOUCHSAFE_MASTER_KEY", hide_env_values = true, global = true)]
    pub master_key: Option<MasterKey>,

    /// Connections in the database pool.
    #[arg(long, env = "VOUCHSAFE_DB_POOL", default_value_t = 16, global = true)]
    pub db_pool_size: u32,
}

impl Settings {
    /// Settings for an embedded service on the given database, as tests and tools build them.
    pub fn for_database(database_url: DatabaseUrl) -> Self {
        Settings {
            database_url,
            redis_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: "info".into(),
            redis_prefix: "vs".into(),
            key_cache_ttl: Duration::from_secs(2),
            db_pool_size: 8,
            master_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse() {
        assert_eq!(
            "sqlite://vouchsafe.db".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite(SqliteTarget::File("vouchsafe.db".into()))
        );
        assert_eq!(
            "sqlite::memory:".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Sqlite(SqliteTarget::Memory)
        );
        assert!(matches!(
            "postgres://postgres@127.0.0.1:5432/x".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn display_hides_passwords() {
        let u: DatabaseUrl = "postgres://app:hunter2@db:5432/v".parse().unwrap();
        assert!(!u.to_string().contains("hunter2"));
        let r: RedisUrl = "redis://:hunter2@127.0.0.1:6379".parse().unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
        let u: DatabaseUrl = "postgres://db:5432/v?sslmode=require&Password=hunter2".parse().unwrap();
        assert!(!u.to_string().contains("hunter2") && u.to_string().contains("sslmode=require"), "{u}");
        let r: RedisUrl = "redis+unix:///run/redis.sock?db=1&pass=hunter2".parse().unwrap();
        assert!(!format!("{r:?}").contains("hunter2"), "{r:?}");
        let r: RedisUrl = "redis+cluster://app:hunter2@10.0.0.1:7001,10.0.0.2:7002".parse().unwrap();
        assert_eq!(format!("{r:?}"), "redis+cluster://***@10.0.0.1:7001,10.0.0.2:7002");
        assert!("redis+cluster://:hunter2@h:1,h:nope"
            .parse::<RedisUrl>()
            .err()
            .is_some_and(|e| !e.contains("hunter2")));
    }
}
