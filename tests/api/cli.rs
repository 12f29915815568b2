//! The `vouchsafe` binary as an operator runs it.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, ChildStderr, Command, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::{closed_port, TestDb};

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
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: cannot open database") && !err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 2, "the database it is about, then why: {err}");
}

/// Starts `cmd` (a command that serves) and reads its stderr up to the banner: the child, the
/// rest of its stderr, the address it listens on and the lines before the banner.
#[allow(clippy::zombie_processes)] // the caller waits for it; a failed assertion ends the test anyway
fn serving(cmd: &mut Command) -> (Child, BufReader<ChildStderr>, String, String) {
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut before = String::new();
    let started = Instant::now();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "exited before listening:\n{before}");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            return (child, stderr, addr, before + &line);
        }
        before += &line;
        assert!(started.elapsed() < Duration::from_secs(60), "{before}");
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Reads one HTTP/1.1 answer (head and `Content-Length` body) from `stream`: status and body.
fn read_answer(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8];
    while !bytes.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "the connection closed mid-answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn ctrl_c_drains_like_sigterm_requests_in_flight_finish_and_the_exit_is_clean() {
    let db = TestDb::new();
    let (_, secret, _) = run(vouchsafe(&db).args(["keys", "create", "--name", "ops", "--scopes", "admin"]));
    let secret = secret.trim().to_owned();
    // A name, resolved: the service listens on localhost's IPv4 address.
    let (mut child, mut stderr, addr, _) = serving(vouchsafe(&db).env("VOUCHSAFE_BIND", "localhost:0"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // Three requests in flight when Ctrl-C comes: customer upserts whose heads the service has
    // taken up (it answered `100 Continue`, so they are not merely queued) and whose bodies are
    // still to come.
    let mut in_flight = Vec::new();
    for i in 0..3 {
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = format!(r#"{{"loyalty_tier": "gold", "birthday": {{"month": 5, "day": {}}}}}"#, i + 1);
        let head = format!(
            "PUT /v1/customers/drain-{i} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        conn.write_all(head.as_bytes()).unwrap();
        assert_eq!(read_answer(&mut conn).0, 100, "the service takes the request up");
        in_flight.push((conn, body));
    }

    signal(&child, "INT");
    // It stops taking connections…
    let started = Instant::now();
    while TcpStream::connect(&addr).is_ok() {
        assert!(started.elapsed() < Duration::from_secs(5), "still taking connections after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
    // …and the requests in flight finish, with their normal answer.
    for (mut conn, rest) in in_flight {
        conn.write_all(rest.as_bytes()).unwrap();
        let (status, body) = read_answer(&mut conn);
        assert_eq!(status, 201, "{body}");
        assert!(body.contains("\"loyalty_tier\":\"gold\""), "{body}");
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "Ctrl-C is a clean stop: {exit:?}\n{rest}");
    assert!(
        rest.contains("SIGINT: taking no new connections") && rest.contains("vouchsafe stopped"),
        "{rest}"
    );
}

#[test]
fn serve_logs_no_secret_and_stops_gracefully_on_sigterm() {
    let db = TestDb::new();
    let (_, secret, _) = run(vouchsafe(&db).args(["keys", "create", "--name", "ops", "--scopes", "admin"]));
    let secret = secret.trim().to_owned();
    let (mut child, mut stderr, addr, _) = serving(vouchsafe(&db).env("VOUCHSAFE_BIND", "127.0.0.1:0"));

    let client = reqwest::blocking_client();
    let ok = client(&format!("http://{addr}/v1/keys"), &secret);
    assert_eq!(ok, 200);
    let bad = client(&format!("http://{addr}/v1/keys"), &format!("{secret}0"));
    assert_eq!(bad, 401);

    signal(&child, "TERM");
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

#[test]
fn commands_that_write_say_which_database_they_used_and_never_its_password() {
    // No DATABASE_URL, as in a second shell: the default file, named in full, and said to be new.
    let dir = tempfile::tempdir().unwrap();
    let in_dir = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
        cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir.path());
        cmd
    };
    let file = dir.path().join("vouchsafe.db");
    let (code, _, err) = run(in_dir().args(["keys", "create", "--name", "a", "--scopes", "admin"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with(&format!("database: SQLite file {} (new: ", file.display())), "{err}");
    let (code, _, err) = run(in_dir().args(["keys", "create", "--name", "b", "--scopes", "crm"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.lines().next().unwrap(), format!("database: SQLite file {}", file.display()), "{err}");
    // A command that only reads says nothing of an existing database.
    let (code, out, err) = run(in_dir().args(["keys", "list"]));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("database:") && out.contains("crm"), "{err}");

    // The environment's database (either backend): where it is, which database.
    let db = TestDb::new();
    let (code, _, err) = run(vouchsafe(&db).args(["keys", "create", "--name", "c", "--scopes", "admin"]));
    assert_eq!(code, 0, "{err}");
    let first = err.lines().next().unwrap();
    match &db.url {
        vouchsafe::config::DatabaseUrl::Postgres(u) => {
            let u = url::Url::parse(u).unwrap();
            let (host, name) = (u.host_str().unwrap(), u.path().trim_start_matches('/'));
            assert!(
                first.starts_with("database: PostgreSQL ") && first.contains(&format!("{host}:")),
                "{first}"
            );
            assert!(first.contains(&format!("/{name}")), "{first}");
        }
        vouchsafe::config::DatabaseUrl::Sqlite(_) => {
            assert!(first.starts_with("database: SQLite file /"), "{first}")
        }
    }

    // A PostgreSQL URL with a password: named without it, also when it cannot connect.
    let url = format!("postgres://app:hunter2-Zq9xW7@127.0.0.1:{}/shop", closed_port());
    let (code, _, err) = run(in_dir().env("DATABASE_URL", &url).args(["keys", "revoke", "x"]));
    assert_eq!(code, 1, "{err}");
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/shop");
    assert!(err.starts_with(&format!("database: PostgreSQL 127.0.0.1:{port}/shop (user app)\n")), "{err}");
    assert!(!leaks(&err, "hunter2-Zq9xW7"), "{err}");
}

#[test]
fn a_postgres_url_without_a_database_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["postgres://postgres@127.0.0.1:5432", "postgres://postgres:hunter2-Zq9xW7@127.0.0.1:5432/"] {
        let (code, out, err) = run(Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
            .env_clear()
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .arg("migrate"));
        assert_eq!(code, 2, "{url}: {err}");
        assert!(out.is_empty());
        assert!(err.contains("names no database") && err.contains("@127.0.0.1:5432/vouchsafe"), "{err}");
        assert!(err.contains("createdb") && !leaks(&err, "hunter2-Zq9xW7"), "{err}");
    }
}

/// Runs `cmd` with its stdout a pipe nobody reads any more (`| head` once it has its lines).
fn into_a_closed_pipe(cmd: &mut Command) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd.stdout(writer).stderr(Stdio::piped()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn output_into_a_closed_pipe_ends_quietly() {
    let app = crate::helpers::TestApp::spawn().await;
    let campaign = app.campaign(serde_json::json!({})).await;
    for args in
        [vec!["export", &campaign, "--format", "csv"], vec!["report", &campaign], vec!["keys", "list"]]
    {
        let (code, err) = into_a_closed_pipe(vouchsafe(&app.db).env("VOUCHSAFE_LOG", "warn").args(&args));
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("error") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_demo_starts_afresh_each_run_serves_what_it_printed_and_refuses_a_database_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let demo = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .current_dir(dir.path())
            .env("VOUCHSAFE_BIND", "127.0.0.1:0")
            .args(["demo", "--size", "300"])
            .args(extra);
        cmd
    };
    let (code, _, err) = run(&mut demo(&["--no-serve"]));
    assert_eq!(code, 0, "{err}");

    // The second run: its own database again, made afresh, served on the port it prints.
    let (mut child, _stderr, addr, before) = serving(&mut demo(&[]));
    assert!(before.contains("made afresh on every run"), "{before}");
    let live: u64 = before
        .lines()
        .find_map(|l| l.strip_prefix("demo: ")?.split_once(" simulated redemptions count in the report"))
        .map(|(n, _)| n.parse().unwrap())
        .unwrap_or_else(|| panic!("{before}"));
    assert!(before.contains("cancelled and rolled back"), "{before}");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("export DATABASE_URL=") {
        assert!(stdout.read_line(&mut printed).unwrap() > 0, "{printed}");
    }
    let page = format!("http://{addr}/reports/campaigns/1");
    assert!(printed.contains(&format!("Open the report:  {page}\n")), "the URL it serves: {printed}");
    let key =
        printed.split("(a reports API key): ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (page_status, report) = rt.block_on(async {
        let client = ::reqwest::Client::new();
        let page = client.get(&page).basic_auth("me", Some(&key)).send().await.unwrap().status().as_u16();
        let url = format!("http://{addr}/v1/campaigns/1/report");
        let report: serde_json::Value =
            client.get(url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        (page, report)
    });
    assert_eq!(page_status, 200);
    let issued: u64 =
        report["variants"].as_array().unwrap().iter().map(|v| v["issued"].as_u64().unwrap()).sum();
    assert_eq!(issued, 300, "one voucher per demo customer, not one per run: {report}");
    assert_eq!(report["budget"]["redemptions"], live, "the figure it printed is the report's: {report}");
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());

    // A database of one's own that holds data: refused, untouched.
    let db = TestDb::new();
    let (code, _, err) = run(vouchsafe(&db).args(["demo", "--size", "50", "--no-serve"]));
    assert_eq!(code, 0, "an empty database is fine: {err}");
    let (code, _, err) = run(vouchsafe(&db).args(["demo", "--size", "50", "--no-serve"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the demo fills an empty database, and this one has 50 customer(s)"), "{err}");
}
