//! The customer-facing endpoints behind API Gateway: the signed link from a
//! notice asks for an export, the one from the export-ready mail downloads
//! it; and the retiring product's in-app banner, under its own JWT scope.

use sunset::http::{AppState, Credential};
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
    // API Gateway checks the operator's and the product's JWT scopes on
    // their routes before this function runs.
    sunset::http::customer_router(
        AppState::new(deps, Credential::Gateway).with_product(Credential::Gateway),
    )
}
