//! vouchsafe: personalized single-use vouchers.
//!
//! Layers call one way only: [`api`] → [`domain`] / [`store`] / [`ledger`]. The binary in
//! `main.rs` is a thin shell over [`cli`].

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod generation;
pub mod issuance;
pub mod ledger;
pub mod reporting;
pub mod signing;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
