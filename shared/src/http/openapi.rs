//! The API's description, OpenAPI 3.1, served at `/v1/openapi.json`.
//!
//! Built from the handlers' own `#[utoipa::path]` annotations, and the
//! routers take their routes from the same annotations
//! (`utoipa_axum::routes!`): a route cannot be served undocumented, nor
//! documented and not served. Each caller's group of routes gets its
//! credential here, from the same place its guard is layered on
//! (`super::admin_api` and the others), and every error answer its shape:
//! a problem for the API, a page for the customer's routes.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder, Schema, ServerBuilder,
};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::Problem;

/// Who may call a group of routes: the scheme each group's operations
/// require (on AWS a JWT carrying the scope, which API Gateway checks and
/// the function checks again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    /// `sunset/admin`: the operator.
    Admin,
    /// `sunset/product`: the retiring product.
    Product,
    /// `sunset/help-desk`: the help desk.
    HelpDesk,
}

impl Caller {
    fn scheme(self) -> &'static str {
        match self {
            Caller::Admin => "admin",
            Caller::Product => "product",
            Caller::HelpDesk => "help_desk",
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sunset",
        description = "Runs a product's end of life: the operator's campaigns and customers, \
            the retiring product's banner and migration reports, the help desk's tickets, \
            and the pages each customer's signed link opens.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    // Schemas only query parameters name: utoipa collects those of
    // bodies and answers itself, not these.
    components(schemas(Problem, TierName, StatusName, LocaleTag)),
    tags(
        (name = "campaigns", description = "The operator's campaigns: create, change, launch, pause, cancel, report."),
        (name = "customers", description = "The operator's view of each customer, and what they may change."),
        (name = "outreach", description = "Core customers' 1:1 outreach by their account managers."),
        (name = "product", description = "The retiring product's calls, with its own key."),
        (name = "help desk", description = "The help desk's ticket webhook, with its own key."),
        (name = "customer pages", description = "What a customer's signed link opens, and the public announcement."),
        (name = "service", description = "Health and this document."),
    ),
)]
struct Base;

/// The document: the base above, every route's operation, the
/// credentials, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = Base::openapi();
        doc.merge(super::described_routes());
        doc.servers = Some(vec![
            ServerBuilder::new()
                .url("/")
                .description(Some("where this document was served from"))
                .build(),
        ]);
        let components = doc.components.get_or_insert_with(Default::default);
        for (caller, what) in [
            (
                Caller::Admin,
                "The operator: `SUNSET_ADMIN_TOKEN` on `sunset serve`; on AWS a JWT with the scope `sunset/admin`.",
            ),
            (
                Caller::Product,
                "The retiring product: `SUNSET_PRODUCT_KEY`; on AWS a JWT with the scope `sunset/product`. \
                 Migration reports are also signed (`Sunset-Timestamp`, `Sunset-Signature`).",
            ),
            (
                Caller::HelpDesk,
                "The help desk: `SUNSET_HELP_DESK_KEY`; on AWS a JWT with the scope `sunset/help-desk`.",
            ),
        ] {
            components.add_security_scheme(
                caller.scheme(),
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
        doc
    })
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    summary = "This document",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", content_type = "application/json", body = Object)),
)]
pub(super) async fn serve_document() -> Response {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    let body = JSON
        .get_or_init(|| serde_json::to_vec(document()).expect("an OpenAPI document serializes"));
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.clone(),
    )
        .into_response()
}

/// Marks every operation of a caller's routes as theirs, with a problem
/// for every answer not described (a 401 without the credential, a 403
/// with another caller's, a 404, a 422 naming the field...).
pub(super) fn guarded(doc: &mut Document, caller: Option<Caller>) {
    let problem = ResponseBuilder::new()
        .description(
            "What was refused and why: a problem (RFC 9457), naming the field at fault when one is",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::<Schema>::Ref(
                    utoipa::openapi::Ref::from_schema_name("Problem"),
                )))
                .build(),
        )
        .build();
    for_each_operation(doc, |op| {
        if let Some(caller) = caller {
            op.security = Some(vec![SecurityRequirement::new::<_, _, &str>(
                caller.scheme(),
                [],
            )]);
        }
        op.responses
            .responses
            .entry("default".into())
            .or_insert_with(|| problem.clone().into());
    });
}

/// Every error of the customer's routes is a page in their language.
pub(super) fn pages(doc: &mut Document) {
    let page = ResponseBuilder::new()
        .description("A page that says what went wrong and what the customer can do")
        .content(
            "text/html",
            ContentBuilder::new()
                .schema(Some(RefOr::T(Schema::Object(
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .build(),
                ))))
                .build(),
        )
        .build();
    for_each_operation(doc, |op| {
        op.responses
            .responses
            .entry("default".into())
            .or_insert_with(|| page.clone().into());
    });
}

fn for_each_operation(doc: &mut Document, mut f: impl FnMut(&mut Operation)) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            f(op);
        }
    }
}

// The path parameters, named as the routes name them. The handlers take
// them as strings and parse them (so a bad id is a 422 naming it); these
// only describe them.

/// A campaign's route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct CampaignPath {
    /// The campaign's id: a-z, 0-9 and '-'.
    #[param(example = "orbit-crm-2027")]
    campaign: String,
}

/// One customer of a campaign.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct CustomerPath {
    /// The campaign's id: a-z, 0-9 and '-'.
    #[param(example = "orbit-crm-2027")]
    campaign: String,
    /// The customer's id, as the customer file gave it.
    #[param(example = "C000001")]
    customer: String,
}

/// A document of the public announcement.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct DocumentPath {
    /// The campaign's id: a-z, 0-9 and '-'.
    #[param(example = "orbit-crm-2027")]
    campaign: String,
    /// A locale's page (`en`, `en-US`, `en-GB`, `zh-CN`), `feed.atom`,
    /// `sunset.json` or `dates.ics`.
    #[param(example = "en")]
    document: String,
}

/// `{"id": …}`: what was created.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct Created {
    id: String,
}

// The closed sets of words a body takes. The handlers read them as strings
// and parse them with the domain's parsers (so a wrong one is a 422 that
// lists the right ones); these name them in the document, and the tests
// below hold each list to its parser.

/// A customer event the operator records.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
#[serde(rename_all = "snake_case")]
pub(super) enum EventName {
    Migrated,
    ExportRequested,
    ExportDownloaded,
    /// `detail`: the reason.
    Declined,
    /// `detail`: the ticket's type.
    TicketOpened,
    /// `detail`: the ticket's type.
    TicketResolved,
    /// `detail`: the reason (a case number).
    LegalHold,
    /// `detail`: the reason.
    LegalHoldReleased,
    /// `detail`: the new last day, `YYYY-MM-DD`.
    Extension,
    /// `detail`: the reason the data may go though the customer was not told.
    ApprovePurge,
    /// `detail`: the day of the call, `YYYY-MM-DD`.
    OutreachScheduled,
    /// `detail`: an optional note.
    OutreachDone,
}

/// A segmentation tier.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
#[serde(rename_all = "snake_case")]
pub(super) enum TierName {
    Core,
    Standard,
    Low,
}

/// Where a core customer's 1:1 outreach stands.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
#[serde(rename_all = "snake_case")]
pub(super) enum OutreachStateName {
    Todo,
    Scheduled,
    Done,
    Escalated,
}

/// Where a customer's move stands.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
#[serde(rename_all = "snake_case")]
pub(super) enum StatusName {
    Pending,
    Exported,
    Declined,
    Migrated,
}

/// What happened to a help-desk ticket.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
#[serde(rename_all = "snake_case")]
pub(super) enum TicketActionName {
    Opened,
    Resolved,
}

/// A locale notices are written in.
#[derive(ToSchema, serde::Serialize, Clone, Copy)]
#[allow(dead_code)] // named in the document, never built
pub(super) enum LocaleTag {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "en-US")]
    EnUs,
    #[serde(rename = "en-GB")]
    EnGb,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::CustomerEventKind;
    use crate::domain::outreach::OutreachState;
    use crate::domain::{Locale, MigrationStatus, Tier};
    use crate::services::tickets::TicketAction;

    fn words<T: serde::Serialize>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_documented_event_parses_and_every_event_is_documented() {
        use EventName::*;
        let documented = words(&[
            Migrated,
            ExportRequested,
            ExportDownloaded,
            Declined,
            TicketOpened,
            TicketResolved,
            LegalHold,
            LegalHoldReleased,
            Extension,
            ApprovePurge,
            OutreachScheduled,
            OutreachDone,
        ]);
        for name in &documented {
            CustomerEventKind::parse(name, "2027-06-01")
                .unwrap_or_else(|e| panic!("{name} is documented but refused: {e}"));
        }
        // The parser's refusal lists the events it takes: the same ones.
        let refusal = CustomerEventKind::parse("nonsense", "").unwrap_err().reason;
        let listed = refusal.split_once('(').unwrap().1.trim_end_matches(')');
        let listed: Vec<&str> = listed.split(',').map(str::trim).collect();
        let mut a = documented.clone();
        a.sort();
        let mut b: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn documented_tiers_states_and_locales_are_the_domain_ones() {
        let tiers = words(&[TierName::Core, TierName::Standard, TierName::Low]);
        let domain: Vec<String> = Tier::ALL.iter().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(tiers, domain);
        for s in words(&[
            OutreachStateName::Todo,
            OutreachStateName::Scheduled,
            OutreachStateName::Done,
            OutreachStateName::Escalated,
        ]) {
            assert_eq!(OutreachState::parse(&s).unwrap().as_str(), s);
        }
        let statuses = words(&[
            StatusName::Pending,
            StatusName::Exported,
            StatusName::Declined,
            StatusName::Migrated,
        ]);
        let domain: Vec<String> = MigrationStatus::ALL
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        assert_eq!(statuses, domain);
        for (doc, action) in [
            (TicketActionName::Opened, TicketAction::Opened),
            (TicketActionName::Resolved, TicketAction::Resolved),
        ] {
            assert_eq!(
                serde_json::to_value(doc).unwrap(),
                serde_json::to_value(action).unwrap()
            );
        }
        let locales = words(&[
            LocaleTag::En,
            LocaleTag::EnUs,
            LocaleTag::EnGb,
            LocaleTag::ZhCn,
        ]);
        let domain: Vec<String> = Locale::ALL.iter().map(|l| l.tag().to_owned()).collect();
        assert_eq!(locales, domain);
    }
}
