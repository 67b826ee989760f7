//! Every route koogate answers itself, in one table: what its own server
//! (`startup::own_server`) serves.

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::health;

/// Every route, in one table.
/// Routes are grouped under their prefixes, so a request for the vendor's
/// app (the default service) is told apart by a few prefix checks instead
/// of being tried against every route's pattern.
pub fn routes(cfg: &mut web::ServiceConfig, marketplace_path: &str) {
    use crate::lifecycle::handlers::{lifecycle_v1, lifecycle_v2};
    use crate::own_paths::*;
    use crate::sync::handlers::{kit_v1, kit_v2};
    use web::{get, post};
    let base = marketplace_path.trim_end_matches('/');
    let marketplace = |scope: &mut web::ServiceConfig| {
        scope.route("", post().to(lifecycle_v2));
        scope.route("", get().to(lifecycle_v1));
        scope.route(&format!("{KIT}/v2/{{call}}"), post().to(kit_v2));
        scope.route(&format!("{KIT}/{{call}}"), post().to(kit_v1));
    };
    // koogate's own routes read bodies within `server.body_timeout_secs`.
    let deadline = || from_fn(crate::body_deadline::within_deadline);
    if base.is_empty() {
        // The marketplace at the root: its routes beside everything else.
        cfg.service(
            web::resource("/")
                .wrap(deadline())
                .route(post().to(lifecycle_v2))
                .route(get().to(lifecycle_v1)),
        );
        cfg.service(
            web::resource(format!("{KIT}/v2/{{call}}")).wrap(deadline()).route(post().to(kit_v2)),
        );
        cfg.service(
            web::resource(format!("{KIT}/{{call}}")).wrap(deadline()).route(post().to(kit_v1)),
        );
    } else {
        cfg.service(web::scope(base).wrap(deadline()).configure(marketplace));
    }
    cfg.service(web::scope(SSO).wrap(deadline()).configure(sso_routes));
    cfg.service(
        web::scope(ADMIN)
            .wrap(deadline())
            .app_data(crate::admin::render::query_config())
            .app_data(crate::admin::render::path_config())
            .wrap_fn(crate::admin::render::api_errors_as_json)
            .configure(admin_routes),
    );
    cfg.service(
        web::scope(APP_API)
            .wrap(deadline())
            .app_data(crate::error::query_config())
            .app_data(crate::error::path_config())
            .configure(app_api_routes),
    );
    cfg.route(STYLESHEET, get().to(crate::sso::pages::stylesheet));
    cfg.route(LANGUAGE, get().to(crate::ui::handlers::choose));
    cfg.route(JWKS, get().to(crate::gate::identity::jwks));
    cfg.route(HEALTHZ, get().to(health::healthz));
    cfg.route(READYZ, get().to(health::readyz));
    cfg.route(METRICS, get().to(crate::prometheus::render));
    cfg.route(OPENAPI, get().to(crate::openapi::serve));
    // Everything else goes to the vendor's app (when upstream.url is set).
    cfg.default_service(web::to(crate::gate::proxy::forward));
}

fn sso_routes(cfg: &mut web::ServiceConfig) {
    use crate::sso::{handlers, local};
    use web::{get, post};
    cfg.route("/login", get().to(handlers::login));
    cfg.route("/callback", get().to(handlers::callback));
    cfg.route("/cas", get().to(handlers::cas));
    cfg.route("/confirm", post().to(handlers::confirm_sign_in));
    cfg.route("/logout", get().to(handlers::logout_page));
    cfg.route("/logout", post().to(handlers::logout));
    cfg.route("/me", get().to(handlers::me));
    cfg.route("/local", get().to(local::form));
    cfg.route("/local", post().to(local::submit));
}

fn admin_routes(cfg: &mut web::ServiceConfig) {
    use crate::admin::{
        actions, api, drift, events, login, operators, outbox, pages, sessions, sign_ins, usage,
    };
    use web::{get, post};
    cfg.route("", get().to(pages::dashboard));
    cfg.route("/", get().to(pages::dashboard));
    cfg.route("/login", get().to(login::login_form));
    cfg.route("/login", post().to(login::login_submit));
    cfg.route("/logout", post().to(login::logout));
    cfg.route("/tenants", get().to(pages::tenants));
    cfg.route("/tenants.csv", get().to(crate::admin::export::tenants));
    cfg.route("/instances.csv", get().to(crate::admin::export::instances));
    cfg.route("/events.csv", get().to(crate::admin::export::events));
    cfg.route("/tenants/{tenant_id}/users.csv", get().to(crate::admin::export::users));
    cfg.route("/tenants/{tenant_id}", get().to(pages::tenant));
    cfg.route("/tenants/{tenant_id}/sign-in", post().to(crate::admin::sign_in::form));
    cfg.route("/instances", get().to(crate::admin::instances::instances));
    cfg.route("/instances/{instance_id}/{action}", get().to(actions::confirm));
    cfg.route("/instances/{instance_id}/freeze", post().to(actions::freeze));
    cfg.route("/instances/{instance_id}/unfreeze", post().to(actions::unfreeze));
    cfg.route("/events", get().to(events::events));
    cfg.route("/events/{id}", get().to(events::event));
    cfg.route("/events/{id}/replay", post().to(actions::replay));
    cfg.route("/outbox", get().to(outbox::page));
    cfg.route("/sign-ins", get().to(sign_ins::page));
    cfg.route("/operators", get().to(operators::page));
    cfg.route("/operators", post().to(operators::add));
    cfg.route("/operators/{username}/disable", post().to(operators::disable));
    cfg.route("/password", get().to(operators::password_form));
    cfg.route("/password", post().to(operators::change_password));
    cfg.route("/sessions", get().to(sessions::page));
    cfg.route("/sessions/{session_id}/end", post().to(sessions::end_form));
    cfg.route("/api/sign-ins", get().to(sign_ins::list));
    cfg.route("/api/sessions", get().to(sessions::list));
    cfg.route("/api/sessions/{session_id}/end", post().to(sessions::end));
    cfg.route("/outbox/{webhook_id}/redeliver", post().to(outbox::redeliver_form));
    cfg.route("/api/instances", get().to(api::list_instances));
    cfg.route("/api/instances/{instance_id}", get().to(api::instance));
    cfg.route("/api/events", get().to(api::events));
    cfg.route("/usage", get().to(usage::page));
    cfg.route("/drift", get().to(drift::page));
    cfg.route("/drift/{id}", get().to(drift::confirm));
    cfg.route("/drift/{id}/apply", post().to(drift::apply_form));
    cfg.route("/api/drift", get().to(drift::drift));
    cfg.route("/api/drift/{id}/apply", post().to(drift::apply_api));
    cfg.route("/api/usage", get().to(usage::page));
    // The pages' data as JSON (the same handlers, with the API token).
    cfg.route("/api/dashboard", get().to(pages::dashboard));
    cfg.route("/api/tenants", get().to(pages::tenants));
    cfg.route("/api/tenants/{tenant_id}/overview", get().to(pages::tenant));
    cfg.route("/api/events/filtered", get().to(events::events));
    cfg.route("/api/events/{id}", get().to(events::event));
    cfg.route("/api/outbox/overview", get().to(outbox::page));
    cfg.route("/api/tenants/{tenant_id}", get().to(api::tenant));
    cfg.route("/api/tenants/{tenant_id}/departments", get().to(api::departments));
    cfg.route("/api/tenants/{tenant_id}/users", get().to(api::users));
    cfg.route("/api/tenants/{tenant_id}/sign-in", web::put().to(crate::admin::sign_in::put));
    cfg.route("/api/outbox", get().to(outbox::outbox_summary));
    cfg.route("/api/outbox/backlog", get().to(outbox::outbox_backlog));
    cfg.route("/api/outbox/dead", get().to(outbox::outbox_dead));
    cfg.route("/api/outbox/{webhook_id}/redeliver", post().to(outbox::outbox_redeliver));
}

fn app_api_routes(cfg: &mut web::ServiceConfig) {
    use crate::app_api;
    cfg.route("/tenants/{tenant_id}", web::get().to(app_api::tenant));
    cfg.route("/tenants/{tenant_id}/departments", web::get().to(app_api::departments));
    cfg.route("/tenants/{tenant_id}/users", web::get().to(app_api::users));
    cfg.route("/instances/{instance_id}", web::get().to(app_api::instance));
    cfg.route("/usage", web::post().to(app_api::usage::post));
    cfg.route("/usage", web::get().to(app_api::usage::list));
}
