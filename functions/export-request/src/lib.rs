//! The customer-facing export endpoints behind API Gateway: the signed link
//! from a notice asks for an export; the one from the export-ready mail
//! downloads it.

use sunset::http::{AdminAuth, AppState};
use sunset::ports::Deps;

/// The shared router's customer routes; each checks its signed link.
pub fn app(deps: Deps) -> axum::Router {
    sunset::http::customer_router(AppState::new(deps, AdminAuth::Gateway))
}
