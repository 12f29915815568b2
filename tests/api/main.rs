//! Integration tests over real HTTP against the real app, on the backend the environment picks
//! (see `helpers.rs`).

mod access;
mod auth;
mod checkout;
mod cli;
mod cluster;
mod crm;
mod edges;
mod errors;
mod fleet;
mod health;
mod helpers;
mod instances;
mod integrity;
mod ledger_races;
mod openapi;
mod reports;
mod signing;
mod typed_doc;
