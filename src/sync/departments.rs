//! The department tree (singleOrgSync, allOrgSync).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::request::{AllOrgSync, Common, Org, SingleOrgSync};
use super::Flag;
use crate::error::Error;
use crate::outbox::{Event, EventType};
use crate::store;
use entity::department;

/// Longest parent chain followed when checking a move for a cycle.
const MAX_DEPTH: usize = 10_000;

pub(super) async fn single_org_sync(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sync: &SingleOrgSync,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let org = &sync.org;
    let existing = store::departments::find(conn, tenant_id, &org.org_code).await?;
    let live = existing.as_ref().filter(|d| !d.retired);
    if sync.flag == Flag::Delete {
        if live.is_some() {
            let diff = Diff { retired: vec![org.org_code.clone()], ..Diff::default() };
            events.extend(diff.event(&sync.common));
        }
        store::departments::retire(conn, tenant_id, &org.org_code).await?;
        return Ok(None);
    }
    if let Some(parent) = &org.parent_code {
        check_move(conn, tenant_id, &org.org_code, parent).await?;
    }
    let row = department_row(tenant_id, org, "", now);
    let mut diff = Diff::default();
    match live {
        None => diff.added.push(org),
        Some(old) => {
            if old.org_name != row.org_name {
                diff.renamed.push(org);
            }
            if old.parent_code != row.parent_code {
                diff.moved.push(org);
            }
        }
    }
    events.extend(diff.event(&sync.common));
    let mark = existing.map(|d| d.sync_mark).unwrap_or_default();
    store::departments::upsert_many(conn, vec![department_row(tenant_id, org, &mark, now)]).await?;
    Ok(None)
}

/// Refuses to put `org_code` under `parent` when `parent` already lies
/// below it: the move would make a cycle.
async fn check_move(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    org_code: &str,
    parent: &str,
) -> Result<(), Error> {
    let mut node = Some(parent.to_string());
    for _ in 0..MAX_DEPTH {
        let Some(code) = node else { return Ok(()) };
        if code == org_code {
            return Err(Error::invalid(format!(
                "moving {org_code} under {parent} would make a cycle"
            )));
        }
        node = store::departments::find(conn, tenant_id, &code)
            .await?
            .filter(|d| !d.retired)
            .and_then(|d| d.parent_code);
    }
    Err(Error::invalid("the department tree is deeper than koogate follows"))
}

/// Upserts the whole list, retires the departments it does not name, and
/// returns the diff for the event log.
pub(super) async fn all_org_sync(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sync: &AllOrgSync,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let before: HashMap<String, department::Model> = store::departments::all(conn, tenant_id)
        .await?
        .into_iter()
        .map(|d| (d.org_code.clone(), d))
        .collect();
    let (mut added, mut renamed, mut moved) = (Vec::new(), Vec::new(), Vec::new());
    let mut diff = Diff::default();
    for org in &sync.orgs {
        match before.get(&org.org_code).filter(|d| !d.retired) {
            None => {
                added.push(org.org_code.clone());
                diff.added.push(org);
            }
            Some(old) => {
                if org.org_name.as_ref() != Some(&old.org_name) {
                    renamed.push(org.org_code.clone());
                    diff.renamed.push(org);
                }
                if org.parent_code != old.parent_code {
                    moved.push(org.org_code.clone());
                    diff.moved.push(org);
                }
            }
        }
    }
    let listed: HashSet<&str> = sync.orgs.iter().map(|o| o.org_code.as_str()).collect();
    let mut retired: Vec<String> = before
        .values()
        .filter(|d| !d.retired && !listed.contains(d.org_code.as_str()))
        .map(|d| d.org_code.clone())
        .collect();
    retired.sort();
    diff.retired = retired.clone();
    events.extend(diff.event(&sync.common));
    // A fresh mark per full sync: whatever it does not touch is retired.
    let mark = format!("{:x}", rand::random::<u64>());
    let rows = sync.orgs.iter().map(|o| department_row(tenant_id, o, &mark, now)).collect();
    store::departments::upsert_many(conn, rows).await?;
    store::departments::retire_unmarked(conn, tenant_id, &mark).await?;
    Ok(Some(json!({"added": added, "renamed": renamed, "moved": moved, "retired": retired})))
}

/// What a department sync changed, for the `departments.changed` event.
#[derive(Default)]
struct Diff<'a> {
    added: Vec<&'a Org>,
    renamed: Vec<&'a Org>,
    moved: Vec<&'a Org>,
    retired: Vec<String>,
}

impl Diff<'_> {
    /// The event, or none when nothing changed.
    fn event(&self, common: &Common) -> Option<Event> {
        if self.added.is_empty()
            && self.renamed.is_empty()
            && self.moved.is_empty()
            && self.retired.is_empty()
        {
            return None;
        }
        let list = |orgs: &[&Org]| -> Vec<Value> {
            orgs.iter()
                .map(|o| {
                    json!({
                        "orgCode": o.org_code,
                        "orgName": o.org_name.clone().unwrap_or_default(),
                        "parentCode": o.parent_code,
                    })
                })
                .collect()
        };
        Some(Event::new(
            EventType::DepartmentsChanged,
            Some(&common.tenant_id),
            common.instance_id.as_deref(),
            json!({
                "tenantId": common.tenant_id,
                "added": list(&self.added),
                "renamed": list(&self.renamed),
                "moved": list(&self.moved),
                "retired": self.retired,
            }),
        ))
    }
}

fn department_row(tenant_id: &str, org: &Org, mark: &str, now: DateTime<Utc>) -> department::Model {
    department::Model {
        tenant_id: tenant_id.to_string(),
        org_code: org.org_code.clone(),
        org_name: org.org_name.clone().unwrap_or_default(),
        parent_code: org.parent_code.clone(),
        retired: false,
        sync_mark: mark.to_string(),
        updated_at: now,
    }
}
