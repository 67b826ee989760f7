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

/// Scripts and styles only from koogate itself; no frames, plugins or
/// foreign form targets.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

const HSTS: &str = "max-age=31536000";

pub async fn protect(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| crate::sso::cookies::cookie_secure(state));
    let mut response = next.call(req).await?;
    if response.response().extensions().get::<Relayed>().is_some() {
        return Ok(response);
    }
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    set("content-security-policy", CONTENT_SECURITY_POLICY);
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "same-origin");
    set("x-frame-options", "DENY");
    if secure {
        set("strict-transport-security", HSTS);
    }
    Ok(response)
}
