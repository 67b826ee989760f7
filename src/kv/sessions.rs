//! Where sessions are kept: Redis when `redis.url` is set (every replica
//! shares it, and it forgets idle sessions by itself), else the database.
//! Ending sessions is not done here but by revocations (`access::revoke`),
//! which work the same for both.

use chrono::Utc;
use entity::session;

use super::Kv;
use crate::error::Error;
use crate::store;

fn key(id_hash: &str) -> String {
    format!("koogate:session:{id_hash}")
}

/// How long Redis keeps a session untouched: until it goes idle or
/// reaches its absolute end, whichever comes first.
fn time_to_live_ms(row: &session::Model, idle_ms: i64) -> i64 {
    let now = Utc::now().timestamp_millis();
    row.expires_at.saturating_sub(now).min(row.last_seen_at.saturating_add(idle_ms) - now).max(1)
}

impl Kv {
    pub async fn insert_session(&self, row: &session::Model, idle_ms: i64) -> Result<(), Error> {
        match &self.redis {
            Some(_) => self.write_to_redis(row, idle_ms, "NX").await,
            None => {
                let tx = self.db.begin_write().await?;
                store::sessions::insert(&tx.txn, row.clone()).await?;
                tx.commit().await
            }
        }
    }

    /// Writes a session to Redis with its time to live; `NX` only if new,
    /// `XX` only if still there.
    async fn write_to_redis(
        &self,
        row: &session::Model,
        idle_ms: i64,
        condition: &str,
    ) -> Result<(), Error> {
        let Some(redis) = &self.redis else { return Ok(()) };
        let mut set = redis::cmd("SET");
        set.arg(key(&row.id_hash))
            .arg(serde_json::to_string(row).map_err(|e| Error::Internal(e.to_string()))?)
            .arg(condition)
            .arg("PX")
            .arg(time_to_live_ms(row, idle_ms));
        let _: Option<String> = redis.query(&set).await?;
        Ok(())
    }

    pub async fn find_session(&self, id_hash: &str) -> Result<Option<session::Model>, Error> {
        match &self.redis {
            Some(redis) => {
                let stored: Option<String> =
                    redis.query(redis::cmd("GET").arg(key(id_hash))).await?;
                // Something unreadable under our key is no session.
                Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
            }
            None => store::sessions::find(&self.db.conn, id_hash).await,
        }
    }

    /// Writes a session's new `last_seen_at` or tokens; a session deleted
    /// meanwhile (logout) stays deleted.
    pub async fn update_session(&self, row: &session::Model, idle_ms: i64) -> Result<(), Error> {
        match &self.redis {
            Some(_) => self.write_to_redis(row, idle_ms, "XX").await,
            None => {
                let tx = self.db.begin_write().await?;
                store::sessions::update(&tx.txn, row).await?;
                tx.commit().await
            }
        }
    }

    /// Sessions open now (for `/metrics`): a count in the database, a
    /// key scan in Redis.
    pub async fn count_sessions(&self) -> Result<u64, Error> {
        match &self.redis {
            Some(redis) => {
                let mut cursor: u64 = 0;
                let mut count: u64 = 0;
                loop {
                    let mut scan = redis::cmd("SCAN");
                    scan.arg(cursor).arg("MATCH").arg("koogate:session:*").arg("COUNT").arg(1000);
                    let (next, keys): (u64, Vec<String>) = redis.query(&scan).await?;
                    count += keys.len() as u64;
                    if next == 0 {
                        return Ok(count);
                    }
                    cursor = next;
                }
            }
            None => store::sessions::count_open(&self.db.conn, Utc::now().timestamp_millis()).await,
        }
    }

    /// Open sessions as `filter` selects, newest first, at most `limit`.
    /// In Redis a scan of every session (the admin site's pace, not a
    /// request's).
    pub async fn list_sessions(
        &self,
        filter: store::sessions::SessionFilter<'_>,
        limit: u64,
    ) -> Result<Vec<session::Model>, Error> {
        let now = Utc::now().timestamp_millis();
        let Some(redis) = &self.redis else {
            return store::sessions::list_open(&self.db.conn, filter, now, limit).await;
        };
        let mut found = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg("koogate:session:*").arg("COUNT").arg(1000);
            let (next, keys): (u64, Vec<String>) = redis.query(&scan).await?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> =
                    redis.query(redis::cmd("MGET").arg(&keys)).await?;
                found.extend(
                    values
                        .into_iter()
                        .flatten()
                        .filter_map(|json| serde_json::from_str::<session::Model>(&json).ok())
                        .filter(|s| s.expires_at >= now && filter.matches(s)),
                );
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        found.sort_by(|a, b| store::sessions::place(b).cmp(&store::sessions::place(a)));
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    /// The open session an operator names by its public id.
    pub async fn find_public_session(
        &self,
        public_id: &str,
    ) -> Result<Option<session::Model>, Error> {
        if public_id.is_empty() {
            return Ok(None);
        }
        if self.redis.is_none() {
            return store::sessions::find_public(&self.db.conn, public_id).await;
        }
        let all = self.list_sessions(Default::default(), u64::MAX).await?;
        Ok(all.into_iter().find(|s| s.public_id == public_id))
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<(), Error> {
        match &self.redis {
            Some(redis) => {
                let _: i64 = redis.query(redis::cmd("DEL").arg(key(id_hash))).await?;
            }
            None => {
                let tx = self.db.begin_write().await?;
                store::sessions::delete(&tx.txn, id_hash).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}
