//! CSV exports of the admin lists (`/admin/tenants.csv`,
//! `/admin/instances.csv`, `/admin/tenants/{tenantId}/users.csv`,
//! `/admin/events.csv`): the rows of the list page with its filters and
//! order, every page of them, and the same columns the page shows (never a
//! secret, never a personal field the page does not show). Reading is all
//! they do, so every role may export.
//!
//! Streamed: a batch of rows is read and written at a time, so a 300,000
//! row event log never sits in memory whole. The first batch is read
//! before the answer starts, so a bad filter or a failing database still
//! gets its error status; a failure after that cuts the download short
//! (and is logged).

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use futures_util::stream;
use sea_orm::DatabaseConnection;

use super::listing::Sorting;
use super::lists::{self, EventsQuery, InstancesQuery, TenantsQuery};
use super::viewer::Viewer;
use super::views::{EventRow, InstanceRow};
use crate::error::Error;
use crate::state::AppState;
use crate::store;
use crate::store::users::UserOrder;

/// Rows read and written per step.
const BATCH: u64 = 500;

/// The byte-order mark opening every export: Excel reads a CSV without
/// one in the machine's ANSI code page, which turns Chinese names into
/// mojibake; with it, Excel (and every other reader) takes UTF-8.
const BOM: &str = "\u{FEFF}";

/// A cell as written: one that a spreadsheet would take for a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a
/// leading `'`, so a name synced as `=HYPERLINK(...)` stays text (OWASP,
/// CSV injection).
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// Rows as CSV bytes (the header first when asked).
fn write(header: Option<&[&str]>, rows: &[Vec<String>]) -> Result<Bytes, Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Internal(format!("csv: {e}"));
    if let Some(header) = header {
        out.write_record(header).map_err(failed)?;
    }
    for row in rows {
        out.write_record(row.iter().map(|c| cell(c).into_owned())).map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| Error::Internal(format!("csv: {e}")))?;
    Ok(Bytes::from(bytes))
}

/// Where the next batch starts: an offset, or (events) the id past which
/// (in the export's order) the next rows are.
#[derive(Clone, Copy)]
enum Cursor {
    Offset(u64),
    Past(i64),
}

/// What one export reads, batch by batch.
#[derive(Clone)]
enum Source {
    Tenants(store::tenants::PageFilter),
    Instances(store::instances::ListFilter),
    Users { tenant_id: String, sort: (UserOrder, sea_orm::Order) },
    Events(store::events::PageFilter),
}

/// Reads one batch from `cursor`: its rows as cells, and the next cursor
/// (none after the last batch).
async fn batch(
    conn: &DatabaseConnection,
    source: &Source,
    cursor: Cursor,
) -> Result<(Vec<Vec<String>>, Option<Cursor>), Error> {
    let offset = match cursor {
        Cursor::Offset(n) => n,
        Cursor::Past(_) => 0,
    };
    let next_offset = |n: usize| (n as u64 == BATCH).then_some(Cursor::Offset(offset + BATCH));
    match source {
        Source::Tenants(filter) => {
            let filter = store::tenants::PageFilter { offset, limit: BATCH, ..filter.clone() };
            let rows = lists::tenant_rows(conn, store::tenants::rows(conn, &filter).await?).await?;
            let next = next_offset(rows.len());
            let cells = rows
                .into_iter()
                .map(|t| {
                    vec![
                        t.tenant_id,
                        t.tenant_code,
                        t.name,
                        t.status.as_str().to_string(),
                        t.test.to_string(),
                        t.instances.to_string(),
                        t.updated_at,
                    ]
                })
                .collect();
            Ok((cells, next))
        }
        Source::Instances(filter) => {
            let filter = store::instances::ListFilter { offset, limit: BATCH, ..filter.clone() };
            let rows = store::instances::list(conn, &filter).await?;
            let next = next_offset(rows.len());
            let mut cells = Vec::with_capacity(rows.len());
            for i in &rows {
                let row = InstanceRow::new(i, store::instances::status(i)?);
                cells.push(vec![
                    row.instance_id,
                    row.status.as_str().to_string(),
                    row.frozen_reason.map(|c| c.as_str().to_string()).unwrap_or_default(),
                    row.trial.to_string(),
                    row.test.to_string(),
                    row.order_id,
                    row.product_id.unwrap_or_default(),
                    row.sku_code.unwrap_or_default(),
                    row.expire_time.unwrap_or_default(),
                    row.tenant_id.unwrap_or_default(),
                    row.created_at,
                ]);
            }
            Ok((cells, next))
        }
        Source::Users { tenant_id, sort } => {
            let rows = store::users::page(conn, tenant_id, sort.clone(), offset, BATCH).await?;
            let next = next_offset(rows.len());
            // Read per batch: a tenant's departments are a few thousand at most.
            let live = store::departments::live(conn, tenant_id).await?;
            let names = crate::department_tree::names(&live);
            let cells = rows
                .into_iter()
                .map(|(u, apps)| {
                    let department = u.org_code.as_ref().and_then(|c| names.get(c)).cloned();
                    vec![
                        u.user_name,
                        u.name,
                        department.unwrap_or_default(),
                        u.org_code.unwrap_or_default(),
                        u.role,
                        u.enabled.to_string(),
                        (!apps.is_empty()).to_string(),
                        apps.join(" "),
                    ]
                })
                .collect();
            Ok((cells, next))
        }
        Source::Events(filter) => {
            let mut filter = store::events::PageFilter { limit: BATCH, ..filter.clone() };
            if let Cursor::Past(id) = cursor {
                if filter.oldest_first {
                    filter.after_id = Some(id);
                } else {
                    filter.before_id = Some(id);
                }
            }
            let rows = store::events::page(conn, &filter).await?;
            let next = rows
                .last()
                .filter(|_| rows.len() as u64 == BATCH)
                .map(|last| Cursor::Past(last.id));
            let cells = rows
                .iter()
                .map(EventRow::from)
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.received_at,
                        e.channel,
                        e.activity,
                        e.result_code,
                        e.result_msg,
                        e.instance_id.unwrap_or_default(),
                        e.tenant_id.unwrap_or_default(),
                        e.test.to_string(),
                        e.duration_ms.to_string(),
                        e.replay_of.map(|id| id.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            Ok((cells, next))
        }
    }
}

/// The streamed answer: the BOM and header with the first batch (read
/// before answering), then a batch per step.
async fn respond(
    conn: DatabaseConnection,
    source: Source,
    header: &[&str],
    file_name: &str,
) -> Result<HttpResponse, Error> {
    let (rows, next) = batch(&conn, &source, Cursor::Offset(0)).await?;
    let mut first = BOM.as_bytes().to_vec();
    first.extend_from_slice(&write(Some(header), &rows)?);
    let rest = stream::unfold((conn, source, next), |(conn, source, cursor)| async move {
        let cursor = cursor?;
        match batch(&conn, &source, cursor)
            .await
            .and_then(|(rows, next)| write(None, &rows).map(|bytes| (bytes, next)))
        {
            Ok((bytes, next)) => Some((Ok(bytes), (conn, source, next))),
            Err(e) => {
                tracing::error!(error = ?e, "a CSV export stopped part way");
                Some((Err(e), (conn, source, None)))
            }
        }
    });
    let body = stream::iter([Ok::<Bytes, Error>(Bytes::from(first))]).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body))
}

use futures_util::StreamExt;

/// `GET /admin/tenants.csv?q&status&test&sort&dir`
pub async fn tenants(
    state: web::Data<AppState>,
    _: Viewer,
    query: web::Query<TenantsQuery>,
) -> Result<HttpResponse, Error> {
    let (filter, _) = query.filter(0, BATCH)?;
    let header = ["tenantId", "tenantCode", "name", "status", "test", "instances", "updatedAt"];
    respond(state.db.conn.clone(), Source::Tenants(filter), &header, "tenants.csv").await
}

/// `GET /admin/instances.csv?status&tenant&order&sort&dir`
pub async fn instances(
    state: web::Data<AppState>,
    _: Viewer,
    query: web::Query<InstancesQuery>,
) -> Result<HttpResponse, Error> {
    let (filter, _) = query.filter(0, BATCH)?;
    let header = [
        "instanceId",
        "status",
        "frozenReason",
        "trial",
        "test",
        "orderId",
        "productId",
        "skuCode",
        "expireTime",
        "tenantId",
        "createdAt",
    ];
    respond(state.db.conn.clone(), Source::Instances(filter), &header, "instances.csv").await
}

#[derive(Debug, serde::Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    users_sort: String,
    #[serde(default)]
    users_dir: String,
}

/// `GET /admin/tenants/{tenantId}/users.csv?users_sort&users_dir`
pub async fn users(
    state: web::Data<AppState>,
    _: Viewer,
    path: web::Path<String>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, Error> {
    let tenant_id = path.into_inner();
    let conn = state.db.conn.clone();
    store::tenants::find(&conn, &tenant_id).await?.ok_or(Error::NotFound)?;
    let sorting = Sorting::<UserOrder>::parse(&query.users_sort, &query.users_dir)?;
    let source = Source::Users { tenant_id, sort: (sorting.key, sorting.direction.order()) };
    let header =
        ["userName", "name", "department", "orgCode", "role", "enabled", "granted", "apps"];
    respond(conn, source, &header, "users.csv").await
}

/// `GET /admin/events.csv?channel&activity&result&tenant&instance&since&until&dir&before&after`,
/// newest first unless `dir=asc`.
pub async fn events(
    state: web::Data<AppState>,
    _: Viewer,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, Error> {
    let filter = query.filter(BATCH)?;
    let header = [
        "id",
        "receivedAt",
        "channel",
        "activity",
        "resultCode",
        "resultMsg",
        "instanceId",
        "tenantId",
        "test",
        "durationMs",
        "replayOf",
    ];
    respond(state.db.conn.clone(), Source::Events(filter), &header, "events.csv").await
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_quote() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(risky), format!("'{risky}"));
        }
        for plain in ["Acme", "华为", "", "a=b"] {
            assert_eq!(cell(plain), plain);
        }
    }
}
