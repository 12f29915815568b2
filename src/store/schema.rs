// The diesel schema, shared by both backends (the migrations in migrations/postgres and
// migrations/sqlite create the same tables with the same column types). Kept in the shape
// `diesel print-schema` writes; regenerate rather than hand-edit when a migration changes.

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (id) {
        id -> Integer,
        secret -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        birth_md -> Nullable<Integer>,
        loyalty_tier -> Nullable<Text>,
        offers_consent -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    consents (id) {
        id -> BigInt,
        customer_id -> Text,
        purpose -> Text,
        granted -> Bool,
        source -> Text,
        policy_version -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    carts (customer_id, cart_id) {
        customer_id -> Text,
        cart_id -> Text,
        value -> BigInt,
        currency -> Text,
        abandoned_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Integer,
        name -> Text,
        currency -> Text,
        segment -> Text,
        discount -> Text,
        min_order -> BigInt,
        budget_amount -> Nullable<BigInt>,
        budget_redemptions -> Nullable<BigInt>,
        starts_at -> Timestamp,
        expires_at -> Timestamp,
        status -> Text,
        prefix -> Text,
        salt -> Text,
        variants -> Text,
        next_serial -> BigInt,
        spent -> BigInt,
        redeemed -> BigInt,
        revision -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        analysis -> Nullable<Text>,
    }
}

diesel::table! {
    vouchers (campaign_id, serial) {
        campaign_id -> Integer,
        serial -> BigInt,
        customer_id -> Nullable<Text>,
        variant -> Integer,
        key_id -> Integer,
        code -> Nullable<Text>,
        status -> Text,
        issued_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    generation_jobs (id) {
        id -> Text,
        campaign_id -> Integer,
        status -> Text,
        total -> BigInt,
        processed -> BigInt,
        issued -> BigInt,
        skipped_no_consent -> BigInt,
        skipped_existing -> BigInt,
        cursor -> Nullable<Text>,
        owner -> Nullable<Text>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, idem_key) {
        api_key_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    redemptions (id) {
        id -> Text,
        campaign_id -> Integer,
        serial -> BigInt,
        customer_id -> Nullable<Text>,
        code -> Nullable<Text>,
        order_id -> Text,
        order_amount -> BigInt,
        currency -> Text,
        discount -> BigInt,
        variant -> Integer,
        api_key_id -> Text,
        idem_key -> Nullable<Text>,
        request_hash -> Text,
        redeemed_at -> Timestamp,
        rolled_back_at -> Nullable<Timestamp>,
        rollback_reason -> Nullable<Text>,
    }
}

diesel::table! {
    rollbacks (redemption_id) {
        redemption_id -> Text,
        reason -> Text,
        rolled_back_at -> Timestamp,
    }
}

diesel::joinable!(consents -> customers (customer_id));
diesel::joinable!(redemptions -> campaigns (campaign_id));
diesel::joinable!(carts -> customers (customer_id));
diesel::joinable!(vouchers -> campaigns (campaign_id));
diesel::joinable!(generation_jobs -> campaigns (campaign_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    signing_keys,
    customers,
    consents,
    carts,
    campaigns,
    vouchers,
    generation_jobs,
    idempotency_keys,
    redemptions,
    rollbacks,
);
