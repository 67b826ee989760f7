//! A short memory of recently seen sessions and their identity tokens, so
//! a busy browser does not cost a database read and an ECDSA signature on
//! every request, nor the naming of its revocation subjects and identity
//! headers.
//!
//! Each worker thread has its own (see `front`): a request is answered on
//! the worker that accepted its connection, and a memory shared by the
//! workers made them take turns at one lock, and at the counts of every
//! header value it handed out, on every request.
//!
//! # Security
//! Revocations are checked on every request, remembered or not (they are
//! in memory, see `access::revoke`). An entry saves only the session read and
//! is trusted for `SESSION_TTL`, so a logout or an idle expiry seen by
//! another replica or worker counts here within half a second; tokens are
//! reused for at most `TOKEN_REUSE` of their 300 s lifetime.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use entity::session;

use crate::access::revoke::Subjects;
use crate::gate::told::Told;

const SESSION_TTL: Duration = Duration::from_millis(500);
const TOKEN_REUSE: Duration = Duration::from_secs(60);
/// Past this many entries the memory is simply dropped and refilled.
const MAX_ENTRIES: usize = 50_000;

/// What a session is remembered by: the BLAKE3 hash of its cookie's value
/// (the memory keeps no session id). Worked out on every proxied request,
/// where SHA-256 cost a tenth of the gate's instructions on a processor
/// without SHA extensions (many servers' have none); BLAKE3 costs a sixth
/// of that, with the same strength.
pub type Key = [u8; 32];

pub fn key(session_id: &str) -> Key {
    blake3::hash(session_id.as_bytes()).into()
}

/// A signed-in caller as the gate passes them on. Shared, not copied,
/// by every request that finds it remembered.
pub struct Seen {
    pub session: session::Model,
    pub token: Rc<str>,
    /// The plan (skuCode) the token names, for `X-Koogate-Plan`: read when
    /// the token is signed, so it costs nothing per request.
    pub plan: Option<Rc<str>>,
    /// What revokes this session, for the check every request makes.
    pub subjects: Subjects,
    /// The revocations' generation when this session was last found clear
    /// (see `Revocations::ended_since`).
    pub cleared: Cell<u64>,
    /// The identity headers for the app.
    pub told: Told,
}

impl Seen {
    pub fn new(session: session::Model, token: Rc<str>, plan: Option<Rc<str>>) -> Seen {
        let subjects = Subjects::of(&session);
        let told = Told::new(&session, &token, plan.as_deref());
        Seen { session, token, plan, subjects, cleared: Cell::new(0), told }
    }
}

/// An identity token with the plan it names and when it was signed.
pub struct Signed {
    pub token: Rc<str>,
    pub plan: Option<Rc<str>>,
    pub at: Instant,
}

struct Entry {
    seen: Rc<Seen>,
    /// Until when the whole entry may be trusted: the sooner of the
    /// session's and the token's limits, worked out once when it is put.
    trusted_until: Instant,
    signed_at: Instant,
}

/// One worker's memory. Its table is hashed with foldhash, not the
/// standard library's SipHash, which cost three times as much (273
/// instructions against 91, on every proxied request,
/// `bench/gate_callgrind.sh`): its keys are already BLAKE3 hashes, and only
/// live sessions' are ever put, so a caller cannot choose where entries
/// land.
#[derive(Default)]
pub struct GateCache {
    entries: RefCell<HashMap<Key, Entry, foldhash::fast::RandomState>>,
}

impl GateCache {
    /// The session and token remembered for this key, if both are still
    /// fresh enough to trust.
    pub fn get(&self, key: &Key) -> Option<Rc<Seen>> {
        let entries = self.entries.borrow();
        let entry = entries.get(key)?;
        (Instant::now() < entry.trusted_until).then(|| entry.seen.clone())
    }

    /// A token (and the plan it names) still fit to reuse for this
    /// session, and when it was signed, even if the session itself must be
    /// checked again.
    pub fn token(&self, key: &Key) -> Option<Signed> {
        let entries = self.entries.borrow();
        let entry = entries.get(key)?;
        (entry.signed_at.elapsed() < TOKEN_REUSE).then(|| Signed {
            token: entry.seen.token.clone(),
            plan: entry.seen.plan.clone(),
            at: entry.signed_at,
        })
    }

    pub fn put(&self, key: Key, seen: Rc<Seen>, signed_at: Instant) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let trusted_until = (Instant::now() + SESSION_TTL).min(signed_at + TOKEN_REUSE);
        entries.insert(key, Entry { seen, trusted_until, signed_at });
    }

    pub fn forget(&self, key: &Key) {
        self.entries.borrow_mut().remove(key);
    }
}
