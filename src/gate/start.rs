//! The start of the headers of a request for the app, kept per client
//! connection: the caller's identity headers ([`Told`]), the app's `Host`
//! and the forwarding ones (`X-Forwarded-*`, see [`super::forwarded`]).
//!
//! From one request to the next on a connection these seldom change: the
//! same browser, from the same peer, asking for the same `Host`. So a
//! connection keeps the last start it made and copies it while all three
//! are the same, instead of writing the forwarding headers anew for every
//! request. Anything else (another person's session on the connection,
//! another `Host`, the session read again) makes a new start.

use std::cell::RefCell;
use std::net::IpAddr;

use hyper::header::HeaderMap;

use crate::gate::told::Told;

/// One connection's last start.
#[derive(Default)]
pub struct LastStart(RefCell<Option<Kept>>);

struct Kept {
    /// Held, not only compared: a told that is still held cannot be
    /// dropped and another made at its address.
    told: Told,
    peer: Option<IpAddr>,
    host: Option<Box<str>>,
    headers: HeaderMap,
}

impl LastStart {
    /// The start for this caller (`told`), `peer` and `host`: a copy of
    /// the last one when they are the same, else `make`'s, then kept.
    pub fn for_request(
        &self,
        told: &Told,
        peer: Option<IpAddr>,
        host: Option<&str>,
        make: impl FnOnce() -> HeaderMap,
    ) -> HeaderMap {
        if let Some(kept) = &*self.0.borrow() {
            if kept.told.is(told) && kept.peer == peer && kept.host.as_deref() == host {
                return kept.headers.clone();
            }
        }
        let headers = make();
        *self.0.borrow_mut() = Some(Kept {
            told: told.clone(),
            peer,
            host: host.map(Box::from),
            headers: headers.clone(),
        });
        headers
    }
}
