//! The error half of `/openapi.json`, added in one place instead of on thirty handlers.
//!
//! Handlers declare their own success answers and the errors only they can give (404
//! `not_found`, 409 `already_redeemed`, ...). [`ErrorResponses`] then adds what follows from
//! an operation's shape, as the extractors and middleware answer it:
//! - any parameter or body: 400 `invalid_parameter` (query, header or path that cannot be
//!   read), and `malformed_json` for a JSON body;
//! - a JSON body: 413 `payload_too_large`, 415 `unsupported_media_type`, 422 `invalid_body`;
//! - an `Idempotency-Key` header: 409 `idempotency_in_progress`, 422 `idempotency_key_reused`;
//! - a security requirement: 401 `unauthorized`, 403 `forbidden` and 503
//!   `database_unavailable` (the key is looked up in the database);
//!
//! and it rewrites every error answer to `application/problem+json` with the `Problem` schema,
//! which is what [`super::error`] sends. An error a handler documents with another media
//! type (the report pages' HTML 401 for a browser) is left as declared.

use utoipa::openapi::{
    path::{Operation, ParameterIn},
    schema::Ref,
    Content, OpenApi, RefOr, Response,
};

use super::error::PROBLEM_JSON;

/// Adds the common error answers to every operation and makes every error problem+json.
pub struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                document_errors(op);
            }
        }
    }
}

fn problem_content() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
}

fn document_errors(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_input = !params.is_empty() || op.request_body.is_some();
    let idempotent = params
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Header && p.name.eq_ignore_ascii_case("idempotency-key"));
    let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());

    let mut common: Vec<(&str, &str)> = Vec::new();
    if json_body {
        common.push((
            "400",
            "`malformed_json`: the body is not JSON; `invalid_parameter`: a parameter is unreadable",
        ));
        common.push(("413", "`payload_too_large`: the body is over the limit"));
        common.push(("415", "`unsupported_media_type`: send `Content-Type: application/json`"));
        common.push(("422", "`invalid_body`: a field is missing or invalid (named in `field`)"));
    } else if has_input {
        common.push(("400", "`invalid_parameter`: a parameter or the body cannot be read"));
    }
    if idempotent {
        common.push((
            "409",
            "`idempotency_in_progress`: the first request with this Idempotency-Key still runs",
        ));
        common.push(("422", "`idempotency_key_reused`: this Idempotency-Key came with another request"));
    }
    if secured {
        common.push(("401", "`unauthorized`: no API key, or an unknown or revoked one"));
        common.push(("403", "`forbidden`: the key lacks the scope"));
        common.push(("503", "`database_unavailable`: the database did not answer; retry"));
    }
    for (status, description) in common {
        match op.responses.responses.get_mut(status) {
            Some(RefOr::T(existing)) => {
                // A page for a person (the report pages' 401) carries no problem `code`.
                let problem = existing.content.is_empty()
                    || existing.content.contains_key("application/json")
                    || existing.content.contains_key(PROBLEM_JSON);
                if problem && !existing.description.contains(description) {
                    existing.description = format!("{}; {description}", existing.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                let response = Response::new(description);
                op.responses.responses.insert(status.to_owned(), RefOr::T(response));
            }
        }
    }

    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        if !status.starts_with(['4', '5']) {
            continue;
        }
        let declared = response
            .content
            .shift_remove("application/json")
            .or_else(|| response.content.shift_remove(PROBLEM_JSON));
        if declared.is_none() && !response.content.is_empty() {
            continue; // another media type on purpose (a page for a person)
        }
        let mut content = declared.unwrap_or_else(problem_content);
        if content.schema.is_none() {
            content.schema = problem_content().schema;
        }
        response.content.insert(PROBLEM_JSON.to_owned(), content);
    }
}
