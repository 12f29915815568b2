//! `Idempotency-Key` for writes that create things: the same key with the same request gets
//! the first answer again (replayed); with another request, `IdempotencyKeyReused`; while an
//! unanswered reservation's lease runs (only ever left by an older version),
//! `IdempotencyInProgress`. Failed requests free their key, so a retry runs again.

use sha2::{Digest, Sha256};

use super::ServiceError;
use crate::store::{
    idempotency::{self, Once},
    Conn, Db,
};

/// Checks an `Idempotency-Key` value: 1 to 255 printable ASCII characters.
pub fn parse_key(raw: &[u8]) -> Result<String, ServiceError> {
    let invalid = ServiceError::InvalidIdempotencyKey;
    let s = std::str::from_utf8(raw)
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or(invalid("Idempotency-Key must be ASCII"))?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("Idempotency-Key must be 1 to 255 printable characters"));
    }
    Ok(s.to_owned())
}

/// A fingerprint of a request: method, path and the parsed body in canonical form.
pub fn fingerprint(method: &str, path: &str, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(method);
    h.update(b" ");
    h.update(path);
    h.update(b"\n");
    h.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Who asks, under which key, for what: the idempotency context of one write.
#[derive(Debug, Clone)]
pub struct Idempotent {
    /// The caller's API key id (keys are per caller).
    pub api_key_id: String,
    /// The `Idempotency-Key` as sent, if it was: checked by [`Idempotent::key`] when the
    /// write is about to run, so that what the use case refuses first is answered first.
    pub key: Option<Vec<u8>>,
    /// [`fingerprint`] of the request.
    pub fingerprint: String,
}

impl Idempotent {
    /// The key, checked ([`parse_key`]).
    pub fn key(&self) -> Result<Option<String>, ServiceError> {
        self.key.as_deref().map(parse_key).transpose()
    }
}

/// The answer of a write: a status and a JSON body, possibly the first answer replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The first answer to this key, replayed.
    pub replayed: bool,
}

/// Runs `write`, a database write, at most once per (API key, Idempotency-Key): the key's
/// reservation, the write and its answer commit together (see `store::idempotency`), so a
/// crash or a failure frees the key and a concurrent retry waits for the first answer.
pub async fn once<W>(db: &Db, idem: Idempotent, write: W) -> Result<Answer, ServiceError>
where
    W: FnOnce(&mut Conn) -> Result<(u16, serde_json::Value), ServiceError> + Send + 'static,
{
    let key = idem.key()?;
    let Idempotent { api_key_id, fingerprint, .. } = idem;
    let Some(key) = key else {
        let (status, body) = db.run(move |c| Ok(write(c))).await??;
        return Ok(Answer { status, body: body.to_string(), replayed: false });
    };
    let fp = fingerprint.clone();
    let outcome = db
        .run(move |c| {
            idempotency::once_in_tx(c, &api_key_id, &key, &fp, |c| {
                let (status, body) = write(c)?;
                Ok::<_, ServiceError>((i32::from(status), body.to_string()))
            })
        })
        .await?;
    match outcome {
        Once::Ran { status, body } => Ok(Answer { status: status as u16, body, replayed: false }),
        Once::Stored(stored) if stored.request_hash != fingerprint => Err(ServiceError::IdempotencyKeyReused),
        Once::Stored(stored) if stored.status == 0 => Err(ServiceError::IdempotencyInProgress),
        Once::Stored(stored) => {
            Ok(Answer { status: stored.status as u16, body: stored.body, replayed: true })
        }
        Once::Failed(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        assert_eq!(parse_key(b"k-1").unwrap(), "k-1");
        assert_eq!(parse_key(&[b'a'; 255]).unwrap().len(), 255);
        assert!(parse_key(&[b'a'; 256]).is_err());
        assert!(parse_key(b"").is_err());
        assert!(parse_key(b"with space").is_err());
        assert!(parse_key("caf\u{e9}".as_bytes()).is_err());
    }
}
