//! Open sessions as operators see them: listed per tenant and user, each
//! by its public id (never the cookie's value, nor anything worked out
//! from it), and ended one at a time through a revocation, so every
//! replica refuses it within [`crate::access::revoke::REFRESH_EVERY`].

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

use super::Deps;
use crate::error::Error;
use crate::inbound::{self, Call, Channel, Effects};
use crate::marketplace::result::Answer;
use crate::outbox::Outbox;
use crate::store::sessions::SessionFilter;
use entity::session;

/// Sessions the API lists at most.
pub const LIST_LIMIT: u64 = 500;

/// Sessions the admin page sorts and pages over at once (newest first
/// from the store): a window. Newest first, the last page of a window
/// leads on to the next one (a cursor, so the store reads from there, at
/// any depth); in another order the page says it sorts over this many.
pub const PAGE_LIMIT: u64 = 10_000;

/// One open session. Never a token, a cookie or an e-mail address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// What the admin site and API name the session by.
    pub session_id: String,
    /// Empty for a subscription's local account.
    pub tenant_id: String,
    pub instance_id: Option<String>,
    pub user_name: String,
    pub name: String,
    pub role: String,
    /// RFC 3339 UTC, like the two below.
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

fn rfc3339(at_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl From<session::Model> for SessionView {
    fn from(row: session::Model) -> SessionView {
        SessionView {
            session_id: row.public_id,
            tenant_id: row.tenant_id,
            instance_id: row.instance_id,
            user_name: row.user_name,
            name: row.name,
            role: row.role,
            created_at: rfc3339(row.created_at),
            last_seen_at: rfc3339(row.last_seen_at),
            expires_at: rfc3339(row.expires_at),
        }
    }
}

/// Whether a stored session may still be used: within its lifetimes and
/// not ended by a revocation.
fn is_open(deps: &Deps<'_>, row: &session::Model, now: i64) -> Result<bool, Error> {
    let idle_ms =
        i64::try_from(deps.settings.idle_ttl_secs).unwrap_or(i64::MAX / 2).saturating_mul(1000);
    let in_time = row.expires_at >= now && row.last_seen_at.saturating_add(idle_ms) >= now;
    Ok(in_time && !row.public_id.is_empty() && deps.revocations.ended(row)?.is_none())
}

/// The open sessions of a tenant, of one user, or all; newest first.
pub async fn list(
    deps: &Deps<'_>,
    tenant_id: Option<&str>,
    user_name: Option<&str>,
) -> Result<Vec<SessionView>, Error> {
    let filter = SessionFilter { tenant_id, user_name, before: None };
    Ok(list_up_to(deps, filter, LIST_LIMIT).await?.sessions)
}

/// The open ones among at most `limit` stored sessions (newest first).
pub struct Window {
    pub sessions: Vec<SessionView>,
    /// Where the next window starts (the last stored session read, open
    /// or not, as `created_at` and public id), when the store has more.
    pub next: Option<(i64, String)>,
}

/// Like [`list`], past `filter.before`, from at most `limit` stored
/// sessions.
pub async fn list_up_to(
    deps: &Deps<'_>,
    filter: SessionFilter<'_>,
    limit: u64,
) -> Result<Window, Error> {
    let now = Utc::now().timestamp_millis();
    let mut rows = deps.kv.list_sessions(filter, limit.saturating_add(1)).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = rows.last().filter(|_| more).map(|last| (last.created_at, last.public_id.clone()));
    let mut open = Vec::with_capacity(rows.len());
    for row in rows {
        if is_open(deps, &row, now)? {
            open.push(SessionView::from(row));
        }
    }
    Ok(Window { sessions: open, next })
}

/// Ends the open session `public_id` names, recorded as an operator's
/// action (`endSession`) by `who`; the session as it was. Ending one that
/// has already ended changes nothing and answers the same; an id no open
/// session has is `NotFound`.
pub async fn end(
    deps: &Deps<'_>,
    outbox: &Outbox,
    public_id: &str,
    who: &str,
) -> Result<SessionView, Error> {
    let row = deps.kv.find_public_session(public_id).await?.ok_or(Error::NotFound)?;
    let mut call = Call::new(Channel::Operator);
    call.activity = "endSession".to_string();
    call.tenant_id = Some(row.tenant_id.clone()).filter(|t| !t.is_empty());
    call.instance_id = row.instance_id.clone();
    call.request =
        json!({"operator": who, "action": "endSession", "sessionId": public_id}).to_string();
    let tx = inbound::begin(deps.db, &call).await?;
    crate::access::revoke::session(&tx.txn, public_id).await?;
    inbound::commit_call(tx, outbox, &call, &Answer::success(), Effects::default()).await?;
    // This replica knows at once (the page it answers no longer lists
    // the session); the others within their next read.
    deps.revocations.refresh(&deps.db.conn).await?;
    tracing::info!(username = %who, tenant_id = %row.tenant_id, "operator ended a session");
    Ok(SessionView::from(row))
}
