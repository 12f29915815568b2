//! vouchsafe: personalized single-use vouchers.
//!
//! Layers call one way only: [`api`] → [`domain`] / [`store`] / [`ledger`]. The binary in
//! `main.rs` is a thin shell over [`cli`].

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod ledger;
pub mod service;
pub mod signing;
pub mod store;
pub mod telemetry;
