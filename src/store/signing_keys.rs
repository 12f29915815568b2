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
use crate::{config::MasterKey, with_conn};

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
    Ok(with_conn!(conn, |c| signing_keys::table.select(Row::as_select()).order(signing_keys::id).load(c))?)
}

/// Every signing key, retired ones included, with secrets opened.
pub fn all(conn: &mut Conn, master: Option<&MasterKey>) -> Result<Vec<SigningKeyRecord>, StoreError> {
    load_rows(conn)?
        .into_iter()
        .map(|row| {
            let id = u8::try_from(row.id)
                .map_err(|_| StoreError::Sealed(format!("key id {} out of range", row.id)))?;
            Ok(SigningKeyRecord {
                id,
                secret: open(master, id, &row.secret)?,
                created_at: row.created_at,
                retired_at: row.retired_at,
            })
        })
        .collect()
}

fn insert(conn: &mut Conn, master: Option<&MasterKey>, id: u8) -> Result<bool, StoreError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let sealed = seal(master, id, &secret);
    let now = Utc::now().naive_utc();
    let inserted = with_conn!(conn, |c| diesel::insert_into(signing_keys::table)
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
    let n: i64 = with_conn!(conn, |c| signing_keys::table.count().get_result(c))?;
    if n > 0 {
        return Ok(false);
    }
    insert(conn, master, 1)
}

/// Adds a key with the next id; new codes are signed with it from then on.
pub fn rotate(conn: &mut Conn, master: Option<&MasterKey>) -> Result<u8, StoreError> {
    for _ in 0..5 {
        let max: Option<i32> =
            with_conn!(conn, |c| signing_keys::table.select(diesel::dsl::max(signing_keys::id)).first(c))?;
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
    with_conn!(conn, |c| diesel::update(signing_keys::table.find(i32::from(id)))
        .set(signing_keys::retired_at.eq(Some(now)))
        .execute(c))?;
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
