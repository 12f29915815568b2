//! The `vouchsafe` binary as an operator runs it.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::TestDb;

fn vouchsafe(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url_string())
        .env("VOUCHSAFE_LOG", "debug");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run vouchsafe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_on_a_fresh_database_then_again_is_up_to_date() {
    let db = TestDb::new();
    let (code, _, err) = run(vouchsafe(&db).arg("migrate"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("migration(s) applied"), "{err}");
    let (code, _, err) = run(vouchsafe(&db).arg("migrate"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("up to date"), "{err}");
}

#[test]
fn keys_create_prints_the_secret_alone_and_list_never_shows_it() {
    let db = TestDb::new();
    let (code, out, err) =
        run(vouchsafe(&db).args(["keys", "create", "--name", "checkout-eu", "--scopes", "checkout,reports"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the secret alone: {out:?}");
    let secret = lines[0];
    assert!(secret.starts_with("vsk_") && secret.len() == 4 + 12 + 1 + 64, "{secret}");
    assert!(!err.contains(secret), "the secret is not repeated on stderr");

    let (code, out, err) = run(vouchsafe(&db).args(["keys", "list"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("checkout-eu") && out.contains("checkout,reports") && out.contains("active"),
        "{out}"
    );
    assert!(!out.contains(&secret[17..]) && !err.contains(&secret[17..]), "no secret in a listing");

    let id = &secret[4..16];
    let (code, _, err) = run(vouchsafe(&db).args(["keys", "revoke", id]));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(vouchsafe(&db).args(["keys", "list"]));
    assert!(out.contains("revoked"), "{out}");

    let (code, _, err) = run(vouchsafe(&db).args(["keys", "revoke", "nosuchkey"]));
    assert_eq!(code, 1);
    assert!(err.contains("no API key with id nosuchkey"), "{err}");
}

#[test]
fn wrong_settings_are_one_clear_line_not_a_panic() {
    let db = TestDb::new();
    for (var, value, says) in [
        ("DATABASE_URL", "mysql://x", "expected postgres://"),
        ("VOUCHSAFE_BIND", "not-an-address", "--bind"),
        ("REDIS_URL", "http://x", "expected redis://"),
        ("VOUCHSAFE_LOG", "==", "log filter"),
    ] {
        let (code, out, err) = run(vouchsafe(&db).env(var, value).arg("migrate"));
        assert_eq!(code, 2, "{var}={value}: {err}");
        assert!(out.is_empty());
        assert!(err.starts_with("error: ") && err.contains(says), "{var}={value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(vouchsafe(&db).args(["keys", "create", "--name", "x", "--scopes", "root"]));
    assert_eq!(code, 2);
    assert!(err.contains("unknown scope `root`"), "{err}");
    let (code, _, err) = run(vouchsafe(&db).env("DATABASE_URL", "sqlite:///no/such/dir/v.db").arg("migrate"));
    assert_eq!(code, 1);
    assert!(err.starts_with("error: cannot open database") && !err.contains("panicked"), "{err}");
}

#[test]
fn serve_logs_no_secret_and_stops_gracefully_on_sigterm() {
    let db = TestDb::new();
    let (_, secret, _) = run(vouchsafe(&db).args(["keys", "create", "--name", "ops", "--scopes", "admin"]));
    let secret = secret.trim().to_owned();
    let mut child = vouchsafe(&db)
        .env("VOUCHSAFE_BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    let started = Instant::now();
    let addr = loop {
        banner.clear();
        assert!(stderr.read_line(&mut banner).unwrap() > 0, "server exited before listening");
        if let Some(rest) = banner.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    };

    let client = reqwest::blocking_client();
    let ok = client(&format!("http://{addr}/v1/keys"), &secret);
    assert_eq!(ok, 200);
    let bad = client(&format!("http://{addr}/v1/keys"), &format!("{secret}0"));
    assert_eq!(bad, 401);

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}\n{rest}");
    assert!(rest.contains("vouchsafe stopped"), "{rest}");
    assert!(rest.contains("answered"), "requests are logged at debug: {rest}");
    assert!(!rest.contains(&secret) && !rest.contains(&secret[17..]), "a secret reached the log:\n{rest}");
}

mod reqwest {
    /// A tiny blocking GET with a bearer key (the test above runs outside any async runtime).
    pub fn blocking_client() -> impl Fn(&str, &str) -> u16 {
        |url: &str, key: &str| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                ::reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap().status().as_u16()
            })
        }
    }
}

#[tokio::test]
async fn operators_import_generate_and_export_from_the_command_line() {
    let app = crate::helpers::TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.ndjson");
    let mut text = String::new();
    for i in 0..300 {
        text += &format!(
            "{{\"id\": \"cli-{i:03}\", \"loyalty_tier\": \"gold\", \"consent\": {{\"purpose\": \"personalized_offers\", \"granted\": {}, \"source\": \"cli\", \"policy_version\": \"1\"}}}}\n",
            i % 4 != 0
        );
    }
    text += "{\"id\": \"broken\"\n";
    std::fs::write(&file, text).unwrap();
    let campaign =
        app.campaign(serde_json::json!({"segment": {"kind": "loyalty_tier", "tiers": ["gold"]}})).await;

    let db = &app.db;
    let (code, out, err) = run(vouchsafe(db).arg("import").arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("imported 300 customers, rejected 1 lines"), "{err}");
    assert!(err.contains("line 301: malformed_json"), "{err}");

    let (code, _, err) = run(vouchsafe(db).args(["generate", &campaign]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("300 customers in segment, 225 vouchers issued, 75 skipped without consent"),
        "{err}"
    );

    let (code, csv, err) = run(vouchsafe(db).args(["export", &campaign, "--format", "csv"]));
    assert_eq!(code, 0, "{err}");
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "customer_id,code,variant,expires_at,status");
    assert_eq!(lines.count(), 225);

    let (code, _, err) = run(vouchsafe(db).args(["generate", "999999"]));
    assert_eq!(code, 1);
    assert!(err.contains("no campaign with id 999999"), "{err}");
}

/// Whether `text` holds `secret` or any 8-character piece of it.
fn leaks(text: &str, secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(8.min(chars.len())).any(|w| text.contains(&w.iter().collect::<String>()))
}

#[test]
fn wrong_secret_settings_are_named_but_never_echoed() {
    let db = TestDb::new();
    let hex63 = "0123456789abcdef".repeat(4)[..63].to_owned();
    let hex65 = format!("{hex63}ab");
    let not_hex = format!("{hex63}g");
    for (var, flag, value, secret) in [
        ("DATABASE_URL", "--database-url", "postgres://u:hunter2-Zq9xW7@[bad".to_owned(), "hunter2-Zq9xW7"),
        ("REDIS_URL", "--redis-url", "redis://:hunter2-Zq9xW7@host:notaport".to_owned(), "hunter2-Zq9xW7"),
        ("VOUCHSAFE_MASTER_KEY", "--master-key", hex63.clone(), &hex63),
        ("VOUCHSAFE_MASTER_KEY", "--master-key", hex65.clone(), &hex65),
        ("VOUCHSAFE_MASTER_KEY", "--master-key", not_hex.clone(), &not_hex),
    ] {
        let from_env = run(vouchsafe(&db).env(var, &value).arg("migrate"));
        let from_flag = run(vouchsafe(&db).arg(format!("{flag}={value}")).arg("migrate"));
        for (code, out, err) in [from_env, from_flag] {
            assert_eq!(code, 2, "{var}={value}: {err}");
            assert!(!leaks(&out, secret) && !leaks(&err, secret), "{var} leaked:\n{out}{err}");
            assert!(!leaks(&err, &value), "{var} leaked:\n{err}");
            let first = err.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("error: invalid ") && first.contains(var) && first.contains(flag),
                "{err}"
            );
        }
    }
    let (_, _, err) = run(vouchsafe(&db).env("VOUCHSAFE_MASTER_KEY", &hex63).arg("migrate"));
    assert!(err.contains("got 63 characters"), "says why: {err}");

    // Help shows which variables are read, not their values.
    let (code, out, err) = run(vouchsafe(&db)
        .env("DATABASE_URL", "postgres://u:hunter2-Zq9xW7@db/v")
        .env("REDIS_URL", "redis://:hunter2-Zq9xW7@r:6379")
        .arg("--help"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DATABASE_URL") && !leaks(&out, "hunter2-Zq9xW7"), "{out}");
}
