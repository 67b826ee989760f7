//! How admin answers leave: a page of the admin layout for an operator,
//! the same view as JSON for the API, and failures as an HTML page. All
//! HTML through the auto-escaping templates of `templates/admin/`.

use std::sync::OnceLock;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use minijinja::{context, Environment};
use serde::Serialize;

use super::viewer::Viewer;
use crate::error::Error;
use crate::state::AppState;

/// Adds the admin templates to the page environment.
pub fn register(env: &mut Environment<'static>) {
    let templates = [
        ("admin/base.html", include_str!("../../templates/admin/base.html")),
        ("admin/login.html", include_str!("../../templates/admin/login.html")),
        ("admin/dashboard.html", include_str!("../../templates/admin/dashboard.html")),
        ("admin/tenants.html", include_str!("../../templates/admin/tenants.html")),
        ("admin/tenant.html", include_str!("../../templates/admin/tenant.html")),
        ("admin/instances.html", include_str!("../../templates/admin/instances.html")),
        ("admin/events.html", include_str!("../../templates/admin/events.html")),
        ("admin/event.html", include_str!("../../templates/admin/event.html")),
        ("admin/outbox.html", include_str!("../../templates/admin/outbox.html")),
        ("admin/usage.html", include_str!("../../templates/admin/usage.html")),
        ("admin/drift.html", include_str!("../../templates/admin/drift.html")),
        ("admin/drift_apply.html", include_str!("../../templates/admin/drift_apply.html")),
        ("admin/sign_ins.html", include_str!("../../templates/admin/sign_ins.html")),
        ("admin/sessions.html", include_str!("../../templates/admin/sessions.html")),
        ("admin/confirm.html", include_str!("../../templates/admin/confirm.html")),
        ("admin/password.html", include_str!("../../templates/admin/password.html")),
        ("admin/operators.html", include_str!("../../templates/admin/operators.html")),
        ("admin/_events_table.html", include_str!("../../templates/admin/_events_table.html")),
        ("admin/_sort.html", include_str!("../../templates/admin/_sort.html")),
        ("admin/_pager.html", include_str!("../../templates/admin/_pager.html")),
        ("admin/_direction.html", include_str!("../../templates/admin/_direction.html")),
        ("admin/_keyset_pager.html", include_str!("../../templates/admin/_keyset_pager.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "an admin template does not parse");
        }
    }
}

/// An error shown as an HTML page (the cause goes to the log only).
#[derive(Debug)]
pub struct HtmlError {
    pub error: Error,
}

impl From<Error> for HtmlError {
    fn from(error: Error) -> Self {
        HtmlError { error }
    }
}

/// The error page's own environment: an error is rendered where no
/// application state is at hand.
fn error_page() -> &'static Environment<'static> {
    static PAGES: OnceLock<Environment<'static>> = OnceLock::new();
    PAGES.get_or_init(|| {
        let mut env = crate::ui::pages::with_messages(Environment::new());
        let source = include_str!("../../templates/admin/error.html");
        if let Err(e) = env.add_template("admin/error.html", source) {
            tracing::error!(error = %e, "the admin error template does not parse");
        }
        env
    })
}

impl std::fmt::Display for HtmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self.error, "admin page failed");
        }
        // The catalogue key under `admin.error`.
        let title = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::FORBIDDEN => "refused",
            StatusCode::BAD_REQUEST => "not_possible",
            _ => "try_again",
        };
        let message = self.error.public_message();
        // An error answer has no request at hand: English, like the
        // message the error carries.
        let lang = crate::ui::Lang::En.tag();
        let body = error_page()
            .get_template("admin/error.html")
            .and_then(|t| t.render(context! { title, message, lang }))
            .unwrap_or_else(|_| title.to_string());
        HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body)
    }
}

pub type PageResult = Result<HttpResponse, HtmlError>;

/// The admin site's extractor refusals, as pages (and, under
/// `/admin/api/`, as JSON through [`api_errors_as_json`]).
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _| HtmlError::from(Error::Invalid(err.to_string())).into())
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|_, _| HtmlError::from(Error::NotFound).into())
}

/// Under `/admin/api/` the pages' handlers answer programs: their refusal
/// is the JSON answer every API gives, not the page a person reads.
pub fn api_errors_as_json<S>(
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
{
    let api = req.path().starts_with("/admin/api/");
    let call = service.call(req);
    async move {
        let response = call.await?;
        let json = match response.response().error().and_then(|e| e.as_error::<HtmlError>()) {
            Some(page) if api => page.error.error_response(),
            _ => return Ok(response),
        };
        Ok(response.into_response(json))
    }
}

/// The signed-in operator, as the layout shows them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperatorView<'a> {
    username: &'a str,
    csrf_token: &'a str,
    role: super::roles::Role,
    /// Whether the page shows the buttons that change things.
    can_act: bool,
    can_manage_operators: bool,
}

#[derive(Serialize)]
struct PageContext<'a, T: Serialize> {
    #[serde(flatten)]
    view: &'a T,
    operator: OperatorView<'a>,
}

/// Renders a page of the admin layout (or, for the API, its view as JSON).
pub fn render<T: Serialize>(state: &AppState, viewer: &Viewer, name: &str, view: &T) -> PageResult {
    let (operator, req) = match viewer {
        Viewer::Operator(operator, req) => (operator, req),
        Viewer::Api => return Ok(HttpResponse::Ok().json(view)),
    };
    let context = PageContext {
        view,
        operator: OperatorView {
            username: &operator.username,
            csrf_token: &operator.csrf_token,
            role: operator.role,
            can_act: operator.role >= super::roles::Role::Operator,
            can_manage_operators: operator.role >= super::roles::Role::Admin,
        },
    };
    let body = state
        .pages
        .render(req, name, &context)
        .map_err(|e| Error::Internal(format!("template {name}: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error page is the template's, and what the message says is
    /// escaped, not markup.
    #[test]
    fn an_error_page_escapes_its_message() {
        let response =
            HtmlError::from(Error::invalid("<script>alert(1)</script>")).error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .and_then(Result::ok)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        assert!(body.contains("<h1>Not possible</h1>"), "{body}");
        assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{body}");
        assert!(!body.contains("<script>"), "{body}");
    }
}
