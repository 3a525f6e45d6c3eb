//! Adapters: the ports implemented on real components, and the stand-in
//! for a port a function does not wire.

pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
pub(crate) mod records;
pub mod unwired;
