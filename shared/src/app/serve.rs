//! `sunset serve`: the HTTP API on the embedded adapters, with the
//! scheduler ticking on the real clock. The scheduler outlives any failing
//! or panicking job, and `/healthz` says when it does not do its work.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;

use crate::adapters::embedded::{Embedded, SqliteStore};
use crate::clock::SystemClock;
use crate::http::{AppState, Credential, Health, HealthCheck, HealthStatus, SigningKey, router};

use super::runner;

/// How often the scheduler looks for due jobs.
const TICK: Duration = Duration::from_secs(5);

/// What `/healthz` checks in `sunset serve`: the scheduler task runs, its
/// last pass could use the store, and no scheduled job is failing.
pub struct SchedulerHealth {
    store: Arc<SqliteStore>,
    running: AtomicBool,
    last_pass_failed: Mutex<Option<String>>,
}

impl SchedulerHealth {
    pub fn new(store: Arc<SqliteStore>) -> Self {
        Self {
            store,
            running: AtomicBool::new(false),
            last_pass_failed: Mutex::new(None),
        }
    }

    fn pass_finished(&self, error: Option<String>) {
        *self
            .last_pass_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = error;
    }
}

impl HealthCheck for SchedulerHealth {
    fn health(&self) -> Health {
        let mut problems = Vec::new();
        if !self.running.load(Ordering::SeqCst) {
            problems.push(
                "the scheduler is not running: no notice, export or purge will go out".to_owned(),
            );
        }
        if self
            .last_pass_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            problems.push(
                "the scheduler's last pass could not use the store; it tries again every few seconds"
                    .to_owned(),
            );
        }
        match self.store.job_failures() {
            Ok(failing) if failing.is_empty() => {}
            Ok(failing) => {
                let given_up = failing.iter().filter(|f| f.next_attempt.is_none()).count();
                problems.push(format!(
                    "{} scheduled jobs are failing ({given_up} given up): each campaign's report lists them",
                    failing.len()
                ));
            }
            Err(_) => problems.push("the store cannot be read".to_owned()),
        }
        Health {
            status: if problems.is_empty() {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            problems,
        }
    }
}

/// Marks the scheduler stopped however its task ends, a panic included.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Runs the scheduler every `every` until aborted. A failing or panicking
/// job is recorded and retried alone (`runner::run_due`); a pass that
/// cannot use the store, or panics, is logged and tried again next tick.
pub fn spawn_scheduler(
    emb: Arc<Embedded>,
    health: Arc<SchedulerHealth>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    // Running from now, not from the task's first poll: a health check
    // right after start must not see it stopped.
    health.running.store(true, Ordering::SeqCst);
    tokio::spawn(async move {
        let _running = Running(&health.running);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let pass = AssertUnwindSafe(runner::run_due(&emb, emb.deps.clock.now()))
                .catch_unwind()
                .await;
            match pass {
                Ok(Ok(done)) => {
                    for s in &done.steps {
                        tracing::info!(job = %s.job, "job done");
                    }
                    health.pass_finished(None);
                }
                Ok(Err(e)) => {
                    tracing::error!(job = %e.job, error = %e, "the scheduler's pass failed; trying again next tick");
                    health.pass_finished(Some(e.to_string()));
                }
                Err(_) => {
                    tracing::error!("the scheduler's pass panicked; trying again next tick");
                    health.pass_finished(Some("the pass panicked".into()));
                }
            }
        }
    })
}

/// How `sunset serve` treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client that has not sent a request's headers by then is
    /// disconnected (slow-header clients hold no connection for long).
    pub header_timeout: Duration,
    /// Connections open at once; one more is closed as soon as accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, HTTP/1.1, each connection
/// under `limits`.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "too many connections; closing a new one");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// How `serve` sends e-mail: into the Maildir outbox (the default), or
/// through an SMTP server, at most `per_second` a second.
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    pub smtp: Option<String>,
    pub per_second: Option<f64>,
}

/// The keys `serve` takes: the operator's, the retiring product's (for
/// the banner and its migration reports) with the key it signs those
/// with, and the help desk's (for its ticket webhook). One not given is
/// made up and printed once.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    pub admin: Option<String>,
    pub product: Option<String>,
    /// Hex, at least 32 bytes.
    pub product_signing: Option<String>,
    pub help_desk: Option<String>,
}

fn key(given: Option<String>, variable: &str, whose: &str) -> anyhow::Result<String> {
    match given {
        Some(t) if t.len() >= 16 => Ok(t),
        Some(_) => anyhow::bail!("{variable} must be at least 16 characters"),
        None => {
            let t = hex::encode(rand::random::<[u8; 24]>());
            eprintln!("{whose} (set {variable} to choose your own): {t}");
            Ok(t)
        }
    }
}

/// The key the product signs its migration reports with: hex, at least
/// 32 bytes; made up and printed when not given.
fn signing_key(given: Option<String>) -> anyhow::Result<SigningKey> {
    const VARIABLE: &str = "SUNSET_PRODUCT_SIGNING_KEY";
    let hex_key = match given {
        Some(k) => k,
        None => {
            let k = hex::encode(rand::random::<[u8; 32]>());
            eprintln!("product signing key, hex (set {VARIABLE} to choose your own): {k}");
            k
        }
    };
    let bytes = hex::decode(hex_key.trim()).with_context(|| format!("{VARIABLE} must be hex"))?;
    SigningKey::new(bytes).with_context(|| format!("{VARIABLE} must be 64 or more hex digits"))
}

pub async fn serve(
    addr: SocketAddr,
    data: &Path,
    keys: ApiKeys,
    limits: ConnectionLimits,
    mail: MailSettings,
) -> anyhow::Result<()> {
    let mut emb = Embedded::open(data, Arc::new(SystemClock))?.with_send_rate(mail.per_second);
    if let Some(url) = &mail.smtp {
        emb = emb.with_smtp(url)?;
    }
    let emb = Arc::new(emb);
    let admin = key(keys.admin, "SUNSET_ADMIN_TOKEN", "admin token")?;
    let product = key(keys.product, "SUNSET_PRODUCT_KEY", "product key")?;
    let help_desk = key(keys.help_desk, "SUNSET_HELP_DESK_KEY", "help desk key")?;
    let signing = signing_key(keys.product_signing)?;
    let health = Arc::new(SchedulerHealth::new(emb.store.clone()));
    let mut state = AppState::new(emb.deps.clone(), Credential::Token(admin))
        .with_product(Credential::Token(product))
        .with_product_signing(signing)
        .with_help_desk(Credential::Token(help_desk));
    state.health = health.clone();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, data = %data.display(), "serving");
    let scheduler = spawn_scheduler(emb, health, TICK);
    serve_connections(listener, router(state), limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    scheduler.abort();
    Ok(())
}
