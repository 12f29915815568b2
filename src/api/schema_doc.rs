//! The last pass over `/openapi.json`, so that generators (openapi-python-client,
//! openapi-typescript) get named models and the service's own bounds:
//! - every internally tagged union (`Discount` on `type`, `Segment` on `kind`) becomes a
//!   `oneOf` of named variant schemas (`PercentDiscount`, `BirthdaySegment`, ...) with a
//!   `discriminator` and its `mapping`; utoipa writes the variants inline, unnamed;
//! - minimum/maximum, lengths, item counts and patterns come from [`crate::domain::bounds`],
//!   the constants the validators check against (one source; `tests/api/openapi.rs` sends a
//!   value just outside each bound and expects it refused).

use serde_json::{json, Map, Value};

use crate::domain::bounds::{
    CAMPAIGN_NAME_CHARS, CURRENCY_PATTERN, CUSTOMER_ID_PATTERN, LABEL_CHARS, MAX_ID_LEN, MAX_MINOR,
    MAX_TIERS, MAX_TIER_LEN, MAX_VARIANTS, PAGE_LIMIT, PERCENT, PREFIX_PATTERN, PURPOSE_PATTERN,
    VARIANT_NAME_CHARS, WEIGHT, WINDOW_DAYS, WITHIN_HOURS,
};

/// The voucher export's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// `application/json`: `{items, next_cursor}` (the default).
    Json,
    /// `application/x-ndjson`: one voucher per line.
    Ndjson,
    /// `text/csv`: a header line, then one voucher per line.
    Csv,
}

/// The document as served: `doc` with named tagged unions and the service's bounds.
pub fn finish(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    name_tagged_unions(&mut doc);
    let missing = apply_bounds(&mut doc);
    debug_assert!(missing.is_empty(), "bounds for schemas the document lacks: {missing:?}");
    doc
}

/// `abandoned_cart` → `AbandonedCart`.
fn pascal(tag: &str) -> String {
    tag.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The tag property and its value, if `variant` is an inline object whose property `key` is
/// a required single-value string enum.
fn tag_of<'a>(variant: &'a Value, key: &str) -> Option<&'a str> {
    let required = variant.get("required")?.as_array()?;
    if !required.iter().any(|r| r == key) {
        return None;
    }
    match variant.get("properties")?.get(key)?.get("enum")?.as_array()?.as_slice() {
        [Value::String(tag)] => Some(tag),
        _ => None,
    }
}

/// The property every variant is tagged on, if `variants` are all tagged objects.
fn union_key(variants: &[Value]) -> Option<String> {
    let first = variants.first()?.get("properties")?.as_object()?;
    first.keys().find(|key| variants.iter().all(|v| tag_of(v, key).is_some())).cloned()
}

fn name_tagged_unions(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    let mut named: Map<String, Value> = Map::new();
    for (union, schema) in schemas.iter_mut() {
        let Some(variants) = schema.get("oneOf").and_then(Value::as_array) else { continue };
        let Some(key) = union_key(variants) else { continue };
        let mut refs = Vec::new();
        let mut mapping = Map::new();
        for variant in variants {
            let tag = tag_of(variant, &key).unwrap_or_default();
            let name = format!("{}{union}", pascal(tag));
            let target = format!("#/components/schemas/{name}");
            mapping.insert(tag.to_owned(), json!(target));
            refs.push(json!({ "$ref": target }));
            let mut variant = variant.clone();
            if let Some(title) = variant.as_object_mut().and_then(|v| v.remove("title")) {
                variant["description"] = variant.get("description").cloned().unwrap_or(title);
            }
            named.insert(name, variant);
        }
        schema["oneOf"] = Value::Array(refs);
        schema["discriminator"] = json!({ "propertyName": key, "mapping": mapping });
    }
    schemas.extend(named);
}

/// One bound: where it goes (`schema.property`, `schema.property[]` for the array's items, or
/// `?param` / `{param}` for every operation's query or path parameter) and what it sets.
type Bound = (&'static str, Value);

fn bounds() -> Vec<Bound> {
    let range = |r: &std::ops::RangeInclusive<u32>| json!({ "minimum": r.start(), "maximum": r.end() });
    let chars = |r: &std::ops::RangeInclusive<usize>| json!({ "minLength": r.start(), "maxLength": r.end() });
    let customer_id = json!({ "minLength": 1, "maxLength": MAX_ID_LEN, "pattern": CUSTOMER_ID_PATTERN });
    let currency = json!({ "pattern": CURRENCY_PATTERN });
    let label = chars(&LABEL_CHARS);
    vec![
        ("?limit", range(&PAGE_LIMIT)),
        ("{customer_id}", customer_id.clone()),
        ("PercentDiscount.percent", range(&PERCENT)),
        ("Variant.weight", range(&WEIGHT)),
        ("Variant.name", chars(&VARIANT_NAME_CHARS)),
        ("CreateCampaign.name", chars(&CAMPAIGN_NAME_CHARS)),
        ("PatchCampaign.name", chars(&CAMPAIGN_NAME_CHARS)),
        ("CreateCampaign.variants", json!({ "minItems": 1, "maxItems": MAX_VARIANTS })),
        ("CreateCampaign.currency", currency.clone()),
        ("Budget.max_redemptions", json!({ "minimum": 1, "maximum": MAX_MINOR })),
        ("BirthdaySegment.window_days", range(&WINDOW_DAYS)),
        ("AbandonedCartSegment.within_hours", range(&WITHIN_HOURS)),
        ("LoyaltyTierSegment.tiers", json!({ "minItems": 1, "maxItems": MAX_TIERS })),
        ("LoyaltyTierSegment.tiers[]", json!({ "minLength": 1, "maxLength": MAX_TIER_LEN })),
        ("CodeSpec.prefix", json!({ "pattern": PREFIX_PATTERN })),
        ("IssueBody.customer_id", customer_id.clone()),
        ("CheckoutBody.customer_id", customer_id),
        ("Order.currency", currency.clone()),
        ("CartBody.currency", currency),
        ("CartBody.cart_id", label.clone()),
        ("ConsentBody.purpose", json!({ "pattern": PURPOSE_PATTERN })),
        ("ConsentBody.source", label.clone()),
        ("ConsentBody.policy_version", label),
    ]
}

fn set_all(target: &mut Value, bound: &Value) {
    if let (Some(target), Some(bound)) = (target.as_object_mut(), bound.as_object()) {
        for (k, v) in bound {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Applies [`bounds`]; answers the places it did not find (a test keeps this empty).
fn apply_bounds(doc: &mut Value) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (place, bound) in bounds() {
        let found = if let Some(name) = place.strip_prefix('?') {
            set_parameters(doc, "query", name, &bound)
        } else if let Some(name) = place.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            set_parameters(doc, "path", name, &bound)
        } else {
            let (schema, property) = place.split_once('.').unwrap_or((place, ""));
            let (property, items) = match property.strip_suffix("[]") {
                Some(p) => (p, true),
                None => (property, false),
            };
            let pointer = format!("/components/schemas/{schema}/properties/{property}");
            match doc.pointer_mut(&pointer) {
                Some(target) if items => target.get_mut("items").map(|t| set_all(t, &bound)).is_some(),
                Some(target) => {
                    set_all(target, &bound);
                    true
                }
                None => false,
            }
        };
        if !found {
            missing.push(place);
        }
    }
    missing
}

/// Sets `bound` on the schema of every `location` parameter called `name`; whether any was.
fn set_parameters(doc: &mut Value, location: &str, name: &str, bound: &Value) -> bool {
    let mut found = false;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return false };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for p in params.iter_mut().filter(|p| p["in"] == location && p["name"] == name) {
                if let Some(schema) = p.get_mut("schema") {
                    set_all(schema, bound);
                    found = true;
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_lands_on_a_schema_of_the_document() {
        let mut doc = serde_json::to_value(super::super::openapi()).unwrap();
        name_tagged_unions(&mut doc);
        assert_eq!(apply_bounds(&mut doc), Vec::<&str>::new());
    }

    #[test]
    fn tagged_unions_get_named_variants_and_a_discriminator() {
        let doc = finish(&super::super::openapi());
        let schemas = &doc["components"]["schemas"];
        for (union, key, variants) in [
            ("Discount", "type", &["percent", "amount"][..]),
            ("Segment", "kind", &["birthday", "abandoned_cart", "loyalty_tier", "all_consented"][..]),
        ] {
            let d = &schemas[union]["discriminator"];
            assert_eq!(d["propertyName"], key, "{union}");
            for tag in variants {
                let name = format!("{}{union}", pascal(tag));
                assert_eq!(d["mapping"][tag], format!("#/components/schemas/{name}"), "{union}");
                assert_eq!(schemas[&name]["properties"][key]["enum"], json!([tag]), "{name}");
            }
            assert_eq!(schemas[union]["oneOf"].as_array().unwrap().len(), variants.len());
        }
        assert_eq!(pascal("abandoned_cart"), "AbandonedCart");
    }
}
