//! Placeholder replaced by the redemption load benchmark.
fn main() {}
