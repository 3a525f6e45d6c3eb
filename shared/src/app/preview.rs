//! `sunset preview`: what one customer would get, either from a running
//! campaign's data directory (their stored tier, standing and extension)
//! or, before anything is launched, straight from the campaign and
//! customers files (segmented as the launch would).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::adapters::embedded::Embedded;
use crate::clock::SystemClock;
use crate::domain::ledger::Channel;
use crate::domain::{Campaign, CampaignId, CustomerId};
use crate::services::preview::{self, Preview, Previewed};
use crate::services::{import, segment};

use super::simulate::{self, SimulateArgs};

/// Where the customer comes from.
pub enum Source<'a> {
    /// A `serve` or `simulate` data directory and the campaign's id.
    Data { dir: &'a Path, campaign: &'a str },
    /// The files a campaign would be launched with.
    Files {
        campaign: &'a Path,
        customers: &'a Path,
    },
}

pub async fn preview(
    source: Source<'_>,
    customer: &str,
    message: &str,
    channel: &str,
) -> anyhow::Result<Preview> {
    let channel: Channel = channel
        .parse()
        .map_err(|e: crate::domain::ids::InvalidValue| anyhow::anyhow!("--channel: {}", e.0))?;
    let customer =
        CustomerId::parse(customer).map_err(|e| anyhow::anyhow!("--customer: {}", e.0))?;
    let message: Previewed = message
        .parse()
        .map_err(|e: crate::domain::ids::InvalidValue| anyhow::anyhow!("--milestone: {}", e.0))?;
    let opened = open(source).await?;
    let deps = &opened.emb.deps;
    let now = deps.clock.now();
    Ok(preview::preview(deps, &opened.campaign, &customer, message, channel, now).await?)
}

/// A campaign and its customers, stored: the data directory's, or the
/// files' imported and segmented in a scratch store as a launch would.
pub(crate) struct Opened {
    pub emb: Embedded,
    pub campaign: Campaign,
    /// The scratch store, removed with this.
    _scratch: Option<Scratch>,
}

pub(crate) async fn open(source: Source<'_>) -> anyhow::Result<Opened> {
    match source {
        Source::Data { dir, campaign } => {
            if !dir.join("sunset.db").is_file() {
                anyhow::bail!(
                    "{} holds no sunset store (a `sunset serve` or `sunset simulate` data directory has sunset.db)",
                    dir.display()
                );
            }
            let id =
                CampaignId::parse(campaign).map_err(|e| anyhow::anyhow!("--campaign: {}", e.0))?;
            let emb = Embedded::open(dir, Arc::new(SystemClock))?;
            let campaign = emb
                .deps
                .campaigns
                .campaign(&id)
                .await?
                .with_context(|| format!("no campaign {id} in {}", dir.display()))?;
            Ok(Opened {
                emb,
                campaign,
                _scratch: None,
            })
        }
        Source::Files {
            campaign,
            customers,
        } => {
            let inputs = simulate::read_inputs(&SimulateArgs {
                campaign: campaign.to_owned(),
                customers: customers.to_owned(),
                events: None,
                ses_events: None,
                product_data: None,
                data: Default::default(),
            })?;
            let scratch = Scratch::new()?;
            let emb = Embedded::open(&scratch.0, Arc::new(SystemClock))?;
            let c = inputs.campaign;
            emb.deps.campaigns.put_campaign(&c).await?;
            let file = if inputs.customers_are_json {
                import::parse_json(&inputs.customers)
            } else {
                import::parse_csv(&inputs.customers)
            }
            .context("the customers file cannot be imported")?;
            let now = emb.deps.clock.now();
            import::import(
                &c,
                file,
                emb.deps.customers.as_ref(),
                emb.deps.audit.as_ref(),
                now,
                import::ImportOptions::default(),
            )
            .await?;
            segment::segment(
                &c,
                emb.deps.customers.as_ref(),
                emb.deps.audit.as_ref(),
                now,
            )
            .await?;
            Ok(Opened {
                emb,
                campaign: c,
                _scratch: Some(scratch),
            })
        }
    }
}

/// A directory removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "sunset-preview-{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        std::fs::create_dir(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
