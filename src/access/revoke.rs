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

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::session;
use sea_orm::ConnectionTrait;

use super::{RevocationReason, TenantAccess};
use crate::error::Error;
use crate::store;

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
pub struct Revocations {
    latest: RwLock<HashMap<String, Latest>>,
    /// When the database last answered, and the newest `at` seen.
    read: RwLock<(Option<Instant>, i64)>,
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
        Revocations { latest: RwLock::default(), read: RwLock::new((None, 0)), keep_ms }
    }

    /// Reads revocations made since the last read (with an overlap).
    pub async fn refresh(&self, conn: &impl ConnectionTrait) -> Result<(), Error> {
        let now = Utc::now().timestamp_millis();
        let horizon = now.saturating_sub(self.keep_ms);
        let newest_seen = self.read.read().map_or(0, |r| r.1);
        let from = newest_seen.saturating_sub(OVERLAP_MS).max(horizon);
        let rows = store::revocations::since(conn, from).await?;
        let newest = rows.iter().map(|r| r.at).max().unwrap_or(newest_seen).max(newest_seen);
        if let Ok(mut latest) = self.latest.write() {
            for row in rows {
                let keep = latest.get(&row.subject).is_none_or(|l| l.at <= row.at);
                if keep {
                    latest.insert(row.subject, Latest { at: row.at, reason: row.reason });
                }
            }
            latest.retain(|_, l| l.at >= horizon);
        }
        if let Ok(mut read) = self.read.write() {
            *read = (Some(Instant::now()), newest);
        }
        Ok(())
    }

    /// Why this session is over, if a revocation ended it: the gravest
    /// reason (`released` before `frozen` before `revoked`).
    pub fn ended(&self, session: &session::Model) -> Result<Option<RevocationReason>, Error> {
        self.ended_by(&Subjects::of(session), session.created_at)
    }

    /// [`Revocations::ended`] for a session whose [`Subjects`] were named
    /// earlier (the gate keeps them with the session it remembers).
    pub fn ended_by(
        &self,
        subjects: &Subjects,
        created_at: i64,
    ) -> Result<Option<RevocationReason>, Error> {
        let fresh = self
            .read
            .read()
            .ok()
            .and_then(|r| r.0)
            .is_some_and(|last| last.elapsed() < STALE_AFTER);
        if !fresh {
            return Err(Error::Unavailable("revocations could not be read"));
        }
        let latest = self.latest.read().map_err(|_| Error::Internal("poisoned lock".into()))?;
        if latest.is_empty() {
            return Ok(None);
        }
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

    /// Only sessions made at or before a revocation end; the gravest
    /// reason is the one shown.
    #[test]
    fn revocations_end_older_sessions_with_the_gravest_reason() {
        let revocations = Revocations::new(28_800);
        if let Ok(mut read) = revocations.read.write() {
            *read = (Some(Instant::now()), 0);
        }
        if let Ok(mut latest) = revocations.latest.write() {
            latest
                .insert(tenant_subject("t1"), Latest { at: 100, reason: RevocationReason::Frozen });
            latest.insert(
                user_subject("t1", "alice"),
                Latest { at: 50, reason: RevocationReason::Revoked },
            );
        }
        let ended = |created_at| revocations.ended(&session("t1", created_at)).ok().flatten();
        assert_eq!(ended(40), Some(RevocationReason::Frozen));
        assert_eq!(ended(100), Some(RevocationReason::Frozen));
        assert_eq!(ended(101), None);
        assert_eq!(revocations.ended(&session("t2", 0)).ok().flatten(), None);
    }
}
