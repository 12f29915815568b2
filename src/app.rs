//! Wiring: from [`Settings`] to a migrated store, a ledger and a running service.

use std::{net::TcpListener, sync::Arc};

use actix_web::web;
use anyhow::Context;

use crate::{
    api::{self, AppState},
    config::Settings,
    ledger::{redis::RedisLedger, sql::SqlLedger, Ledger},
    signing::{Signing, REFRESH_EVERY},
    store::{api_keys, signing_keys, Db},
};

/// Opens the configured database's pool (without connecting yet).
pub fn open_store(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(&settings.database_url, settings.db_pool_size)
        .with_context(|| format!("cannot open database {}", settings.database_url))
}

/// Applies pending migrations and makes the first code-signing key when there is none;
/// returns the migration versions applied.
pub async fn migrate(db: &Db, settings: &Settings) -> anyhow::Result<Vec<String>> {
    let store = db.clone();
    let applied = tokio::task::spawn_blocking(move || store.migrate())
        .await
        .context("migration task failed")?
        .with_context(|| format!("cannot migrate database {}", settings.database_url))?;
    let master = settings.master_key.clone();
    if db
        .run(move |c| signing_keys::ensure_one(c, master.as_ref()))
        .await
        .context("cannot create a signing key")?
    {
        tracing::info!("created code-signing key 1");
    }
    Ok(applied)
}

/// The ledger the settings ask for: Redis when `REDIS_URL` is set, else the SQL ledger.
pub fn open_ledger(settings: &Settings, db: &Db) -> anyhow::Result<Arc<dyn Ledger>> {
    Ok(match &settings.redis_url {
        Some(url) => {
            let ledger = Arc::new(
                RedisLedger::new(&url.0, &settings.redis_prefix, Some(db.clone()))
                    .with_context(|| format!("cannot use Redis at {url:?}"))?,
            );
            ledger.spawn_sweeper(std::time::Duration::from_secs(5));
            ledger
        }
        None => Arc::new(SqlLedger::new(db.clone())),
    })
}

/// A migrated store, its ledger and the state handlers share.
pub async fn prepare(settings: &Settings) -> anyhow::Result<web::Data<AppState>> {
    let db = open_store(settings)?;
    let applied = migrate(&db, settings).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "migrations applied");
    }
    let ledger = open_ledger(settings, &db)?;
    let signing =
        Signing::load(db.clone(), settings.master_key.clone()).await.context("cannot load signing keys")?;
    signing.spawn_refresh(REFRESH_EVERY);
    Ok(AppState::new(db, ledger, signing, settings.key_cache_ttl))
}

/// `vouchsafe serve`: listen, migrate, serve until SIGTERM or Ctrl-C (then drain for 10 s).
pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let listener = listen(settings)?;
    serve_on(settings, listener).await
}

/// Takes the configured address, so that a port in use is reported before anything else runs.
pub fn listen(settings: &Settings) -> anyhow::Result<TcpListener> {
    TcpListener::bind(settings.bind).with_context(|| {
        format!("cannot listen on {} (is another service there? set VOUCHSAFE_BIND)", settings.bind)
    })
}

/// Migrates, then serves on `listener` until SIGTERM or SIGINT (Ctrl-C): both stop taking
/// connections and let the requests in flight finish (for up to 10 s); a second one stops now.
pub async fn serve_on(settings: &Settings, listener: TcpListener) -> anyhow::Result<()> {
    let state = prepare(settings).await?;
    let addr = listener.local_addr()?;
    let has_key = {
        let db = state.db.clone();
        db.run(api_keys::any_active).await.unwrap_or(true)
    };
    let signals = Signals::new().context("cannot watch for SIGINT and SIGTERM")?;
    eprintln!(
        "vouchsafe listening on http://{addr} (database: {}, ledger: {})",
        settings.database_url.describe(),
        state.ledger.kind()
    );
    if !has_key {
        eprintln!(
            "No API key exists yet. In another shell, create one with:\n  \
             cargo run --release -- keys create --name admin --scopes admin"
        );
    }
    let server = api::serve(state, listener, 0)?;
    actix_web::rt::spawn(signals.stop(server.handle()));
    server.await.context("server stopped with an error")?;
    eprintln!("vouchsafe stopped");
    Ok(())
}

/// SIGINT and SIGTERM, watched from before the server starts (actix-web's own handling is off:
/// it would stop at once on SIGINT, dropping the requests in flight).
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal's name and number.
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.interrupt.recv() => ("SIGINT", 2),
            _ = self.terminate.recv() => ("SIGTERM", 15),
        }
    }

    /// The first signal drains the server; a second one ends the process at once, with the
    /// shell's status for death by that signal (a drain already under way cannot be cut short).
    async fn stop(mut self, server: actix_web::dev::ServerHandle) {
        let (first, _) = self.next().await;
        eprintln!(
            "{first}: taking no new connections, finishing the requests in flight (at most 10 s; \
             Ctrl-C again stops at once)"
        );
        tokio::select! {
            _ = server.stop(true) => {}
            (second, number) = self.next() => {
                eprintln!("{second}: stopping at once");
                std::process::exit(128 + number);
            }
        }
    }
}
