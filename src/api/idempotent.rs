//! The HTTP side of [`service::idempotency`](crate::service::idempotency): the request's
//! `Idempotency-Key` and fingerprint in, the answer out (with `Idempotent-Replayed: true` when
//! it is the first answer again).

use actix_web::{http::StatusCode, HttpRequest, HttpResponse};

use super::auth::Caller;
use crate::service::idempotency::{self, Answer, Idempotent};

/// The header's value as sent, if it was (the service checks it).
pub fn key_of(req: &HttpRequest) -> Option<Vec<u8>> {
    req.headers().get("idempotency-key").map(|v| v.as_bytes().to_vec())
}

/// A fingerprint of the request: method, path and the parsed body in canonical form.
pub fn fingerprint(req: &HttpRequest, body: &serde_json::Value) -> String {
    idempotency::fingerprint(req.method().as_str(), req.path(), body)
}

/// The idempotency context of a write by `caller` with this request and body.
pub fn context(req: &HttpRequest, caller: &Caller, body: &serde_json::Value) -> Idempotent {
    Idempotent { api_key_id: caller.key_id.clone(), key: key_of(req), fingerprint: fingerprint(req, body) }
}

/// The answer of an idempotent write as a response.
pub fn respond(answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = HttpResponse::build(status);
    if answer.replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    resp.content_type("application/json").body(answer.body)
}
