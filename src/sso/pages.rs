//! The pages a signing-in user may see, rendered from `templates/` with
//! auto-escaping (refusal pages are rendered by `super::refusal`).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::{context, Environment};

use super::cookies::cookie_secure;
use super::session::{self, Current};
use super::{session_cookie_name, Deps};
use crate::settings::Site;
use crate::state::AppState;
use crate::store;

/// The templates, compiled into the binary so a deployment is one file.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Templates named *.html are auto-escaped.
    let templates = [
        ("base.html", include_str!("../../templates/base.html")),
        ("refusal.html", include_str!("../../templates/refusal.html")),
        ("local_login.html", include_str!("../../templates/local_login.html")),
        ("organisation.html", include_str!("../../templates/organisation.html")),
        ("_organisation_form.html", include_str!("../../templates/_organisation_form.html")),
        ("landing.html", include_str!("../../templates/landing.html")),
        ("confirm_sign_in.html", include_str!("../../templates/confirm_sign_in.html")),
        ("sign_out.html", include_str!("../../templates/sign_out.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a page template does not parse");
        }
    }
    env
}

/// Where a buyer finds their KooGallery purchases again.
fn console_url(site: Site) -> &'static str {
    match site {
        Site::Cn => "https://console.huaweicloud.com/",
        Site::Intl | Site::Eu => "https://console-intl.huaweicloud.com/",
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// "Which organisation?": the sign-in page when nothing names one (never
/// a list of customers). `tried` is a code that named none (404).
pub fn organisation(
    state: &AppState,
    req: &HttpRequest,
    tried: Option<&str>,
    next: Option<&str>,
) -> HttpResponse {
    let console_url = console_url(state.settings.open_api.site);
    let next = super::cookies::local_path(next);
    let view = context! { org => tried, not_found => tried.is_some(), console_url, next };
    let status = if tried.is_some() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    match state.pages.render(req, "organisation.html", view) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "the organisation page does not render");
            html(StatusCode::INTERNAL_SERVER_ERROR, "Sign in is unavailable".to_string())
        }
    }
}

/// With no `upstream.url`: who is signed in, and that the vendor's app
/// is not connected (instead of a bare 404). `None` when nobody is.
pub async fn landing(state: &AppState, req: &HttpRequest) -> Option<HttpResponse> {
    let cookie = req.cookie(session_cookie_name(cookie_secure(state)))?;
    let current = session::current(&Deps::of(state), Some(cookie.value())).await.ok()?;
    let Current::Live(session) = current else { return None };
    let organisation = match store::tenants::find(&state.db.conn, &session.tenant_id).await {
        Ok(Some(tenant)) if !tenant.name.is_empty() => tenant.name,
        _ => session.tenant_id.clone(),
    };
    let csrf_token = super::confirm::form_token(super::confirm::Purpose::SignOut, cookie.value());
    let view = context! {
        name => session.name, user_name => session.user_name, organisation, csrf_token
    };
    match state.pages.render(req, "landing.html", view) {
        Ok(body) => Some(html(StatusCode::OK, body)),
        Err(e) => {
            tracing::error!(error = %e, "the landing page does not render");
            None
        }
    }
}

/// "Continue as this account?" (see [`super::confirm`]).
pub fn confirm_sign_in(
    state: &AppState,
    req: &HttpRequest,
    pending: &super::confirm::Pending,
    csrf_token: &str,
) -> HttpResponse {
    let view = context! {
        name => pending.name,
        user_name => pending.user_name,
        organisation => pending.organisation,
        replaces => pending.replaces,
        csrf_token,
    };
    render(state, req, "confirm_sign_in.html", view)
}

/// "Sign out?": the button posts the sign-out with this browser's token.
pub fn sign_out(state: &AppState, req: &HttpRequest, csrf_token: &str) -> HttpResponse {
    render(state, req, "sign_out.html", context! { csrf_token })
}

fn render(state: &AppState, req: &HttpRequest, name: &str, view: minijinja::Value) -> HttpResponse {
    match state.pages.render(req, name, view) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            tracing::error!(error = %e, template = name, "a sign-in page does not render");
            html(StatusCode::INTERNAL_SERVER_ERROR, "Sign in is unavailable".to_string())
        }
    }
}

/// The stylesheet.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../static/koogate.css"))
}
