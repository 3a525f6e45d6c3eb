//! `sunset preflight`: the guide's preparation checklist for a campaign,
//! from a data directory or straight from the files before launch.

use crate::services::preflight::{self, CheckState, Preflight};

use super::preview::{Source, open};

pub async fn preflight(source: Source<'_>) -> anyhow::Result<Preflight> {
    let opened = open(source).await?;
    let deps = &opened.emb.deps;
    Ok(preflight::preflight(deps, &opened.campaign, deps.clock.now()).await?)
}

/// The checklist as a table to read in a terminal: one line per item, its
/// cases indented under it.
pub fn table(p: &Preflight) -> String {
    let mut out = format!(
        "Preflight of {} as of {}: {}\n\n",
        p.campaign,
        p.as_of.format("%Y-%m-%d %H:%M UTC"),
        match p.result {
            CheckState::Pass => "every item passes",
            CheckState::Warn => "ready, with warnings",
            CheckState::Fail => "launch is refused until each failing item is fixed or overridden",
        }
    );
    let width = p.items.iter().map(|c| c.item.len()).max().unwrap_or(4);
    out.push_str(&format!("{:<width$}  state  what the guide asks\n", "item"));
    for c in &p.items {
        out.push_str(&format!(
            "{:<width$}  {:<5}  {}\n{:<width$}         {}\n",
            c.item,
            c.state.as_str(),
            c.title,
            "",
            c.reason
        ));
        for d in &c.details {
            out.push_str(&format!("{:<width$}           - {d}\n", ""));
        }
    }
    out
}
