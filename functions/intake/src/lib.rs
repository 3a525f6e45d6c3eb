//! The admin API behind API Gateway: create a campaign, import customers,
//! launch, record customer events, read the report.

use sunset::http::{AdminAuth, AppState};
use sunset::ports::Deps;

/// The shared router's admin routes; API Gateway's JWT authorizer has
/// already checked the caller.
pub fn app(deps: Deps) -> axum::Router {
    sunset::http::admin_router(AppState::new(deps, AdminAuth::Gateway))
}
