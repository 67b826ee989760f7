//! `/app-api/v1/usage`: the vendor's app reports what pay-per-use
//! instances consumed (`crate::open_api::usage` pushes it on) and reads
//! where each record stands.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::AppAccess;
use crate::error::Error;
use crate::open_api::usage::{self, TakenRecord, UsagePost, UsageRecordView};
use crate::state::AppState;
use crate::store::{self, usage::State};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsagePostAnswer {
    /// One per posted record, in the post's order.
    pub records: Vec<TakenRecord>,
}

/// `POST /app-api/v1/usage`: every record checked, then each stored once
/// per id; a bad record refuses the whole post (400) and stores nothing.
#[utoipa::path(post, path = "/app-api/v1/usage", operation_id = "appUsagePost", tag = "app",
    security(("appToken" = [])),
    request_body(content = UsagePost, description = "1 to 1000 records of pay-per-use instances. A record whose `id` was stored before is not stored again."),
    responses((status = 200, description = "What became of each record (`stored`, `duplicate`, or `conflict` when the id was stored with other contents).", body = UsagePostAnswer), crate::openapi::BadRequest, crate::openapi::Refusals))]
pub async fn post(
    _: AppAccess,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let body: UsagePost = serde_json::from_slice(&body)
        .map_err(|e| Error::Invalid(format!("not a usage post: {e}")))?;
    let now = chrono::Utc::now().timestamp_millis();
    let tx = state.db.begin_write().await?;
    let records = usage::take(&tx.txn, &body, now).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(UsagePostAnswer { records }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageQuery {
    pub instance_id: String,
    /// `pending`, `pushed` or `refused`.
    pub state: Option<String>,
    /// At most 1000; 100 when not given.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageList {
    pub instance_id: String,
    pub records: Vec<UsageRecordView>,
}

/// `GET /app-api/v1/usage?instanceId=&state=&limit=`: newest first.
#[utoipa::path(get, path = "/app-api/v1/usage", operation_id = "appUsageList", tag = "app",
    security(("appToken" = [])),
    params(
        ("instanceId" = String, Query, description = "The marketplace's instance id."),
        ("state" = Option<State>, Query, description = "Only records in this state."),
        ("limit" = Option<u64>, Query, description = "At most this many (1 to 1000, default 100)."),
    ),
    responses((status = 200, description = "The instance's usage records, newest first, and where each push stands.", body = UsageList), crate::openapi::BadRequest, crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn list(
    _: AppAccess,
    state: web::Data<AppState>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let wanted =
        match query.state.as_deref() {
            None | Some("") => None,
            Some(text) => Some(State::parse(text).ok_or_else(|| {
                Error::Invalid("state: one of pending, pushed, refused".to_string())
            })?),
        };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let conn = &state.db.conn;
    store::instances::find(conn, &query.instance_id).await?.ok_or(Error::NotFound)?;
    let now = chrono::Utc::now().timestamp_millis();
    let records = store::usage::of_instance(conn, &query.instance_id, wanted, limit)
        .await?
        .into_iter()
        .map(|row| usage::view(row, now))
        .collect();
    Ok(HttpResponse::Ok().json(UsageList { instance_id: query.instance_id, records }))
}
