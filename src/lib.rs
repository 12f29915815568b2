//! vouchsafe: personalized single-use vouchers.
//!
//! Layers call one way only (`tests/architecture.rs` fails on an arrow pointing up, naming the
//! file and line, and on any import cycle):
//!
//! ```text
//!   main.rs ─▶ cli ─▶ app ─▶ api       app: the wiring, and the only importer of api
//!               │             │
//!               └─▶ service ◀─┘        the use cases: checkout, issuance, generation,
//!                     │                import, reporting, idempotency
//!             ┌───────┴───────┐
//!             ▼               ▼
//!           ledger ───────▶ store      the atomic gate │ diesel over PostgreSQL or SQLite
//!             └────▶ domain ◀─┘        pure types and rules, no I/O
//! ```
//!
//! [`api`] holds the HTTP handlers, auth, the problem+json mapping, OpenAPI and the pages;
//! [`cli`] the commands. Both call [`service`], whose [`service::Services`] is the shared state
//! (`api::AppState` wraps it). [`signing`] (the keyring in memory), [`telemetry`] and
//! [`config`] sit beside the store and are used from above.

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
#[cfg(feature = "testkit")]
pub mod testkit;
