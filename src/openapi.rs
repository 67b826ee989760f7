//! `GET /openapi.json`: the OpenAPI 3.1 description of `/app-api/v1/*`
//! and `/admin/api/*`, generated from the types and handlers that serve
//! them, so the document cannot drift from the answers. `docs/openapi.json`
//! is the same document committed (a test keeps the two equal).

use std::sync::LazyLock;

use actix_web::{http::header, HttpResponse};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "koogate",
        description = "What the vendor's app (`/app-api/v1`, bearer `upstream.api_token`) \
            and operators' programs (`/admin/api`, bearer `admin.api_token`) may read and do. \
            Every error answer is `{\"error\", \"message\"}`; a 401 carries `WWW-Authenticate`, \
            a 503 `Retry-After`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::app_api::tenant,
        crate::app_api::departments,
        crate::app_api::users,
        crate::app_api::instance,
        crate::app_api::usage::post,
        crate::app_api::usage::list,
        crate::admin::api::list_instances,
        crate::admin::api::instance,
        crate::admin::api::events,
        crate::admin::api::tenant,
        crate::admin::api::departments,
        crate::admin::api::users,
        crate::admin::sign_in::put,
        crate::admin::drift::drift,
        crate::admin::drift::apply_api,
        crate::admin::sign_ins::list,
        crate::admin::sessions::list,
        crate::admin::sessions::end,
        admin_pages::dashboard,
        admin_pages::tenants,
        admin_pages::tenant_overview,
        admin_pages::events_filtered,
        admin_pages::event,
        admin_pages::outbox_summary,
        admin_pages::outbox_backlog,
        admin_pages::outbox_dead,
        admin_pages::outbox_redeliver,
        admin_pages::usage,
    ),
    components(schemas(ErrorBody, crate::inbound::Channel)),
    modifiers(&BearerTokens),
    tags(
        (name = "app", description = "For the vendor's app: its live tenants and instances, and the usage it reports."),
        (name = "admin", description = "For operators' programs: what the admin site shows."),
    ),
)]
struct Document;

/// The document as served and committed (pretty, stable key order).
pub fn json() -> String {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        let mut text = Document::openapi()
            .to_pretty_json()
            .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"));
        text.push('\n');
        text
    });
    DOCUMENT.clone()
}

/// `GET /openapi.json`
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/json")).body(json())
}

struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, setting) in
            [("appToken", "upstream.api_token"), ("adminToken", "admin.api_token")]
        {
            let mut scheme = Http::new(HttpAuthScheme::Bearer);
            scheme.description = Some(format!("The `{setting}` setting."));
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
    }
}

/// Every route's refusals: a missing or wrong token, and a fault the
/// caller may retry.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Refusals {
    #[response(
        status = 401,
        description = "No valid bearer token.",
        headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"koogate\"`"))
    )]
    Unauthenticated(ErrorBody<'static>),
    #[response(
        status = 503,
        description = "Storage or cache unavailable; retry after the given seconds.",
        headers(("Retry-After" = u32, description = "Seconds to wait."))
    )]
    Unavailable(ErrorBody<'static>),
}

/// A route naming one thing that does not exist (or is gone for this caller).
#[derive(IntoResponses)]
#[response(status = 404, description = "No such resource.")]
#[allow(dead_code)]
pub struct NotFound(ErrorBody<'static>);

/// A route whose query or request was refused as malformed.
#[derive(IntoResponses)]
#[response(status = 400, description = "A parameter is malformed or out of its set.")]
#[allow(dead_code)]
pub struct BadRequest(ErrorBody<'static>);

/// The admin pages' handlers (src/admin/{pages,events,outbox}.rs) answer
/// `/admin/api/*` with the view a page shows; they are described here
/// rather than on the handlers, whose modules change at the same time.
mod admin_pages {
    #![allow(dead_code)]
    use super::{BadRequest, NotFound, Refusals};
    use crate::access::TenantStatus;
    use crate::admin::listing::Direction;
    use crate::admin::outbox::{OutboxEventView, OutboxSummary};
    use crate::admin::usage::UsagePage;
    use crate::admin::views::{Dashboard, EventList, EventPage, TenantList, TenantOverview};
    use crate::inbound::Channel;
    use crate::store::usage::State;

    #[utoipa::path(get, path = "/admin/api/dashboard", operation_id = "adminDashboard", tag = "admin",
        security(("adminToken" = [])),
        responses((status = 200, description = "Counts by status, the last day's calls and the latest failures.", body = Dashboard), Refusals))]
    fn dashboard() {}

    #[utoipa::path(get, path = "/admin/api/tenants", operation_id = "adminTenants", tag = "admin",
        security(("adminToken" = [])),
        params(
            ("q" = Option<String>, Query, description = "Part of a tenant's id, code or name."),
            ("status" = Option<TenantStatus>, Query, description = "Only tenants in this standing."),
            ("test" = Option<String>, Query, description = "`1` lists test tenants too."),
            ("page" = Option<u64>, Query, description = "From 1."),
        ),
        responses((status = 200, description = "A page of tenants.", body = TenantList), BadRequest, Refusals))]
    fn tenants() {}

    #[utoipa::path(get, path = "/admin/api/tenants/{tenantId}/overview", operation_id = "adminTenantOverview", tag = "admin",
        security(("adminToken" = [])),
        params(
            ("tenantId" = String, Path, description = "The marketplace's tenant id."),
            ("users_page" = Option<u64>, Query, description = "The page of users, from 1."),
        ),
        responses((status = 200, description = "What the tenant's page shows.", body = TenantOverview), BadRequest, NotFound, Refusals))]
    fn tenant_overview() {}

    #[utoipa::path(get, path = "/admin/api/events/filtered", operation_id = "adminEventsFiltered", tag = "admin",
        security(("adminToken" = [])),
        params(
            ("channel" = Option<Channel>, Query, description = "Only calls on this channel."),
            ("activity" = Option<String>, Query, description = "Only this activity."),
            ("result" = Option<String>, Query, description = "A result code, or `failures`."),
            ("tenant" = Option<String>, Query, description = "Only this tenant's."),
            ("instance" = Option<String>, Query, description = "Only this instance's."),
            ("since" = Option<String>, Query, description = "`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC."),
            ("until" = Option<String>, Query, description = "`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC."),
            ("dir" = Option<Direction>, Query, description = "`desc` (newest first, the default) or `asc` (oldest first)."),
            ("before" = Option<i64>, Query, description = "Only events older than this id (the next page, newest first)."),
            ("after" = Option<i64>, Query, description = "Only events newer than this id (the next page, oldest first)."),
        ),
        responses((status = 200, description = "A page of events, newest first unless `dir=asc`; `links.next` (and `older`) is the next page in that order.", body = EventList), BadRequest, Refusals))]
    fn events_filtered() {}

    #[utoipa::path(get, path = "/admin/api/events/{id}", operation_id = "adminEvent", tag = "admin",
        security(("adminToken" = [])),
        params(("id" = i64, Path, description = "The event's id.")),
        responses((status = 200, description = "The event, its redacted request and the answer sent.", body = EventPage), NotFound, Refusals))]
    fn event() {}

    #[utoipa::path(get, path = "/admin/api/outbox", operation_id = "adminOutbox", tag = "admin",
        security(("adminToken" = [])),
        responses((status = 200, description = "Where webhook delivery stands.", body = OutboxSummary), Refusals))]
    fn outbox_summary() {}

    #[utoipa::path(get, path = "/admin/api/outbox/backlog", operation_id = "adminOutboxBacklog", tag = "admin",
        security(("adminToken" = [])),
        params(("limit" = Option<u64>, Query, description = "At most this many (1 to 1000, default 100).")),
        responses((status = 200, description = "Pending events, oldest first.", body = Vec<OutboxEventView>), BadRequest, Refusals))]
    fn outbox_backlog() {}

    #[utoipa::path(get, path = "/admin/api/outbox/dead", operation_id = "adminOutboxDead", tag = "admin",
        security(("adminToken" = [])),
        params(("limit" = Option<u64>, Query, description = "At most this many (1 to 1000, default 100).")),
        responses((status = 200, description = "Dead letters, newest first.", body = Vec<OutboxEventView>), BadRequest, Refusals))]
    fn outbox_dead() {}

    #[utoipa::path(post, path = "/admin/api/outbox/{webhookId}/redeliver", operation_id = "adminOutboxRedeliver", tag = "admin",
        security(("adminToken" = [])),
        params(("webhookId" = String, Path, description = "The event's `webhook-id`.")),
        responses((status = 200, description = "The dead letter, back in line.", body = OutboxEventView), BadRequest, NotFound, Refusals))]
    fn outbox_redeliver() {}

    #[utoipa::path(get, path = "/admin/api/usage", operation_id = "adminUsage", tag = "admin",
        security(("adminToken" = [])),
        params(
            ("instance" = Option<String>, Query, description = "Only this instance's records."),
            ("state" = Option<State>, Query, description = "Only records in this state."),
            ("sort" = Option<String>, Query, description = "The records' order: `received` (the default), `period`, `instance` or `state`; any other word is refused."),
            ("dir" = Option<Direction>, Query, description = "The records' direction (by default newest first for times, A to Z otherwise)."),
            ("page" = Option<u64>, Query, description = "The page of records, from 1 (100 a page)."),
            ("instances_sort" = Option<String>, Query, description = "The per-instance table's order: `instance` (the default), `pending`, `pushed`, `refused` or `flagged`."),
            ("instances_dir" = Option<Direction>, Query, description = "The per-instance table's direction (by default A to Z for the id, most first for a count)."),
            ("instances_page" = Option<u64>, Query, description = "The page of instances, from 1 (100 a page)."),
        ),
        responses((status = 200, description = "Usage records by state; a page of per-instance counts and a page of records, each with its total and pager.", body = UsagePage), BadRequest, Refusals))]
    fn usage() {}
}
