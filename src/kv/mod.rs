//! Short-lived shared state: the nonce replay cache and sessions. Redis
//! when `redis.url` is set, else the database.

mod sessions;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// The one spelling of a nonce's key, in Redis and in the database.
fn nonce_key(scope: &str, nonce: &str) -> String {
    format!("koogate:nonce:{scope}:{nonce}")
}

#[derive(Clone)]
pub struct Kv {
    db: Db,
    redis: Option<Redis>,
}

/// A Redis connection made on first use, so koogate starts (and keeps
/// answering the marketplace) while Redis is down; once made, the manager
/// reconnects by itself.
///
/// Behind a breaker: the first failure opens it, and while open every use
/// fails at once (no connection attempt, no timeout on the call's path:
/// nonces go to the database, sign-in says try again). One background
/// task pings Redis every [`PROBE_EVERY`] and closes the breaker when it
/// answers.
#[derive(Clone)]
struct Redis {
    client: redis::Client,
    manager: Arc<OnceCell<ConnectionManager>>,
    /// True while the breaker is open (Redis bypassed).
    open: Arc<AtomicBool>,
}

/// How often the background probe asks a Redis the breaker bypasses.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// How long one Redis command may take before it counts as a failure.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

impl Redis {
    async fn connection(&self) -> Result<ConnectionManager, Error> {
        if self.open.load(Ordering::Acquire) {
            return Err(Error::Unavailable("redis is down (breaker open)"));
        }
        let made = tokio::time::timeout(COMMAND_TIMEOUT, self.connect()).await;
        match made {
            Ok(Ok(manager)) => Ok(manager),
            Ok(Err(err)) => {
                self.trip();
                Err(err)
            }
            Err(_) => {
                self.trip();
                Err(Error::Unavailable("redis did not answer in time"))
            }
        }
    }

    async fn connect(&self) -> Result<ConnectionManager, Error> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(COMMAND_TIMEOUT)
                    .set_response_timeout(COMMAND_TIMEOUT)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await?;
        Ok(manager.clone())
    }

    /// Runs one command through the breaker.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.query_async(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                // A refusal from a live Redis (a wrong type, ...) is no outage.
                if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() {
                    self.trip();
                }
                Err(Error::Cache(err))
            }
            Err(_) => {
                self.trip();
                Err(Error::Unavailable("redis did not answer in time"))
            }
        }
    }

    /// Opens the breaker and starts the one probe that will close it.
    fn trip(&self) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!("redis is unavailable; using the database until it answers again");
        crate::prometheus::redis_breaker_closed(false);
        let (client, open) = (self.client.clone(), self.open.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let ping = async {
                    let mut conn = client.get_multiplexed_async_connection().await?;
                    redis::cmd("PING").query_async::<String>(&mut conn).await
                };
                if let Ok(Ok(_)) = tokio::time::timeout(COMMAND_TIMEOUT, ping).await {
                    open.store(false, Ordering::Release);
                    crate::prometheus::redis_breaker_closed(true);
                    tracing::warn!("redis answers again");
                    return;
                }
            }
        });
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
                manager: Arc::new(OnceCell::new()),
                open: Arc::new(AtomicBool::new(false)),
            })
        };
        Ok(Kv { db, redis })
    }

    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Claims a nonce for `ttl_ms`: refused at once when Redis already
    /// has it, and in every other case returned to be written in the
    /// call's own transaction, so the call costs one commit and
    /// concurrent replays wait for each other on the database's unique key.
    ///
    /// # Security
    /// A replay cache that forgets is a replay hole. Every accepted nonce
    /// is kept in the database for its whole window, also while Redis
    /// works, and Redis is asked first when it answers: a nonce accepted
    /// just before Redis died is still refused by the database after the
    /// switch, and one accepted during the outage is still refused once
    /// Redis is back. Redis then only refuses replays early, without a
    /// transaction.
    pub async fn claim_nonce(
        &self,
        scope: &str,
        nonce: &str,
        ttl_ms: i64,
    ) -> Result<Option<PendingNonce>, Error> {
        let key = nonce_key(scope, nonce);
        if let Some(redis) = &self.redis {
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(1).arg("NX").arg("PX").arg(ttl_ms.max(1));
            match redis.query::<Option<String>>(&set).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(Error::Unauthenticated("nonce already used")),
                // Said once, when the breaker opens.
                Err(err) => tracing::debug!(error = ?err, "nonce cache bypassed"),
            }
        }
        Ok(Some(PendingNonce { key, expires_at: chrono::Utc::now().timestamp_millis() + ttl_ms }))
    }

    /// Whether a nonce of `scope` was claimed and is still remembered, by
    /// the database (which keeps every claim, see [`Kv::claim_nonce`]).
    /// Reads only: a check before costly work, the claim still decides.
    pub async fn was_claimed(&self, scope: &str, nonce: &str) -> Result<bool, Error> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        store::nonces::is_remembered(&self.db.conn, &nonce_key(scope, nonce), now_ms).await
    }

    /// Drops expired database nonces (Redis expires its own).
    pub async fn purge(&self) -> Result<u64, Error> {
        let tx = self.db.begin_write().await?;
        let purged =
            store::nonces::purge_expired(&tx.txn, chrono::Utc::now().timestamp_millis()).await?;
        tx.commit().await?;
        Ok(purged)
    }

    /// `PING`, for `/readyz`; `Ok(())` when no Redis is configured. Asks
    /// even while the breaker is open (readiness tells the truth), but
    /// never waits longer than one command may.
    pub async fn ping(&self) -> Result<(), Error> {
        let Some(redis) = &self.redis else { return Ok(()) };
        if redis.open.load(Ordering::Acquire) {
            return Err(Error::Unavailable("redis is down (breaker open)"));
        }
        let _: String = redis.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}
