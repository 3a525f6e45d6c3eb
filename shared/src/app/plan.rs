//! `sunset plan`: who gets which notice on which day and channel, or one
//! customer's whole sequence, from a data directory or straight from the
//! campaign and customers files before anything is launched.

use anyhow::Context;

use crate::domain::CustomerId;
use crate::services::plan_preview::{self, CustomerPlan, PlanPreview, StepState};

use super::preview::{Source, open};

/// What `sunset plan` prints.
pub enum Printed {
    Campaign(PlanPreview),
    Customer(CustomerPlan),
}

pub async fn plan(source: Source<'_>, customer: Option<&str>) -> anyhow::Result<Printed> {
    let customer = customer
        .map(|c| CustomerId::parse(c).map_err(|e| anyhow::anyhow!("--customer: {}", e.0)))
        .transpose()?;
    let opened = open(source).await?;
    let deps = &opened.emb.deps;
    let now = deps.clock.now();
    Ok(match customer {
        Some(id) => Printed::Customer(
            plan_preview::for_customer(deps, &opened.campaign, &id, now)
                .await
                .with_context(|| format!("the plan of customer {id}"))?,
        ),
        None => Printed::Campaign(plan_preview::preview(deps, &opened.campaign, now).await?),
    })
}

impl Printed {
    pub fn json(&self) -> String {
        match self {
            Printed::Campaign(p) => serde_json::to_string_pretty(p),
            Printed::Customer(c) => serde_json::to_string_pretty(c),
        }
        .expect("plans serialize")
    }

    /// A table to read in a terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        match self {
            Printed::Campaign(p) => {
                out.push_str(&format!(
                    "Plan of {} as of {} ({}, {} customers in the waves{})\n\n",
                    p.campaign,
                    p.as_of.format("%Y-%m-%d %H:%M UTC"),
                    p.phase.as_str(),
                    p.customers,
                    if p.purged > 0 {
                        format!("; {} purged, whose messages are in the report", p.purged)
                    } else {
                        String::new()
                    }
                ));
                out.push_str(&format!(
                    "{:<10}  {:<20}  {:<7}  {:>9}  {:>7}  zones\n",
                    "date", "notice", "channel", "customers", "sent"
                ));
                for r in &p.rows {
                    let zones = r
                        .by_zone
                        .iter()
                        .map(|(z, n)| format!("{z} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    out.push_str(&format!(
                        "{:<10}  {:<20}  {:<7}  {:>9}  {:>7}  {zones}\n",
                        r.date.to_string(),
                        r.notice,
                        r.channel.as_str(),
                        r.customers,
                        r.sent
                    ));
                }
                if p.rows.is_empty() {
                    out.push_str("(nothing planned)\n");
                }
            }
            Printed::Customer(c) => {
                out.push_str(&format!(
                    "{} — {}, tier {}, {}\n\n",
                    c.customer,
                    c.zone,
                    c.tier.as_deref().unwrap_or("(not segmented)"),
                    c.status.as_str()
                ));
                for s in &c.steps {
                    let state = match &s.state {
                        StepState::Planned => "planned".to_owned(),
                        StepState::Sent { sent_at } => {
                            format!("sent {}", sent_at.format("%Y-%m-%d %H:%M UTC"))
                        }
                        StepState::Skipped { reason } => format!("skipped: {reason}"),
                    };
                    out.push_str(&format!(
                        "{}  {:<10}  {:<20}  {:<5}  {state}\n",
                        s.date,
                        s.local_time,
                        s.notice,
                        s.channel.as_str()
                    ));
                }
                if c.steps.is_empty() {
                    out.push_str("(nothing planned: not segmented, or purged)\n");
                }
            }
        }
        out
    }
}
