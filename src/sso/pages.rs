//! The pages a signing-in user may see, rendered from `templates/` with
//! auto-escaping. Vendor-neutral: they say what happened, never how.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use minijinja::{context, Environment};

/// The templates, compiled into the binary so a deployment is one file.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Templates named *.html are auto-escaped.
    let templates = [
        ("refusal.html", include_str!("../../templates/refusal.html")),
        ("local_login.html", include_str!("../../templates/local_login.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a page template does not parse");
        }
    }
    env
}

/// An HTML page explaining why sign-in or access stopped.
pub fn refusal(
    env: &Environment<'static>,
    status: StatusCode,
    title: &str,
    message: &str,
    retry_url: Option<&str>,
) -> HttpResponse {
    let body = env
        .get_template("refusal.html")
        .and_then(|t| t.render(context! { title, message, retry_url }))
        .unwrap_or_else(|_| title.to_string());
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body)
}

/// The stylesheet.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../static/koogate.css"))
}
