//! A short memory of recently seen sessions and their identity tokens, so
//! a busy browser does not cost a database read and an ECDSA signature on
//! every request, nor the naming of its revocation subjects and identity
//! headers.
//!
//! # Security
//! Revocations are checked on every request, remembered or not (they are
//! in memory, see `access::revoke`). An entry saves only the session read and
//! is trusted for `SESSION_TTL`, so a logout or an idle expiry seen by
//! another replica counts here within half a second; tokens are reused for
//! at most `TOKEN_REUSE` of their 300 s lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entity::session;

use crate::access::revoke::Subjects;
use crate::gate::told::Told;

const SESSION_TTL: Duration = Duration::from_millis(500);
const TOKEN_REUSE: Duration = Duration::from_secs(60);
/// Past this many entries the memory is simply dropped and refilled.
const MAX_ENTRIES: usize = 50_000;

/// A signed-in caller as the gate passes them on. Shared, not copied,
/// by every request that finds it remembered.
pub struct Seen {
    pub session: session::Model,
    pub token: Arc<str>,
    /// The plan (skuCode) the token names, for `X-Koogate-Plan`: read when
    /// the token is signed, so it costs nothing per request.
    pub plan: Option<Arc<str>>,
    /// What revokes this session, for the check every request makes.
    pub subjects: Subjects,
    /// The identity headers for the app.
    pub told: Told,
}

impl Seen {
    pub fn new(session: session::Model, token: Arc<str>, plan: Option<Arc<str>>) -> Seen {
        let subjects = Subjects::of(&session);
        let told = Told::new(&session, &token, plan.as_deref());
        Seen { session, token, plan, subjects, told }
    }
}

/// An identity token with the plan it names and when it was signed.
pub struct Signed {
    pub token: Arc<str>,
    pub plan: Option<Arc<str>>,
    pub at: Instant,
}

struct Entry {
    seen: Arc<Seen>,
    checked_at: Instant,
    signed_at: Instant,
}

#[derive(Default)]
pub struct GateCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl GateCache {
    /// The session and token remembered for this session id hash, if both
    /// are still fresh enough to trust.
    pub fn get(&self, id_hash: &str) -> Option<Arc<Seen>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(id_hash)?;
        (entry.checked_at.elapsed() < SESSION_TTL && entry.signed_at.elapsed() < TOKEN_REUSE)
            .then(|| entry.seen.clone())
    }

    /// A token (and the plan it names) still fit to reuse for this
    /// session, and when it was signed, even if the session itself must be
    /// checked again.
    pub fn token(&self, id_hash: &str) -> Option<Signed> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(id_hash)?;
        (entry.signed_at.elapsed() < TOKEN_REUSE).then(|| Signed {
            token: entry.seen.token.clone(),
            plan: entry.seen.plan.clone(),
            at: entry.signed_at,
        })
    }

    pub fn put(&self, id_hash: &str, seen: Arc<Seen>, signed_at: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries
                .insert(id_hash.to_string(), Entry { seen, checked_at: Instant::now(), signed_at });
        }
    }

    pub fn forget(&self, id_hash: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id_hash);
        }
    }
}
