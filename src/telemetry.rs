//! Logs and metrics.
//!
//! Logs go to stderr through `tracing`; a span per request carries its id, method and route
//! *pattern* (`/v1/customers/{customer_id}`), never the concrete path, so customer ids,
//! codes and keys stay out of the logs. Metrics are Prometheus counters and histograms per
//! route pattern and status.

use std::io::IsTerminal;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// Sets up the global log subscriber (once; later calls are ignored, as tests call it often).
pub fn init_logs(filter: &str) {
    // The redis crate's cluster client warns once per retried command while a shard fails
    // over (thousands of lines a second under load); the ledger logs each unavailable answer
    // itself. Its warnings come back when the filter names `redis`.
    let filter = if filter.contains("redis") { filter.to_owned() } else { format!("{filter},redis=error") };
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The service's Prometheus metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    redemptions: IntCounterVec,
    ledger_latency: HistogramVec,
}

impl Metrics {
    /// A fresh registry (one per app, so parallel tests do not share counters).
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by route pattern and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request").buckets(
                vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let redemptions = IntCounterVec::new(
            Opts::new(
                "vouchsafe_redemptions_total",
                "Redemption attempts by outcome (created, replayed or a refusal code)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let ledger_latency = HistogramVec::new(
            HistogramOpts::new(
                "vouchsafe_ledger_seconds",
                "Time the ledger took to decide and commit a redemption",
            )
            .buckets(vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0]),
            &["ledger"],
        )
        .expect("valid metric");
        registry.register(Box::new(requests.clone())).expect("unique metric");
        registry.register(Box::new(latency.clone())).expect("unique metric");
        registry.register(Box::new(redemptions.clone())).expect("unique metric");
        registry.register(Box::new(ledger_latency.clone())).expect("unique metric");
        Metrics { registry, requests, latency, redemptions, ledger_latency }
    }

    /// The registry, for later issues' own metrics (redemptions by outcome, ledger latency).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one answered request. `route` must come from a closed set (a route pattern, or
    /// `unmatched`); the method is reduced to one here, as any client can make methods up.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method_label(method), route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Every (method, route pattern, status) answered so far, with its count.
    pub fn request_counts(&self) -> Vec<(String, String, u16, u64)> {
        use prometheus::core::Collector;
        let mut out = Vec::new();
        for family in self.requests.collect() {
            for m in family.get_metric() {
                let label = |name: &str| {
                    m.get_label()
                        .iter()
                        .find(|l| l.name() == name)
                        .map(|l| l.value().to_owned())
                        .unwrap_or_default()
                };
                let status = label("status").parse().unwrap_or(0);
                out.push((label("method"), label("route"), status, m.get_counter().get_value() as u64));
            }
        }
        out
    }

    /// Counts one redemption attempt by outcome.
    pub fn observe_redemption(&self, outcome: &str) {
        self.redemptions.with_label_values(&[outcome]).inc();
    }

    /// Records how long the ledger took.
    pub fn observe_ledger(&self, ledger: &str, seconds: f64) {
        self.ledger_latency.with_label_values(&[ledger]).observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The `method` label: a standard method by name, anything else `OTHER`. Each label value is
/// a series of its own (a counter and 16 histogram lines), so a label taken from the request as
/// sent would let a caller without a key grow `/metrics` and the server's memory without bound.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::new();
        for m in ["FOO", "BREW", "get", "PROPFIND", "X-1"] {
            metrics.observe_request(m, "unmatched", 404, 0.001);
        }
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="OTHER",route="unmatched",status="404"} 5"#),
            "{text}"
        );
        assert!(!text.contains("BREW") && !text.contains("PROPFIND"), "{text}");
        assert_eq!(method_label("DELETE"), "DELETE");
    }
}
