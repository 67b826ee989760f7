//! `/healthz` (the process answers) and `/readyz` (its dependencies do).

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

/// How long each dependency gets to answer `/readyz`: a load balancer must
/// hear "not ready" while an outage lasts, not a hanging poll.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// What one dependency said. Not answering within [`PROBE_TIMEOUT`], and
/// answering reads while writes fail (a full disk, a failing device), are
/// both `Unavailable`: the load balancer needs no more (the write failure
/// class is in the log and in `koogate_storage_write_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Ok,
    Unavailable,
}

impl Probe {
    fn as_str(self) -> &'static str {
        match self {
            Probe::Ok => "ok",
            Probe::Unavailable => "unavailable",
        }
    }
}

async fn time_boxed<F: std::future::Future<Output = Probe>>(probe: F) -> Probe {
    tokio::time::timeout(PROBE_TIMEOUT, probe).await.unwrap_or(Probe::Unavailable)
}

/// 200 when the database (and Redis, when configured) answer; 503 naming
/// the one that does not, within about a second whatever they do. While
/// commits fail the database is probed with a write, so readiness comes
/// back by itself once the disk has space again.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = time_boxed(async {
        if state.db.ping().await.is_err() {
            return Probe::Unavailable;
        }
        if state.db.failing_writes().is_empty() || state.db.probe_write().await.is_ok() {
            Probe::Ok
        } else {
            Probe::Unavailable
        }
    });
    let redis = async {
        if !state.kv.has_redis() {
            return None;
        }
        Some(
            time_boxed(async {
                if state.kv.ping().await.is_ok() {
                    Probe::Ok
                } else {
                    Probe::Unavailable
                }
            })
            .await,
        )
    };
    let (database, redis) = tokio::join!(database, redis);
    let ready = database == Probe::Ok && redis.is_none_or(|r| r == Probe::Ok);
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": database.as_str(),
        "redis": redis.map(Probe::as_str).unwrap_or("not configured"),
        // Informative only: a refused AK/SK delays entitlements, it does
        // not stop koogate from answering the marketplace.
        "open_api": state.open_api.as_ref().map(|o| o.health().as_str()).unwrap_or("not configured"),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
