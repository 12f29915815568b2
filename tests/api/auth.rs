use std::time::{Duration, Instant};

use base64::Engine;
use vouchsafe::store::api_keys;

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn missing_unknown_and_garbled_keys_are_401_with_a_challenge() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/v1/keys")).send().await.unwrap();
    assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer realm=\"vouchsafe\"");
    assert_problem(resp, 401, "unauthorized").await;

    let unknown = format!("vsk_aaaaaaaaaaaa_{}", "0".repeat(64));
    assert_problem(app.get("/v1/keys", &unknown).await, 401, "unauthorized").await;
    assert_problem(app.get("/v1/keys", "not-a-key").await, 401, "unauthorized").await;

    // A real key's id with a wrong secret is refused too.
    let real = app.key("admin").await;
    let forged = format!("{}{}", &real[..real.len() - 1], if real.ends_with('0') { '1' } else { '0' });
    assert_problem(app.get("/v1/keys", &forged).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn scopes_decide_403_or_200() {
    let app = TestApp::spawn().await;
    for scope in ["crm", "checkout", "reports", "crm,checkout,reports"] {
        let key = app.key(scope).await;
        let body = assert_problem(app.get("/v1/keys", &key).await, 403, "forbidden").await;
        assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");
    }
    let admin = app.key("admin").await;
    assert_eq!(app.get("/v1/keys", &admin).await.status(), 200);
}

#[tokio::test]
async fn http_basic_with_the_key_as_password_is_accepted() {
    let app = TestApp::spawn().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("marketer:{}", app.admin_key));
    let resp = app
        .client
        .get(app.url("/v1/keys"))
        .header("Authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_within_seconds() {
    let app = TestApp::spawn().await;
    let key = app.key("admin").await;
    assert_eq!(app.get("/v1/keys", &key).await.status(), 200, "cached as valid now");
    let id = key.split('_').nth(1).unwrap().to_owned();
    let revoked = app.state.db.run(move |c| api_keys::revoke(c, &id)).await.unwrap();
    assert!(revoked.revoked_at.is_some());

    let started = Instant::now();
    loop {
        let status = app.get("/v1/keys", &key).await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(5), "revocation not honoured within 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Other keys are unaffected.
    assert_eq!(app.get("/v1/keys", &app.admin_key).await.status(), 200);
}

#[tokio::test]
async fn keys_over_http_create_list_and_revoke_without_showing_secrets() {
    let app = TestApp::spawn().await;
    let resp = app
        .post_json(
            "/v1/keys",
            &app.admin_key,
            &serde_json::json!({"name": " checkout-eu ", "scopes": ["checkout"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(created["name"], "checkout-eu");
    assert_eq!(created["scopes"], serde_json::json!(["checkout"]));
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    let list = app.get("/v1/keys?limit=500", &app.admin_key).await.text().await.unwrap();
    assert!(list.contains(&id));
    assert!(!list.contains(&secret), "a listing never shows a secret");
    assert!(!list.contains("secret"), "nor a field for one");

    // Pagination: one per page walks every key exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/keys?limit=1&cursor={c}"),
            None => "/v1/keys?limit=1".into(),
        };
        let page: serde_json::Value = app.get(&path, &app.admin_key).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 2, "admin key and the new one: {seen:?}");

    let resp = app
        .client
        .delete(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let revoked: serde_json::Value = resp.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    let again = app
        .client
        .delete(app.url(&format!("/v1/keys/{id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["revoked_at"], revoked["revoked_at"], "revoking twice keeps the first time");

    let resp =
        app.client.delete(app.url("/v1/keys/nosuchkey")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_problem(resp, 404, "not_found").await;
}
