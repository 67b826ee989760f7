//! The admin site's instance list: filtered, sorted and paged.

use super::listing::{self, Links};
use super::lists;
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::{InstanceList, InstanceRow};
use crate::state::AppState;
use crate::store;
use actix_web::web;

/// Rows per page of the instance list.
const PAGE_SIZE: u64 = 100;

/// `GET /admin/instances?status&tenant&order&sort&dir&page`
pub async fn instances(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<lists::InstancesQuery>,
) -> PageResult {
    let query = query.into_inner();
    let page = listing::page_number(query.page);
    let (filter, sorting) = query.filter(listing::offset(page, PAGE_SIZE), PAGE_SIZE)?;
    let conn = &state.db.conn;
    let total = store::instances::count(conn, &filter).await?;
    let rows = store::instances::list(conn, &filter).await?;
    let mut instances = Vec::with_capacity(rows.len());
    for i in &rows {
        instances.push(InstanceRow::new(i, store::instances::status(i)?));
    }
    let links = Links {
        path: "/admin/instances",
        filters: vec![
            ("status", &query.status),
            ("tenant", &query.tenant),
            ("order", &query.order),
        ],
        sorting,
        prefix: "",
        anchor: "",
    };
    let view = InstanceList {
        instances,
        total,
        pager: links.pager(page, total, PAGE_SIZE, Some("/admin/instances.csv")),
        status: query.status,
        tenant: query.tenant,
        order: query.order,
    };
    render(&state, &viewer, "admin/instances.html", &view)
}
