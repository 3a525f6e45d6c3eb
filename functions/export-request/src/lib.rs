//! The customer-facing export endpoints behind API Gateway: the signed link
//! from a notice asks for an export; the one from the export-ready mail
//! downloads it.

use sunset::http::{AdminAuth, AppState};
use sunset::ports::Deps;

/// What this function wires (the customer's export pages: signed links, a scheduled build, a presigned download); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: false,
    sns: false,
    scheduler: true,
    link_key: true,
};

/// The shared router's customer routes; each checks its signed link.
pub fn app(deps: Deps) -> axum::Router {
    sunset::http::customer_router(AppState::new(deps, AdminAuth::Gateway))
}
