//! Placeholder replaced by the generation benchmark.
fn main() {}
