//! `sunset simulate`: the whole lifecycle on the user's files, on a
//! simulated clock, in a fresh data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Serialize;

use crate::adapters::embedded::{Embedded, files::copy_tree};
use crate::clock::SimulatedClock;
use crate::domain::bounds::{CUSTOMER_YEARS, check_year};
use crate::domain::delivery_event::{self, DeliveryEvent};
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::milestone::local_instant;
use crate::domain::{Campaign, CustomerId};
use crate::services::{import, launch, report};

use super::runner::{self, EventProblem, Failed, Ran, Step};

pub struct SimulateArgs {
    pub campaign: PathBuf,
    pub customers: PathBuf,
    pub events: Option<PathBuf>,
    /// SES events (bounces, complaints, deliveries…) to replay at their
    /// times: a JSON array, or one event per line.
    pub ses_events: Option<PathBuf>,
    pub product_data: Option<PathBuf>,
    pub data: PathBuf,
}

/// What a run produced, for the CLI to print and tests to check.
pub struct Outcome {
    pub campaign: Campaign,
    pub import: import::ImportReport,
    pub steps: Vec<Step>,
    /// Job runs that failed (each retry once more); the report's
    /// `scheduler` section lists the jobs still failing or given up.
    pub failures: Vec<Failed>,
    pub event_problems: Vec<EventProblem>,
    pub report: report::Report,
}

/// An events-file row that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct EventRejection {
    pub row: usize,
    pub field: String,
    pub reason: String,
}

/// The events file read: events by row number, and rows that were refused.
pub struct ParsedEvents {
    pub events: Vec<(usize, CustomerEvent)>,
    pub rejections: Vec<EventRejection>,
}

/// `at` may be an RFC 3339 instant, `YYYY-MM-DD HH:MM[:SS]` in the
/// campaign's zone, or a date (noon in the campaign's zone).
fn parse_at(s: &str, campaign: &Campaign) -> Result<DateTime<Utc>, String> {
    let at = parse_instant(s, campaign)?;
    check_year(at.date_naive(), CUSTOMER_YEARS).map_err(|e| e.0)?;
    Ok(at)
}

fn parse_instant(s: &str, campaign: &Campaign) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(local_instant(t.date(), t.time(), campaign.timezone));
        }
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(local_instant(
            d,
            NaiveTime::from_hms_opt(12, 0, 0).expect("noon"),
            campaign.timezone,
        ));
    }
    Err(format!(
        "'{s}' is not a time (RFC 3339, YYYY-MM-DD HH:MM or YYYY-MM-DD)"
    ))
}

/// Reads `at,customer_id,event,detail`; bad rows are reported, not fatal.
pub fn parse_events(bytes: &[u8], campaign: &Campaign) -> anyhow::Result<ParsedEvents> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .context("the events file has no readable header")?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(at), Some(cid), Some(ev)) = (col("at"), col("customer_id"), col("event")) else {
        bail!("the events file needs the columns at,customer_id,event[,detail]");
    };
    let detail = col("detail");
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rejected.push(EventRejection {
                    row,
                    field: "*".into(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let get = |i: usize| record.get(i).unwrap_or("").trim();
        let mut reject = |field: &str, reason: String| {
            rejected.push(EventRejection {
                row,
                field: field.into(),
                reason,
            })
        };
        let at = match parse_at(get(at), campaign) {
            Ok(t) => t,
            Err(r) => {
                reject("at", r);
                continue;
            }
        };
        let customer = match CustomerId::parse(get(cid)) {
            Ok(c) => c,
            Err(e) => {
                reject("customer_id", e.0);
                continue;
            }
        };
        let kind = match CustomerEventKind::parse(get(ev), detail.map_or("", get)) {
            Ok(k) => k,
            Err(e) => {
                reject(e.field, e.reason);
                continue;
            }
        };
        events.push((row, CustomerEvent { at, customer, kind }));
    }
    Ok(ParsedEvents {
        events,
        rejections: rejected,
    })
}

fn ensure_fresh(dir: &Path) -> anyhow::Result<()> {
    if dir.join("sunset.db").exists() {
        bail!(
            "{} already holds a sunset run; give a new --data directory (or remove this one) so two runs never mix",
            dir.display()
        );
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the campaign's audit chain as a JSON array, a page at a time: a
/// big campaign's hundreds of thousands of certificates never sit in
/// memory together.
async fn write_audit_trail(
    path: &Path,
    deps: &crate::ports::Deps,
    campaign: &Campaign,
) -> anyhow::Result<()> {
    use std::io::Write;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"[")?;
    let mut after = 0;
    let mut first = true;
    loop {
        let page = deps.audit.entries_after(&campaign.id, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for entry in &page {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            serde_json::to_writer_pretty(&mut out, entry)?;
            first = false;
        }
    }
    out.write_all(b"\n]\n")?;
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Everything needed to run, already read.
pub struct Inputs {
    pub campaign: Campaign,
    pub customers: Vec<u8>,
    pub customers_are_json: bool,
    pub events: Vec<(usize, CustomerEvent)>,
    pub event_rejections: Vec<EventRejection>,
    /// SES events to replay, by their place in their file.
    pub ses_events: Vec<(usize, DeliveryEvent)>,
}

/// Reads SES events as SES publishes them (or EventBridge wraps them): a
/// JSON array, or one event per line. Event types with no bearing on
/// delivery are skipped; one that cannot be read refuses the file,
/// naming its place and field, before anything runs.
pub fn parse_ses_events(bytes: &[u8]) -> anyhow::Result<Vec<(usize, DeliveryEvent)>> {
    let text = std::str::from_utf8(bytes).context("the SES events file is not UTF-8")?;
    let values: Vec<serde_json::Value> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).context("the SES events file is not a JSON array")?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| format!("line {} is not JSON", i + 1))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut events = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match delivery_event::parse(v).with_context(|| format!("SES event {}", i + 1))? {
            delivery_event::Parsed::Event(e) => events.push((i + 1, *e)),
            delivery_event::Parsed::Ignored { .. } => {}
        }
    }
    Ok(events)
}

pub fn read_inputs(args: &SimulateArgs) -> anyhow::Result<Inputs> {
    let text = std::fs::read_to_string(&args.campaign)
        .with_context(|| format!("cannot read the campaign file {}", args.campaign.display()))?;
    let is_json = args
        .campaign
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let campaign = if is_json {
        Campaign::from_json(&text)
    } else {
        Campaign::from_toml(&text)
    }
    .with_context(|| format!("in {}", args.campaign.display()))?;
    let customers = std::fs::read(&args.customers).with_context(|| {
        format!(
            "cannot read the customers file {}",
            args.customers.display()
        )
    })?;
    let customers_are_json = args
        .customers
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let ParsedEvents {
        events,
        rejections: event_rejections,
    } = match &args.events {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the events file {}", path.display()))?;
            parse_events(&bytes, &campaign).with_context(|| format!("in {}", path.display()))?
        }
        None => ParsedEvents {
            events: Vec::new(),
            rejections: Vec::new(),
        },
    };
    let ses_events = match &args.ses_events {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the SES events file {}", path.display()))?;
            parse_ses_events(&bytes).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    Ok(Inputs {
        campaign,
        customers,
        customers_are_json,
        events,
        event_rejections,
        ses_events,
    })
}

/// How far a run got, for the note it leaves when it stops early.
#[derive(Debug, Default, Serialize)]
struct Progress {
    stage: &'static str,
    jobs_done: usize,
    jobs_failed: usize,
    last_step_at: Option<DateTime<Utc>>,
}

fn parse_customers(bytes: &[u8], json: bool) -> anyhow::Result<import::ImportFile<'_>> {
    if json {
        import::parse_json(bytes)
    } else {
        import::parse_csv(bytes)
    }
    .context("the customers file cannot be imported")
}

/// Runs the whole lifecycle in `data`, calling `on_step` as time passes.
/// Everything that can be checked without writing (the campaign, the
/// customers file, the events, the product data directory) is checked
/// before `data` is made; a run that stops after that leaves
/// `incomplete-run.json` saying how far it got and why.
pub async fn run(
    inputs: Inputs,
    product_data: Option<&Path>,
    data: &Path,
    mut on_step: impl FnMut(&Ran<'_>),
) -> anyhow::Result<Outcome> {
    ensure_fresh(data)?;
    let Inputs {
        campaign,
        customers,
        customers_are_json,
        events,
        event_rejections,
        ses_events,
    } = inputs;
    // Read whole once here, to refuse a file that cannot be imported
    // before anything is written; imported (read again) in `run_in`.
    parse_customers(&customers, customers_are_json)?;
    if let Some(src) = product_data {
        anyhow::ensure!(
            src.is_dir(),
            "the product data {} is not a directory",
            src.display()
        );
    }
    let mut progress = Progress::default();
    let result = run_in(
        campaign,
        (events, event_rejections, ses_events),
        (customers, customers_are_json),
        product_data,
        data,
        &mut progress,
        &mut on_step,
    )
    .await;
    result.map_err(|e| {
        let note = data.join("incomplete-run.json");
        let written = write_json(
            &note,
            &serde_json::json!({ "error": format!("{e:#}"), "progress": &progress }),
        );
        e.context(format!(
            "the run stopped while {}; what it did is in {}{}",
            progress.stage,
            data.display(),
            if written.is_ok() {
                " (see incomplete-run.json)"
            } else {
                ""
            }
        ))
    })
}

/// What happens over the run: customer events (and the rows refused),
/// and SES events.
type TimedInputs = (
    Vec<(usize, CustomerEvent)>,
    Vec<EventRejection>,
    Vec<(usize, DeliveryEvent)>,
);

async fn run_in(
    campaign: Campaign,
    (events, event_rejections, ses_events): TimedInputs,
    (customers, customers_are_json): (Vec<u8>, bool),
    product_data: Option<&Path>,
    data: &Path,
    progress: &mut Progress,
    on_step: &mut impl FnMut(&Ran<'_>),
) -> anyhow::Result<Outcome> {
    progress.stage = "opening the data directory";
    // The clock starts the day before the account managers' briefs.
    let start = local_instant(
        campaign.brief_date() - chrono::Days::new(1),
        NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
        campaign.timezone,
    );
    let clock = Arc::new(SimulatedClock::new(start));
    let emb = Embedded::open(data, clock.clone())?;
    if let Some(src) = product_data {
        progress.stage = "copying the product data";
        let n = copy_tree(src, &data.join("product-data"))
            .with_context(|| format!("cannot copy the product data from {}", src.display()))?;
        tracing::info!(files = n, "product data copied");
    }
    progress.stage = "importing the customers";
    emb.deps.campaigns.put_campaign(&campaign).await?;
    let import_report = import::import(
        &campaign,
        parse_customers(&customers, customers_are_json)?,
        emb.deps.customers.as_ref(),
        emb.deps.audit.as_ref(),
        emb.deps.clock.now(),
        import::ImportOptions::default(),
    )
    .await?;
    // The file is not needed again: a big one's memory goes back now.
    drop(customers);
    write_json(&data.join("import-report.json"), &import_report)?;
    progress.stage = "launching the campaign";
    let launched = launch::launch(&emb.deps, &campaign).await?;
    tracing::info!(jobs = launched.jobs.len(), "launched");
    progress.stage = "running the scheduled jobs";
    let run = runner::run_to_end(&emb, &clock, &campaign, events, ses_events, |ran| {
        match ran {
            Ran::Done(step) => {
                progress.jobs_done += 1;
                progress.last_step_at = Some(step.at);
            }
            Ran::Failed(failed) => {
                progress.jobs_failed += 1;
                progress.last_step_at = Some(failed.at);
            }
        }
        on_step(ran);
    })
    .await?;
    progress.stage = "writing the reports";
    let mut event_problems = run.event_problems;
    event_problems.splice(
        0..0,
        event_rejections.into_iter().map(|r| EventProblem {
            row: r.row,
            customer_id: String::new(),
            event: String::new(),
            field: Some(r.field),
            reason: r.reason,
        }),
    );
    if !event_problems.is_empty() {
        write_json(&data.join("events-report.json"), &event_problems)?;
    }
    let report = report::report(
        &emb.deps,
        &campaign,
        crate::ports::Clock::now(clock.as_ref()),
    )
    .await?;
    write_json(&data.join("report.json"), &report)?;
    write_audit_trail(&data.join("audit-trail.json"), &emb.deps, &campaign).await?;
    Ok(Outcome {
        campaign,
        import: import_report,
        steps: run.steps,
        failures: run.failures,
        event_problems,
        report,
    })
}

/// `sunset simulate` as the CLI calls it.
pub async fn simulate(
    args: &SimulateArgs,
    on_step: impl FnMut(&Ran<'_>),
) -> anyhow::Result<Outcome> {
    let inputs = read_inputs(args)?;
    run(inputs, args.product_data.as_deref(), &args.data, on_step).await
}
