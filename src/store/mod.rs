//! The relational store: diesel over PostgreSQL or SQLite with one code path.
//!
//! [`Db`] is a small enum over two r2d2 pools. Queries are written once inside
//! [`with_conn!`], which expands the same diesel expression for each backend, so every query
//! is type-checked against both and there is no per-backend copy to drift. Blocking diesel
//! calls run on tokio's blocking pool through [`Db::run`], never on the async executor.

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
    r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection},
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

type PgPool = Pool<ConnectionManager<PgConnection>>;
type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// A checked-out connection of either backend.
pub enum Conn {
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
}

impl Conn {
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
        match self {
            Conn::Pg(c) => Tm::begin_transaction(&mut **c)?,
            Conn::Sqlite(c) => Tm::begin_transaction_sql(&mut **c, "BEGIN IMMEDIATE")?,
        }
        let result = f(self);
        let ended = match (&result, &mut *self) {
            (Ok(_), Conn::Pg(c)) => Tm::commit_transaction(&mut **c),
            (Ok(_), Conn::Sqlite(c)) => Tm::commit_transaction(&mut **c),
            (Err(_), Conn::Pg(c)) => Tm::rollback_transaction(&mut **c),
            (Err(_), Conn::Sqlite(c)) => Tm::rollback_transaction(&mut **c),
        };
        match (result, ended) {
            (Ok(r), Ok(())) => Ok(r),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }
}

impl Conn {
    /// Runs `f` in one read-only transaction that sees one snapshot of the database
    /// (PostgreSQL `REPEATABLE READ`; SQLite's deferred transaction under WAL reads one
    /// snapshot from its first read on). For reads that must agree with each other.
    pub fn read_snapshot<R>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        use diesel::connection::{AnsiTransactionManager as Tm, TransactionManager};
        match self {
            Conn::Pg(c) => {
                Tm::begin_transaction_sql(&mut **c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
            }
            Conn::Sqlite(c) => Tm::begin_transaction_sql(&mut **c, "BEGIN DEFERRED")?,
        }
        let result = f(self);
        let ended = match &mut *self {
            Conn::Pg(c) => Tm::rollback_transaction(&mut **c),
            Conn::Sqlite(c) => Tm::rollback_transaction(&mut **c),
        };
        match (result, ended) {
            (Ok(r), Ok(())) => Ok(r),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }
}

/// Runs one diesel expression on whichever backend `$conn` is, binding the concrete
/// connection (`&mut PgConnection` or `&mut SqliteConnection`) to `$c`.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::Conn::Pg(pooled) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut *pooled;
                $body
            }
            $crate::store::Conn::Sqlite(pooled) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut *pooled;
                $body
            }
        }
    };
}

/// Every SQLite connection: WAL so readers never block the writer, a busy timeout so a
/// writer waits for the lock instead of failing, foreign keys enforced, and `synchronous =
/// FULL`: a commit (an acknowledged redemption) waits for the disk, so power loss or an OS
/// crash cannot take it back (under WAL, `NORMAL` may lose the last commits).
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
             PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool of connections to the configured database.
#[derive(Clone)]
pub enum Db {
    Pg(PgPool),
    Sqlite(SqlitePool),
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
                    .build_unchecked(ConnectionManager::<PgConnection>::new(raw.clone()));
                Ok(Db::Pg(pool))
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
                let mut builder = Pool::builder()
                    .max_size(size)
                    .connection_timeout(timeout)
                    .connection_customizer(Box::new(SqlitePragmas));
                if matches!(target, SqliteTarget::Memory) {
                    builder = builder.min_idle(Some(1)).idle_timeout(None).max_lifetime(None);
                } else {
                    builder = builder.min_idle(Some(0));
                }
                Ok(Db::Sqlite(builder.build_unchecked(ConnectionManager::<SqliteConnection>::new(conn_str))))
            }
        }
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Pg(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// Checks a connection out, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<Conn, StoreError> {
        Ok(match self {
            Db::Pg(p) => Conn::Pg(p.get_timeout(timeout)?),
            Db::Sqlite(p) => Conn::Sqlite(p.get_timeout(timeout)?),
        })
    }

    /// Checks a connection out with the pool's own timeout.
    pub fn get(&self) -> Result<Conn, StoreError> {
        Ok(match self {
            Db::Pg(p) => Conn::Pg(p.get()?),
            Db::Sqlite(p) => Conn::Sqlite(p.get()?),
        })
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
        let applied = match &mut conn {
            Conn::Pg(c) => {
                c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.iter().map(|m| m.to_string()).collect())
            }
            Conn::Sqlite(c) => {
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
            with_conn!(&mut conn, |c| c.batch_execute("SELECT 1"))?;
            Ok(())
        })
        .await?
    }
}
