//! Short-lived shared state: the nonce replay cache and sessions. Redis
//! when `redis.url` is set, else the database.

mod sessions;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::store::{self, Db};

/// A nonce to be written in the call's transaction (database store).
#[derive(Debug, Clone)]
pub struct PendingNonce {
    pub key: String,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

impl PendingNonce {
    /// Writes the claim; a nonce already there is a replay.
    pub async fn write(&self, conn: &impl sea_orm::ConnectionTrait) -> Result<(), Error> {
        if store::nonces::remember(conn, &self.key, self.expires_at).await? {
            Ok(())
        } else {
            Err(Error::Unauthenticated("nonce already used"))
        }
    }
}

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

    /// Claims a nonce for `ttl_ms`. With Redis the claim is made here and
    /// a replay is refused at once; without Redis (or while it is down) the
    /// claim is returned to be written in the call's own transaction, so a
    /// call costs one commit and concurrent replays wait for each other on
    /// the database's unique key.
    ///
    /// # Security
    /// A replay cache that forgets is a replay hole: if Redis fails, the
    /// nonce goes to the database instead (shared by every replica), never
    /// nowhere. An outage between a nonce's two uses can let one replay
    /// through to the other store; the timestamp window bounds that.
    pub async fn claim_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl_ms: i64,
    ) -> Result<Option<PendingNonce>, Error> {
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
                Ok(true) => return Ok(None),
                Ok(false) => return Err(Error::Unauthenticated("nonce already used")),
                Err(e) => {
                    tracing::warn!(error = ?e, "redis unavailable for the nonce cache; using the database")
                }
            }
        }
        Ok(Some(PendingNonce { key, expires_at: chrono::Utc::now().timestamp_millis() + ttl_ms }))
    }

    /// Drops expired database nonces (Redis expires its own).
    pub async fn purge(&self) -> Result<u64, Error> {
        let tx = self.db.begin_write().await?;
        let purged =
            store::nonces::purge_expired(&tx.txn, chrono::Utc::now().timestamp_millis()).await?;
        tx.commit().await?;
        Ok(purged)
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
