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
