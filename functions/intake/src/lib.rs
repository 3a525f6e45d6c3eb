//! The admin API behind API Gateway: create a campaign, import customers,
//! launch, record customer events, read the report.

use sunset::http::gateway::granted_scopes;
use sunset::http::{ADMIN_SCOPE, AppState, Credential};
use sunset::ports::Deps;

/// What this function wires (the admin API: imports, launches, events and
/// resumes schedule jobs; the preflight's test export reads the product's
/// data, and it asks SES whether the sender is verified); the rest is
/// unwired. SES's events reach the `delivery-events` function, not this
/// API, on AWS.
pub const NEEDS: sunset::adapters::aws::Needs = sunset::adapters::aws::Needs {
    s3: true,
    ses: true,
    sns: false,
    scheduler: true,
    link_key: false,
};

/// The shared router's admin routes. API Gateway's JWT authorizer has
/// checked the caller's token; each route checks again that it carries
/// the operators' scope.
pub fn app(deps: Deps) -> axum::Router {
    sunset::http::admin_router(AppState::new(deps, Credential::Scope(ADMIN_SCOPE)))
        .layer(axum::middleware::from_fn(granted_scopes))
}
