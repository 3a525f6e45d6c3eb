//! Domain types, parsed at the edge, and the pure rules of a sunset
//! (scoring, planning, refunds). No I/O and no SDK types here.

pub mod audience;
pub mod audit;
pub mod bounds;
pub mod campaign;
pub mod customer;
pub mod delivery_event;
pub mod deprecation;
pub mod event;
pub mod export;
pub mod ids;
pub mod ledger;
pub mod lifecycle;
pub mod link;
pub mod locale;
pub mod milestone;
pub mod outreach;
pub mod pace;
pub mod refund;
pub mod reputation;
pub mod schedule;
pub mod tier;

pub use campaign::Campaign;
pub use customer::{Customer, CustomerRecord, MigrationStatus};
pub use ids::{CampaignId, CustomerId, EmailAddress};
pub use locale::Locale;
pub use milestone::{Job, Milestone, ScheduledJob};
pub use tier::Tier;
