//! Pure product logic: no I/O, no async. Everything here is unit- and property-tested in place.

pub mod access;
// pub mod code; (arrives with the codes issue)
