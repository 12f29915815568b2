//! Throwaway databases and Redis key prefixes, for the tests and the benchmarks (feature
//! `testkit`, which the crate's own dev-dependency on itself turns on: `cargo test` and
//! `cargo bench` need no flag, and a release build does not contain this module).
//!
//! - [`TestDb`]: a fresh SQLite file in its own temp dir, or a PostgreSQL database with a random
//!   name made on the admin URL given; dropped (`WITH (FORCE)`) when the value is dropped, also
//!   after a panic. [`TestDb::connect`] gives a pool on it, migrated, with a signing key.
//! - [`RedisPrefix`]: a random key prefix whose keys are deleted when it is dropped.
//! - [`OwnRedis`]: a `redis-server` of the caller's own on a free port (for tests that flush,
//!   stop or restart Redis, or when no `TEST_REDIS_URL` is given).

use std::{net::TcpListener, time::Duration};

use anyhow::{bail, Context};
use diesel::{connection::SimpleConnection, Connection, PgConnection};
use rand::distr::{Alphanumeric, SampleString};

use crate::{
    config::{DatabaseUrl, SqliteTarget},
    ledger::redis_target::RedisTarget,
    store::{signing_keys, Db},
};

/// `prefix` and 12 random lowercase letters and digits (a valid SQL identifier after a letter).
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::rng(), 12).to_lowercase())
}

/// A database of its own, removed when dropped.
pub struct TestDb {
    pub url: DatabaseUrl,
    /// (admin URL, database name) of a PostgreSQL database to drop.
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database: on PostgreSQL when `admin` is a `postgres://` URL (a database
    /// named `name_prefix` + random), else a SQLite file in a new temp dir.
    pub fn create(admin: Option<&str>, name_prefix: &str) -> anyhow::Result<TestDb> {
        let Some(admin) = admin else {
            let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
            let path = dir.path().join("vouchsafe.db");
            return Ok(TestDb {
                url: DatabaseUrl::Sqlite(SqliteTarget::File(path)),
                pg: None,
                _dir: Some(dir),
            });
        };
        if !admin.starts_with("postgres://") && !admin.starts_with("postgresql://") {
            bail!("{admin} is not a postgres:// admin URL (leave it unset for SQLite)");
        }
        let name = random_name(name_prefix);
        let mut conn = PgConnection::establish(admin).with_context(|| format!("{admin} does not answer"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .with_context(|| format!("cannot create database {name}"))?;
        let mut url = url::Url::parse(admin).with_context(|| format!("{admin} is not a URL"))?;
        url.set_path(&format!("/{name}"));
        Ok(TestDb {
            url: DatabaseUrl::Postgres(url.to_string()),
            pg: Some((admin.to_owned(), name)),
            _dir: None,
        })
    }

    /// [`TestDb::create`] on the admin URL in the environment variable `var` (unset or not
    /// PostgreSQL: SQLite).
    pub fn from_env(var: &str, name_prefix: &str) -> anyhow::Result<TestDb> {
        let admin = std::env::var(var).ok().filter(|u| u.starts_with("postgres"));
        Self::create(admin.as_deref(), name_prefix)
    }

    /// The tests' database: PostgreSQL when `TEST_DATABASE_URL` names one, else SQLite.
    pub fn new() -> TestDb {
        Self::from_env("TEST_DATABASE_URL", "vs_test_").unwrap_or_else(|e| panic!("no test database: {e:#}"))
    }

    /// Whether the tests run on PostgreSQL (`TEST_DATABASE_URL`).
    pub fn is_postgres() -> bool {
        std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
    }

    /// The PostgreSQL database's name and admin URL (`None` on SQLite).
    pub fn postgres(&self) -> Option<(&str, &str)> {
        self.pg.as_ref().map(|(admin, name)| (name.as_str(), admin.as_str()))
    }

    /// The URL as a string, for child processes.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Postgres(u) => u.clone(),
            DatabaseUrl::Sqlite(SqliteTarget::File(p)) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Sqlite(SqliteTarget::Memory) => "sqlite::memory:".into(),
        }
    }

    /// A pool of `size` on this database, migrated, with a code-signing key (what
    /// `vouchsafe migrate` leaves). Blocking.
    pub fn connect(&self, size: u32) -> anyhow::Result<Db> {
        let db = Db::connect(&self.url, size).context("cannot open the test database")?;
        db.migrate().context("cannot migrate the test database")?;
        let mut conn = db.get()?;
        signing_keys::ensure_one(&mut conn, None).context("cannot make a signing key")?;
        Ok(db)
    }
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            let dropped = PgConnection::establish(admin).map_err(|e| e.to_string()).and_then(|mut c| {
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = dropped {
                eprintln!("could not drop database {name}: {e} (drop it by hand)");
            }
        }
    }
}

/// A Redis key prefix of its own on `url`: every key `prefix:*` is deleted when dropped.
pub struct RedisPrefix {
    pub url: String,
    pub prefix: String,
}

impl RedisPrefix {
    /// `name_prefix` + random, on `url`.
    pub fn new(url: &str, name_prefix: &str) -> RedisPrefix {
        RedisPrefix { url: url.to_owned(), prefix: random_name(name_prefix) }
    }

    /// Deletes every key `prefix:*` (one server, or every primary of a `redis+cluster://`).
    pub fn clear(&self) -> redis::RedisResult<()> {
        fn clear(conn: &mut impl redis::ConnectionLike, prefix: &str) -> redis::RedisResult<()> {
            // On a cluster KEYS asks every primary and DEL is split by slot.
            let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(conn)?;
            for chunk in keys.chunks(500) {
                redis::cmd("DEL").arg(chunk).query::<()>(conn)?;
            }
            Ok(())
        }
        match RedisTarget::parse(&self.url) {
            Ok(RedisTarget::Single(client)) => clear(&mut client.get_connection()?, &self.prefix),
            Ok(RedisTarget::Cluster(seeds)) => {
                clear(&mut redis::cluster::ClusterClient::new(seeds)?.get_connection()?, &self.prefix)
            }
            Err(e) => Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "bad url",
                e.to_string(),
            ))),
        }
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        if let Err(e) = self.clear() {
            eprintln!("could not delete Redis keys {}:*: {e}", self.prefix);
        }
    }
}

/// Whether `tool` is on the PATH, for a test that runs it. Without it such a test returns
/// early after one loud line naming the Debian package to install, except under `CI` (set to
/// anything but `false` or `0`, as CI services set it): there a missing tool fails the test,
/// so that CI never counts a skip as a pass.
pub fn tool_on_path(tool: &str, package: &str) -> bool {
    use std::{io::Write, os::unix::fs::PermissionsExt};
    let runnable = |path: std::path::PathBuf| {
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let paths = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&paths).any(|dir| runnable(dir.join(tool))) {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let missing =
        format!("`{tool}` is not on the PATH: install Debian's {package} (apt-get install {package})");
    let ci =
        std::env::var("CI").is_ok_and(|v| !["", "0", "false"].contains(&v.to_ascii_lowercase().as_str()));
    assert!(!ci, "{test} needs a tool: {missing}; under CI a missing tool is a failure");
    // Straight to the terminal: libtest only shows what a failing test printed.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {missing}, or run with CI=true to fail instead");
    false
}

/// A redis-server of the caller's own on a free port, stopped when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    /// A started redis-server, or `None` (the caller skips) when it is not installed (see
    /// [`tool_on_path`]).
    pub fn start() -> Option<OwnRedis> {
        if !tool_on_path("redis-server", "redis-server") {
            return None;
        }
        let mut r = OwnRedis { port: closed_port(), child: None };
        r.restart();
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/run installs it)");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn flushall(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut conn).unwrap();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Redis a test of the Redis ledger runs on: the environment's (`TEST_REDIS_URL`) or, on a
/// run without one, a redis-server of the test's own, so such tests run on every backend
/// (`None`: the test skips, see [`tool_on_path`]).
pub fn test_redis() -> Option<(String, Option<OwnRedis>)> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) => Some((url, None)),
        Err(_) => {
            let own = OwnRedis::start()?;
            Some((own.url(), Some(own)))
        }
    }
}

/// A TCP port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
