//! Behind API Gateway: the scopes its JWT authorizer found in the caller's
//! token, taken from the request's context into a `GrantedScopes`, which
//! the routes' own check reads (`Credential::Scope`). The authorizer
//! already refused a token without the route's scope; the function checks
//! again, so a route mapped to the wrong function or left without an
//! authorizer is refused rather than open.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use super::GrantedScopes;

/// The scopes of an HTTP API request's JWT: its `scopes`, and its `scope`
/// claim (space-separated, as OAuth access tokens carry them).
pub fn scopes(context: Option<&RequestContext>) -> Vec<String> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = context else {
        return Vec::new();
    };
    let Some(jwt) = ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = jwt.scopes.clone().unwrap_or_default();
    if let Some(claim) = jwt.claims.get("scope") {
        out.extend(claim.split_whitespace().map(str::to_owned));
    }
    out.sort();
    out.dedup();
    out
}

/// Middleware: puts the request's `GrantedScopes` on it, for the routes'
/// `Credential::Scope` checks.
pub async fn granted_scopes(mut request: Request, next: Next) -> Response {
    let granted = GrantedScopes(scopes(request.request_context_ref()));
    request.extensions_mut().insert(granted);
    next.run(request).await
}
