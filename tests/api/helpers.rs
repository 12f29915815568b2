//! `TestApp`: the real service on a random port with its own database and Redis key prefix.
//!
//! The backend comes from the environment: `TEST_DATABASE_URL=postgres://…/postgres` makes a
//! fresh database with a random name per test (dropped afterwards), otherwise each test gets a
//! SQLite file in its own temp dir. `TEST_REDIS_URL` selects the Redis ledger with a random key
//! prefix per test (its keys deleted afterwards), otherwise the SQL ledger. The throwaway
//! database and prefix themselves are `vouchsafe::testkit`'s, shared with the benches.

#![allow(dead_code)]

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::web;
use serde_json::Value;
pub use vouchsafe::testkit::{
    closed_port, random_name, test_redis, tool_on_path, OwnRedis, RedisPrefix, TestDb,
};
use vouchsafe::{
    api::{self, AppState},
    config::{DatabaseUrl, Settings},
    domain::access::Scopes,
    ledger::{
        redis::RedisLedger,
        redis_target::{RedisConn, RedisTarget},
        sql::SqlLedger,
        Ledger,
    },
    signing::Signing,
    store::{api_keys, Db},
};

impl Drop for TestApp {
    fn drop(&mut self) {
        self.record_statuses();
    }
}

/// A connection to a test's Redis, one server or a cluster (`redis+cluster://…`).
pub async fn redis_conn(url: &str) -> RedisConn {
    RedisTarget::parse(url).expect("redis url").connect(Duration::from_secs(5)).await.expect("redis answers")
}

/// What a test may change about the app it spawns.
pub struct Options {
    /// Use the SQL ledger even when TEST_REDIS_URL is set.
    pub sql_ledger: bool,
    /// A Redis ledger on this URL (a test's own server) instead of the environment's.
    pub redis_url: Option<String>,
    pub key_ttl: Duration,
    pub db: Option<Db>,
    pub ledger: Option<Arc<dyn Ledger>>,
    pub migrate: bool,
    /// The Redis key prefix (default: a random one per test).
    pub redis_prefix: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sql_ledger: false,
            redis_url: None,
            key_ttl: Duration::from_secs(2),
            db: None,
            ledger: None,
            migrate: true,
            redis_prefix: None,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub admin_key: String,
    pub db: TestDb,
    pub redis: Option<RedisPrefix>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// An app whose database (and SQL ledger) never answers: a closed port.
    pub async fn spawn_on_a_dead_database() -> TestApp {
        let url: DatabaseUrl =
            format!("postgres://postgres@127.0.0.1:{}/gone", closed_port()).parse().unwrap();
        let dead = Db::connect(&url, 2).unwrap();
        Self::spawn_with(Options {
            db: Some(dead.clone()),
            ledger: Some(Arc::new(SqlLedger::new(dead))),
            ..Options::default()
        })
        .await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        vouchsafe::telemetry::init_logs(&std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()));
        let test_db = TestDb::new();
        let store = Db::connect(&test_db.url, 4).expect("pool");
        let settings = Settings::for_database(test_db.url.clone());
        vouchsafe::app::migrate(&store, &settings).await.expect("migrations");
        let signing = Signing::load(store.clone(), None).await.expect("signing keys");
        signing.spawn_refresh(Duration::from_millis(200));
        let env_redis = if opts.sql_ledger {
            Err(std::env::VarError::NotPresent)
        } else {
            std::env::var("TEST_REDIS_URL")
        };
        let env_redis = match opts.redis_url {
            Some(u) => Ok(u),
            None => env_redis,
        };
        let (ledger, redis): (Arc<dyn Ledger>, _) = match (opts.ledger, env_redis) {
            (Some(l), _) => (l, None),
            (None, Ok(url)) => {
                let prefix = opts.redis_prefix.clone().unwrap_or_else(|| random_name("t"));
                (
                    {
                        let ledger = Arc::new(
                            RedisLedger::new(&url, &prefix, Some(store.clone())).expect("redis url"),
                        );
                        ledger.spawn_sweeper(Duration::from_secs(1));
                        ledger
                    },
                    Some(RedisPrefix { url, prefix }),
                )
            }
            (None, Err(_)) => (Arc::new(SqlLedger::new(store.clone())), None),
        };
        let served_db = opts.db.unwrap_or_else(|| store.clone());
        let state = AppState::new(served_db, ledger, signing, opts.key_ttl);
        let admin_key = {
            let scopes: Scopes = "admin".parse().unwrap();
            store.run(move |c| api_keys::create(c, "test-admin", scopes)).await.expect("admin key").1
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let server = api::serve(state.clone(), listener, 2).expect("server");
        tokio::spawn(server);
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            state,
            admin_key,
            db: test_db,
            redis,
        }
    }

    /// Appends every (method, route, status) this app answered to a file in
    /// `$OBSERVED_STATUSES_DIR`, for `.ci/check_statuses.py` to hold against the document.
    fn record_statuses(&self) {
        let Ok(dir) = std::env::var("OBSERVED_STATUSES_DIR") else { return };
        let lines: String = self
            .state
            .metrics
            .request_counts()
            .into_iter()
            .map(|(method, route, status, n)| format!("{method}\t{route}\t{status}\t{n}\n"))
            .collect();
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(format!("{}.tsv", random_name("app"))), lines))
            .and_then(|_| {
                // Every app serves the same document; a rename replaces it whole.
                let tmp = dir.join(format!("{}.json.tmp", random_name("doc")));
                std::fs::write(&tmp, self.state.openapi_json())?;
                std::fs::rename(tmp, dir.join("openapi.json"))
            })
            .expect("record statuses");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A new key with these scopes (comma-separated).
    /// Posts an NDJSON customer import with the admin key.
    pub async fn import(&self, ndjson: String) -> reqwest::Response {
        self.client
            .post(self.url("/v1/customers/import"))
            .bearer_auth(&self.admin_key)
            .header("content-type", "application/x-ndjson")
            .body(ndjson)
            .send()
            .await
            .unwrap()
    }

    pub async fn key(&self, scopes: &str) -> String {
        let scopes: Scopes = scopes.parse().unwrap();
        self.state.db.run(move |c| api_keys::create(c, "test", scopes)).await.unwrap().1
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(key).send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(key).json(body).send().await.expect("request")
    }

    pub async fn put_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client.put(self.url(path)).bearer_auth(key).json(body).send().await.expect("request")
    }

    pub async fn patch_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client.patch(self.url(path)).bearer_auth(key).json(body).send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, key: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).bearer_auth(key).send().await.expect("request")
    }

    /// POSTs and expects `status`; returns the JSON body.
    pub async fn post_ok(&self, path: &str, body: &Value, status: u16) -> Value {
        let resp = self.post_json(path, &self.admin_key, body).await;
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A consented customer with these profile fields.
    pub async fn consented_customer(&self, id: &str, profile: Value) {
        let resp = self.put_json(&format!("/v1/customers/{id}"), &self.admin_key, &profile).await;
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        self.consent(id, true).await;
    }

    /// Grants or revokes personalized_offers.
    pub async fn consent(&self, id: &str, granted: bool) -> Value {
        let body = serde_json::json!({"purpose": "personalized_offers", "granted": granted,
            "source": "test", "policy_version": "2026-01"});
        self.post_ok(&format!("/v1/customers/{id}/consents"), &body, 201).await
    }

    /// Creates a campaign from a base JSON merged with `overrides`; returns its id.
    pub async fn campaign(&self, overrides: Value) -> String {
        let mut body = serde_json::json!({
            "name": "Test campaign", "currency": "EUR",
            "segment": {"kind": "all_consented"},
            "discount": {"type": "percent", "percent": 25, "max_amount": 5000},
            "min_order": 2000,
            "budget": {"max_amount": 1000000, "max_redemptions": 500},
            "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z",
            "code": {"prefix": "TEST"}
        });
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        let created = self.post_ok("/v1/campaigns", &body, 201).await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Runs a generation job over HTTP and waits for it to finish; returns the job.
    pub async fn generate(&self, campaign: &str) -> Value {
        let job = self.post_ok(&format!("/v1/campaigns/{campaign}/generations"), &Value::Null, 202).await;
        self.wait_job(job["id"].as_str().unwrap()).await
    }

    /// Polls a job until it is done or failed.
    pub async fn wait_job(&self, id: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let job: Value =
                self.get(&format!("/v1/generations/{id}"), &self.admin_key).await.json().await.unwrap();
            if job["status"] == "done" || job["status"] == "failed" {
                return job;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "job did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The start of every Redis key of this app's database: `prefix:deployment id`.
    pub async fn redis_scope(&self) -> String {
        let id = self.state.db.run(vouchsafe::store::deployment::id).await.unwrap();
        format!("{}:{id}", self.redis.as_ref().expect("a Redis ledger").prefix)
    }

    /// The campaign's vouchers (JSON export).
    pub async fn vouchers(&self, campaign: &str) -> Vec<Value> {
        let body: Value = self
            .get(&format!("/v1/campaigns/{campaign}/vouchers"), &self.admin_key)
            .await
            .json()
            .await
            .unwrap();
        body["items"].as_array().unwrap().clone()
    }
}

/// Asserts a problem+json answer with this status and code; returns the body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ctype.as_deref(), Some("application/problem+json"), "content type");
    let body: Value = resp.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status, "status in {body}");
    assert!(body["type"].as_str().unwrap().ends_with(code), "type in {body}");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "title in {body}");
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()), "detail in {body}");
    body
}
