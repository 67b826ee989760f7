//! Ending sessions when access ends, on every replica, wherever sessions
//! are stored (the database or Redis).
//!
//! A change that takes access away writes a revocation (whose access, why,
//! when) in the same transaction as the change itself, so the two cannot
//! part. Every replica keeps the revocations of the last session lifetime
//! in memory, re-reading the new ones from the database several times a
//! second, and checks each request's session against them: a session made
//! at or before a revocation of its tenant, its user, the app it signed in
//! through or its local account is over.
//!
//! # Security
//! A replica that cannot read the database for [`STALE_AFTER`] no longer
//! knows whether a session was revoked elsewhere, so it lets nobody in
//! (503) rather than everybody.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::session;
use sea_orm::ConnectionTrait;

use super::{RevocationReason, TenantAccess};
use crate::error::Error;
use crate::store;
use crate::store::revocations::Revoked;

/// How often every replica reads new revocations.
pub const REFRESH_EVERY: Duration = Duration::from_millis(200);
/// Past this without a successful read, sessions cannot be trusted.
const STALE_AFTER: Duration = Duration::from_secs(5);
/// Each read looks this far behind the newest revocation already seen:
/// a transaction that wrote its revocation earlier may commit later.
const OVERLAP_MS: i64 = 60_000;

fn tenant_subject(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}")
}

fn user_subject(tenant_id: &str, user_name: &str) -> String {
    format!("user:{tenant_id}:{user_name}")
}

fn app_subject(tenant_id: &str, app_id: &str) -> String {
    format!("app:{tenant_id}:{app_id}")
}

fn instance_subject(instance_id: &str) -> String {
    format!("instance:{instance_id}")
}

fn session_subject(public_id: &str) -> String {
    format!("session:{public_id}")
}

/// Every subject whose revocation ends a session: named once per session
/// read, not on every request that session makes.
#[derive(Debug, Clone)]
pub struct Subjects(Vec<String>);

impl Subjects {
    pub fn of(session: &session::Model) -> Subjects {
        let mut subjects = if session.tenant_id.is_empty() {
            // A local account: its instance is its whole world.
            session.instance_id.as_deref().map(instance_subject).into_iter().collect::<Vec<_>>()
        } else {
            vec![
                tenant_subject(&session.tenant_id),
                user_subject(&session.tenant_id, &session.user_name),
                app_subject(&session.tenant_id, &session.app_id),
            ]
        };
        if !session.public_id.is_empty() {
            subjects.push(session_subject(&session.public_id));
        }
        Subjects(subjects)
    }
}

/// Ends one session, named by its public id (an operator's "end session").
pub async fn session(conn: &impl ConnectionTrait, public_id: &str) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    store::revocations::insert(conn, session_subject(public_id), RevocationReason::Revoked, now)
        .await
}

/// Ends every session of a tenant (`frozen` or `released`).
pub async fn tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    reason: RevocationReason,
) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    store::revocations::insert(conn, tenant_subject(tenant_id), reason, now).await
}

/// Ends the sessions of these users of a tenant (their access was
/// withdrawn, or their role or department changed).
pub async fn users(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_names: &[String],
) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    for user_name in user_names {
        store::revocations::insert(
            conn,
            user_subject(tenant_id, user_name),
            RevocationReason::Revoked,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Ends the sessions that signed in through one app of a tenant (Kit
/// deleted the app).
pub async fn app(conn: &impl ConnectionTrait, tenant_id: &str, app_id: &str) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    store::revocations::insert(conn, app_subject(tenant_id, app_id), RevocationReason::Revoked, now)
        .await
}

/// After an instance was frozen or released: the sessions of its local
/// account, and of every tenant it bound that is no longer open (another
/// active instance keeps a tenant open).
pub async fn after_instance_change(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    if let Some(instance) = store::instances::find(conn, instance_id).await? {
        let reason = match store::instances::status(&instance)? {
            super::InstanceStatus::Frozen => RevocationReason::Frozen,
            _ => RevocationReason::Released,
        };
        store::revocations::insert(conn, instance_subject(instance_id), reason, now).await?;
    }
    for tenant_id in store::tenants::bound_by(conn, instance_id).await? {
        let Some(tenant) = store::tenants::find(conn, &tenant_id).await? else { continue };
        let reason = match super::of_tenant(conn, &tenant).await? {
            TenantAccess::Open { .. } => continue,
            TenantAccess::Frozen => RevocationReason::Frozen,
            TenantAccess::Released | TenantAccess::Deleted => RevocationReason::Released,
        };
        store::revocations::insert(conn, tenant_subject(&tenant_id), reason, now).await?;
    }
    Ok(())
}

/// The newest revocation of one subject. Only the newest matters: a
/// session made before an older one was made before this one too.
#[derive(Clone, Debug)]
struct Latest {
    at: i64,
    reason: RevocationReason,
}

/// This replica's memory of recent revocations.
///
/// The gate asks it about every request, from every worker at once, so
/// the answer for a session it already found clear takes no lock: only
/// the counts below, which change when the database is read.
pub struct Revocations {
    latest: RwLock<HashMap<String, Latest>>,
    /// Moves on after every change to `latest` that could end a session.
    generation: AtomicU64,
    /// When the database last answered, in ms since `origin` (0: never).
    read_at: AtomicU64,
    origin: Instant,
    /// The newest `at` seen.
    newest: AtomicI64,
    /// Revocations older than this (the absolute session lifetime) can
    /// match no session that still exists.
    keep_ms: i64,
}

impl Revocations {
    pub fn new(session_ttl_secs: u64) -> Revocations {
        let keep_ms = i64::try_from(session_ttl_secs)
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(1000)
            .saturating_add(OVERLAP_MS);
        Revocations {
            latest: RwLock::default(),
            // Above the 0 of a session never checked.
            generation: AtomicU64::new(1),
            read_at: AtomicU64::new(0),
            origin: Instant::now(),
            newest: AtomicI64::new(0),
            keep_ms,
        }
    }

    /// Reads revocations made since the last read (with an overlap).
    pub async fn refresh(&self, conn: &impl ConnectionTrait) -> Result<(), Error> {
        let now = Utc::now().timestamp_millis();
        let horizon = now.saturating_sub(self.keep_ms);
        let newest_seen = self.newest.load(Ordering::Acquire);
        let from = newest_seen.saturating_sub(OVERLAP_MS).max(horizon);
        let rows = store::revocations::since(conn, from).await?;
        self.take_in(rows, horizon);
        self.mark_read();
        Ok(())
    }

    /// The database answered just now.
    fn mark_read(&self) {
        self.read_at.store(self.millis_since_origin().max(1), Ordering::Release);
    }

    /// Keeps the newest revocation of each subject among `rows`, and
    /// forgets those older than `horizon`.
    fn take_in(&self, rows: Vec<Revoked>, horizon: i64) {
        let newest = rows.iter().map(|r| r.at).max();
        let mut changed = false;
        if let Ok(mut latest) = self.latest.write() {
            for row in rows {
                let new = latest
                    .get(&row.subject)
                    .is_none_or(|l| l.at < row.at || (l.at == row.at && l.reason != row.reason));
                if new {
                    latest.insert(row.subject, Latest { at: row.at, reason: row.reason });
                    changed = true;
                }
            }
            // Forgetting ends no session: the generation stays.
            latest.retain(|_, l| l.at >= horizon);
        }
        if changed {
            // After the map: whoever sees the new generation sees the map
            // that made it.
            self.generation.fetch_add(1, Ordering::Release);
        }
        if let Some(newest) = newest {
            self.newest.fetch_max(newest, Ordering::AcqRel);
        }
    }

    fn millis_since_origin(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the database answered lately enough to trust what is known.
    fn fresh(&self) -> Result<(), Error> {
        let read_at = self.read_at.load(Ordering::Acquire);
        let stale = u64::try_from(STALE_AFTER.as_millis()).unwrap_or(u64::MAX);
        if read_at == 0 || self.millis_since_origin().max(1).saturating_sub(read_at) >= stale {
            return Err(Error::Unavailable("revocations could not be read"));
        }
        Ok(())
    }

    /// Why this session is over, if a revocation ended it: the gravest
    /// reason (`released` before `frozen` before `revoked`).
    pub fn ended(&self, session: &session::Model) -> Result<Option<RevocationReason>, Error> {
        self.ended_by(&Subjects::of(session), session.created_at)
    }

    /// [`Revocations::ended`] for a session whose [`Subjects`] were named
    /// earlier.
    pub fn ended_by(
        &self,
        subjects: &Subjects,
        created_at: i64,
    ) -> Result<Option<RevocationReason>, Error> {
        self.fresh()?;
        self.ended_as_known(subjects, created_at)
    }

    /// [`Revocations::ended_by`] for a session the gate remembers, found
    /// clear when the revocations' generation was `cleared`: it is looked
    /// up again only if revocations arrived since, and `cleared` moves on
    /// when it is found clear again.
    pub fn ended_since(
        &self,
        subjects: &Subjects,
        created_at: i64,
        cleared: &Cell<u64>,
    ) -> Result<Option<RevocationReason>, Error> {
        self.fresh()?;
        // Read before the map: a change after this is seen next time.
        let generation = self.generation.load(Ordering::Acquire);
        if cleared.get() == generation {
            return Ok(None);
        }
        let ended = self.ended_as_known(subjects, created_at)?;
        if ended.is_none() {
            cleared.set(generation);
        }
        Ok(ended)
    }

    fn ended_as_known(
        &self,
        subjects: &Subjects,
        created_at: i64,
    ) -> Result<Option<RevocationReason>, Error> {
        let latest = self.latest.read().map_err(|_| Error::Internal("poisoned lock".into()))?;
        Ok(subjects
            .0
            .iter()
            .filter_map(|s| latest.get(s))
            .filter(|l| l.at >= created_at)
            .map(|l| l.reason)
            .max())
    }

    /// Forgets revocations in the database older than any session.
    pub async fn purge(&self, conn: &impl ConnectionTrait) -> Result<u64, Error> {
        let horizon = Utc::now().timestamp_millis().saturating_sub(self.keep_ms);
        store::revocations::purge_before(conn, horizon).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(tenant_id: &str, created_at: i64) -> session::Model {
        session::Model {
            id_hash: "h".into(),
            tenant_id: tenant_id.into(),
            app_id: "a".into(),
            instance_id: Some("i".into()),
            user_name: "alice".into(),
            name: "Alice".into(),
            role: "user".into(),
            org_code: None,
            email_sealed: None,
            access_token_sealed: String::new(),
            refresh_token_sealed: None,
            access_expires_at: 0,
            created_at,
            last_seen_at: created_at,
            expires_at: i64::MAX,
            public_id: "p".into(),
        }
    }

    /// A replica that has not read revocations lately lets nobody in.
    #[test]
    fn a_replica_that_never_read_revocations_trusts_no_session() {
        let revocations = Revocations::new(28_800);
        assert!(matches!(revocations.ended(&session("t1", 0)), Err(Error::Unavailable(_))));
    }

    fn revoked(subject: String, at: i64, reason: RevocationReason) -> Revoked {
        Revoked { subject, reason, at }
    }

    /// Only sessions made at or before a revocation end; the gravest
    /// reason is the one shown.
    #[test]
    fn revocations_end_older_sessions_with_the_gravest_reason() {
        let revocations = Revocations::new(28_800);
        revocations.take_in(
            vec![
                revoked(tenant_subject("t1"), 100, RevocationReason::Frozen),
                revoked(user_subject("t1", "alice"), 50, RevocationReason::Revoked),
            ],
            0,
        );
        revocations.mark_read();
        let ended = |created_at| revocations.ended(&session("t1", created_at)).ok().flatten();
        assert_eq!(ended(40), Some(RevocationReason::Frozen));
        assert_eq!(ended(100), Some(RevocationReason::Frozen));
        assert_eq!(ended(101), None);
        assert_eq!(revocations.ended(&session("t2", 0)).ok().flatten(), None);
    }

    /// A session the gate remembers as clear is ended by a revocation that
    /// arrives later, and not by one read again that it already passed.
    #[test]
    fn a_session_found_clear_is_ended_by_a_later_revocation() {
        let revocations = Revocations::new(28_800);
        revocations.take_in(vec![revoked(tenant_subject("t1"), 10, RevocationReason::Frozen)], 0);
        revocations.mark_read();
        let alice = session("t1", 20);
        let subjects = Subjects::of(&alice);
        let cleared = Cell::new(0);
        let ended =
            || revocations.ended_since(&subjects, alice.created_at, &cleared).ok().flatten();
        assert_eq!(ended(), None);
        assert_eq!(ended(), None);
        // The same rows again, as every read's overlap brings them.
        revocations.take_in(vec![revoked(tenant_subject("t1"), 10, RevocationReason::Frozen)], 0);
        assert_eq!(ended(), None);
        revocations
            .take_in(vec![revoked(user_subject("t1", "alice"), 30, RevocationReason::Revoked)], 0);
        assert_eq!(ended(), Some(RevocationReason::Revoked));
        assert_eq!(ended(), Some(RevocationReason::Revoked));
    }

    /// Knowing a session clear does not outlive the database's silence.
    #[test]
    fn a_session_found_clear_is_not_trusted_once_revocations_are_stale() {
        let long_ago =
            Instant::now().checked_sub(STALE_AFTER * 2).expect("the machine has been up 10 s");
        // Last read at its start, twice STALE_AFTER ago.
        let revocations = Revocations { origin: long_ago, ..Revocations::new(28_800) };
        revocations.read_at.store(1, Ordering::Release);
        let alice = session("t1", 20);
        let found_clear = Cell::new(revocations.generation.load(Ordering::Acquire));
        assert!(matches!(
            revocations.ended_since(&Subjects::of(&alice), 20, &found_clear),
            Err(Error::Unavailable(_))
        ));
    }
}
