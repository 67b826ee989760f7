//! Sign-ins in the admin site: `GET /admin/sign-ins` (filters tenant,
//! user, outcome; a refusal page's reference finds its attempt) and
//! `GET /admin/api/sign-ins` (ARCHITECTURE §4).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api::AdminAccess;
use super::auth::Operator;
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
    /// At most this many (1 to 1000, default 100).
    limit: Option<u64>,
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
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    })
}

/// `GET /admin/api/sign-ins?tenantId&userName&outcome&reference&limit`
#[utoipa::path(get, path = "/admin/api/sign-ins", operation_id = "adminSignIns", tag = "admin",
    security(("adminToken" = [])),
    params(SignInQuery),
    responses((status = 200, description = "Sign-in attempts, newest first.", body = Vec<SignInView>), crate::openapi::BadRequest, crate::openapi::Refusals))]
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
    /// The next older page with the same filters.
    older: Option<String>,
    /// The newest page with the same filters, when this is an older one.
    newest: Option<String>,
}

/// The page's cursor (not part of the API): attempts older than the one
/// at `before_at` (ms) with id `before`.
#[derive(Debug, Deserialize)]
pub struct Older {
    before_at: Option<i64>,
    before: Option<i64>,
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
    older: web::Query<Older>,
) -> PageResult {
    let query = query.into_inner();
    let before = older.before_at.zip(older.before);
    let filter = store::sign_ins::Filter { before, limit: PAGE_SIZE, ..filter(&query)? };
    let rows = store::sign_ins::list(&state.db.conn, &filter).await?;
    let link = |cursor: Option<(i64, i64)>| {
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
        if let Some((at, id)) = cursor {
            s.append_pair("before_at", &at.to_string());
            s.append_pair("before", &id.to_string());
        }
        format!("/admin/sign-ins?{}", s.finish())
    };
    let older = rows
        .last()
        .filter(|_| rows.len() as u64 == PAGE_SIZE)
        .map(|last| link(Some((last.at, last.id))));
    let view = SignInsPage {
        outcomes: Outcome::ALL.iter().map(|o| o.as_str()).collect(),
        attempts: rows.into_iter().map(|r| SignInRow::from(SignInView::from(r))).collect(),
        older,
        newest: before.is_some().then(|| link(None)),
        filter: query,
    };
    render(&state, &Viewer::Operator(operator, req), "admin/sign_ins.html", &view)
}
