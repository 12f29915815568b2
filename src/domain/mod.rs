//! Pure product logic: no I/O, no async. Everything here is unit- and property-tested in place.

pub mod access;
pub mod bounds;
pub mod campaign;
pub mod code;
pub mod csv;
pub mod customer;
pub mod money;
pub mod order;
pub mod plan;
pub mod refusal;
pub mod report;
pub mod segment;
pub mod stats;
pub mod status;
pub mod variant;
pub mod voucher;

pub use refusal::Refusal;
