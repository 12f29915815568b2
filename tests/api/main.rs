//! Integration tests over real HTTP against the real app, on the backend the environment picks
//! (see `helpers.rs`).

mod auth;
mod checkout;
mod cli;
mod crm;
mod errors;
mod health;
mod helpers;
mod integrity;
mod ledger_races;
mod openapi;
mod reports;
mod signing;
