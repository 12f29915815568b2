use serde_json::json;

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "scopes": ["crm"]"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "malformed_json").await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body(r#"{"name": "x", "scopes": ["crm"]}"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_2_mib_body_is_413() {
    let app = TestApp::spawn().await;
    let big = format!(r#"{{"name": "{}", "scopes": ["crm"]}}"#, "a".repeat(2 << 20));
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("1048576"), "{body}");
}

#[tokio::test]
async fn a_well_formed_body_with_bad_fields_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "  ", "scopes": ["crm"]})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(body["field"], "name");
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": []})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(body["field"], "scopes");
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": ["root"]})).await,
        422,
        "invalid_body",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("root"), "{body}");
    assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": ["crm"], "extra": 1})).await,
        422,
        "invalid_body",
    )
    .await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/v1/nothing-here")).send().await.unwrap();
    assert_problem(resp, 404, "route_not_found").await;

    let resp = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "GET");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app.client.patch(app.url("/v1/keys")).bearer_auth(&app.admin_key).send().await.unwrap();
    let allow = resp.headers().get("allow").unwrap().to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app.client.post(app.url("/v1/keys/abc")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "DELETE");
    assert_problem(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::spawn().await;
    assert_problem(app.get("/v1/keys?limit=0", &app.admin_key).await, 400, "invalid_parameter").await;
    assert_problem(app.get("/v1/keys?limit=banana", &app.admin_key).await, 400, "invalid_parameter").await;
}

#[tokio::test]
async fn garbage_never_gets_a_500() {
    let app = TestApp::spawn().await;
    let bodies: [&[u8]; 6] =
        [b"", b"null", b"[]", b"\xff\xfe\x00", b"{\"name\": 5, \"scopes\": \"crm\"}", b"{{{{"];
    for body in bodies {
        let resp = app
            .client
            .post(app.url("/v1/keys"))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {body:?}");
        assert_eq!(resp.headers().get("content-type").unwrap(), "application/problem+json");
    }
}

/// Writes `parts` to a fresh connection, pausing between them, and reads until the server
/// closes it (or 5 s pass). Returns the status, the header lines (lower-cased) and the body.
fn raw_exchange(addr: &str, parts: &[&[u8]]) -> (u16, Vec<String>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        stream.write_all(part).unwrap();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer head: {answer:?}"));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, lines.map(str::to_ascii_lowercase).collect(), body.to_owned())
}

#[tokio::test]
async fn protocol_errors_answer_problem_json_where_they_reach_the_app() {
    let app = TestApp::spawn().await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let key = app.admin_key.clone();
    tokio::task::spawn_blocking(move || {
        // A body that breaks at the transfer level (a bad chunk size) after its head: the
        // handler sees a payload error and answers problem+json.
        let routes = [
            ("/v1/keys", "application/json", "malformed_json"),
            ("/v1/customers/import", "application/x-ndjson", "invalid_parameter"),
        ];
        for (path, ctype, code) in routes {
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\nContent-Type: {ctype}\r\n\
                 Transfer-Encoding: chunked\r\n\r\n"
            );
            let (status, headers, body) = raw_exchange(&addr, &[head.as_bytes(), b"ZZ\r\n{}\r\n0\r\n\r\n"]);
            assert_eq!(status, 400, "{path}: {headers:?} {body}");
            assert!(
                headers.contains(&"content-type: application/problem+json".to_owned()),
                "{path}: {headers:?}"
            );
            let problem: serde_json::Value = serde_json::from_str(&body).expect("a problem document");
            assert_eq!(problem["code"], code, "{path}: {body}");
        }

        // Heads that actix-http refuses itself, before any service runs (see `api::serve`): a
        // bare status, no body, and the connection closed; never a 5xx or a hang.
        let many: String = (0..100).map(|i| format!("X-H{i}: 1\r\n")).collect();
        let cases: [(Vec<u8>, u16); 4] = [
            (b"HELLO\r\n\r\n".to_vec(), 400),
            (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Bad: a\x01b\r\n\r\n".to_vec(), 400),
            (
                b"POST /v1/keys HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                    .to_vec(),
                400,
            ),
            (format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many}\r\n").into_bytes(), 431),
        ];
        for (raw, want) in cases {
            let (status, headers, body) = raw_exchange(&addr, &[&raw]);
            assert_eq!(status, want, "{:?}: {headers:?}", String::from_utf8_lossy(&raw[..20]));
            assert!(headers.contains(&"connection: close".to_owned()), "{headers:?}");
            assert!(
                headers.contains(&"content-length: 0".to_owned()) && body.is_empty(),
                "{headers:?} {body}"
            );
        }
    })
    .await
    .unwrap();
    // And the service goes on answering.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}
