//! The relational store: diesel over PostgreSQL or SQLite with one code path.
//!
//! [`Db`] is one r2d2 pool of [`AnyConnection`], diesel's `#[derive(MultiConnection)]` over
//! PostgreSQL and SQLite. A query whose SQL both backends share is written once and run on
//! `conn.any()` directly: plain selects, inserts, updates, deletes and `RETURNING`.
//! `MultiConnection` cannot express what only one backend's dialect has, so those few places
//! use [`per_backend!`], which pastes its body once per backend with the concrete connection:
//! `ON CONFLICT` (diesel gives its `MultiBackend` no upsert clause), `FOR UPDATE` (SQLite has
//! none), `unnest` over arrays and raw SQL (PostgreSQL only), `BEGIN IMMEDIATE`, migrations.
//! Blocking diesel calls run on tokio's blocking pool through [`Db::run`], never on the async
//! executor. Why this split, with the compiler's own words: `docs/architecture.md` (Store).

pub mod api_keys;
pub mod campaigns;
pub mod customers;
pub mod deployment;
pub mod idempotency;
pub mod jobs;
pub mod redemptions;
pub mod reports;
pub mod schema;
pub mod segments;
pub mod signing_keys;
pub mod vouchers;

use std::time::Duration;

use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    r2d2::{Pool, PooledConnection},
    sqlite::SqliteConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::{DatabaseUrl, SqliteTarget};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// What can go wrong in the store, kept apart from HTTP concerns (the api layer maps it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// No connection could be checked out in time: the database is down or saturated.
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("signing key secret cannot be read: {0}")]
    Sealed(String),
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A connection of either backend. Queries that both dialects share run on it as it is;
/// [`per_backend!`] reaches the concrete connection where the SQL differs.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A checked-out connection of either backend.
pub struct Conn(PooledConnection<Manager>);

impl Conn {
    /// The connection, for a query that both backends' SQL shares.
    pub fn any(&mut self) -> &mut AnyConnection {
        &mut self.0
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    /// SQLite transactions start with `BEGIN IMMEDIATE`, taking the write lock up front, so
    /// two writers queue on the busy timeout instead of failing on a stale snapshot.
    /// Not nestable: store functions call it at their top level only.
    pub fn transaction<R>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.transaction_with(f)
    }

    /// [`Conn::transaction`] with an error type of the caller's, for work that must roll back
    /// for reasons of its own (an idempotent write whose use case failed).
    pub fn transaction_with<R, E: From<diesel::result::Error>>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<R, E>,
    ) -> Result<R, E> {
        use diesel::connection::{AnsiTransactionManager as Tm, TransactionManager};
        match self.any() {
            AnyConnection::Pg(c) => Tm::begin_transaction(c)?,
            AnyConnection::Sqlite(c) => Tm::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        }
        let result = f(self);
        let ended = match (&result, self.any()) {
            (Ok(_), AnyConnection::Pg(c)) => Tm::commit_transaction(c),
            (Ok(_), AnyConnection::Sqlite(c)) => Tm::commit_transaction(c),
            (Err(_), AnyConnection::Pg(c)) => Tm::rollback_transaction(c),
            (Err(_), AnyConnection::Sqlite(c)) => Tm::rollback_transaction(c),
        };
        match (result, ended) {
            (Ok(r), Ok(())) => Ok(r),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }

    /// Runs `f` in one read-only transaction that sees one snapshot of the database
    /// (PostgreSQL `REPEATABLE READ`; SQLite's deferred transaction under WAL reads one
    /// snapshot from its first read on). For reads that must agree with each other.
    pub fn read_snapshot<R>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        use diesel::connection::{AnsiTransactionManager as Tm, TransactionManager};
        match self.any() {
            AnyConnection::Pg(c) => {
                Tm::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
            }
            AnyConnection::Sqlite(c) => Tm::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        }
        let result = f(self);
        let ended = match self.any() {
            AnyConnection::Pg(c) => Tm::rollback_transaction(c),
            AnyConnection::Sqlite(c) => Tm::rollback_transaction(c),
        };
        match (result, ended) {
            (Ok(r), Ok(())) => Ok(r),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }
}

/// Runs code whose SQL differs between the backends, binding the concrete connection
/// (`&mut PgConnection`, then `&mut SqliteConnection`) to `$c`.
///
/// Pitfall: the body is pasted once per backend into a `match`, it is not a closure. A `?` or
/// `return` inside it leaves the *enclosing function*, and the body is type-checked twice,
/// once against each backend. Write only dialect-specific SQL here (`ON CONFLICT`, `FOR
/// UPDATE`, `unnest`, raw SQL); a query both dialects share runs on `conn.any()` instead.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $crate::store::Conn::any($conn) {
            $crate::store::AnyConnection::Pg($c) => $body,
            $crate::store::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Every SQLite connection: WAL so readers never block the writer, a busy timeout so a
/// writer waits for the lock instead of failing, foreign keys enforced, and `synchronous =
/// FULL`: a commit (an acknowledged redemption) waits for the disk, so power loss or an OS
/// crash cannot take it back (under WAL, `NORMAL` may lose the last commits).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

/// Opens connections of the configured backend. diesel's own `ConnectionManager` for a
/// `MultiConnection` tries every backend in turn on the URL and drops their errors, so a
/// refused PostgreSQL connection would be reported as "invalid connection url".
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    url: String,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        use diesel::Connection;
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(AnyConnection::Pg)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut c =
                    SqliteConnection::establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
                c.batch_execute(SQLITE_PRAGMAS).map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        use diesel::r2d2::R2D2Connection;
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || conn.is_broken()
    }
}

/// A pool of connections to the configured database.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
}

impl Db {
    /// Builds the pool without touching the database yet: a service may start before its
    /// database answers, and `/readyz` says so until it does.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Db, StoreError> {
        let timeout = Duration::from_secs(5);
        match url {
            DatabaseUrl::Postgres(raw) => {
                let pool = Pool::builder()
                    .max_size(pool_size.max(1))
                    .min_idle(Some(0))
                    .connection_timeout(timeout)
                    .build_unchecked(Manager { backend: Backend::Postgres, url: raw.clone() });
                Ok(Db { pool, backend: Backend::Postgres })
            }
            DatabaseUrl::Sqlite(target) => {
                let (conn_str, size) = match target {
                    // One connection holds the in-memory database for the process's lifetime.
                    SqliteTarget::Memory => (":memory:".to_owned(), 1),
                    SqliteTarget::File(path) => {
                        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                            if !dir.is_dir() {
                                return Err(StoreError::Unavailable(format!(
                                    "directory {} does not exist",
                                    dir.display()
                                )));
                            }
                        }
                        (path.to_string_lossy().into_owned(), pool_size.clamp(1, 8))
                    }
                };
                let mut builder = Pool::builder().max_size(size).connection_timeout(timeout);
                if matches!(target, SqliteTarget::Memory) {
                    builder = builder.min_idle(Some(1)).idle_timeout(None).max_lifetime(None);
                } else {
                    builder = builder.min_idle(Some(0));
                }
                let pool = builder.build_unchecked(Manager { backend: Backend::Sqlite, url: conn_str });
                Ok(Db { pool, backend: Backend::Sqlite })
            }
        }
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }

    /// Which backend this is.
    pub fn kind(&self) -> Backend {
        self.backend
    }

    /// Checks a connection out, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<Conn, StoreError> {
        Ok(Conn(self.pool.get_timeout(timeout)?))
    }

    /// Checks a connection out with the pool's own timeout.
    pub fn get(&self) -> Result<Conn, StoreError> {
        Ok(Conn(self.pool.get()?))
    }

    /// Runs blocking store code on the blocking pool with a pooled connection.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R, StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Applies every pending migration; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.get()?;
        let applied = match conn.any() {
            AnyConnection::Pg(c) => {
                c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.iter().map(|m| m.to_string()).collect())
            }
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.iter().map(|m| m.to_string()).collect())
            }
        };
        applied.map_err(StoreError::Migration)
    }

    /// Answers when the database does, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get_timeout(timeout)?;
            conn.any().batch_execute("SELECT 1")?;
            Ok(())
        })
        .await?
    }
}
