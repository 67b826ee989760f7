//! `GET /admin/api/drift`: what reconciliation found (see
//! `crate::open_api::reconcile`), newest first. Nothing here changes an
//! instance.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::api::AdminAccess;
use crate::error::Error;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftView {
    pub instance_id: String,
    pub kind: String,
    /// What koogate has.
    pub here: Value,
    /// What the marketplace says.
    pub there: Value,
    pub found_at: String,
    pub checked_at: String,
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub async fn drift(_: AdminAccess, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    let views: Vec<DriftView> = store::drift::all(&state.db.conn, 1000)
        .await?
        .into_iter()
        .map(|f| DriftView {
            instance_id: f.instance_id,
            kind: f.kind,
            here: serde_json::from_str(&f.here).unwrap_or(Value::Null),
            there: serde_json::from_str(&f.there).unwrap_or(Value::Null),
            found_at: rfc3339(f.found_at),
            checked_at: rfc3339(f.checked_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
