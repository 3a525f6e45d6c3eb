//! The embedded runtime behind the `sunset` command.

pub mod demo;
pub mod plan;
pub mod preflight;
pub mod preview;
pub mod runner;
pub mod samples;
pub mod serve;
pub mod simulate;
