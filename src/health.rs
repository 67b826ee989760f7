//! `/healthz` (the process answers) and `/readyz` (its dependencies do).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database (and Redis, when configured) answer; 503 naming
/// the one that does not.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.ping().await.is_ok();
    let redis = if state.kv.has_redis() { Some(state.kv.ping().await.is_ok()) } else { None };
    let status = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "status": status(database && redis.unwrap_or(true)),
        "database": status(database),
        "redis": redis.map(status).unwrap_or("not configured"),
        // Informative only: a refused AK/SK delays entitlements, it does
        // not stop koogate from answering the marketplace.
        "open_api": state.open_api.as_ref().map(|o| o.health().as_str()).unwrap_or("not configured"),
    });
    if database && redis.unwrap_or(true) {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
