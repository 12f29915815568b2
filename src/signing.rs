//! The code-signing keyring in memory: loaded from the database at start and refreshed every
//! few seconds, so a rotation or retirement made by `vouchsafe keys …` (from any host) reaches
//! every running instance without a restart, and the hot path never touches the database.

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use crate::{
    config::MasterKey,
    domain::code::{Keyring, SigningKey},
    store::{
        signing_keys::{self, KeyringKeys},
        Db, StoreError,
    },
};

/// How often running services re-read the signing keys.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// The current keyring, swapped whole on refresh.
pub struct Signing {
    db: Db,
    master: Option<MasterKey>,
    ring: RwLock<Arc<Keyring>>,
}

impl Signing {
    /// Loads the keyring from the database. Warns (naming key ids, never secrets) about retired
    /// keys the master key does not open, which are skipped, and about secrets stored plain
    /// although a master key is set; an active key that does not open is an error.
    pub async fn load(db: Db, master: Option<MasterKey>) -> Result<Arc<Signing>, StoreError> {
        let signing = Arc::new(Signing { db, master, ring: RwLock::new(Arc::new(Keyring::new(Vec::new()))) });
        let loaded = signing.reload().await?;
        for (id, error) in &loaded.unopened_retired {
            tracing::warn!(key_id = id, error = %error, "retired signing key {id} cannot be opened; skipped");
        }
        if signing.master.is_some() && !loaded.plain.is_empty() {
            let ids = loaded.plain.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
            tracing::warn!(
                "signing key(s) {ids} are stored in plain text although VOUCHSAFE_MASTER_KEY is set; \
                 seal them with `vouchsafe keys seal-signing`"
            );
        }
        Ok(signing)
    }

    /// The keyring as of the last refresh.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the keys; on failure the previous keyring stays in force.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.reload().await.map(drop)
    }

    async fn reload(&self) -> Result<KeyringKeys, StoreError> {
        let master = self.master.clone();
        let loaded = self.db.run(move |c| signing_keys::for_keyring(c, master.as_ref())).await?;
        let keys = loaded
            .active
            .iter()
            .map(|r| SigningKey::new(r.id, &r.secret))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Sealed(e.to_string()))?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Keyring::new(keys));
        Ok(loaded)
    }

    /// Refreshes every `every` until the last handle to this keyring is dropped.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) {
        let weak: Weak<Signing> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(signing) = weak.upgrade() else { break };
                if let Err(e) = signing.refresh().await {
                    tracing::warn!(error = %e, "signing keys not refreshed; keeping the previous keyring");
                }
            }
        });
    }
}
