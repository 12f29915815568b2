//! Rebuilds when a migration changes: `embed_migrations!` reads `migrations/` at compile time,
//! and cargo does not know that on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
