//! What makes `/openapi.json` generate a good client: operation ids, named union variants,
//! enums, the service's own bounds (and that a value just outside each is refused), the
//! JSON-array import.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use vouchsafe::domain::bounds::{
    CAMPAIGN_NAME_CHARS, MAX_ID_LEN, MAX_MINOR, MAX_TIERS, MAX_VARIANTS, PAGE_LIMIT, PERCENT,
    VARIANT_NAME_CHARS, WEIGHT, WINDOW_DAYS, WITHIN_HOURS,
};

use crate::helpers::{assert_problem, TestApp};

async fn doc(app: &TestApp) -> Value {
    app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap()
}

/// `verbResource`: a lower-case verb, then at least one capitalised word (so no snake_case
/// handler name and no bare one-word handler name such as `redeem` passes).
fn is_verb_camel_case(id: &str) -> bool {
    let mut words = 0;
    for (i, c) in id.char_indices() {
        if !c.is_ascii_alphanumeric() || (i == 0 && !c.is_ascii_lowercase()) {
            return false;
        }
        if c.is_ascii_uppercase() {
            words += 1;
        }
    }
    words >= 1
}

#[tokio::test]
async fn every_operation_has_a_unique_verb_id_a_tag_and_the_document_a_server() {
    let app = TestApp::spawn().await;
    let doc = doc(&app).await;
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(
                is_verb_camel_case(id),
                "{method} {path}: operationId {id} is not verbResource camelCase"
            );
            assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
            assert_eq!(op["tags"].as_array().map(Vec::len), Some(1), "{method} {path}: one tag");
        }
    }
    for id in [
        "upsertCustomer",
        "importCustomers",
        "exportCampaignVouchers",
        "getCampaignReportCsv",
        "redeemVoucher",
    ] {
        assert!(seen.contains(id), "{id} missing");
    }
    assert_eq!(
        doc["servers"],
        json!([{"url": "/", "description": "The instance that served this document"}])
    );
    assert!(!is_verb_camel_case("report_csv_route") && !is_verb_camel_case("redeem"));
}

#[tokio::test]
async fn statuses_scopes_and_the_export_format_are_enums() {
    let app = TestApp::spawn().await;
    let doc = doc(&app).await;
    let s = &doc["components"]["schemas"];
    let enum_of = |name: &str| s[name]["enum"].clone();
    assert_eq!(enum_of("VoucherStatus"), json!(["issued", "redeemed", "voided"]));
    assert_eq!(enum_of("JobStatus"), json!(["queued", "running", "done", "failed"]));
    assert_eq!(enum_of("CampaignStatus"), json!(["active", "paused", "ended"]));
    assert_eq!(enum_of("Scope"), json!(["crm", "checkout", "reports", "admin"]));
    assert_eq!(enum_of("ExportFormat"), json!(["json", "ndjson", "csv"]));
    let r = |name: &str| json!(format!("#/components/schemas/{name}"));
    assert_eq!(s["VoucherView"]["properties"]["status"]["$ref"], r("VoucherStatus"));
    assert_eq!(s["CustomerVoucher"]["properties"]["status"]["$ref"], r("VoucherStatus"));
    assert_eq!(s["JobView"]["properties"]["status"]["$ref"], r("JobStatus"));
    assert_eq!(s["Report"]["properties"]["status"]["$ref"], r("CampaignStatus"));
    assert_eq!(s["KeyView"]["properties"]["scopes"]["items"]["$ref"], r("Scope"));
    assert_eq!(s["Discount"]["discriminator"]["mapping"]["percent"], r("PercentDiscount"));
    assert_eq!(s["Segment"]["discriminator"]["mapping"]["abandoned_cart"], r("AbandonedCartSegment"));
}

/// The bounds the document declares for `property` of `schema`.
fn declared(doc: &Value, schema: &str, property: &str) -> (Value, Value) {
    let p = &doc["components"]["schemas"][schema]["properties"][property];
    if p.get("minimum").is_some() {
        (p["minimum"].clone(), p["maximum"].clone())
    } else if p.get("minLength").is_some() {
        (p["minLength"].clone(), p["maxLength"].clone())
    } else {
        (p["minItems"].clone(), p["maxItems"].clone())
    }
}

#[tokio::test]
async fn the_documents_bounds_are_the_validators_and_just_outside_each_is_refused() {
    let app = TestApp::spawn().await;
    let doc = doc(&app).await;
    let pair = |lo: u64, hi: u64| (json!(lo), json!(hi));
    let u = |r: &std::ops::RangeInclusive<u32>| pair(u64::from(*r.start()), u64::from(*r.end()));
    let z = |r: &std::ops::RangeInclusive<usize>| pair(*r.start() as u64, *r.end() as u64);
    assert_eq!(declared(&doc, "PercentDiscount", "percent"), u(&PERCENT));
    assert_eq!(declared(&doc, "Variant", "weight"), u(&WEIGHT));
    assert_eq!(declared(&doc, "Variant", "name"), z(&VARIANT_NAME_CHARS));
    assert_eq!(declared(&doc, "CreateCampaign", "name"), z(&CAMPAIGN_NAME_CHARS));
    assert_eq!(declared(&doc, "CreateCampaign", "variants"), pair(1, MAX_VARIANTS as u64));
    assert_eq!(declared(&doc, "BirthdaySegment", "window_days"), u(&WINDOW_DAYS));
    assert_eq!(declared(&doc, "AbandonedCartSegment", "within_hours"), u(&WITHIN_HOURS));
    assert_eq!(declared(&doc, "LoyaltyTierSegment", "tiers"), pair(1, MAX_TIERS as u64));
    assert_eq!(declared(&doc, "Budget", "max_redemptions"), pair(1, MAX_MINOR as u64));
    assert_eq!(declared(&doc, "IssueBody", "customer_id"), pair(1, MAX_ID_LEN as u64));
    let money = &doc["components"]["schemas"]["Money"];
    assert_eq!((money["minimum"].clone(), money["maximum"].clone()), pair(0, MAX_MINOR as u64));
    let limit = doc["paths"]["/v1/campaigns"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]
        .clone();
    assert_eq!((limit["minimum"].clone(), limit["maximum"].clone()), u(&PAGE_LIMIT));

    // The service: just inside each bound is taken, just outside is refused naming the field.
    let variant = |name: String, weight: u32| json!([{"name": name, "weight": weight}]);
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"discount": {"type": "percent", "percent": PERCENT.end()}}),
            json!({"discount": {"type": "percent", "percent": PERCENT.end() + 1}}),
            "discount.percent",
        ),
        (
            json!({"discount": {"type": "percent", "percent": PERCENT.start()}}),
            json!({"discount": {"type": "percent", "percent": PERCENT.start() - 1}}),
            "discount.percent",
        ),
        (
            json!({"variants": variant("a".repeat(*VARIANT_NAME_CHARS.end()), *WEIGHT.end())}),
            json!({"variants": variant("a".into(), WEIGHT.end() + 1)}),
            "variants[0].weight",
        ),
        (
            json!({"variants": variant("a".into(), *WEIGHT.start())}),
            json!({"variants": variant("a".repeat(VARIANT_NAME_CHARS.end() + 1), 1)}),
            "variants[0].name",
        ),
        (
            json!({"name": "n".repeat(*CAMPAIGN_NAME_CHARS.end())}),
            json!({"name": "n".repeat(CAMPAIGN_NAME_CHARS.end() + 1)}),
            "name",
        ),
        (
            json!({"segment": {"kind": "birthday", "window_days": WINDOW_DAYS.end()}}),
            json!({"segment": {"kind": "birthday", "window_days": WINDOW_DAYS.end() + 1}}),
            "segment.window_days",
        ),
        (
            json!({"segment": {"kind": "abandoned_cart", "min_value": 0, "within_hours": WITHIN_HOURS.end()}}),
            json!({"segment": {"kind": "abandoned_cart", "min_value": 0, "within_hours": WITHIN_HOURS.end() + 1}}),
            "segment.within_hours",
        ),
        (
            json!({"segment": {"kind": "loyalty_tier", "tiers": (0..MAX_TIERS).map(|i| format!("t{i}")).collect::<Vec<_>>()}}),
            json!({"segment": {"kind": "loyalty_tier", "tiers": (0..=MAX_TIERS).map(|i| format!("t{i}")).collect::<Vec<_>>()}}),
            "segment.tiers",
        ),
        (
            json!({"budget": {"max_redemptions": MAX_MINOR}}),
            json!({"budget": {"max_redemptions": MAX_MINOR + 1}}),
            "budget.max_redemptions",
        ),
        (json!({"min_order": MAX_MINOR}), json!({"min_order": MAX_MINOR + 1}), "min_order"),
    ];
    for (inside, outside, field) in cases {
        app.campaign(inside.clone()).await; // 201, or the helper panics
        let mut body = json!({
            "name": "Bounds", "currency": "EUR", "segment": {"kind": "all_consented"},
            "discount": {"type": "amount", "amount": 500}, "expires_at": "2099-01-01T00:00:00Z"
        });
        for (k, v) in outside.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = app.post_json("/v1/campaigns", &app.admin_key, &body).await;
        let problem = assert_problem(resp, 422, "invalid_body").await;
        assert!(
            problem["field"].as_str().unwrap_or_default().starts_with(field.split('.').next().unwrap()),
            "{outside}: {problem}"
        );
    }
    for (limit, status) in [
        (*PAGE_LIMIT.start(), 200),
        (*PAGE_LIMIT.end(), 200),
        (PAGE_LIMIT.start() - 1, 400),
        (PAGE_LIMIT.end() + 1, 400),
    ] {
        let resp = app.get(&format!("/v1/campaigns?limit={limit}"), &app.admin_key).await;
        assert_eq!(resp.status(), status, "limit={limit}");
    }
    let campaign = app.campaign(json!({})).await;
    let id_of = |n: usize| "x".repeat(n);
    let resp =
        app.put_json(&format!("/v1/customers/{}", id_of(MAX_ID_LEN)), &app.admin_key, &json!({})).await;
    assert_eq!(resp.status(), 201);
    let resp =
        app.put_json(&format!("/v1/customers/{}", id_of(MAX_ID_LEN + 1)), &app.admin_key, &json!({})).await;
    assert_problem(resp, 422, "invalid_body").await;
    let body = json!({"customer_id": id_of(MAX_ID_LEN + 1)});
    let resp = app.post_json(&format!("/v1/campaigns/{campaign}/vouchers"), &app.admin_key, &body).await;
    assert_problem(resp, 422, "invalid_body").await;
}

#[tokio::test]
async fn the_import_takes_a_json_array_with_the_ndjson_per_item_answers() {
    let app = TestApp::spawn().await;
    let items = json!([
        {"id": "j-1", "loyalty_tier": "gold"},
        {"id": " bad "},
        {"id": "j-3", "birthday": {"month": 2, "day": 30}},
        17,
        {"id": "j-5", "consent": {"purpose": "personalized_offers", "granted": true, "source": "t", "policy_version": "1"}}
    ]);
    let resp = app.post_json("/v1/customers/import", &app.admin_key, &items).await;
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["rejected_total"], 3);
    let rejected: Vec<(u64, &str)> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, vec![(2, "invalid_customer_id"), (3, "invalid_birthday"), (4, "invalid_body")]);
    // The same lines as NDJSON answer the same.
    let ndjson: String = items.as_array().unwrap().iter().map(|i| format!("{i}\n")).collect();
    let same: Value = app.import(ndjson).await.json().await.unwrap();
    assert_eq!(same["rejected"], summary["rejected"]);
    let resp = app.get("/v1/customers/j-5/export", &app.admin_key).await;
    let export: Value = resp.json().await.unwrap();
    assert_eq!(export["customer"]["personalized_offers"], true);

    // Not an array, or not JSON: the body as a whole is refused.
    let resp = app.post_json("/v1/customers/import", &app.admin_key, &json!({"id": "x"})).await;
    assert_problem(resp, 422, "invalid_body").await;
    let resp = app
        .client
        .post(app.url("/v1/customers/import"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("[{")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "malformed_json").await;
    // The typed twin answers the same; each operation declares one body media type (generators
    // write broken code for two), the NDJSON one as bytes.
    let twin: Value =
        app.post_json("/v1/customers/import.json", &app.admin_key, &items).await.json().await.unwrap();
    assert_eq!(twin["rejected"], summary["rejected"]);
    let resp = app.post_json("/v1/customers/import.json", &app.admin_key, &json!({"id": "x"})).await;
    assert_problem(resp, 422, "invalid_body").await;
    let doc = doc(&app).await;
    let ndjson = &doc["paths"]["/v1/customers/import"]["post"]["requestBody"]["content"];
    let json_op = &doc["paths"]["/v1/customers/import.json"]["post"]["requestBody"]["content"];
    assert_eq!(json_op["application/json"]["schema"]["items"]["$ref"], "#/components/schemas/ImportCustomer");
    assert_eq!(json_op.as_object().unwrap().len(), 1, "{json_op}");
    assert_eq!(ndjson.as_object().unwrap().len(), 1, "{ndjson}");
    let schema = &ndjson["application/x-ndjson"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    assert_eq!(
        (schema["type"].as_str(), schema["format"].as_str()),
        (Some("string"), Some("binary")),
        "{schema}"
    );
}
