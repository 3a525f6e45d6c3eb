//! The endpoints behind API Gateway that are not the operator's: the
//! signed link from a notice asks for an export, the one from the
//! export-ready mail downloads it; the retiring product's in-app banner and
//! its signed migration reports, under its JWT scope; the help desk's
//! ticket webhook, under its own.

use sunset::http::gateway::granted_scopes;
use sunset::http::{ADMIN_SCOPE, AppState, Credential, HELP_DESK_SCOPE, PRODUCT_SCOPE, SigningKey};
use sunset::ports::Deps;

/// What this function wires (the customer's export pages: signed links, a scheduled build, a presigned download); the rest is unwired.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: false,
    sns: false,
    scheduler: true,
    link_key: true,
};

/// The shared router's customer, product and help-desk routes; each
/// checks its own credential.
pub fn app(deps: Deps, product_signing: SigningKey) -> axum::Router {
    // API Gateway checks each caller's JWT scope on its routes before this
    // function runs; each route checks it again. No operator's route is
    // served here.
    sunset::http::customer_router(
        AppState::new(deps, Credential::Scope(ADMIN_SCOPE))
            .with_product(Credential::Scope(PRODUCT_SCOPE))
            .with_product_signing(product_signing)
            .with_help_desk(Credential::Scope(HELP_DESK_SCOPE)),
    )
    .layer(axum::middleware::from_fn(granted_scopes))
}
