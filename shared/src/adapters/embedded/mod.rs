//! The embedded default: everything in one data directory, no cloud account.
//!
//! ```text
//! DIR/sunset.db       SQLite store (campaigns, customers, ledger, jobs, audit)
//! DIR/outbox/         Maildir: every e-mail sent
//! DIR/sms-outbox.jsonl every text message sent, one JSON line each
//! DIR/sms-opt-out.txt numbers that answered STOP (kept by the operator)
//! DIR/blobs/exports/  export bundles (zip), by campaign and customer
//! DIR/product-data/   the retiring product's data, one directory per customer
//! ```

pub mod files;
pub mod maildir;
pub mod sms;
pub mod smtp;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::domain::link::LinkSigner;
use crate::ports::{Clock, Deps};
use crate::services::pacing::{LocalSendRate, Pacer, PacingSettings};

pub use files::{DirBlobStore, DirProductData};
pub use maildir::MaildirOutbox;
pub use sms::SmsOutbox;
pub use smtp::SmtpMailer;
pub use sqlite::SqliteStore;

/// The embedded adapters of one data directory.
pub struct Embedded {
    pub dir: PathBuf,
    pub store: Arc<SqliteStore>,
    pub deps: Deps,
}

impl Embedded {
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let store = Arc::new(
            SqliteStore::open(&dir.join("sunset.db"))
                .with_context(|| format!("cannot open the store in {}", dir.display()))?,
        );
        let signer = LinkSigner::new(store.signing_key()?);
        let deps = Deps {
            campaigns: store.clone(),
            customers: store.clone(),
            ledger: store.clone(),
            events: store.clone(),
            exports: store.clone(),
            outreach: store.clone(),
            audit: store.clone(),
            scheduler: store.clone(),
            mailer: Arc::new(
                MaildirOutbox::open(&dir.join("outbox")).context("cannot create the outbox")?,
            ),
            texter: Arc::new(SmsOutbox::open(dir).context("cannot create the SMS outbox")?),
            blobs: Arc::new(
                DirBlobStore::open(&dir.join("blobs"))
                    .context("cannot create the blobs directory")?,
            ),
            product_data: Arc::new(
                DirProductData::open(&dir.join("product-data"))
                    .context("cannot create the product-data directory")?,
            ),
            pacer: local_pacer(None),
            clock,
            signer,
        };
        Ok(Self {
            dir: dir.to_owned(),
            store,
            deps,
        })
    }

    /// Sends e-mail through the SMTP server at `url` instead of writing
    /// the outbox.
    pub fn with_smtp(mut self, url: &str) -> anyhow::Result<Self> {
        self.deps.mailer = Arc::new(SmtpMailer::from_url(url)?);
        Ok(self)
    }

    /// Paces every send to at most `per_second` messages a second (an SMTP
    /// relay's limit); `None` (the default for the outbox): unpaced.
    pub fn with_send_rate(mut self, per_second: Option<f64>) -> Self {
        self.deps.pacer = local_pacer(per_second);
        self
    }
}

fn local_pacer(per_second: Option<f64>) -> Arc<Pacer> {
    Arc::new(Pacer::new(
        Arc::new(LocalSendRate::new(per_second)),
        PacingSettings {
            // The configured rate is the relay's own: all of it is ours.
            share: 1.0,
            ..PacingSettings::default()
        },
    ))
}
