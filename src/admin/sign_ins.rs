//! Sign-ins in the admin site: `GET /admin/sign-ins` (filters tenant,
//! user, outcome; a refusal page's reference finds its attempt) and
//! `GET /admin/api/sign-ins` (ARCHITECTURE §4).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api::AdminAccess;
use super::auth::Operator;
use super::listing::{Direction, KeysetLinks};
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::when;
use crate::error::Error;
use crate::sso::sign_ins::{Outcome, SignInView};
use crate::state::AppState;
use crate::store;

#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SignInQuery {
    tenant_id: Option<String>,
    user_name: Option<String>,
    #[param(value_type = Option<Outcome>)]
    outcome: Option<String>,
    /// The reference a refusal page showed (e.g. `ABCD-EFGH`).
    reference: Option<String>,
    /// `desc` (newest first, the default) or `asc` (oldest first).
    #[param(value_type = Option<Direction>)]
    dir: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<u64>,
}

impl SignInQuery {
    fn direction(&self) -> Result<Direction, Error> {
        Direction::from_query(self.dir.as_deref().unwrap_or_default(), Direction::Desc)
    }
}

/// The query as a store filter; an empty field matches everything.
fn filter(query: &SignInQuery) -> Result<store::sign_ins::Filter, Error> {
    let given = |v: &Option<String>| {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    };
    let outcome = match given(&query.outcome) {
        None => None,
        Some(word) => Some(
            Outcome::parse(&word)
                .ok_or_else(|| Error::invalid("outcome is not one of the documented outcomes"))?
                .as_str(),
        ),
    };
    Ok(store::sign_ins::Filter {
        tenant_id: given(&query.tenant_id),
        user_name: given(&query.user_name),
        outcome,
        reference: given(&query.reference).map(|r| r.to_ascii_uppercase()),
        before: None,
        after: None,
        oldest_first: query.direction()? == Direction::Asc,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    })
}

/// `GET /admin/api/sign-ins?tenantId&userName&outcome&reference&dir&limit`
#[utoipa::path(get, path = "/admin/api/sign-ins", operation_id = "adminSignIns", tag = "admin",
    security(("adminToken" = [])),
    params(SignInQuery),
    responses((status = 200, description = "Sign-in attempts, newest first unless `dir=asc`.", body = Vec<SignInView>), crate::openapi::BadRequest, crate::openapi::Refusals))]
pub async fn list(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, Error> {
    let rows = store::sign_ins::list(&state.db.conn, &filter(&query)?).await?;
    let views: Vec<SignInView> = rows.into_iter().map(SignInView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /admin/sign-ins`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInsPage {
    filter: SignInQuery,
    outcomes: Vec<&'static str>,
    attempts: Vec<SignInRow>,
    /// The order shown, either order's first page, the next page.
    links: KeysetLinks,
}

/// The page's cursor (not part of the API): attempts older than the one
/// at `before_at` (ms) with id `before`, or newer than `after_at`/`after`.
#[derive(Debug, Deserialize)]
pub struct Cursor {
    before_at: Option<i64>,
    before: Option<i64>,
    after_at: Option<i64>,
    after: Option<i64>,
}
/// Attempts a page of the site lists.
const PAGE_SIZE: u64 = 100;

/// An attempt as the page lists it (times as operators read them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInRow {
    at: String,
    tenant_id: Option<String>,
    instance_id: Option<String>,
    user_name: Option<String>,
    dialect: &'static str,
    outcome: &'static str,
    refusal: Option<String>,
    reference: Option<String>,
}

impl From<SignInView> for SignInRow {
    fn from(view: SignInView) -> SignInRow {
        let at = DateTime::parse_from_rfc3339(&view.at)
            .map(|t| when(t.with_timezone(&Utc)))
            .unwrap_or(view.at);
        SignInRow {
            at,
            tenant_id: view.tenant_id,
            instance_id: view.instance_id,
            user_name: view.user_name,
            dialect: view.dialect.as_str(),
            outcome: view.outcome.as_str(),
            refusal: view.refusal,
            reference: view.reference,
        }
    }
}

pub async fn page(
    state: web::Data<AppState>,
    operator: Operator,
    req: actix_web::HttpRequest,
    query: web::Query<SignInQuery>,
    cursor: web::Query<Cursor>,
) -> PageResult {
    let query = query.into_inner();
    let direction = query.direction()?;
    let before = cursor.before_at.zip(cursor.before);
    let after = cursor.after_at.zip(cursor.after);
    let filter = store::sign_ins::Filter { before, after, limit: PAGE_SIZE + 1, ..filter(&query)? };
    let mut rows = store::sign_ins::list(&state.db.conn, &filter).await?;
    let more = rows.len() as u64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let link = |direction: Direction, past: Option<(i64, i64)>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("tenantId", &query.tenant_id),
            ("userName", &query.user_name),
            ("outcome", &query.outcome),
            ("reference", &query.reference),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        if direction == Direction::Asc {
            s.append_pair("dir", direction.as_str());
        }
        if let Some((at, id)) = past {
            let (at_key, id_key) = match direction {
                Direction::Desc => ("before_at", "before"),
                Direction::Asc => ("after_at", "after"),
            };
            s.append_pair(at_key, &at.to_string());
            s.append_pair(id_key, &id.to_string());
        }
        format!("/admin/sign-ins?{}", s.finish())
    };
    let next = rows.last().filter(|_| more).map(|last| link(direction, Some((last.at, last.id))));
    let paged = before.is_some() || after.is_some();
    let links = KeysetLinks::new(direction, next, paged, |d| link(d, None));
    let view = SignInsPage {
        outcomes: Outcome::ALL.iter().map(|o| o.as_str()).collect(),
        attempts: rows.into_iter().map(|r| SignInRow::from(SignInView::from(r))).collect(),
        links,
        filter: query,
    };
    render(&state, &Viewer::Operator(operator, req), "admin/sign_ins.html", &view)
}
