//! Bearer tokens for machine APIs (`/admin/api/*`, `/app-api/v1/*`).

use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

/// Whether the request carries `Authorization: Bearer {expected}`.
///
/// # Security
/// Compared in constant time; an empty `expected` (the API is not
/// configured) matches nothing.
pub fn presented(req: &HttpRequest, expected: &str) -> bool {
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    !expected.is_empty()
        && !presented.is_empty()
        && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}
