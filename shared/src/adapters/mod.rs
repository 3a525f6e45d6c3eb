//! Adapters: the ports implemented on real components.

pub mod aws;
pub mod embedded;
