//! The pages a signing-in user may see, rendered from `templates/` with
//! auto-escaping (refusal pages are rendered by `super::refusal`).

use actix_web::HttpResponse;
use minijinja::Environment;

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

/// The stylesheet.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../static/koogate.css"))
}
