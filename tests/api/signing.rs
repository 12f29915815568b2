//! Code-signing keys: made on first migrate, rotated and retired from the CLI, picked up by a
//! running service without a restart.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use vouchsafe::{
    domain::code::{encode, verify, CodeError},
    store::{signing_keys, StoreError},
};

use crate::helpers::{TestApp, TestDb};

fn vouchsafe(db: &TestDb, args: &[&str], master: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
    cmd.env_clear().env("DATABASE_URL", db.url_string()).args(args);
    if let Some(m) = master {
        cmd.env("VOUCHSAFE_MASTER_KEY", m);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < Duration::from_secs(5), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn rotation_and_retirement_reach_a_running_service() {
    let app = TestApp::spawn().await;
    let signing = app.state.signing.clone();
    let ring = signing.keyring();
    let key1 = ring.current().expect("migrate made key 1");
    assert_eq!(key1.id(), 1);
    let old = encode(key1, "BDAY", 12, 1, 7, "cust-1").unwrap();

    let id = app.state.db.run(|c| signing_keys::rotate(c, None)).await.unwrap();
    assert_eq!(id, 2);
    wait_for("key 2 to be current", || signing.keyring().current().map(|k| k.id()) == Some(2)).await;
    let ring = signing.keyring();
    let new = encode(ring.current().unwrap(), "BDAY", 12, 1, 8, "cust-2").unwrap();
    assert_eq!(verify(&ring, &old, "cust-1").unwrap().key_id, 1, "old codes keep verifying");
    assert_eq!(verify(&ring, &new, "cust-2").unwrap().key_id, 2);

    app.state.db.run(|c| signing_keys::retire(c, 1)).await.unwrap();
    wait_for("key 1 to be retired", || {
        verify(&signing.keyring(), &old, "cust-1") == Err(CodeError::UnknownKey)
    })
    .await;
    assert!(verify(&signing.keyring(), &new, "cust-2").is_ok());

    let last = app.state.db.run(|c| signing_keys::retire(c, 2)).await;
    assert!(matches!(last, Err(StoreError::Conflict(ref m)) if m.contains("only active")), "{last:?}");
}

#[test]
fn the_cli_creates_rotates_and_retires_signing_keys() {
    let db = TestDb::new();
    let (code, _, err) = vouchsafe(&db, &["migrate"], None);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = vouchsafe(&db, &["keys", "list-signing"], None);
    assert!(out.lines().nth(1).unwrap().starts_with("1 ") && out.contains("current"), "{out}");

    let (code, out, err) = vouchsafe(&db, &["keys", "rotate-signing"], None);
    assert_eq!((code, out.as_str()), (0, "2\n"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "retire-signing", "1"], None);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = vouchsafe(&db, &["keys", "list-signing"], None);
    assert!(out.contains("retired") && out.contains("current (signs new codes)"), "{out}");

    let (code, _, err) = vouchsafe(&db, &["keys", "retire-signing", "2"], None);
    assert_eq!(code, 1);
    assert!(err.contains("only active signing key") && err.contains("rotate-signing"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "retire-signing", "99"], None);
    assert_eq!(code, 1);
    assert!(err.contains("no signing key with id 99"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "retire-signing", "300"], None);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_master_key_seals_signing_secrets_at_rest() {
    let db = TestDb::new();
    let master = "11".repeat(32);
    let (code, _, err) = vouchsafe(&db, &["migrate"], Some(&master));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = vouchsafe(&db, &["keys", "list-signing"], Some(&master));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("current") && out.contains(" sealed ") && !out.contains("not by"), "{out}");

    // Listing needs no secret; it tells which master key does not open a key.
    let (code, out, err) = vouchsafe(&db, &["keys", "list-signing"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" sealed "), "{out}");
    let (code, out, err) = vouchsafe(&db, &["keys", "list-signing"], Some(&"22".repeat(32)));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sealed (not by this master key)"), "{out}");

    // Without the master key, or with another one, no start: the error says what to do.
    let (code, err) = start_fails(&db, None);
    assert_eq!(code, 1);
    assert!(err.contains("VOUCHSAFE_MASTER_KEY"), "{err}");
    let (code, err) = start_fails(&db, Some(&"22".repeat(32)));
    assert_eq!(code, 1);
    assert!(err.contains("does not open it") && !err.contains(&"22".repeat(4)), "{err}");
    let (code, _, err) = vouchsafe(&db, &["migrate"], Some("short"));
    assert_eq!(code, 2);
    assert!(err.contains("64 hex characters") && !err.contains("short"), "{err}");
}

/// `vouchsafe serve` on `db`, stopped (SIGKILL to our own child) when dropped.
struct Serving {
    child: std::process::Child,
    addr: String,
    /// Standard error up to the "listening" banner (start-up warnings come before it).
    log: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the service; `Err((exit code, stderr))` when it stops before listening.
fn start(db: &TestDb, master: Option<&str>) -> Result<Serving, (i32, String)> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
    cmd.env_clear()
        .env("DATABASE_URL", db.url_string())
        .env("VOUCHSAFE_BIND", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(m) = master {
        cmd.env("VOUCHSAFE_MASTER_KEY", m);
    }
    let mut serving = Serving { child: cmd.spawn().unwrap(), addr: String::new(), log: String::new() };
    let mut stderr = BufReader::new(serving.child.stderr.take().unwrap());
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let code = serving.child.wait().unwrap().code().unwrap_or(-1);
            return Err((code, std::mem::take(&mut serving.log)));
        }
        serving.log += &line;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            serving.addr = rest.split_whitespace().next().unwrap().to_owned();
            // Keep draining stderr so the service never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return Ok(serving);
        }
    }
}

fn start_fails(db: &TestDb, master: Option<&str>) -> (i32, String) {
    match start(db, master) {
        Ok(s) => panic!("the service started: {}", s.log),
        Err(failed) => failed,
    }
}

fn starts(db: &TestDb, master: Option<&str>) -> Serving {
    start(db, master).unwrap_or_else(|(code, err)| panic!("the service did not start ({code}): {err}"))
}

fn stored_forms(db: &TestDb) -> Vec<(u8, bool)> {
    let store = vouchsafe::store::Db::connect(&db.url, 1).unwrap();
    let mut conn = store.get().unwrap();
    signing_keys::list(&mut conn).unwrap().iter().map(|k| (k.id, k.is_sealed())).collect()
}

#[test]
fn a_mistyped_master_key_is_refused_before_it_seals_anything() {
    let db = TestDb::new();
    let (right, typo) = ("ab".repeat(32), format!("{}ac", "ab".repeat(31)));
    let (code, _, err) = vouchsafe(&db, &["migrate"], Some(&right));
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = vouchsafe(&db, &["keys", "rotate-signing"], Some(&typo));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    // The database it is about (every command that writes names it), then one line on why.
    let err =
        err.strip_prefix(&format!("database: {}\n", db.url.describe())).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: cannot rotate: VOUCHSAFE_MASTER_KEY does not open sealed signing key(s) 1"),
        "{err}"
    );
    let (code, _, err) = vouchsafe(&db, &["keys", "rotate-signing"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("signing keys 1 are sealed and VOUCHSAFE_MASTER_KEY is not set"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "seal-signing"], Some(&typo));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not open sealed signing key(s) 1"), "{err}");
    assert_eq!(stored_forms(&db), [(1, true)], "nothing was added");

    // The right key still starts the service, and rotates.
    drop(starts(&db, Some(&right)));
    let (code, out, err) = vouchsafe(&db, &["keys", "rotate-signing"], Some(&right));
    assert_eq!((code, out.as_str()), (0, "2\n"), "{err}");
    drop(starts(&db, Some(&right)));
}

#[test]
fn a_retired_key_the_master_key_does_not_open_does_not_stop_a_start() {
    let db = TestDb::new();
    let (master, other) = ("12".repeat(32), "34".repeat(32));
    // Key 1 plain (no master key at first), key 2 sealed under another master key, then retired.
    let (code, _, err) = vouchsafe(&db, &["migrate"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "rotate-signing"], Some(&other));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "retire-signing", "2"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stored_forms(&db), [(1, false), (2, true)]);

    let serving = starts(&db, Some(&master));
    assert!(serving.log.contains("retired signing key 2 cannot be opened; skipped"), "{}", serving.log);
    assert!(!serving.log.contains(&master[..8]) && !serving.log.contains(&other[..8]), "{}", serving.log);
    drop(serving);

    // An active key the master key does not open still stops a start, naming the key.
    let (code, _, err) = vouchsafe(&db, &["keys", "rotate-signing"], Some(&other));
    assert_eq!(code, 0, "{err}");
    let (code, err) = start_fails(&db, Some(&master));
    assert_eq!(code, 1);
    assert!(err.contains("cannot load signing keys") && err.contains("key 3"), "{err}");
}

#[tokio::test]
async fn seal_signing_seals_plain_keys_and_codes_issued_before_still_verify() {
    // Codes issued by a service without a master key: its secrets are stored plain.
    let app = TestApp::spawn().await;
    app.consented_customer("c-seal", serde_json::json!({"loyalty_tier": "gold"})).await;
    let campaign = app.campaign(serde_json::json!({})).await;
    assert_eq!(app.generate(&campaign).await["status"], "done");
    let code = app.vouchers(&campaign).await[0]["code"].as_str().unwrap().to_owned();
    assert_eq!(stored_forms(&app.db), [(1, false)]);
    let master = "5a".repeat(32);

    // A master key with plain secrets: every start says to seal them.
    let serving = starts(&app.db, Some(&master));
    assert!(serving.log.contains("seal them with `vouchsafe keys seal-signing`"), "{}", serving.log);
    assert!(serving.log.contains("signing key(s) 1 are stored in plain text"), "{}", serving.log);
    drop(serving);

    let (code_no_key, _, err) = vouchsafe(&app.db, &["keys", "seal-signing"], None);
    assert_eq!(code_no_key, 1);
    assert!(
        err.lines().any(|l| l.starts_with("error: cannot seal signing keys: set VOUCHSAFE_MASTER_KEY")),
        "{err}"
    );
    let (exit, _, err) = vouchsafe(&app.db, &["keys", "seal-signing"], Some(&master));
    assert_eq!(exit, 0, "{err}");
    assert!(err.contains("sealed 1 signing key(s), 0 already were"), "{err}");
    assert_eq!(stored_forms(&app.db), [(1, true)]);
    let (exit, _, err) = vouchsafe(&app.db, &["keys", "seal-signing"], Some(&master));
    assert_eq!(exit, 0, "{err}");
    assert!(err.contains("sealed 0 signing key(s), 1 already were"), "running it again changes nothing");
    let (_, out, _) = vouchsafe(&app.db, &["keys", "list-signing"], Some(&master));
    assert!(out.contains(" sealed ") && !out.contains("plain"), "{out}");

    // The service starts with the master key, without the warning, and the old code verifies.
    let serving = starts(&app.db, Some(&master));
    assert!(!serving.log.contains("seal-signing"), "{}", serving.log);
    let body = serde_json::json!({"code": code, "customer_id": "c-seal",
        "order": {"id": "o-1", "amount": 12000, "currency": "EUR"}});
    let resp = reqwest::Client::new()
        .post(format!("http://{}/v1/validations", serving.addr))
        .bearer_auth(&app.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["valid"], true, "{v}");
}
