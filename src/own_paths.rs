//! The paths koogate answers itself; every other path is the vendor's app
//! (the gate). The route table (`startup::routes`) mounts its scopes and
//! single routes at these, and the front hands every request under them
//! to koogate's own server.

/// Sign-in and sign-out.
pub const SSO: &str = "/sso";
/// The admin site and its JSON API.
pub const ADMIN: &str = "/admin";
/// The read API for the vendor's app.
pub const APP_API: &str = "/app-api/v1";
/// The admin site's JSON API, below [`ADMIN`].
pub const ADMIN_API: &str = "/admin/api";
/// The Kit syncs, below the marketplace path.
pub const KIT: &str = "/produceAPI";

pub const STYLESHEET: &str = "/static/koogate.css";
pub const LANGUAGE: &str = "/language";
pub const JWKS: &str = "/.well-known/jwks.json";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";

const SCOPES: [&str; 3] = [SSO, ADMIN, APP_API];
const SINGLES: [&str; 7] = [STYLESHEET, LANGUAGE, JWKS, HEALTHZ, READYZ, METRICS, OPENAPI];

/// Whether `path` is one of koogate's own, with the marketplace mounted at
/// `marketplace_path` (`marketplace.path`; empty or `/` for the root). A
/// scope owns its path and everything below it, as the router matches
/// scopes. Paths are compared as written: a caller that must not mistake
/// a percent-encoded spelling of an own path for the app's does not ask.
pub fn is_own(path: &str, marketplace_path: &str) -> bool {
    let under = |scope: &str| {
        path.strip_prefix(scope).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let base = marketplace_path.trim_end_matches('/');
    let marketplace = if base.is_empty() { path == "/" || under(KIT) } else { under(base) };
    marketplace || SCOPES.iter().any(|scope| under(scope)) || SINGLES.contains(&path)
}

/// Whether `path` is one only programs call: the marketplace's calls, the
/// read API and the admin JSON API (bearer tokens), health checks,
/// scrapes and the published keys and description. A connection that
/// opens with one carries no browser's traffic.
pub fn is_for_programs(path: &str, marketplace_path: &str) -> bool {
    let under = |scope: &str| {
        path.strip_prefix(scope).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let base = marketplace_path.trim_end_matches('/');
    let marketplace = if base.is_empty() { path == "/" || under(KIT) } else { under(base) };
    marketplace
        || under(APP_API)
        || under(ADMIN_API)
        || [HEALTHZ, READYZ, METRICS, JWKS, OPENAPI].contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn koogate_s_own_paths_are_told_from_the_app_s() {
        for own in [
            "/koogallery",
            "/koogallery/produceAPI/v2/tenantSync",
            "/sso",
            "/sso/login",
            "/admin",
            "/admin/api/instances",
            "/app-api/v1/usage",
            "/healthz",
            "/.well-known/jwks.json",
        ] {
            assert!(is_own(own, "/koogallery"), "{own}");
        }
        for app in ["/", "/ssox", "/koogallery2", "/app-api/v2", "/healthz/x", "/produceAPI/v2/x"] {
            assert!(!is_own(app, "/koogallery"), "{app}");
        }
        assert!(is_own("/", "/"), "the marketplace at the root owns /");
        assert!(is_own("/produceAPI/v2/tenantSync", ""));
        assert!(!is_own("/dashboard", ""));
    }

    #[test]
    fn what_only_programs_call_is_told_from_what_browsers_open() {
        for programs in ["/koogallery", "/app-api/v1/usage", "/admin/api/events", "/metrics"] {
            assert!(is_for_programs(programs, "/koogallery"), "{programs}");
        }
        for browsers in ["/", "/sso/login", "/admin", "/admin/tenants", "/reports", "/admin/apis"] {
            assert!(!is_for_programs(browsers, "/koogallery"), "{browsers}");
        }
        assert!(is_for_programs("/", ""), "the marketplace at the root");
    }
}
