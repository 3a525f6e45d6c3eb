//! Use cases, one module each, over the ports they need.

pub mod banner;
pub mod customers;
pub mod deadline;
pub mod delivery_events;
pub mod dispatch;
pub mod events;
pub mod export;
pub mod import;
pub mod jobs;
pub mod late_import;
pub mod launch;
pub mod lifecycle;
pub mod lint;
pub mod migration_status;
pub mod notice;
pub mod pacing;
mod page_view;
mod paging;
pub mod plan;
pub mod plan_preview;
pub mod portal;
pub mod preview;
pub mod public;
pub mod purge;
pub mod report;
pub mod segment;
pub mod tickets;
