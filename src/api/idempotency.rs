//! `Idempotency-Key` for writes that create things: the same key with the same request gets
//! the first answer again (with `Idempotent-Replayed: true`); with another request, 422
//! `idempotency_key_reused`; while an unanswered reservation's lease runs (only ever left by
//! an older version), 409 `idempotency_in_progress`. Failed requests free their key, so a
//! retry runs again.

use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::{error::ApiError, AppState};
use crate::store::{
    idempotency::{self, Once},
    Conn,
};

/// The header's value, if sent (1 to 255 printable ASCII characters).
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    let s = v.to_str().map_err(|_| ApiError::InvalidParameter("Idempotency-Key must be ASCII".into()))?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidParameter(
            "Idempotency-Key must be 1 to 255 printable characters".into(),
        ));
    }
    Ok(Some(s.to_owned()))
}

/// A fingerprint of the request: method, path and the parsed body in canonical form.
pub fn fingerprint(req: &HttpRequest, body: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    h.update(req.method().as_str());
    h.update(b" ");
    h.update(req.path());
    h.update(b"\n");
    h.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Runs `write`, a database write, at most once per (API key, Idempotency-Key): the key's
/// reservation, the write and its answer commit together (see `store::idempotency`), so a
/// crash or a failure frees the key and a concurrent retry waits for the first answer.
pub async fn once<W>(
    state: &AppState,
    api_key_id: &str,
    key: Option<String>,
    fingerprint: String,
    write: W,
) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(&mut Conn) -> Result<(StatusCode, serde_json::Value), ApiError> + Send + 'static,
{
    let Some(key) = key else {
        let (status, body) = state.db.run(move |c| Ok(write(c))).await??;
        return Ok(HttpResponse::build(status).json(body));
    };
    let (who, fp) = (api_key_id.to_owned(), fingerprint.clone());
    let outcome = state
        .db
        .run(move |c| {
            idempotency::once_in_tx(c, &who, &key, &fp, |c| {
                let (status, body) = write(c)?;
                Ok::<_, ApiError>((i32::from(status.as_u16()), body.to_string()))
            })
        })
        .await?;
    match outcome {
        Once::Ran { status, body } => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            Ok(HttpResponse::build(status).content_type("application/json").body(body))
        }
        Once::Stored(stored) if stored.request_hash != fingerprint => Err(ApiError::IdempotencyKeyReused),
        Once::Stored(stored) if stored.status == 0 => Err(ApiError::IdempotencyInProgress),
        Once::Stored(stored) => {
            let status = StatusCode::from_u16(stored.status as u16).unwrap_or(StatusCode::OK);
            Ok(HttpResponse::build(status)
                .insert_header(("Idempotent-Replayed", "true"))
                .content_type("application/json")
                .body(stored.body))
        }
        Once::Failed(e) => Err(e),
    }
}
