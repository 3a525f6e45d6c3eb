//! Adapters: the ports implemented on real components.

pub mod embedded;
