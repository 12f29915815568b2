//! Clearing pending entries: the settler (after each commit, batched) and the sweeper (entries
//! a crash left behind).

use super::*;

impl RedisLedger {
    /// Clears a committed redemption's pending entry off the answer's path (a replay meanwhile
    /// finds it in the database all the same; a lost clear is the sweeper's).
    pub(super) async fn settle_later(&self, campaign: i32, id: &str) {
        let queue = self.settler.get_or_init(|| self.spawn_settler());
        let _ = queue.send((campaign, id.to_owned()));
    }

    pub(super) async fn settle(&self, campaign: i32, id: &str) -> Result<(), LedgerError> {
        let scope = self.scope().await?;
        let mut conn = self.connection(OP_TIMEOUT).await?;
        settle_all(&mut conn, &self.scripts.settle, &scope, campaign, &[id.to_owned()]).await
    }

    /// A task that takes (campaign, redemption id) pairs and settles whatever has gathered, one
    /// script call per campaign; stops when the ledger is dropped.
    pub(super) fn spawn_settler(&self) -> tokio::sync::mpsc::UnboundedSender<(i32, String)> {
        let (queue, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i32, String)>();
        let (target, script, scope) = (self.target.clone(), self.scripts.settle.clone(), self.scope.clone());
        tokio::spawn(async move {
            let mut conn: Option<RedisConn> = None;
            let mut done = Vec::new();
            while rx.recv_many(&mut done, 512).await > 0 {
                let mut by_campaign: std::collections::BTreeMap<i32, Vec<String>> = Default::default();
                for (campaign, id) in done.drain(..) {
                    by_campaign.entry(campaign).or_default().push(id);
                }
                if conn.is_none() {
                    let made = target.connect(OP_TIMEOUT);
                    conn = tokio::time::timeout(OP_TIMEOUT, made).await.ok().and_then(Result::ok);
                }
                let Some(c) = conn.as_mut() else {
                    tracing::warn!("pending entries not cleared (no Redis connection); the sweeper will");
                    continue;
                };
                // Known by now: a redemption only commits after a script ran under this scope.
                let Some(scope) = scope.get() else { continue };
                for (campaign, ids) in by_campaign {
                    if let Err(e) = settle_all(c, &script, scope, campaign, &ids).await {
                        tracing::warn!(error = %e, "pending entries not cleared; the sweeper will");
                    }
                }
            }
        });
        queue
    }

    /// Settles pending entries older than the grace period: a redemption the database has is
    /// settled; one it does not have was never acknowledged and is released. Runs until the
    /// ledger is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(this) = weak.upgrade() else { break };
                if let Err(e) = this.sweep().await {
                    tracing::debug!(error = %e, "ledger sweep skipped");
                }
            }
        });
    }

    /// One sweep (public so tests can run it without waiting): the campaigns of the pending
    /// index and, every [`FULL_SWEEP_EVERY`] sweeps (the first included) or when the index does
    /// not answer, every campaign of the database. A campaign whose keys do not answer (its
    /// shard failing over) is skipped until the next sweep.
    pub async fn sweep(&self) -> Result<usize, LedgerError> {
        let scope = self.scope().await?;
        let index = Self::pending_index(&scope);
        let mut conn = self.connection(OP_TIMEOUT).await?;
        let listed: Result<HashSet<i32>, _> = conn.smembers(&index).await;
        let full =
            self.sweeps.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(FULL_SWEEP_EVERY);
        let mut campaigns: Vec<(i32, bool)> = Vec::new();
        let (listed, full) = match listed {
            Ok(l) => (l, full),
            Err(e) if conn.is_cluster() => {
                tracing::debug!(error = %e, "pending index unavailable; sweeping every campaign");
                (HashSet::new(), true)
            }
            Err(e) => return Err(unavailable(e)),
        };
        if full {
            for id in self.all_campaigns().await? {
                campaigns.push((id, listed.contains(&id)));
            }
        }
        for &id in &listed {
            if !campaigns.iter().any(|(c, _)| *c == id) {
                campaigns.push((id, true));
            }
        }
        let mut settled = 0;
        for (campaign, in_index) in campaigns {
            match self.sweep_campaign(&mut conn, &scope, campaign, in_index).await {
                Ok(n) => settled += n,
                Err(LedgerError::Unavailable(e)) if conn.is_cluster() => {
                    tracing::debug!(campaign, error = %e, "campaign not swept; next time");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(settled)
    }

    /// Every campaign id of the database.
    pub(super) async fn all_campaigns(&self) -> Result<Vec<i32>, LedgerError> {
        let db = self.db()?.clone();
        Ok(db
            .run(|c| {
                let mut ids = Vec::new();
                loop {
                    let page = campaigns::list(c, ids.last().copied(), 1000)?;
                    if page.is_empty() {
                        return Ok(ids);
                    }
                    ids.extend(page.iter().map(|c| c.id));
                }
            })
            .await?)
    }

    pub(super) async fn sweep_campaign(
        &self,
        conn: &mut RedisConn,
        scope: &str,
        campaign: i32,
        in_index: bool,
    ) -> Result<usize, LedgerError> {
        let index = Self::pending_index(scope);
        let now = Utc::now().timestamp_millis();
        let [_, _, _, _, pend, _, _] = Self::keys(scope, campaign);
        let entries: Vec<(String, String)> = conn.hgetall(&pend).await.map_err(unavailable)?;
        if entries.is_empty() {
            if !in_index {
                return Ok(0);
            }
            if let Some(p) = self.hooks.before_unindex {
                tokio::time::sleep(p).await;
            }
            // Unlisted first, then looked at again: an entry written meanwhile (its
            // redemption listed the campaign before and after its script) puts it back.
            // The index and the campaign's keys live in different slots of a cluster, so
            // this cannot be one script.
            let _: Result<(), _> = conn.srem(&index, campaign).await;
            let left: usize = conn.hlen(&pend).await.map_err(unavailable)?;
            if left > 0 {
                let _: Result<(), _> = conn.sadd(&index, campaign).await;
            }
            return Ok(0);
        }
        let mut settled = 0;
        for (_, entry) in entries {
            let Ok(r) = serde_json::from_str::<PendingEntry>(&entry) else { continue };
            if now - r.at_ms < self.grace.as_millis() as i64 {
                continue;
            }
            let db = self.db()?.clone();
            let id = r.redemption.id.clone();
            if db.run(move |c| redemptions::exists(c, &id)).await? {
                self.settle(campaign, &r.redemption.id).await?;
            } else {
                self.release(&Redemption::from(&r), false).await?;
            }
            settled += 1;
        }
        Ok(settled)
    }
}

/// Drops the pending entries of committed redemptions (see `settle.lua`).
pub(super) async fn settle_all(
    conn: &mut RedisConn,
    script: &Script,
    prefix: &str,
    campaign: i32,
    ids: &[String],
) -> Result<(), LedgerError> {
    let mut inv = script.prepare_invoke();
    inv.key(campaign_key(prefix, campaign, "pend")).key(campaign_key(prefix, campaign, "lock")).arg(ids);
    tokio::time::timeout(OP_TIMEOUT, inv.invoke_async::<i64>(conn))
        .await
        .map_err(|_| LedgerError::Unavailable("redis did not answer in time".into()))?
        .map(|_| ())
        .map_err(unavailable)
}
