//! `Idempotency-Key` for writes that create things: the same key with the same request gets
//! the first answer again (with `Idempotent-Replayed: true`); with another request, 422
//! `idempotency_key_reused`; while the first is still running, 409 `idempotency_in_progress`.
//! Failed requests free their key, so a retry runs again.

use std::future::Future;

use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::{error::ApiError, AppState};
use crate::store::idempotency;

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

/// Runs `write` at most once per (API key, Idempotency-Key).
pub async fn once<F, Fut>(
    state: &AppState,
    api_key_id: &str,
    key: Option<String>,
    fingerprint: String,
    write: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = key else {
        let (status, body) = write().await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let (who, k, fp) = (api_key_id.to_owned(), key.clone(), fingerprint.clone());
    let stored = state.db.run(move |c| idempotency::reserve(c, &who, &k, &fp)).await?;
    if let Some(stored) = stored {
        if stored.request_hash != fingerprint {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if stored.status == 0 {
            return Err(ApiError::IdempotencyInProgress);
        }
        let status = StatusCode::from_u16(stored.status as u16).unwrap_or(StatusCode::OK);
        return Ok(HttpResponse::build(status)
            .insert_header(("Idempotent-Replayed", "true"))
            .content_type("application/json")
            .body(stored.body));
    }
    match write().await {
        Ok((status, body)) => {
            let text = body.to_string();
            let (who, k, t) = (api_key_id.to_owned(), key, text.clone());
            state.db.run(move |c| idempotency::complete(c, &who, &k, status.as_u16() as i32, &t)).await?;
            Ok(HttpResponse::build(status).content_type("application/json").body(text))
        }
        Err(e) => {
            let (who, k) = (api_key_id.to_owned(), key);
            let _ = state.db.run(move |c| idempotency::release(c, &who, &k)).await;
            Err(e)
        }
    }
}
