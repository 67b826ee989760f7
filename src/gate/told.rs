//! What the gate tells the vendor's app about the caller: the
//! `X-Koogate-*` identity headers (ARCHITECTURE §4), built once per
//! remembered session rather than on every request.

use std::rc::Rc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use entity::session;

const KOOGATE_TENANT: HeaderName = HeaderName::from_static("x-koogate-tenant");
const KOOGATE_USER: HeaderName = HeaderName::from_static("x-koogate-user");
const KOOGATE_ROLE: HeaderName = HeaderName::from_static("x-koogate-role");
const KOOGATE_ORG: HeaderName = HeaderName::from_static("x-koogate-org");
const KOOGATE_IDENTITY: HeaderName = HeaderName::from_static("x-koogate-identity");
const KOOGATE_PLAN: HeaderName = HeaderName::from_static("x-koogate-plan");

/// Room in the headers of a request for the app: the identity headers,
/// the forwarding ones and a browser's usual dozen, so that none of a
/// usual request's headers makes the map's index be built anew. (A copy's
/// list of entries has room only for those it copied, and still grows
/// once or twice; adding the identity headers one by one to a roomier map
/// instead cost twice as many instructions, `bench/gate_callgrind.sh`.)
const ROOM: usize = 24;

/// The identity headers for one session and its token, as the start of the
/// headers of every request for the app: a copy shares the bytes, and
/// costs less than adding each one to every request. A clone shares the
/// map, and is the same told (see [`Told::is`]).
#[derive(Clone, Debug)]
pub struct Told(Rc<HeaderMap>);

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
        Told::from_pairs(headers)
    }

    pub fn from_pairs(pairs: Vec<(HeaderName, HeaderValue)>) -> Told {
        let mut headers = HeaderMap::with_capacity(ROOM);
        for (name, value) in pairs {
            headers.append(name, value);
        }
        Told(Rc::new(headers))
    }

    /// Whether `other` is this told or a clone of it (the same caller's,
    /// made once when their session was read).
    pub fn is(&self, other: &Told) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// The headers of a request for the app, these first; the request's
    /// others are added to them.
    pub fn headers(&self) -> HeaderMap {
        HeaderMap::clone(&self.0)
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
