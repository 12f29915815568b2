//! The HTTP edge: actix-web handlers per resource, the auth extractor, problem+json errors,
//! request observation and the OpenAPI document generated from the handlers themselves.
//!
//! Routes are registered once, through `utoipa_actix_web`, so the served router and
//! `/openapi.json` come from the same list and cannot drift apart.

pub mod auth;
pub mod campaigns;
pub mod checkout;
pub mod customers;
pub mod error;
mod error_doc;
pub mod idempotent;
pub mod keys;
pub mod meta;
pub mod report_page;
pub mod reports;
pub mod schema_doc;

use std::{net::TcpListener, sync::Arc, time::Instant};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ResourceDef, Server, ServiceRequest, ServiceResponse},
    error::JsonPayloadError,
    http::{
        header::{HeaderName, HeaderValue},
        Method,
    },
    middleware::{from_fn, ErrorHandlers, Next},
    web, App, HttpRequest, HttpServer,
};
use rand::RngCore;
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use self::{auth::KeyCache, error::ApiError};
use crate::{ledger::Ledger, service::Services, signing::Signing, store::Db};

/// The largest JSON body accepted (NDJSON imports have their own, larger limit).
pub const JSON_LIMIT: usize = 1 << 20;

/// Everything a handler may reach: the [`Services`] (which it derefs to) and what only HTTP
/// needs (the API key cache, the route table, the OpenAPI document).
pub struct AppState {
    pub services: Services,
    pub keys: KeyCache,
    routes: RouteTable,
    openapi_json: String,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl AppState {
    /// State over a store and a ledger; API keys are trusted for `key_ttl` once looked up.
    /// Starts the generator's background loop.
    pub fn new(
        db: Db,
        ledger: Arc<dyn Ledger>,
        signing: Arc<Signing>,
        key_ttl: std::time::Duration,
    ) -> web::Data<AppState> {
        let doc = openapi();
        let routes = RouteTable::from_openapi(&doc);
        let openapi_json = schema_doc::finish(&doc).to_string();
        let services = Services::new(db.clone(), ledger, signing);
        services.generator.spawn();
        web::Data::new(AppState { keys: KeyCache::new(db, key_ttl), services, routes, openapi_json })
    }

    /// The OpenAPI document served at `/openapi.json`.
    pub fn openapi_json(&self) -> &str {
        &self.openapi_json
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "vouchsafe",
        description = "Personalized single-use vouchers: CRM generation, checkout redemption, marketer reports. \
                       Errors are RFC 9457 problem+json with a stable `code`.",
    ),
    // Relative: the service is the same wherever it is bound, so the server is wherever this
    // document was fetched from (generators and schemathesis resolve it against that URL).
    servers((url = "/", description = "The instance that served this document")),
    modifiers(&BearerAuth),
    components(schemas(
        error::Problem,
        schema_doc::ExportFormat,
        crate::domain::voucher::VoucherStatus,
        crate::domain::status::JobStatus,
    )),
    tags(
        (name = "meta", description = "Health, readiness, metrics and this document"),
        (name = "keys", description = "API keys (scope admin)"),
        (name = "customers", description = "Customers, consents, carts, export, erasure (scope crm)"),
        (name = "campaigns", description = "Campaigns (scope crm to write; crm or reports to read)"),
        (name = "generation", description = "Generation jobs, single issuance, voucher export"),
        (name = "checkout", description = "Validate, redeem, roll back (scope checkout)"),
        (name = "reports", description = "Budget and A/B reports: JSON, CSV, HTML (scope reports)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every route, registered once for both the router and the OpenAPI document.
fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(meta::index)
        .service(meta::healthz)
        .service(meta::readyz)
        .service(meta::metrics)
        .service(meta::openapi_json)
        .service(keys::create_key)
        .service(keys::list_keys)
        .service(keys::revoke_key)
        .service(customers::import_customers)
        .service(customers::import_customers_json)
        .service(customers::upsert_customer)
        .service(customers::add_consent)
        .service(customers::list_consents)
        .service(customers::put_cart)
        .service(customers::delete_cart)
        .service(customers::export_customer)
        .service(customers::erase_customer)
        .service(campaigns::create_campaign)
        .service(campaigns::list_campaigns)
        .service(campaigns::get_campaign)
        .service(campaigns::patch_campaign)
        .service(campaigns::start_generation)
        .service(campaigns::get_generation)
        .service(campaigns::issue_voucher)
        .service(campaigns::export_vouchers)
        .service(checkout::validate)
        .service(checkout::redeem)
        .service(checkout::rollback)
        .service(reports::report_json)
        .service(reports::report_csv_route)
        .service(reports::report_page)
        .service(reports::report_index);
}

/// The OpenAPI document of every route the app serves, with the error answers every route
/// shares (see [`error_doc`]). Applied here, not in `#[openapi(modifiers)]`, because the paths
/// only exist once the routes are registered.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes).split_for_parts();
    utoipa::Modify::modify(&error_doc::ErrorResponses, &mut doc);
    doc
}

/// Route patterns and their methods, to tell "no such route" (404) from "wrong method" (405).
struct RouteTable(Vec<(ResourceDef, Vec<Method>)>);

impl RouteTable {
    fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let table = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let ops = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ];
                let methods = ops.into_iter().filter(|(_, on)| *on).map(|(m, _)| m).collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        RouteTable(table)
    }

    fn allowed(&self, path: &str) -> Vec<Method> {
        let mut allow: Vec<Method> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, m)| m.iter().cloned())
            .collect();
        allow.dedup();
        allow
    }
}

async fn fallback(req: HttpRequest, state: web::Data<AppState>) -> Result<actix_web::HttpResponse, ApiError> {
    let allow = state.routes.allowed(req.path());
    let method = req.method().clone();
    if allow.is_empty() {
        // The path is echoed to the caller only; logs see the route pattern "unmatched".
        Err(ApiError::RouteNotFound { method, path: req.path().to_owned() })
    } else {
        Err(ApiError::MethodNotAllowed { method, allow })
    }
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match err {
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".into())
        }
        JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("the body is larger than the {limit}-byte limit"))
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Invalid { field: None, detail: e.to_string() }
        }
        JsonPayloadError::Deserialize(e) => ApiError::MalformedJson(e.to_string()),
        other => ApiError::MalformedJson(other.to_string()),
    };
    api.into()
}

fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a request path, once every `%XX` escape is decoded, is UTF-8. actix decodes paths
/// lossily (an invalid sequence becomes U+FFFD before routing), so `%FF` and `%FE` would name
/// the same customer; every path parameter is checked here, once, before any route runs.
fn path_decodes_to_utf8(raw: &str) -> bool {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// Answers 400 `invalid_parameter` for a path that is not UTF-8 once decoded.
async fn reject_undecodable_path(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if path_decodes_to_utf8(req.uri().path()) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let err = ApiError::InvalidParameter("the path is not valid UTF-8 once percent-decoded".into());
    Ok(req.error_response(err).map_into_right_body())
}

/// One span, one log line and one metric sample per request; echoes or assigns `X-Request-Id`.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| valid_request_id(id))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        });
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        key_id = tracing::field::Empty,
    );
    let result = next.call(req).instrument(span.clone()).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let elapsed = start.elapsed();
    if let Some(state) = state {
        state.metrics.observe_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), latency_ms = elapsed.as_secs_f64() * 1e3, "answered")
    });
    let mut res = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

/// Starts the HTTP service on `listener`. `workers = 0` means one per core.
///
/// Every answer of the app is problem+json or a page: `problemize` rewrites actix-web's own
/// plain-text error answers. Some protocol errors never reach the app, so they cannot be:
/// actix-http's HTTP/1 dispatcher answers them itself, before any service or middleware runs,
/// with an empty body and `connection: close`, and has no hook to change that answer:
/// - 400 for a request head it cannot parse: a malformed request line, method or URI, a header
///   with a forbidden byte, a bad or repeated `Content-Length`, `Content-Length` together with
///   chunked `Transfer-Encoding`, an HTTP/2 preface on this HTTP/1 listener;
/// - 431 for a head over 128 KiB or with more than 96 header fields;
/// - 408 for a head still incomplete after the client request timeout (5 s).
///
/// A body that breaks at the transfer level (a bad chunk) after its head was read does reach
/// the handler, as a payload error, and answers 400 problem+json. (When the head and the broken
/// chunk arrive in one read, the dispatcher can close the connection before the handler's
/// answer is written, as seen on the NDJSON import; that too happens inside actix-http.)
/// `tests/api/errors.rs` pins all of this.
pub fn serve(state: web::Data<AppState>, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let mut server = HttpServer::new(move || {
        let (app, _doc) = App::new().into_utoipa_app().configure(routes).split_for_parts();
        app.app_data(state.clone())
            .app_data(web::JsonConfig::default().limit(JSON_LIMIT).error_handler(json_error))
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::InvalidParameter(e.to_string()).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::InvalidParameter(e.to_string()).into()),
            )
            .default_service(web::to(fallback))
            .wrap(from_fn(auth::authenticate))
            .wrap(from_fn(reject_undecodable_path))
            .wrap(ErrorHandlers::new().default_handler(error::problemize))
            .wrap(from_fn(observe))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    // Signals are the binary's business (`app::serve_on` drains on SIGINT and SIGTERM alike).
    .disable_signals();
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    use super::path_decodes_to_utf8;
    use proptest::prelude::*;

    #[test]
    fn paths_with_escapes_of_invalid_utf8_are_told_apart() {
        assert!(path_decodes_to_utf8("/v1/customers/caf%C3%A9"));
        assert!(path_decodes_to_utf8("/v1/customers/%EF%BF%BD"));
        assert!(path_decodes_to_utf8("/v1/customers/100%"), "a lone % is text");
        assert!(path_decodes_to_utf8("/v1/customers/%zz"));
        assert!(!path_decodes_to_utf8("/v1/customers/%FF"));
        assert!(!path_decodes_to_utf8("/v1/customers/ok%C3"));
        assert!(!path_decodes_to_utf8("/v1/customers/%ED%A0%80"), "a surrogate is not UTF-8");
    }

    proptest! {
        #[test]
        fn any_text_percent_encoded_is_accepted(s in "\\PC*") {
            let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
            let path = format!("/v1/customers/{encoded}");
            prop_assert!(path_decodes_to_utf8(&path), "{}", path);
        }
    }
}
