//! The `sunset` command: demo, simulate and serve on the embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use sunset::app::runner::{self, Ran};
use sunset::app::{demo, preview, samples, serve, simulate};

// A run renders and frees hundreds of thousands of small strings; mimalloc
// does that with less time in the allocator than the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sunset",
    version,
    about = "Run a product's end of life: notices, countdown, exports, purge, report."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a sample company and run its whole sunset on a simulated clock.
    Demo {
        /// How many customers to generate.
        #[arg(long, default_value_t = 500)]
        customers: usize,
        /// Where to write everything (replaced if an earlier demo made it).
        #[arg(long, default_value = "sunset-demo")]
        data: PathBuf,
        /// Seed of the generated sample.
        #[arg(long, default_value_t = 2027)]
        seed: u64,
    },
    /// Run the whole sunset on your files, on a simulated clock.
    Simulate {
        /// The campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// The customers (CSV, or JSON by extension).
        #[arg(long)]
        customers: PathBuf,
        /// Events over time: at,customer_id,event,detail.
        #[arg(long)]
        events: Option<PathBuf>,
        /// SES events to replay (bounces, complaints, deliveries, opens,
        /// clicks): a JSON array, or one event per line.
        #[arg(long)]
        ses_events: Option<PathBuf>,
        /// The product's data, one directory per customer id (copied, never changed).
        #[arg(long)]
        product_data: Option<PathBuf>,
        /// A new directory for the store, outbox, bundles and reports.
        #[arg(long)]
        data: PathBuf,
    },
    /// Show exactly what one customer would get for one message: from a
    /// data directory (`--data DIR --campaign ID`), or before launch from
    /// the files (`--campaign FILE --customers FILE`).
    Preview {
        #[command(flatten)]
        from: SourceArgs,
        /// The customer's id.
        #[arg(long)]
        customer: String,
        /// announcement, reminder-<days>, service-ended, deletion-warning-<days>,
        /// deadline, export-ready or deletion-done.
        #[arg(long, default_value = "announcement")]
        milestone: String,
        /// email, or sms (the announcement and the reminders).
        #[arg(long, default_value = "email")]
        channel: String,
        /// What to print: text (subject and plain-text part), html, or json.
        #[arg(long, default_value = "text")]
        format: String,
        /// Also write the HTML part to this file, to open in a browser.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Show the plan: per day and channel, how many customers get which
    /// notice; or one customer's whole sequence, dated in their zone. From
    /// a data directory (`--data DIR --campaign ID`), or before launch from
    /// the files (`--campaign FILE --customers FILE`).
    Plan {
        #[command(flatten)]
        from: SourceArgs,
        /// One customer's sequence instead of the whole plan.
        #[arg(long)]
        customer: Option<String>,
        /// What to print: table, or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Check the guide's preparation checklist: each item pass, warn or
    /// fail with the reason. From a data directory (`--data DIR --campaign
    /// ID`), or before launch from the files (`--campaign FILE --customers
    /// FILE`). Exits non-zero while an item fails.
    Preflight {
        #[command(flatten)]
        from: SourceArgs,
        /// What to print: table, or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Serve the HTTP API on the embedded adapters, scheduler on the real clock.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[arg(long, default_value = "sunset-data")]
        data: PathBuf,
        /// Seconds a client has to send a request's headers.
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Connections served at once.
        #[arg(long, default_value_t = 256)]
        max_connections: usize,
        /// Send e-mail through this SMTP server instead of the outbox:
        /// smtp://host:25, smtp://user:pass@host:587?tls=required (STARTTLS)
        /// or smtps://user:pass@host:465. Default: SUNSET_SMTP_URL, else the
        /// Maildir outbox.
        #[arg(long)]
        smtp: Option<String>,
        /// At most this many e-mails a second (your relay's limit).
        #[arg(long)]
        send_rate: Option<f64>,
    },
}

/// Where `preview` and `plan` read the campaign from: a data directory
/// (`--campaign` is its id), or the files (`--campaign` is its file).
/// Where `preview`, `plan` and `preflight` read a campaign from: a data
/// directory and the campaign's id, or the campaign and customers files.
#[derive(clap::Args)]
struct SourceArgs {
    /// The campaign: its id with --data, else its file.
    #[arg(long)]
    campaign: String,
    /// A `serve` or `simulate` data directory.
    #[arg(
        long,
        conflicts_with = "customers",
        required_unless_present = "customers"
    )]
    data: Option<PathBuf>,
    /// The customers file (CSV, or JSON by extension).
    #[arg(long)]
    customers: Option<PathBuf>,
}

impl SourceArgs {
    fn source(&self) -> anyhow::Result<preview::Source<'_>> {
        Ok(match (&self.data, &self.customers) {
            (Some(dir), _) => preview::Source::Data {
                dir,
                campaign: &self.campaign,
            },
            (None, Some(customers)) => preview::Source::Files {
                campaign: std::path::Path::new(&self.campaign),
                customers,
            },
            (None, None) => anyhow::bail!("give --data DIR, or --customers FILE"),
        })
    }
}

/// Prints what a run did; an error when a scheduled job was given up, so
/// a script running `sunset simulate` notices.
fn print_outcome(
    outcome: &simulate::Outcome,
    data: &std::path::Path,
    started: Instant,
) -> anyhow::Result<()> {
    let r = &outcome.report;
    let exports = outcome
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.outcome,
                sunset::services::jobs::JobOutcome::ExportReady { .. }
            )
        })
        .count();
    let told = outcome
        .steps
        .iter()
        .filter(|s| {
            matches!(
                &s.outcome,
                sunset::services::jobs::JobOutcome::DeadlineNotice(d) if d.sent
            )
        })
        .count();
    println!("  {exports} export bundles built and mailed along the way");
    if let Some(pause) = &r.paused {
        println!(
            "  The campaign was paused on {} ({}): the run stops here, since its remaining waves \
             wait for the operator. Review the bounces and complaints, then resume it: \
             `sunset serve --data {}` and POST /v1/campaigns/{}/resume.",
            pause.at.format("%Y-%m-%d %H:%M UTC"),
            pause.reason,
            data.display(),
            outcome.campaign.id
        );
    }
    if told > 0 {
        println!("  {told} customers told their new last day (extensions, released holds)");
    }
    println!();
    let i = &outcome.import;
    println!(
        "Imported {} of {} rows: {} rejected (no usable id or address, or a repeat), {} with warnings \
         (a field cleaned or left empty); see import-report.json",
        i.imported, i.rows, i.rejected_rows, i.warned_rows
    );
    if !outcome.event_problems.is_empty() {
        println!(
            "{} events could not be applied: see events-report.json",
            outcome.event_problems.len()
        );
    }
    for (tier, t) in &r.tiers {
        println!(
            "  {tier:<9} {:>7} customers, {:>6.1}% migrated",
            t.counts.customers,
            t.migration_rate * 100.0
        );
    }
    println!(
        "Purged {} customers; {} kept on legal hold",
        r.purge.purged, r.purge.legal_hold
    );
    if !r.purge.held_never_told.is_empty() {
        println!(
            "  {} held because they were never sent the announcement; report.json names them \
             (purge.held_never_told) and waits for your decision (event approve_purge)",
            r.purge.held_never_told.len()
        );
    }
    println!();
    println!("Done in {:.1} s. Look at:", started.elapsed().as_secs_f64());
    println!(
        "  {}/outbox/new/        every e-mail sent (Maildir; `mutt -f {}/outbox`)",
        data.display(),
        data.display()
    );
    println!(
        "  {}/sms-outbox.jsonl   every text sent (one JSON line each: number, text, segments)",
        data.display()
    );
    println!("  {}/report.json        the retrospective", data.display());
    println!(
        "  {}/audit-trail.json   the audit chain with the deletion certificates",
        data.display()
    );
    println!(
        "  {}/import-report.json rejected rows and warnings: row, field and reason",
        data.display()
    );
    let failing = &outcome.report.failing_jobs;
    if !failing.is_empty() {
        println!();
        for f in failing {
            println!(
                "Job {} failed {} times and was given up: {}",
                f.job, f.attempts, f.last_error
            );
        }
        anyhow::bail!(
            "{} scheduled jobs did not complete; everything else ran (report.json lists them under failing_jobs)",
            failing.len()
        );
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    match cli.command {
        Command::Plan {
            from,
            customer,
            format,
        } => {
            let source = from.source()?;
            let printed = sunset::app::plan::plan(source, customer.as_deref()).await?;
            match format.as_str() {
                "table" => print!("{}", printed.table()),
                "json" => println!("{}", printed.json()),
                other => anyhow::bail!("--format: '{other}' is not table or json"),
            }
        }
        Command::Preflight { from, format } => {
            let source = from.source()?;
            let checked = sunset::app::preflight::preflight(source).await?;
            match format.as_str() {
                "table" => print!("{}", sunset::app::preflight::table(&checked)),
                "json" => println!(
                    "{}",
                    serde_json::to_string_pretty(&checked).expect("a preflight serializes")
                ),
                other => anyhow::bail!("--format: '{other}' is not table or json"),
            }
            let failing = checked.failing().count();
            if failing > 0 {
                anyhow::bail!("{failing} preflight items fail");
            }
        }
        Command::Preview {
            from,
            customer,
            milestone,
            channel,
            format,
            html,
        } => {
            let source = from.source()?;
            let p = preview::preview(source, &customer, &milestone, &channel).await?;
            if !p.sent_by_rules {
                eprintln!(
                    "Note: the campaign's rules do not send the {} by {} to this customer as they stand ({}, {}).",
                    p.message, p.channel, p.tier, p.status
                );
            }
            match format.as_str() {
                "text" if p.segments.is_some() => {
                    println!(
                        "To: {}\nTemplate: {} (tier {}, {}, {}; {} segments)\n",
                        p.to,
                        p.template,
                        p.tier,
                        p.status,
                        p.locale,
                        p.segments.unwrap_or_default()
                    );
                    println!("{}", p.text);
                }
                "text" => {
                    println!(
                        "To: {}\nSubject: {}\nTemplate: {} (tier {}, {}, {})\n",
                        p.to, p.subject, p.template, p.tier, p.status, p.locale
                    );
                    print!("{}", p.text);
                }
                "html" => print!("{}", p.html),
                "json" => println!("{}", serde_json::to_string_pretty(&p)?),
                other => anyhow::bail!("--format: '{other}' is not text, html or json"),
            }
            if let Some(path) = html {
                std::fs::write(&path, &p.html)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("HTML part written to {}", path.display());
            }
        }
        Command::Demo {
            customers,
            data,
            seed,
        } => {
            demo::prepare(&data)?;
            println!("Generating {customers} customers in {} ...", data.display());
            let inputs = demo::generate(&data, customers, seed)?;
            println!("Generated in {:.1} s.", started.elapsed().as_secs_f64());
            let samples = samples::write(&data, &inputs).await?;
            let campaign = inputs.campaign.clone();
            println!(
                "Running the {} sunset on a simulated clock:",
                campaign.product
            );
            let outcome = simulate::run(inputs, None, &data, |ran| match ran {
                Ran::Done(step) if runner::is_per_customer_step(step) => {}
                Ran::Done(step) => println!("  {}", runner::describe(step, &campaign)),
                Ran::Failed(failed) => {
                    println!("  {}", runner::describe_failure(failed, &campaign))
                }
            })
            .await?;
            print_outcome(&outcome, &data, started)?;
            println!(
                "  {}/input/             the generated campaign, customers and events",
                data.display()
            );
            println!(
                "  {}  what each tier reads on each channel, side by side",
                samples.display()
            );
        }
        Command::Simulate {
            campaign,
            customers,
            events,
            ses_events,
            product_data,
            data,
        } => {
            let args = simulate::SimulateArgs {
                campaign,
                customers,
                events,
                ses_events,
                product_data,
                data: data.clone(),
            };
            let inputs = simulate::read_inputs(&args)?;
            let c = inputs.campaign.clone();
            let outcome = simulate::run(
                inputs,
                args.product_data.as_deref(),
                &data,
                |ran| match ran {
                    Ran::Done(step) => println!("  {}", runner::describe(step, &c)),
                    Ran::Failed(failed) => println!("  {}", runner::describe_failure(failed, &c)),
                },
            )
            .await?;
            print_outcome(&outcome, &data, started)?;
        }
        Command::Serve {
            addr,
            data,
            header_timeout,
            max_connections,
            smtp,
            send_rate,
        } => {
            if let Some(rate) = send_rate {
                anyhow::ensure!(
                    rate.is_finite() && rate > 0.0,
                    "--send-rate must be a positive number of e-mails a second"
                );
            }
            let mail = serve::MailSettings {
                smtp: smtp.or_else(|| {
                    std::env::var("SUNSET_SMTP_URL")
                        .ok()
                        .filter(|v| !v.is_empty())
                }),
                per_second: send_rate,
            };
            let limits = serve::ConnectionLimits {
                header_timeout: std::time::Duration::from_secs(header_timeout.max(1)),
                max_connections: max_connections.max(1),
            };
            serve::serve(
                addr,
                &data,
                serve::ApiKeys {
                    admin: std::env::var("SUNSET_ADMIN_TOKEN").ok(),
                    product: std::env::var("SUNSET_PRODUCT_KEY").ok(),
                    product_signing: std::env::var("SUNSET_PRODUCT_SIGNING_KEY").ok(),
                    help_desk: std::env::var("SUNSET_HELP_DESK_KEY").ok(),
                },
                limits,
                mail,
            )
            .await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    sunset::telemetry::init_with_default("warn");
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
