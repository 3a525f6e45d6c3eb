//! [`SunsetLayer`]: the tower layer a Rust service adds to send the
//! retiring product's `Sunset`, `Deprecation` and `Link: rel="sunset"`
//! headers ([`DeprecationHeaders`]) with every answer.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

pub use crate::domain::deprecation::{DeprecationHeaders, http_date, public_url};

pub const SUNSET: HeaderName = HeaderName::from_static("sunset");
pub const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");

/// Adds `Sunset`, `Deprecation` and `Link: rel="sunset"` to every response
/// of the service it wraps (a header the service set itself is kept):
///
/// ```ignore
/// let headers = DeprecationHeaders::for_campaign(&campaign, Locale::En);
/// let app = my_router.layer(SunsetLayer::new(&headers));
/// ```
fn pairs(values: &DeprecationHeaders) -> Vec<(HeaderName, HeaderValue)> {
    [
        (SUNSET, &values.sunset),
        (DEPRECATION, &values.deprecation),
        (axum::http::header::LINK, &values.link),
    ]
    .into_iter()
    .filter_map(|(name, value)| HeaderValue::from_str(value).ok().map(|v| (name, v)))
    .collect()
}

#[derive(Debug, Clone)]
pub struct SunsetLayer {
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl SunsetLayer {
    pub fn new(headers: &DeprecationHeaders) -> Self {
        SunsetLayer {
            headers: pairs(headers).into(),
        }
    }
}

impl<S> Layer<S> for SunsetLayer {
    type Service = SunsetService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SunsetService {
            inner,
            headers: self.headers.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SunsetService<S> {
    inner: S,
    headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SunsetService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = WithHeaders<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        WithHeaders {
            inner: self.inner.call(request),
            headers: self.headers.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The wrapped service's response future, headers added when it is
    /// ready.
    pub struct WithHeaders<F> {
        #[pin]
        inner: F,
        headers: Arc<[(HeaderName, HeaderValue)]>,
    }
}

impl<F, B, E> std::future::Future for WithHeaders<F>
where
    F: std::future::Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let headers = response.headers_mut();
        for (name, value) in this.headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::tests::EXAMPLE;
    use crate::domain::{Campaign, Locale};
    use axum::body::Body;
    use axum::routing::get;
    use chrono::{DateTime, Utc};
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_layer_sets_the_three_headers_and_keeps_a_services_own() {
        let campaign = Campaign::from_toml(EXAMPLE).unwrap();
        let values = DeprecationHeaders::for_campaign(&campaign, Locale::ZhCn);
        let app = axum::Router::new()
            .route("/v1/contacts", get(|| async { "[]" }))
            .route(
                "/v1/own",
                get(|| async { ([(SUNSET, "Fri, 01 Oct 2027 00:00:00 GMT")], "") }),
            )
            .layer(SunsetLayer::new(&values));
        let answer = app
            .clone()
            .oneshot(Request::get("/v1/contacts").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = answer.headers();
        // The end of 30 September in Berlin (summer time) is 22:00 UTC.
        assert_eq!(h[SUNSET], "Thu, 30 Sep 2027 22:00:00 GMT");
        assert_eq!(
            DateTime::parse_from_rfc2822(h[SUNSET].to_str().unwrap()).unwrap(),
            "2027-09-30T22:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let announce: DateTime<Utc> = "2027-01-31T23:00:00Z".parse().unwrap();
        assert_eq!(
            h[DEPRECATION].to_str().unwrap(),
            format!("@{}", announce.timestamp())
        );
        assert_eq!(
            h[axum::http::header::LINK],
            "<http://127.0.0.1:8080/v1/public/orbit-crm-2027/zh-CN>; rel=\"sunset\"; type=\"text/html\""
        );
        let own = app
            .oneshot(Request::get("/v1/own").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(own.headers()[SUNSET], "Fri, 01 Oct 2027 00:00:00 GMT");
        assert!(own.headers().contains_key(DEPRECATION));
    }

    #[test]
    fn a_link_cannot_break_out_of_its_angle_brackets() {
        let now = Utc::now();
        let h = DeprecationHeaders::new(now, now, "https://x.example/a>; rel=\"evil\"");
        assert_eq!(
            h.link,
            "<https://x.example/a; rel=evil>; rel=\"sunset\"; type=\"text/html\""
        );
    }
}
