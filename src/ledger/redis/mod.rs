//! The Redis ledger.
//!
//! Keys of campaign `N` (prefix `P`, deployment id `D`): `P:D:{c:N}:meta` (status, dates, budget,
//! spent, count), `P:D:{c:N}:red` (serial → live redemption id), `P:D:{c:N}:void` (voided
//! serials), `P:D:{c:N}:idem` (idempotency and (serial, order) fields → "rid|request hash"),
//! `P:D:{c:N}:pend` (redemption id → pending entry), `P:D:{c:N}:lock` (reload lock),
//! `P:D:{c:N}:gen` (bumped by every change a reload could miss). One hash tag per campaign, so
//! every script is single-slot and runs on Redis Cluster. `D` is the database's deployment id
//! (`store::deployment`): a Redis shared with another database, or kept while the database was
//! recreated, holds that state under another `D` and never answers for this one.
//!
//! A redemption: the `redeem` script checks and takes everything at once and records a pending
//! entry (in the same round trip, the campaign joins the sweeper's pending index); the service
//! writes the redemption to the database together with whatever else is waiting (group commit,
//! [`super::group`]; the database re-checks single use and budget), answers, and then clears
//! the pending entry. Refused by the database (possible only after Redis lost data), the
//! script's effect is undone (`release`). A reload keeps what pending entries hold. A sweeper settles
//! pending entries left by a crash: settled when the database has the redemption, released
//! otherwise. Redis is a cache of the database: a campaign whose `meta` is missing (Redis
//! restarted, flushed, evicted) is reloaded from the database under a lock, and the scripts
//! refuse to run on an unloaded campaign. A reload reads one database snapshot, writes it to
//! staging keys and installs them in one script, only while it still holds its lock (compared
//! on its token) and no change it could have missed (`gen`) happened since it began.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use rand::RngCore;
use redis::{AsyncCommands, Script};
use tokio::sync::Mutex;

mod entry;
mod reload;
mod sweep;

use entry::{parse_reply, PendingEntry, RedemptionEntry, Reply};

use super::{
    group::GroupCommit,
    redis_target::{RedisConn, RedisTarget},
    Ledger, LedgerError, Outcome, Redeemed,
};
use crate::{
    domain::{campaign::Discount, Refusal},
    store::{
        campaigns,
        customers::VoidedVoucher,
        deployment,
        redemptions::{self, Redemption, RolledBack},
        vouchers, Db,
    },
};

/// Pending entries older than this are settled by the sweeper.
pub const PENDING_GRACE: Duration = Duration::from_secs(10);
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// Every this many sweeps (about a minute at the service's 5 s), the sweeper looks at every
/// campaign of the database, not only those of the pending index: on a cluster an index write
/// may fail while the campaign's own shard answers.
pub const FULL_SWEEP_EVERY: u64 = 12;
/// How long a reload's lock lives: longer than any reload (it is refreshed by nothing, so a
/// reloader that dies frees it by itself).
const RELOAD_LOCK: Duration = Duration::from_secs(10);

struct Scripts {
    redeem: Script,
    release: Script,
    settle: Script,
    meta: Script,
    void: Script,
    install: Script,
    forget: Script,
}

/// Pauses at the points where races happen, so tests can force them. All off by default.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// How long a reload's lock lives (default 10 s).
    pub lock_ttl: Option<Duration>,
    /// Between a reload's database reads of the live redemptions and of the voided vouchers.
    pub between_snapshot_reads: Option<Duration>,
    /// Between a reload's database snapshot and its install.
    pub before_install: Option<Duration>,
    /// Between the sweeper finding a campaign without pending entries and unlisting it.
    pub before_unindex: Option<Duration>,
}

/// A ledger in Redis, backed by the database.
pub struct RedisLedger {
    target: RedisTarget,
    prefix: String,
    db: Option<Db>,
    conn: Mutex<Option<RedisConn>>,
    scripts: Scripts,
    grace: Duration,
    /// Writes allowed redemptions to the database together (`None` without a database).
    group: Option<GroupCommit>,
    /// Clears committed redemptions' pending entries, many per round trip.
    settler: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<(i32, String)>>,
    /// `prefix:deployment id`, the start of every key; read from the database on first use.
    scope: Arc<tokio::sync::OnceCell<String>>,
    hooks: Hooks,
    /// Sweeps so far (every [`FULL_SWEEP_EVERY`]th looks at every campaign).
    sweeps: std::sync::atomic::AtomicU64,
}

fn unavailable(e: redis::RedisError) -> LedgerError {
    LedgerError::Redis(e)
}

fn ms(t: chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// The idempotency field of a redemption request.
fn idem_field(api_key_id: &str, key: &Option<String>) -> String {
    key.as_ref().map(|k| format!("k:{api_key_id}:{k}")).unwrap_or_default()
}

fn order_field(serial: i64, order_id: &str) -> String {
    format!("o:{serial}:{order_id}")
}

impl RedisLedger {
    /// A ledger on `url` (one Redis, or a Redis Cluster: `redis+cluster://host:port,…`) whose
    /// keys all start with `prefix:`; `db` is the source of truth it reloads from and commits
    /// to (`None` only for readiness checks). Does not connect yet.
    pub fn new(url: &str, prefix: &str, db: Option<Db>) -> Result<Self, LedgerError> {
        let target = RedisTarget::parse(url).map_err(LedgerError::Unavailable)?;
        let mut ledger = RedisLedger {
            target,
            prefix: prefix.to_owned(),
            db,
            conn: Mutex::new(None),
            scripts: Scripts {
                redeem: Script::new(include_str!("lua/redeem.lua")),
                release: Script::new(include_str!("lua/release.lua")),
                settle: Script::new(include_str!("lua/settle.lua")),
                meta: Script::new(include_str!("lua/meta.lua")),
                void: Script::new(include_str!("lua/void.lua")),
                install: Script::new(include_str!("lua/install.lua")),
                forget: Script::new(include_str!("lua/forget.lua")),
            },
            grace: PENDING_GRACE,
            group: None,
            settler: std::sync::OnceLock::new(),
            scope: Arc::new(tokio::sync::OnceCell::new()),
            hooks: Hooks::default(),
            sweeps: Default::default(),
        };
        if let Some(db) = &ledger.db {
            let group = GroupCommit::start(db.clone(), ledger.grace / 2)
                .map_err(|e| LedgerError::Unavailable(format!("cannot start the committers: {e}")))?;
            ledger.group = Some(group);
        }
        // Started here, on the runtime that builds the ledger (the service's main one), not on
        // whichever HTTP worker redeems first: a worker stopped at shutdown must not take other
        // workers' settles with it. Outside a runtime it starts on first use.
        if tokio::runtime::Handle::try_current().is_ok() {
            ledger.settler.get_or_init(|| ledger.spawn_settler());
        }
        Ok(ledger)
    }

    /// How old a pending entry must be before the sweeper settles it (default
    /// [`PENDING_GRACE`]; longer than any redemption's database write).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Takes this deployment id instead of reading it from the database on first use (for a
    /// test's instance whose database is gone before its first redemption).
    #[doc(hidden)]
    pub fn with_deployment(self, id: &str) -> Self {
        let _ = self.scope.set(format!("{}:{id}", self.prefix));
        self
    }

    /// Pauses for tests that force a race (see [`Hooks`]).
    #[doc(hidden)]
    pub fn with_hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// The prefix of this ledger's keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn db(&self) -> Result<&Db, LedgerError> {
        self.db.as_ref().ok_or_else(|| LedgerError::Unavailable("ledger has no database".into()))
    }

    /// `prefix:deployment id`: the start of every key of this ledger's database.
    pub async fn scope(&self) -> Result<String, LedgerError> {
        let db = self.db()?.clone();
        let prefix = self.prefix.clone();
        self.scope
            .get_or_try_init(|| async move {
                let id = db.run(deployment::id).await?;
                Ok::<_, LedgerError>(format!("{prefix}:{id}"))
            })
            .await
            .cloned()
    }

    /// The keys of a campaign, in the order every script takes them.
    fn keys(scope: &str, campaign: i32) -> [String; 7] {
        ["meta", "red", "void", "idem", "pend", "lock", "gen"].map(|k| campaign_key(scope, campaign, k))
    }

    fn pending_index(scope: &str) -> String {
        format!("{scope}:pending_campaigns")
    }

    /// A multiplexed connection (to one Redis or a cluster), made on first use; it reconnects
    /// by itself.
    pub async fn connection(&self, timeout: Duration) -> Result<RedisConn, LedgerError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = tokio::time::timeout(timeout, self.target.connect(timeout))
            .await
            .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?
            .map_err(unavailable)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn invoke(
        &self,
        script: &Script,
        campaign: i32,
        args: Vec<String>,
    ) -> Result<Vec<String>, LedgerError> {
        let scope = self.scope().await?;
        let mut conn = self.connection(OP_TIMEOUT).await?;
        let mut inv = script.prepare_invoke();
        for k in Self::keys(&scope, campaign) {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        let out: redis::Value = tokio::time::timeout(OP_TIMEOUT, inv.invoke_async(&mut conn))
            .await
            .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?
            .map_err(unavailable)?;
        Ok(match out {
            redis::Value::Array(items) => {
                items.into_iter().map(|v| redis::from_redis_value::<String>(v).unwrap_or_default()).collect()
            }
            other => vec![redis::from_redis_value::<String>(other).unwrap_or_default()],
        })
    }

    /// The redeem script, in one round trip with the campaign's entry in the pending index
    /// before and after it (so the sweeper knows of the pending entry the script may write,
    /// whatever happens next, even if it unlisted the campaign in between).
    async fn invoke_redeem(&self, campaign: i32, args: &[String]) -> Result<Vec<String>, LedgerError> {
        let scope = self.scope().await?;
        let mut conn = self.connection(OP_TIMEOUT).await?;
        let index = Self::pending_index(&scope);
        if conn.is_cluster() {
            return self.invoke_redeem_on_cluster(conn, &index, campaign, &scope, args).await;
        }
        let mut pipe = redis::pipe();
        pipe.sadd(&index, campaign).ignore();
        pipe.cmd("EVALSHA")
            .arg(self.scripts.redeem.get_hash())
            .arg(7)
            .arg(&Self::keys(&scope, campaign))
            .arg(args);
        pipe.sadd(&index, campaign).ignore();
        let mut loaded = false;
        loop {
            let out: Result<(Vec<String>,), _> =
                tokio::time::timeout(OP_TIMEOUT, pipe.query_async(&mut conn))
                    .await
                    .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?;
            match out {
                Ok((answer,)) => return Ok(answer),
                Err(e)
                    if !loaded && e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    self.scripts.redeem.prepare_invoke().load_async(&mut conn).await.map_err(unavailable)?;
                    loaded = true;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    /// [`Self::invoke_redeem`] on a cluster, where the index lives in another slot (so maybe on
    /// another node) than the campaign and cannot share its pipeline: the index entry, the
    /// script, the index entry again, one after the other. The index entries are best effort,
    /// so that a failover of the index's shard stops no campaign on another shard: a pending
    /// entry left unlisted (its index write failed, or this process died between the script
    /// and the second entry while a sweep unlisted the campaign) holds its voucher and budget
    /// (never more than allowed) until the sweeper's pass over every campaign of the database
    /// ([`FULL_SWEEP_EVERY`]) finds it.
    async fn invoke_redeem_on_cluster(
        &self,
        mut conn: RedisConn,
        index: &str,
        campaign: i32,
        scope: &str,
        args: &[String],
    ) -> Result<Vec<String>, LedgerError> {
        let list = |mut conn: RedisConn| {
            let index = index.to_owned();
            async move {
                let listed = tokio::time::timeout(OP_TIMEOUT, conn.sadd::<_, _, ()>(&index, campaign)).await;
                if !matches!(listed, Ok(Ok(()))) {
                    tracing::warn!(campaign, "pending index not written; the full sweep covers it");
                }
            }
        };
        list(conn.clone()).await;
        let mut inv = self.scripts.redeem.prepare_invoke();
        for k in Self::keys(scope, campaign) {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        let answer: Vec<String> = tokio::time::timeout(OP_TIMEOUT, inv.invoke_async(&mut conn))
            .await
            .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?
            .map_err(unavailable)?;
        list(conn).await;
        Ok(answer)
    }

    /// Undoes a redemption in Redis; `voided`: the voucher stays voided (not redeemable).
    async fn release(&self, r: &Redemption, voided: bool) -> Result<(), LedgerError> {
        self.invoke(
            &self.scripts.release,
            r.campaign_id,
            vec![
                r.serial.to_string(),
                r.id.clone(),
                r.discount.to_string(),
                idem_field(&r.api_key_id, &r.idem_key),
                order_field(r.serial, &r.order_id),
                if voided { "1" } else { "0" }.to_owned(),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Waits for a replayed redemption to reach the database (its first request may still be
    /// writing it), then returns it. `None` when the first request was undone (the database
    /// refused it, or the sweeper released it): the caller tries again as a new request.
    async fn replayed(&self, campaign: i32, id: String) -> Result<Option<Redeemed>, LedgerError> {
        let db = self.db()?.clone();
        let [_, _, _, _, pend, _, _] = Self::keys(&self.scope().await?, campaign);
        // Long enough for a loaded database to commit the first request; it commits or fails.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut pause = Duration::from_millis(2);
        let first = |db: Db, rid: String| async move { db.run(move |c| redemptions::get(c, &rid)).await };
        loop {
            if let Some(found) = first(db.clone(), id.clone()).await? {
                return Ok(Some(Redeemed::Replay(found)));
            }
            let mut conn = self.connection(OP_TIMEOUT).await?;
            let pending: bool = conn.hexists(&pend, &id).await.map_err(unavailable)?;
            if !pending {
                // Settled only after its commit: if it was settled since the read above, the
                // database has it now; if the database still has none, it was undone.
                return Ok(first(db.clone(), id.clone()).await?.map(Redeemed::Replay));
            }
            if Instant::now() > deadline {
                return Err(LedgerError::Unavailable(
                    "the first request with this key has not finished".into(),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

/// The key `name` of a campaign; every key of a campaign shares its hash tag.
fn campaign_key(prefix: &str, campaign: i32, name: &str) -> String {
    format!("{prefix}:{{c:{campaign}}}:{name}")
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
        answer.map(|_| ()).map_err(unavailable)
    }

    async fn redeem(&self, r: Redemption) -> Result<Outcome, LedgerError> {
        // A replay whose first request was undone meanwhile is a new request: try again.
        for _ in 0..3 {
            if let Some(answer) = self.redeem_once(&r).await? {
                return Ok(answer);
            }
        }
        Err(LedgerError::Unavailable("the first request with this key did not finish".into()))
    }

    async fn rollback(&self, id: &str, reason: &str) -> Result<Option<RolledBack>, LedgerError> {
        let db = self.db()?.clone();
        let (rid, why) = (id.to_owned(), reason.to_owned());
        let done = db.run(move |c| redemptions::rollback(c, &rid, &why)).await?;
        if let Some(RolledBack { redemption: r, now: true, voided }) = &done {
            if let Err(e) = self.release(r, *voided).await {
                // Redis keeps counting it until the campaign reloads: conservative, never over.
                tracing::warn!(error = %e, "rollback not applied in Redis; forcing a reload");
                let _ = self.forget(r.campaign_id).await;
            }
        }
        Ok(done)
    }

    async fn void(&self, voided: &[VoidedVoucher]) -> Result<(), LedgerError> {
        let mut by_campaign: std::collections::BTreeMap<i32, Vec<String>> = Default::default();
        for v in voided {
            by_campaign.entry(v.campaign_id).or_default().push(v.serial.to_string());
        }
        for (campaign, serials) in by_campaign {
            self.invoke(&self.scripts.void, campaign, serials).await?;
        }
        Ok(())
    }

    async fn campaign_changed(&self, campaign_id: i32) -> Result<(), LedgerError> {
        let db = self.db()?.clone();
        let Some(c) = db.run(move |c| campaigns::get(c, campaign_id)).await? else { return Ok(()) };
        self.invoke(
            &self.scripts.meta,
            campaign_id,
            vec![
                c.status.as_str().to_owned(),
                ms(c.starts_at).to_string(),
                ms(c.expires_at).to_string(),
                c.budget.max_amount.map(|m| m.minor()).unwrap_or(-1).to_string(),
                c.budget.max_redemptions.unwrap_or(-1).to_string(),
            ],
        )
        .await
        .map(|_| ())
    }
}

impl RedisLedger {
    /// One attempt; `None` when it replayed a first request that was undone meanwhile.
    async fn redeem_once(&self, r: &Redemption) -> Result<Option<Outcome>, LedgerError> {
        let pending =
            PendingEntry { at_ms: Utc::now().timestamp_millis(), redemption: RedemptionEntry::of(r) };
        let args = vec![
            r.serial.to_string(),
            r.id.clone(),
            r.discount.to_string(),
            ms(r.redeemed_at).to_string(),
            idem_field(&r.api_key_id, &r.idem_key),
            r.request_hash.clone(),
            order_field(r.serial, &r.order_id),
            serde_json::to_string(&pending).unwrap_or_default(),
            r.order_amount.to_string(),
            r.currency.clone(),
            r.variant.to_string(),
        ];
        let mut reply = Reply::NotLoaded;
        for _ in 0..5 {
            reply = parse_reply(&self.invoke_redeem(r.campaign_id, &args).await?, r)?;
            if reply != Reply::NotLoaded {
                break;
            }
            self.ensure_loaded(r.campaign_id).await?;
        }
        match reply {
            Reply::Taken => {}
            Reply::Replay(first) => return Ok(self.replayed(r.campaign_id, first).await?.map(Ok)),
            Reply::NotLoaded => return Err(LedgerError::Unavailable("campaign could not be loaded".into())),
            Reply::Refused(why) => return Ok(Some(Err(why))),
        }
        let group =
            self.group.as_ref().ok_or_else(|| LedgerError::Unavailable("ledger has no database".into()))?;
        // Not acknowledged on an error; the pending entry stays for the sweeper to settle.
        let committed = group.commit(r.clone()).await?;
        match committed {
            Ok(Redeemed::New(done)) => {
                self.settle_later(r.campaign_id, &r.id).await;
                Ok(Some(Ok(Redeemed::New(done))))
            }
            db_answer => {
                // Redis had lost data (flush, restart): the database knows better. Undo.
                tracing::warn!(
                    campaign = r.campaign_id,
                    ?db_answer,
                    "database refused what Redis allowed; releasing"
                );
                if let Err(e) = self.release(r, false).await {
                    tracing::warn!(error = %e, "release failed; the sweeper will");
                }
                let _ = self.forget(r.campaign_id).await;
                Ok(Some(db_answer))
            }
        }
    }

    /// Drops a campaign's cached state so the next redemption reloads it from the database.
    async fn forget(&self, campaign: i32) -> Result<(), LedgerError> {
        self.invoke(&self.scripts.forget, campaign, Vec::new()).await.map(|_| ())
    }

    /// Loads a campaign from the database now, if it is not loaded (tests force races with it).
    #[doc(hidden)]
    pub async fn load(&self, campaign: i32) -> Result<(), LedgerError> {
        self.ensure_loaded(campaign).await
    }
}
