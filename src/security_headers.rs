//! The headers every page koogate itself answers carries: it cannot be
//! framed (clickjacking), sniffed into another type, or leak its address
//! in `Referer`; and, behind TLS, browsers keep to HTTPS.
//!
//! Answers the gate relays from the vendor's app keep the app's own
//! headers: its pages are its to protect.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::state::AppState;

/// Marks a response relayed from the vendor's app.
pub struct Relayed;

/// Scripts and styles only from koogate itself; no frames or plugins;
/// forms may send to the targets given.
macro_rules! policy {
    ($form_targets:literal) => {
        concat!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; ",
            "object-src 'none'; base-uri 'none'; form-action ",
            $form_targets,
            "; frame-ancestors 'none'"
        )
    };
}

/// The admin site's forms all stay on this site.
const ADMIN_POLICY: &str = policy!("'self'");

/// A person's pages: a form may lead on to an auth centre. Browsers hold
/// `form-action` to every redirect a form's answer makes (CSP 3, "should
/// navigation request be blocked"): the organisation's code leads on
/// (through `/sso/login`) to the tenant's auth centre, and signing out to
/// its logout page, each at an address known only once the form is sent.
/// With `'self'` alone Chromium stops both silently, on this site: a dead
/// end.
const PERSON_POLICY: &str = policy!("'self' https:");

/// [`PERSON_POLICY`] when `sso.allow_private_auth_centres` lets an auth
/// centre answer over plain HTTP (tests, the simulator).
const PERSON_POLICY_PLAIN_HTTP: &str = policy!("'self' https: http:");

const HSTS: &str = "max-age=31536000";

pub async fn protect(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let own = req.app_data::<web::Data<AppState>>().map(|state| for_own_answer(req.path(), state));
    let mut response = next.call(req).await?;
    if response.response().extensions().get::<Relayed>().is_some() {
        return Ok(response);
    }
    let headers = response.headers_mut();
    for (name, value) in own.into_iter().flatten() {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    Ok(response)
}

/// The headers of an answer koogate itself gives at `path` (names in
/// lower case): its policy, and HSTS behind TLS.
pub fn for_own_answer(
    path: &str,
    state: &AppState,
) -> impl Iterator<Item = (&'static str, &'static str)> {
    let secure = crate::sso::cookies::cookie_secure(state);
    let policy = if path.starts_with("/admin") {
        ADMIN_POLICY
    } else if state.settings.sso.allow_private_auth_centres {
        PERSON_POLICY_PLAIN_HTTP
    } else {
        PERSON_POLICY
    };
    [
        ("content-security-policy", policy),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ]
    .into_iter()
    .chain(secure.then_some(("strict-transport-security", HSTS)))
}
