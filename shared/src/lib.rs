//! # sunset
//!
//! Runs a product's end of life: tells every affected customer, in the
//! right order, that a product is going away; counts down to the date;
//! helps them take their data; then deletes it for good, with proof.
//!
//! # Layout
//!
//! ```text
//! domain/      types parsed at the edge and pure rules (tiers, plan, refund, links)
//! ports        the traits services need (store, ledger, mailer, scheduler, blobs, ...)
//! services/    one use case each: import, segment, launch, dispatch, export, purge, report
//! adapters/    embedded: SQLite, Maildir, directories; aws: DynamoDB, SES, Scheduler, S3
//! clock        the system clock and the simulated one (both runtimes)
//! mime         RFC 5322 rendering of an outgoing e-mail
//! render/      the one template engine: every text, per kind, tier, channel, language
//! parallel     a small scoped-thread fan-out for batches of file or CPU work
//! http         the axum Router (local server and Lambda alike)
//! app/         the embedded runtime: simulate, demo, serve (feature `embedded`)
//! ```
//!
//! Data flows one way: edge (HTTP, schedule payload, file) → domain types →
//! service → ports → adapters. Services never see an SDK type.

pub mod adapters;
#[cfg(feature = "embedded")]
pub mod app;
pub mod clock;
pub mod domain;
pub mod http;
pub mod mime;
pub mod parallel;
pub mod ports;
pub mod render;
pub mod services;
pub mod telemetry;
