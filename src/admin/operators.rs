//! Operator accounts in the admin site: `/admin/operators` (admins list,
//! add and disable accounts) and `/admin/password` (an operator replaces
//! the one-time password they were given). See [`super::roles`].

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Operator;
use super::render::{render, PageResult};
use super::roles::{self, NotAdded, Role, MIN_PASSWORD_CHARS};
use super::viewer::Viewer;
use crate::error::Error;
use crate::inbound::{self, Call, Channel, Effects};
use crate::marketplace::result::Answer;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorRow {
    username: String,
    role: String,
    disabled: bool,
    must_change_password: bool,
    created_by: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorsPage {
    settings_admin: String,
    operators: Vec<OperatorRow>,
    roles: Vec<&'static str>,
    /// The account just made and its one-time password, shown this once.
    made: Option<(String, String)>,
    error: Option<&'static str>,
}

async fn operators_page(
    state: &AppState,
    operator: Operator,
    req: HttpRequest,
    made: Option<(String, String)>,
    error: Option<&'static str>,
) -> PageResult {
    let operators = store::operators::list(&state.db.conn)
        .await?
        .into_iter()
        .map(|o| OperatorRow {
            username: o.username,
            role: o.role,
            disabled: o.disabled,
            must_change_password: o.must_change_password,
            created_by: o.created_by,
        })
        .collect();
    let view = OperatorsPage {
        settings_admin: state.settings.admin.username.clone(),
        operators,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        made,
        error,
    };
    render(state, &Viewer::Operator(operator, req), "admin/operators.html", &view)
}

/// `GET /admin/operators` (admins only).
pub async fn page(state: web::Data<AppState>, operator: Operator, req: HttpRequest) -> PageResult {
    operator.require(Role::Admin)?;
    operators_page(&state, operator, req, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/operators`: makes an account; the page shows its one-time
/// password once.
pub async fn add(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
    form: web::Form<AddForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(Role::Admin)?;
    let role = Role::parse(&form.role)
        .ok_or_else(|| Error::invalid("role must be viewer, operator or admin"))?;
    let username = form.username.trim();
    let settings_admin = &state.settings.admin.username;
    match roles::add(&state.db, settings_admin, username, role, &operator.username).await? {
        Ok(password) => {
            let detail = json!({"username": username, "role": role.as_str()});
            record(&state, &operator.username, "addOperator", detail).await?;
            let made = Some((username.to_string(), password));
            operators_page(&state, operator, req, made, None).await
        }
        Err(NotAdded::Taken) => {
            operators_page(&state, operator, req, None, Some("admin.operators.taken")).await
        }
        Err(NotAdded::BadName) => {
            operators_page(&state, operator, req, None, Some("admin.operators.bad_name")).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/operators/{username}/disable`: the account can no longer
/// sign in, and its open admin sessions end at their next request.
pub async fn disable(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(Role::Admin)?;
    let username = path.into_inner();
    let tx = state.db.begin_write().await?;
    let found = store::operators::set_disabled(&tx.txn, &username, true).await?;
    tx.commit().await?;
    if !found {
        return Err(Error::NotFound.into());
    }
    record(&state, &operator.username, "disableOperator", json!({"username": username})).await?;
    Ok(see_other("/admin/operators"))
}

/// An operator's action on accounts, in the event log with who did it.
async fn record(
    state: &AppState,
    who: &str,
    activity: &str,
    detail: serde_json::Value,
) -> Result<(), Error> {
    let mut call = Call::new(Channel::Operator);
    call.activity = activity.to_string();
    call.request = json!({"operator": who, "action": activity, "account": detail}).to_string();
    let tx = inbound::begin(&state.db, &call).await?;
    inbound::commit_call(tx, &state.outbox, &call, &Answer::success(), Effects::default()).await
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PasswordPage {
    must_change: bool,
    min_chars: usize,
    error: Option<&'static str>,
}

/// `GET /admin/password`: where a named account chooses its password.
pub async fn password_form(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
) -> PageResult {
    let view = PasswordPage {
        must_change: operator.must_change_password,
        min_chars: MIN_PASSWORD_CHARS,
        error: None,
    };
    render(&state, &Viewer::Operator(operator, req), "admin/password.html", &view)
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

/// `POST /admin/password`
pub async fn change_password(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
    form: web::Form<PasswordForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    if operator.username == state.settings.admin.username {
        return Err(Error::invalid(
            "This account's password is admin.password_hash in the settings.",
        )
        .into());
    }
    let error = if form.password.chars().count() < MIN_PASSWORD_CHARS {
        Some("admin.password.too_short")
    } else if form.password != form.again {
        Some("admin.password.mismatch")
    } else {
        None
    };
    if let Some(error) = error {
        let view = PasswordPage {
            must_change: operator.must_change_password,
            min_chars: MIN_PASSWORD_CHARS,
            error: Some(error),
        };
        return render(&state, &Viewer::Operator(operator, req), "admin/password.html", &view);
    }
    roles::change_password(&state.db, &operator.username, &form.password).await?;
    Ok(see_other("/admin"))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}
