//! Running one scenario on every backend it must hold on.

/// Runs a scenario on SQLite and on PostgreSQL (when its URL is set).
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        $crate::on_both_backends!($scenario, &[]);
    };
    ($scenario:ident, $overrides:expr) => {
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let app =
                    $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite, $overrides).await;
                super::$scenario(app).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_postgres_app($overrides).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

/// Runs a scenario wherever sessions can live: SQLite, PostgreSQL, and
/// PostgreSQL with Redis (`redis.url` set: sessions in Redis).
#[macro_export]
macro_rules! on_every_session_store {
    ($scenario:ident, $overrides:expr) => {
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let app =
                    $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite, $overrides).await;
                super::$scenario(app).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_postgres_app($overrides).await {
                    super::$scenario(app).await;
                }
            }

            #[tokio::test]
            async fn postgres_redis() {
                if let Some(app) = $crate::helpers::spawn_redis_app($overrides).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

/// Runs a Kit scenario wherever sessions can live, with [`KIT_SETTINGS`].
#[macro_export]
macro_rules! kit_on_every_session_store {
    ($scenario:ident) => {
        $crate::on_every_session_store!($scenario, $crate::helpers::KIT_SETTINGS);
    };
}

/// Runs a Kit scenario on both backends, with [`KIT_SETTINGS`].
#[macro_export]
macro_rules! kit_on_both_backends {
    ($scenario:ident) => {
        $crate::on_both_backends!($scenario, $crate::helpers::KIT_SETTINGS);
    };
}
