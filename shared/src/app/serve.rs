//! `sunset serve`: the HTTP API on the embedded adapters, with the
//! scheduler ticking on the real clock.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::adapters::embedded::Embedded;
use crate::clock::SystemClock;
use crate::http::{AdminAuth, AppState, router};

use super::runner;

pub async fn serve(
    addr: SocketAddr,
    data: &Path,
    admin_token: Option<String>,
) -> anyhow::Result<()> {
    let emb = Arc::new(Embedded::open(data, Arc::new(SystemClock))?);
    let token = match admin_token {
        Some(t) if t.len() >= 16 => t,
        Some(_) => anyhow::bail!("SUNSET_ADMIN_TOKEN must be at least 16 characters"),
        None => {
            let t = hex::encode(rand::random::<[u8; 24]>());
            eprintln!("admin token (set SUNSET_ADMIN_TOKEN to choose your own): {t}");
            t
        }
    };
    let app = router(AppState {
        deps: emb.deps.clone(),
        admin: AdminAuth::Token(token),
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, data = %data.display(), "serving");
    let ticker = {
        let emb = emb.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                match runner::run_due(&emb, emb.deps.clock.now()).await {
                    Ok(steps) => {
                        for s in steps {
                            tracing::info!(job = %s.job, "job done");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "scheduled job failed; retrying next tick")
                    }
                }
            }
        })
    };
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    ticker.abort();
    result.context("server failed")
}
