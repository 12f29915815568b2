//! Reloading a campaign from the database into Redis: one snapshot, staged and installed
//! under the campaign's lock (see the parent module).

use super::*;

impl RedisLedger {
    /// Reloads a campaign from the database under the campaign's lock. Returns when the
    /// campaign is loaded (by this or another instance).
    pub(super) async fn ensure_loaded(&self, campaign: i32) -> Result<(), LedgerError> {
        let scope = self.scope().await?;
        let keys = Self::keys(&scope, campaign);
        let [meta, _, _, _, _, lock, gen] = keys.clone();
        let lock_ttl = self.hooks.lock_ttl.unwrap_or(RELOAD_LOCK);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut conn = self.connection(OP_TIMEOUT).await?;
            if conn.exists::<_, bool>(&meta).await.map_err(unavailable)? {
                return Ok(());
            }
            let mut token = [0u8; 8];
            rand::rng().fill_bytes(&mut token);
            let token = hex::encode(token);
            let got: Option<String> = redis::cmd("SET")
                .arg(&lock)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(lock_ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if got.is_none() {
                if Instant::now() > deadline {
                    return Err(LedgerError::Unavailable("campaign reload did not finish".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            // Another instance may have loaded it between our check and our lock; loading it
            // again would wipe what redemptions took since.
            if conn.exists::<_, bool>(&meta).await.map_err(unavailable)? {
                self.unlock(&mut conn, &lock, &token).await;
                return Ok(());
            }
            // Read before the snapshot: a change that reaches Redis after this moves it, and the
            // install then refuses a snapshot that may predate the change.
            let seen: Option<String> = conn.get(&gen).await.map_err(unavailable)?;
            let seen = seen.unwrap_or_else(|| "0".into());
            let pause = self.hooks.between_snapshot_reads;
            let snapshot = self
                .db()?
                .run(move |c| {
                    c.read_snapshot(|c| {
                        let camp = campaigns::get(c, campaign)?.ok_or(crate::store::StoreError::NotFound)?;
                        let live = redemptions::live_for_reload(c, campaign)?;
                        if let Some(p) = pause {
                            std::thread::sleep(p);
                        }
                        let voided = vouchers::voided_serials(c, campaign)?;
                        Ok((camp, live, voided))
                    })
                })
                .await;
            let (camp, live, voided) = match snapshot {
                Ok(s) => s,
                Err(e) => {
                    self.unlock(&mut conn, &lock, &token).await;
                    return Err(e.into());
                }
            };
            let staged = ["meta", "red", "void", "idem"]
                .map(|k| campaign_key(&scope, campaign, &format!("stage:{token}:{k}")));
            let mut pipe = redis::pipe();
            for k in &staged {
                pipe.del(k).ignore();
            }
            let (mut spent, mut count) = (0i64, 0i64);
            for chunk in live.chunks(1000) {
                let reds: Vec<(String, String)> =
                    chunk.iter().map(|r| (r.serial.to_string(), r.id.clone())).collect();
                pipe.hset_multiple(&staged[1], &reds).ignore();
                let mut fields = Vec::new();
                for r in chunk {
                    spent = spent.saturating_add(r.discount);
                    count += 1;
                    let entry = format!("{}|{}", r.id, r.request_hash);
                    let k = idem_field(&r.api_key_id, &r.idem_key);
                    if !k.is_empty() {
                        fields.push((k, entry.clone()));
                    }
                    fields.push((order_field(r.serial, &r.order_id), entry));
                }
                pipe.hset_multiple(&staged[3], &fields).ignore();
            }
            for chunk in voided.chunks(1000) {
                pipe.sadd(&staged[2], chunk).ignore();
            }
            // The campaign's fixed rules, for the script to hold every redemption to them.
            let variant_discounts: Vec<(String, String)> = camp
                .variants
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((format!("d:{i}"), discount_rule(v.discount?))))
                .collect();
            if !variant_discounts.is_empty() {
                pipe.hset_multiple(&staged[0], &variant_discounts).ignore();
            }
            pipe.hset_multiple(
                &staged[0],
                &[
                    ("rules", RULES_FORMAT.to_owned()),
                    ("currency", camp.currency.clone()),
                    ("min_order", camp.min_order.to_string()),
                    ("d", discount_rule(camp.discount)),
                    ("status", camp.status.as_str().to_owned()),
                    ("starts", ms(camp.starts_at).to_string()),
                    ("expires", ms(camp.expires_at).to_string()),
                    ("max_amount", camp.budget.max_amount.map(|m| m.minor()).unwrap_or(-1).to_string()),
                    ("max_count", camp.budget.max_redemptions.unwrap_or(-1).to_string()),
                    ("spent", spent.to_string()),
                    ("count", count.to_string()),
                    ("revision", camp.revision.to_string()),
                ],
            )
            .ignore();
            // Staged keys of a reloader that dies here expire by themselves.
            for k in &staged {
                pipe.pexpire(k, 60_000).ignore();
            }
            let written: Result<(), _> = pipe.query_async(&mut conn).await;
            if let Err(e) = written {
                self.unlock(&mut conn, &lock, &token).await;
                return Err(unavailable(e));
            }
            if let Some(p) = self.hooks.before_install {
                tokio::time::sleep(p).await;
            }
            let mut install = self.scripts.install.prepare_invoke();
            for k in keys.iter().chain(staged.iter()) {
                install.key(k);
            }
            install.arg(&token).arg(&seen);
            let outcome: String = install.invoke_async(&mut conn).await.map_err(unavailable)?;
            match outcome.as_str() {
                "OK" => {
                    tracing::info!(
                        campaign,
                        live = count,
                        voided = voided.len(),
                        "ledger: campaign loaded from the database"
                    );
                    return Ok(());
                }
                // LOST_LOCK: our lock expired and another reload took over; CHANGED: a change
                // may be missing from our snapshot. Either way, look again.
                other => {
                    tracing::info!(campaign, outcome = other, "ledger: reload not installed; trying again");
                    if Instant::now() > deadline {
                        return Err(LedgerError::Unavailable("campaign reload did not finish".into()));
                    }
                }
            }
        }
    }

    /// Releases a reload lock if (and only if) it is still ours.
    pub(super) async fn unlock(&self, conn: &mut RedisConn, lock: &str, token: &str) {
        let script = Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        );
        let done: Result<i64, _> = script.key(lock).arg(token).invoke_async(conn).await;
        if let Err(e) = done {
            tracing::debug!(error = %e, "reload lock not released; it expires by itself");
        }
    }
}

/// The version of the rule fields a reload writes into `meta` (`redeem.lua` reloads a campaign
/// whose `meta` carries another, e.g. one loaded by an older version).
pub(super) const RULES_FORMAT: &str = "1";

/// A discount rule as `redeem.lua` reads it: `percent:<1-100>:<cap or -1>` or `amount:<minor>`.
pub(super) fn discount_rule(d: Discount) -> String {
    match d {
        Discount::Percent { percent, max_amount } => {
            format!("percent:{percent}:{}", max_amount.map_or(-1, |m| m.minor()))
        }
        Discount::Amount { amount } => format!("amount:{}", amount.minor()),
    }
}
