//! Short-lived shared state: the nonce replay cache (and, later, login
//! state and sessions). Redis when `redis.url` is set, else the database.

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::store::{self, Db};

#[derive(Clone)]
pub struct Kv {
    db: Db,
    redis: Option<Redis>,
}

/// A Redis connection made on first use, so koogate starts (and keeps
/// answering the marketplace) while Redis is down; once made, the manager
/// reconnects by itself.
#[derive(Clone)]
struct Redis {
    client: redis::Client,
    manager: std::sync::Arc<OnceCell<ConnectionManager>>,
}

impl Redis {
    async fn connection(&self) -> Result<ConnectionManager, Error> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(std::time::Duration::from_secs(2))
                    .set_response_timeout(std::time::Duration::from_secs(2))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(manager.clone())
    }
}

impl Kv {
    /// `redis_url` empty: everything lives in the database.
    pub fn new(db: Db, redis_url: &str) -> Result<Kv, Error> {
        let redis = if redis_url.is_empty() {
            None
        } else {
            Some(Redis {
                client: redis::Client::open(redis_url)?,
                manager: std::sync::Arc::new(OnceCell::new()),
            })
        };
        Ok(Kv { db, redis })
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Remembers a nonce for `ttl_ms`; `Ok(false)` when it was seen before.
    ///
    /// # Security
    /// A replay cache that forgets is a replay hole: if Redis fails, the
    /// nonce goes to the database instead (shared by every replica), never
    /// nowhere. Both stores are consulted only by the first that answers, so
    /// an outage between a nonce's two uses can let one replay through; the
    /// timestamp window bounds that to the tolerance.
    pub async fn remember_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl_ms: i64,
    ) -> Result<bool, Error> {
        let key = format!("koogate:nonce:{scope}:{nonce}");
        if let Some(redis) = &self.redis {
            let result = async {
                let mut conn = redis.connection().await?;
                let reply: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1))
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, Error>(reply.is_some())
            }
            .await;
            match result {
                Ok(fresh) => return Ok(fresh),
                Err(e) => {
                    tracing::warn!(error = ?e, "redis unavailable for the nonce cache; using the database")
                }
            }
        }
        let expires_at = chrono::Utc::now().timestamp_millis() + ttl_ms;
        store::nonces::remember(&self.db.conn, &key, expires_at).await
    }

    /// Drops expired database nonces (Redis expires its own).
    pub async fn purge(&self) -> Result<u64, Error> {
        store::nonces::purge_expired(&self.db.conn, chrono::Utc::now().timestamp_millis()).await
    }

    /// `PING`, for `/readyz`; `Ok(())` when no Redis is configured.
    pub async fn ping(&self) -> Result<(), Error> {
        if let Some(redis) = &self.redis {
            let mut conn = redis.connection().await?;
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        }
        Ok(())
    }
}
