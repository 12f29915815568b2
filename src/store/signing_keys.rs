//! Code-signing keys as stored. Secrets are sealed with AES-256-GCM under the optional master
//! key (the key id is the associated data, so a sealed secret cannot be moved to another row);
//! without a master key they are stored as hex and the database must be protected as a secret.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;

use super::{schema::signing_keys, Conn, StoreError};
use crate::{config::MasterKey, per_backend};

/// A signing key with its secret opened.
pub struct SigningKeyRecord {
    pub id: u8,
    pub secret: [u8; 32],
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
struct Row {
    id: i32,
    secret: String,
    created_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

fn aad(id: u8) -> [u8; 17] {
    let mut out = *b"vouchsafe/sk/id:\0";
    out[16] = id;
    out
}

/// The stored form of a secret.
pub fn seal(master: Option<&MasterKey>, id: u8, secret: &[u8; 32]) -> String {
    match master {
        None => format!("plain:{}", hex::encode(secret)),
        Some(master) => {
            let cipher = Aes256Gcm::new((&master.0).into());
            let mut nonce = [0u8; 12];
            rand::rng().fill_bytes(&mut nonce);
            let ct = cipher
                .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: &aad(id) })
                .expect("AES-GCM encryption of 32 bytes cannot fail");
            format!("aes256gcm:{}:{}", hex::encode(nonce), hex::encode(ct))
        }
    }
}

/// The secret of a stored form.
pub fn open(master: Option<&MasterKey>, id: u8, stored: &str) -> Result<[u8; 32], StoreError> {
    let mut secret = [0u8; 32];
    if let Some(hex_secret) = stored.strip_prefix("plain:") {
        hex::decode_to_slice(hex_secret, &mut secret)
            .map_err(|_| StoreError::Sealed(format!("key {id}: stored secret is not 32 bytes of hex")))?;
        return Ok(secret);
    }
    let Some(rest) = stored.strip_prefix("aes256gcm:") else {
        return Err(StoreError::Sealed(format!("key {id}: unknown storage format")));
    };
    let master = master.ok_or_else(|| {
        StoreError::Sealed(format!(
            "key {id} is encrypted; set VOUCHSAFE_MASTER_KEY to the key it was sealed with"
        ))
    })?;
    let (nonce_hex, ct_hex) = rest
        .split_once(':')
        .ok_or_else(|| StoreError::Sealed(format!("key {id}: malformed sealed secret")))?;
    let mut nonce = [0u8; 12];
    hex::decode_to_slice(nonce_hex, &mut nonce)
        .map_err(|_| StoreError::Sealed(format!("key {id}: malformed nonce")))?;
    let ct =
        hex::decode(ct_hex).map_err(|_| StoreError::Sealed(format!("key {id}: malformed ciphertext")))?;
    let plain = Aes256Gcm::new((&master.0).into())
        .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad: &aad(id) })
        .map_err(|_| StoreError::Sealed(format!("key {id}: VOUCHSAFE_MASTER_KEY does not open it")))?;
    if plain.len() != 32 {
        return Err(StoreError::Sealed(format!("key {id}: sealed secret is not 32 bytes")));
    }
    secret.copy_from_slice(&plain);
    Ok(secret)
}

fn load_rows(conn: &mut Conn) -> Result<Vec<Row>, StoreError> {
    Ok(signing_keys::table.select(Row::as_select()).order(signing_keys::id).load(conn.any())?)
}

/// The stored form of a sealed secret starts with this.
pub const SEALED_PREFIX: &str = "aes256gcm:";

/// A signing key as stored, its secret not opened: enough to list keys and to check a master
/// key, and never printable as a secret (its `Debug` leaves the stored form out).
pub struct StoredKey {
    pub id: u8,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
    stored: String,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("sealed", &self.is_sealed())
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    /// Whether the secret is sealed under a master key (else it is stored plain).
    pub fn is_sealed(&self) -> bool {
        self.stored.starts_with(SEALED_PREFIX)
    }

    /// The secret, opened with `master` when sealed.
    pub fn open(&self, master: Option<&MasterKey>) -> Result<[u8; 32], StoreError> {
        open(master, self.id, &self.stored)
    }

    fn record(&self, secret: [u8; 32]) -> SigningKeyRecord {
        SigningKeyRecord { id: self.id, secret, created_at: self.created_at, retired_at: self.retired_at }
    }
}

/// Every signing key, retired ones included, secrets left as stored.
pub fn list(conn: &mut Conn) -> Result<Vec<StoredKey>, StoreError> {
    load_rows(conn)?
        .into_iter()
        .map(|row| {
            let id = u8::try_from(row.id)
                .map_err(|_| StoreError::Sealed(format!("key id {} out of range", row.id)))?;
            Ok(StoredKey { id, created_at: row.created_at, retired_at: row.retired_at, stored: row.secret })
        })
        .collect()
}

/// What a keyring is made of, and what a start should warn about.
#[derive(Debug)]
pub struct KeyringKeys {
    /// The active keys with their secrets opened.
    pub active: Vec<SigningKeyRecord>,
    /// Retired keys whose secret `master` does not open, with why; they verify nothing any more,
    /// so they do not stop a start.
    pub unopened_retired: Vec<(u8, StoreError)>,
    /// Keys whose secret is stored plain.
    pub plain: Vec<u8>,
}

/// The keys a keyring needs: every active key must open (else the error names it); a retired
/// key that does not open is only reported.
pub fn for_keyring(conn: &mut Conn, master: Option<&MasterKey>) -> Result<KeyringKeys, StoreError> {
    let mut out = KeyringKeys { active: Vec::new(), unopened_retired: Vec::new(), plain: Vec::new() };
    for key in list(conn)? {
        if !key.is_sealed() {
            out.plain.push(key.id);
        }
        match (key.open(master), key.retired_at) {
            (Ok(secret), None) => out.active.push(key.record(secret)),
            (Err(e), None) => return Err(e),
            (Ok(_), Some(_)) => {}
            (Err(e), Some(_)) => out.unopened_retired.push((key.id, e)),
        }
    }
    Ok(out)
}

/// Refuses to seal anything with `master` unless it is the master key the stored secrets are
/// sealed with: it must open every active sealed key (a start needs them) and, when only retired
/// keys are sealed, at least one of those. Without a master key, any sealed key refuses. So a
/// mistyped key is refused instead of sealing a secret no other start can open.
pub fn prove_master(keys: &[StoredKey], master: Option<&MasterKey>) -> Result<(), StoreError> {
    let sealed: Vec<&StoredKey> = keys.iter().filter(|k| k.is_sealed()).collect();
    if sealed.is_empty() {
        return Ok(());
    }
    let ids = |ks: &[&StoredKey]| ks.iter().map(|k| k.id.to_string()).collect::<Vec<_>>().join(", ");
    if master.is_none() {
        return Err(StoreError::Conflict(format!(
            "signing keys {} are sealed and VOUCHSAFE_MASTER_KEY is not set; set it to the key they \
             were sealed with",
            ids(&sealed)
        )));
    }
    let unopened: Vec<&StoredKey> = sealed.iter().copied().filter(|k| k.open(master).is_err()).collect();
    let active_unopened: Vec<&StoredKey> =
        unopened.iter().copied().filter(|k| k.retired_at.is_none()).collect();
    if !active_unopened.is_empty() || unopened.len() == sealed.len() {
        let named = if active_unopened.is_empty() { &unopened } else { &active_unopened };
        return Err(StoreError::Conflict(format!(
            "VOUCHSAFE_MASTER_KEY does not open sealed signing key(s) {}, so it is not the master key \
             in use (a typo?); nothing was changed",
            ids(named)
        )));
    }
    Ok(())
}

/// Seals every plain secret with `master`, after [`prove_master`]; returns how many keys were
/// sealed now and how many already were. Running it again seals nothing.
pub fn seal_plain(conn: &mut Conn, master: &MasterKey) -> Result<(usize, usize), StoreError> {
    conn.transaction(|conn| {
        let keys = list(conn)?;
        prove_master(&keys, Some(master))?;
        let mut sealed_now = 0;
        for key in keys.iter().filter(|k| !k.is_sealed()) {
            let sealed = seal(Some(master), key.id, &key.open(None)?);
            let (id, plain) = (i32::from(key.id), key.stored.as_str());
            sealed_now += diesel::update(
                signing_keys::table.filter(signing_keys::id.eq(id)).filter(signing_keys::secret.eq(plain)),
            )
            .set(signing_keys::secret.eq(&sealed))
            .execute(conn.any())?;
        }
        Ok((sealed_now, keys.len() - sealed_now))
    })
}

fn insert(conn: &mut Conn, master: Option<&MasterKey>, id: u8) -> Result<bool, StoreError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let sealed = seal(master, id, &secret);
    let now = Utc::now().naive_utc();
    let inserted = per_backend!(conn, |c| diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::id.eq(i32::from(id)),
            signing_keys::secret.eq(&sealed),
            signing_keys::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Makes key 1 when there is no signing key at all (first migrate). Safe to race.
pub fn ensure_one(conn: &mut Conn, master: Option<&MasterKey>) -> Result<bool, StoreError> {
    let n: i64 = signing_keys::table.count().get_result(conn.any())?;
    if n > 0 {
        return Ok(false);
    }
    insert(conn, master, 1)
}

/// Adds a key with the next id; new codes are signed with it from then on. Refused when `master`
/// is not the master key the existing secrets are sealed with ([`prove_master`]).
pub fn rotate(conn: &mut Conn, master: Option<&MasterKey>) -> Result<u8, StoreError> {
    prove_master(&list(conn)?, master)?;
    for _ in 0..5 {
        let max: Option<i32> =
            signing_keys::table.select(diesel::dsl::max(signing_keys::id)).first(conn.any())?;
        let next = max.unwrap_or(0) + 1;
        let id = u8::try_from(next).map_err(|_| {
            StoreError::Conflict("all 255 signing key ids are used; codes cannot name a 256th key".into())
        })?;
        if insert(conn, master, id)? {
            return Ok(id);
        }
    }
    Err(StoreError::Conflict("another rotation is running; try again".into()))
}

/// Retires a key: its codes stop verifying. The last active key cannot be retired (rotate first).
pub fn retire(conn: &mut Conn, id: u8) -> Result<NaiveDateTime, StoreError> {
    let rows = load_rows(conn)?;
    let row = rows.iter().find(|r| r.id == i32::from(id)).ok_or(StoreError::NotFound)?;
    if let Some(at) = row.retired_at {
        return Ok(at);
    }
    if !rows.iter().any(|r| r.id != i32::from(id) && r.retired_at.is_none()) {
        return Err(StoreError::Conflict(format!(
            "key {id} is the only active signing key; run `vouchsafe keys rotate-signing` first"
        )));
    }
    let now = Utc::now().naive_utc();
    diesel::update(signing_keys::table.find(i32::from(id)))
        .set(signing_keys::retired_at.eq(Some(now)))
        .execute(conn.any())?;
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_master_key_and_row() {
        let master = MasterKey([7; 32]);
        let secret = [42u8; 32];
        let sealed = seal(Some(&master), 3, &secret);
        assert!(sealed.starts_with("aes256gcm:") && !sealed.contains(&hex::encode(secret)));
        assert_eq!(open(Some(&master), 3, &sealed).unwrap(), secret);
        assert!(open(Some(&MasterKey([8; 32])), 3, &sealed).is_err(), "another master key");
        assert!(open(Some(&master), 4, &sealed).is_err(), "moved to another row");
        assert!(open(None, 3, &sealed).is_err(), "no master key");
        let plain = seal(None, 3, &secret);
        assert_eq!(open(None, 3, &plain).unwrap(), secret);
        assert_eq!(open(Some(&master), 3, &plain).unwrap(), secret, "plain keys stay readable");
    }
}
