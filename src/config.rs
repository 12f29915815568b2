//! Settings shared by every command: where the database and the ledger live, where to listen.
//!
//! Every value comes from a flag or its environment variable and is parsed into a typed value at
//! start-up, so a wrong value is one clear line from clap instead of a panic later on.

use std::{
    fmt,
    net::{SocketAddr, ToSocketAddrs},
    path::PathBuf,
    str::FromStr,
    time::Duration,
};

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

    /// Which database this is, for a person: the PostgreSQL server, port, database and user, or
    /// the SQLite file's absolute path. Never a password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(u) => {
                    let param =
                        |name: &str| u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
                    let host = u.host_str().filter(|h| !h.is_empty()).map(str::to_owned);
                    let host = host.or_else(|| param("host")).unwrap_or_else(|| "the local socket".into());
                    let port = u.port().map(|p| p.to_string()).or_else(|| param("port"));
                    let db = postgres_database(&u).unwrap_or_default();
                    let user = Some(u.username())
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .or_else(|| param("user"));
                    let mut text = format!("PostgreSQL {host}:{}/{db}", port.as_deref().unwrap_or("5432"));
                    if let Some(user) = user {
                        text += &format!(" (user {user})");
                    }
                    text
                }
                Err(_) => "PostgreSQL (unparsable URL)".into(),
            },
            DatabaseUrl::Sqlite(SqliteTarget::Memory) => "SQLite in memory (nothing is kept)".into(),
            DatabaseUrl::Sqlite(SqliteTarget::File(p)) => {
                let path = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                format!("SQLite file {}", path.display())
            }
        }
    }
}

/// The database a PostgreSQL URL names: its path, else its `dbname` parameter.
fn postgres_database(u: &url::Url) -> Option<String> {
    let path = u.path().trim_start_matches('/');
    if !path.is_empty() {
        return Some(path.to_owned());
    }
    u.query_pairs().find(|(k, _)| k == "dbname").map(|(_, v)| v.into_owned()).filter(|d| !d.is_empty())
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let mut u = url::Url::parse(s).map_err(|e| format!("not a valid PostgreSQL URL: {e}"))?;
            if postgres_database(&u).is_none() {
                // libpq would pick the user's own database (`postgres` for the usual superuser,
                // the server's maintenance database) and the migrations would land there.
                u.set_path("/vouchsafe");
                return Err(format!(
                    "the PostgreSQL URL names no database; add its name after the host, e.g. {} \
                     (create it first: createdb -h HOST -U USER vouchsafe)",
                    redacted(u)
                ));
            }
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

/// `HOST:PORT` to listen on: an IP address and port, or a name such as `localhost`, resolved
/// here once (to its first IPv4 address, else its first address).
fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    const EXAMPLE: &str = "e.g. 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every interface)";
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("expected an IP address and a port, {EXAMPLE}"));
    };
    let port: u16 = port.parse().map_err(|_| format!("`{port}` is not a port (0 to 65535); {EXAMPLE}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}` ({e}); use an IP address, {EXAMPLE}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{host}` resolves to no address; use an IP address, {EXAMPLE}"))
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

    /// Address the HTTP service listens on: IP:PORT, or a name such as localhost:8080 (resolved once).
    #[arg(long, env = "VOUCHSAFE_BIND", default_value = "127.0.0.1:8080", value_parser = parse_bind, global = true)]
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
        assert!(matches!(
            "postgres://u@h/?dbname=v&sslmode=require".parse::<DatabaseUrl>().unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn a_postgres_url_without_a_database_is_refused_with_an_example() {
        for url in ["postgres://app:hunter2@db:5432", "postgres://app:hunter2@db:5432/", "postgresql://db"] {
            let err = url.parse::<DatabaseUrl>().unwrap_err();
            assert!(err.contains("names no database") && err.contains("/vouchsafe"), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn descriptions_name_the_database_and_never_a_password() {
        let u: DatabaseUrl = "postgres://app:hunter2@db.internal:6543/shop?sslmode=require".parse().unwrap();
        assert_eq!(u.describe(), "PostgreSQL db.internal:6543/shop (user app)");
        let u: DatabaseUrl = "postgresql:///shop?host=/run/postgresql".parse().unwrap();
        assert_eq!(u.describe(), "PostgreSQL /run/postgresql:5432/shop");
        let u: DatabaseUrl = "sqlite://v.db".parse().unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(u.describe(), format!("SQLite file {}", cwd.join("v.db").display()));
        let u: DatabaseUrl = "sqlite:///tmp/x/v.db".parse().unwrap();
        assert_eq!(u.describe(), "SQLite file /tmp/x/v.db");
    }

    #[test]
    fn bind_takes_an_address_or_a_name_it_resolves() {
        assert_eq!(parse_bind("127.0.0.1:8080").unwrap(), SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(parse_bind("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_bind("localhost:8080").unwrap().ip().is_loopback());
        for (bad, says) in [("8080", "an IP address and a port"), ("localhost:http", "not a port")] {
            let err = parse_bind(bad).unwrap_err();
            assert!(err.contains(says) && err.contains("127.0.0.1:8080"), "{bad}: {err}");
        }
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
