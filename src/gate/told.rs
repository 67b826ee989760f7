//! What the gate tells the vendor's app about the caller: the
//! `X-Koogate-*` identity headers (ARCHITECTURE §4), built once per
//! remembered session rather than on every request.

use hyper::header::{HeaderName, HeaderValue};

use entity::session;

const KOOGATE_TENANT: HeaderName = HeaderName::from_static("x-koogate-tenant");
const KOOGATE_USER: HeaderName = HeaderName::from_static("x-koogate-user");
const KOOGATE_ROLE: HeaderName = HeaderName::from_static("x-koogate-role");
const KOOGATE_ORG: HeaderName = HeaderName::from_static("x-koogate-org");
const KOOGATE_IDENTITY: HeaderName = HeaderName::from_static("x-koogate-identity");
const KOOGATE_PLAN: HeaderName = HeaderName::from_static("x-koogate-plan");

/// The identity headers for one session and its token, ready to copy onto
/// each request (a copy shares the bytes).
#[derive(Clone, Debug)]
pub struct Told(Vec<(HeaderName, HeaderValue)>);

impl Told {
    pub fn new(session: &session::Model, token: &str, plan: Option<&str>) -> Told {
        let mut headers = vec![
            (KOOGATE_TENANT, header_value(&session.tenant_id)),
            (KOOGATE_USER, header_value(&session.user_name)),
            (KOOGATE_ROLE, header_value(&session.role)),
            (KOOGATE_ORG, header_value(session.org_code.as_deref().unwrap_or(""))),
            (KOOGATE_IDENTITY, header_value(token)),
        ];
        if let Some(plan) = plan {
            headers.push((KOOGATE_PLAN, header_value(plan)));
        }
        Told(headers)
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: Vec<(HeaderName, HeaderValue)>) -> Told {
        Told(pairs)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter()
    }
}

/// Header values must be visible ASCII; anything else is URL-encoded (the
/// identity token carries the exact text).
fn header_value(value: &str) -> HeaderValue {
    let fit = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    let text = if fit {
        value.to_string()
    } else {
        form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
    };
    // Visible ASCII (or URL-encoded into it) is always a valid value.
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
