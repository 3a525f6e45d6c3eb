//! The customer-facing endpoints behind API Gateway: the signed link from a
//! notice asks for an export, the one from the export-ready mail downloads
//! it; and the retiring product's in-app banner, under its own JWT scope.

use sunset::http::gateway::granted_scopes;
use sunset::http::{ADMIN_SCOPE, AppState, Credential, PRODUCT_SCOPE};
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
    // API Gateway checks the product's JWT scope on its route before this
    // function runs; the route checks it again. No operator's route is
    // served here.
    sunset::http::customer_router(
        AppState::new(deps, Credential::Scope(ADMIN_SCOPE))
            .with_product(Credential::Scope(PRODUCT_SCOPE)),
    )
    .layer(axum::middleware::from_fn(granted_scopes))
}
