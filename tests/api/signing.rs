//! Code-signing keys: made on first migrate, rotated and retired from the CLI, picked up by a
//! running service without a restart.

use std::{
    process::Command,
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
    assert!(out.contains("current"));

    // Without the master key the secret cannot be read, and the error says what to do.
    let (code, _, err) = vouchsafe(&db, &["keys", "list-signing"], None);
    assert_eq!(code, 1);
    assert!(err.contains("VOUCHSAFE_MASTER_KEY"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["keys", "list-signing"], Some(&"22".repeat(32)));
    assert_eq!(code, 1);
    assert!(err.contains("does not open it"), "{err}");
    let (code, _, err) = vouchsafe(&db, &["migrate"], Some("short"));
    assert_eq!(code, 2);
    assert!(err.contains("64 hex characters") && !err.contains("short\n"), "{err}");
}
