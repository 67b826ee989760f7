//! What each sync call does, in one transaction with the event that
//! records it. Adds and deletes are idempotent: a repeat, or a delete of
//! something absent, changes nothing and answers success (spec §6).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::request::{
    AllOrgSync, AppSync, AuthSync, Common, Org, SingleOrgSync, SyncCommand, TenantSync,
};
use super::Flag;
use crate::error::Error;
use crate::marketplace::client_secret::decrypt_client_secret;
use crate::marketplace::inbound::Call;
use crate::marketplace::result::Answer;
use crate::outbox::{Event, EventType};
use crate::state::AppState;
use crate::store;
use entity::{department, grant, tenant, tenant_app, user};

/// Longest parent chain followed when checking a move for a cycle.
const MAX_DEPTH: usize = 10_000;

/// Runs a sync command and records its event, all in one transaction.
pub async fn execute(
    state: &AppState,
    call: &Call,
    command: &SyncCommand,
) -> Result<Answer, Error> {
    // The secret is opened before the transaction: RSA work should not
    // hold the writer.
    let client_secret = match command {
        SyncCommand::App(app) if app.flag != Flag::Delete => Some(open_client_secret(state, app)?),
        _ => None,
    };
    let tx = state.db.begin_write().await?;
    let conn = &tx.txn;
    if let Some(nonce) = &call.nonce {
        nonce.write(conn).await?;
    }
    store::lock_tenant(conn, &command.common().tenant_id).await?;
    // Events for the vendor's app, written with the change (crate::outbox).
    let mut events = Vec::new();
    let e = &mut events;
    let detail = match command {
        SyncCommand::Tenant(t) => tenant_sync(conn, t, e).await?,
        SyncCommand::App(a) => app_sync(state, conn, a, client_secret, e).await?,
        SyncCommand::Auth(a) => auth_sync(state, conn, a, e).await?,
        SyncCommand::SingleOrg(o) => single_org_sync(conn, o, e).await?,
        SyncCommand::AllOrg(o) => all_org_sync(conn, o, e).await?,
    };
    let answer = Answer::success();
    let mut event = call.event(&answer);
    event.detail = detail.map(|d| d.to_string());
    store::events::insert(conn, event).await?;
    let told = state.outbox.record(conn, events).await?;
    tx.commit().await?;
    if told {
        state.outbox.committed();
    }
    Ok(answer)
}

async fn tenant_sync(
    conn: &impl ConnectionTrait,
    sync: &TenantSync,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let existing = store::tenants::find(conn, tenant_id).await?;
    let now = Utc::now();
    match sync.flag {
        Flag::Delete => {
            if let Some(mut row) = existing.filter(|t| !t.deleted) {
                row.deleted = true;
                row.updated_at = now;
                events.push(tenant_event(EventType::TenantDeleted, &row, &sync.common));
                store::tenants::upsert(conn, row).await?;
            }
            crate::access::revoke::tenant(
                conn,
                tenant_id,
                crate::access::RevocationReason::Released,
            )
            .await?;
        }
        Flag::Add | Flag::Modify => {
            // A modify changes only name and domainName; one for a tenant
            // never added is taken as the add it should have followed.
            let tenant_code = match (&existing, sync.flag) {
                (Some(row), Flag::Modify) => row.tenant_code.clone(),
                _ => sync.tenant_code.clone().unwrap_or_default(),
            };
            let row = tenant::Model {
                tenant_id: tenant_id.clone(),
                tenant_code,
                name: sync.name.clone().unwrap_or_default(),
                domain_name: sync.domain_name.clone().unwrap_or_default(),
                test_flag: sync.common.test_flag,
                deleted: false,
                created_at: existing.as_ref().map_or(now, |t| t.created_at),
                updated_at: now,
            };
            let newly_bound = match &sync.common.instance_id {
                Some(id) => !store::tenants::instance_ids(conn, tenant_id).await?.contains(id),
                None => false,
            };
            // A repeat that changes nothing tells the vendor nothing.
            let event_type = match existing.as_ref().filter(|t| !t.deleted) {
                None => Some(EventType::TenantAdded),
                Some(old) => (newly_bound
                    || old.tenant_code != row.tenant_code
                    || old.name != row.name
                    || old.domain_name != row.domain_name
                    || old.test_flag != row.test_flag)
                    .then_some(EventType::TenantChanged),
            };
            if let Some(event_type) = event_type {
                events.push(tenant_event(event_type, &row, &sync.common));
            }
            store::tenants::upsert(conn, row).await?;
            if let Some(instance_id) = &sync.common.instance_id {
                store::tenants::link_instance(conn, tenant_id, instance_id).await?;
            }
        }
        Flag::Cancel => return Err(Error::invalid("flag must be 0, 1 or 2")),
    }
    Ok(None)
}

/// Decrypts the RSA-OAEP client secret (spec §4); any failure is `000101`.
fn open_client_secret(state: &AppState, app: &AppSync) -> Result<String, Error> {
    let key = state.rsa_key.as_ref().ok_or(Error::AppSecret("no RSA private key is configured"))?;
    let sealed = app.client_secret.as_deref().unwrap_or_default();
    decrypt_client_secret(key, sealed)
        .map_err(|_| Error::AppSecret("clientSecret does not decrypt with our key"))
}

async fn app_sync(
    state: &AppState,
    conn: &impl ConnectionTrait,
    sync: &AppSync,
    client_secret: Option<String>,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let existing = store::apps::for_tenant(conn, tenant_id)
        .await?
        .into_iter()
        .find(|a| a.app_id == sync.app_id);
    let app_event = |action: &str, client_id: &str| {
        Event::new(
            EventType::AppCredentialsChanged,
            Some(tenant_id),
            sync.common.instance_id.as_deref(),
            // Never the secret: the vendor's app only learns to look again.
            json!({"tenantId": tenant_id, "appId": sync.app_id, "clientId": client_id, "action": action}),
        )
    };
    match (sync.flag, client_secret) {
        (Flag::Delete, _) => {
            if let Some(old) = &existing {
                events.push(app_event("deleted", &old.client_id));
            }
            store::apps::delete(conn, tenant_id, &sync.app_id).await?
        }
        (_, Some(secret)) => {
            let client_id = sync.client_id.clone().unwrap_or_default();
            let same_secret = |sealed: &str| {
                state
                    .vault
                    .open(sealed)
                    .is_ok_and(|old| bool::from(old.as_bytes().ct_eq(secret.as_bytes())))
            };
            let unchanged = existing.as_ref().is_some_and(|old| {
                old.client_id == client_id
                    && old.client_secret_sealed.as_deref().is_some_and(same_secret)
            });
            if !unchanged {
                events.push(app_event("set", &client_id));
            }
            store::apps::upsert(
                conn,
                tenant_app::Model {
                    tenant_id: tenant_id.clone(),
                    app_id: sync.app_id.clone(),
                    instance_id: sync.common.instance_id.clone().unwrap_or_default(),
                    client_id,
                    client_secret_sealed: Some(state.vault.seal(&secret)?),
                    updated_at: Utc::now(),
                },
            )
            .await?
        }
        (_, None) => return Err(Error::AppSecret("clientSecret is missing")),
    }
    Ok(None)
}

async fn auth_sync(
    state: &AppState,
    conn: &impl ConnectionTrait,
    sync: &AuthSync,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let user_event = |event_type: EventType, users: Vec<Value>| {
        (!users.is_empty()).then(|| {
            Event::new(
                event_type,
                Some(tenant_id),
                sync.common.instance_id.as_deref(),
                json!({"tenantId": tenant_id, "appId": sync.app_id, "users": users}),
            )
        })
    };
    let names: Vec<String> = sync.users.iter().map(|u| u.user_name.clone()).collect();
    let stored: HashMap<String, grant::Model> =
        store::users::grants(conn, tenant_id, &sync.app_id, &names)
            .await?
            .into_iter()
            .map(|g| (g.user_name.clone(), g))
            .collect();
    // An older call never overwrites what a newer one set (spec §6).
    let current: Vec<_> = sync
        .users
        .iter()
        .filter(|u| stored.get(&u.user_name).is_none_or(|g| g.sync_time <= sync.sync_time))
        .collect();
    let stale = sync.users.len() - current.len();
    let now = Utc::now();
    let grant_row = |user_name: &str, granted: bool| grant::Model {
        tenant_id: tenant_id.clone(),
        app_id: sync.app_id.clone(),
        user_name: user_name.to_string(),
        granted,
        sync_time: sync.sync_time.clone(),
        updated_at: now,
    };
    match sync.flag {
        Flag::Add | Flag::Modify => {
            let mut users = Vec::with_capacity(current.len());
            for u in &current {
                let personal = if u.personal.is_empty() {
                    None
                } else {
                    Some(state.vault.seal(&Value::Object(u.personal.clone()).to_string())?)
                };
                users.push(user::Model {
                    tenant_id: tenant_id.clone(),
                    user_name: u.user_name.clone(),
                    name: u.name.clone().unwrap_or_else(|| u.user_name.clone()),
                    org_code: u.org_code.clone(),
                    role: u.role.clone().unwrap_or_else(|| "user".to_string()),
                    enabled: u.enabled.unwrap_or(true),
                    deleted: false,
                    position: u.position.clone(),
                    employee_code: u.employee_code.clone(),
                    employee_type: u.employee_type.clone(),
                    personal_sealed: personal,
                    updated_at: now,
                });
            }
            // A modify keeps a cancelled grant cancelled; an add grants.
            let grants = current
                .iter()
                .map(|u| {
                    let granted = sync.flag == Flag::Add
                        || stored.get(&u.user_name).is_none_or(|g| g.granted);
                    grant_row(&u.user_name, granted)
                })
                .collect();
            // Sessions carry the role and department they were opened with:
            // a user disabled, or whose role or department changed, signs in
            // again (and so gets the new ones).
            let before: HashMap<String, user::Model> =
                store::users::find_many(conn, tenant_id, &names)
                    .await?
                    .into_iter()
                    .map(|u| (u.user_name.clone(), u))
                    .collect();
            let ended: Vec<String> = users
                .iter()
                .filter(|u| {
                    !u.enabled
                        || before
                            .get(&u.user_name)
                            .is_some_and(|old| old.role != u.role || old.org_code != u.org_code)
                })
                .map(|u| u.user_name.clone())
                .collect();
            let (mut granted, mut changed) = (Vec::new(), Vec::new());
            for u in &users {
                let was_granted = stored.get(&u.user_name).is_some_and(|g| g.granted);
                let is_granted =
                    sync.flag == Flag::Add || stored.get(&u.user_name).is_none_or(|g| g.granted);
                let differs = before.get(&u.user_name).is_none_or(|old| {
                    old.deleted
                        || old.name != u.name
                        || old.org_code != u.org_code
                        || old.role != u.role
                        || old.enabled != u.enabled
                });
                if is_granted && !was_granted {
                    granted.push(user_json(u));
                } else if differs {
                    changed.push(user_json(u));
                }
            }
            events.extend(user_event(EventType::UserGranted, granted));
            events.extend(user_event(EventType::UserChanged, changed));
            store::users::upsert_users(conn, users).await?;
            store::users::upsert_grants(conn, grants).await?;
            crate::access::revoke::users(conn, tenant_id, &ended).await?;
        }
        Flag::Cancel => {
            let revoked = current
                .iter()
                .filter(|u| stored.get(&u.user_name).is_some_and(|g| g.granted))
                .map(|u| json!({"userName": u.user_name}))
                .collect();
            events.extend(user_event(EventType::UserRevoked, revoked));
            let grants = current.iter().map(|u| grant_row(&u.user_name, false)).collect();
            store::users::upsert_grants(conn, grants).await?;
            let names: Vec<String> = current.iter().map(|u| u.user_name.clone()).collect();
            crate::access::revoke::users(conn, tenant_id, &names).await?;
        }
        Flag::Delete => {
            let names: Vec<String> = current.iter().map(|u| u.user_name.clone()).collect();
            let deleted = store::users::find_many(conn, tenant_id, &names)
                .await?
                .into_iter()
                .filter(|u| !u.deleted)
                .map(|u| json!({"userName": u.user_name}))
                .collect();
            events.extend(user_event(EventType::UserDeleted, deleted));
            let grants = current.iter().map(|u| grant_row(&u.user_name, false)).collect();
            store::users::upsert_grants(conn, grants).await?;
            store::users::delete(conn, tenant_id, &names).await?;
            crate::access::revoke::users(conn, tenant_id, &names).await?;
        }
    }
    Ok((stale > 0).then(|| json!({"skippedAsOlder": stale})))
}

async fn single_org_sync(
    conn: &impl ConnectionTrait,
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
    let row = department_row(tenant_id, org, "");
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
    store::departments::upsert_many(conn, vec![department_row(tenant_id, org, &mark)]).await?;
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
async fn all_org_sync(
    conn: &impl ConnectionTrait,
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
    let rows = sync.orgs.iter().map(|o| department_row(tenant_id, o, &mark)).collect();
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

fn tenant_event(event_type: EventType, row: &tenant::Model, common: &Common) -> Event {
    Event::new(
        event_type,
        Some(&row.tenant_id),
        common.instance_id.as_deref(),
        json!({
            "tenantId": row.tenant_id,
            "tenantCode": row.tenant_code,
            "name": row.name,
            "domainName": row.domain_name,
            "testFlag": row.test_flag,
            "instanceId": common.instance_id,
        }),
    )
}

/// A user as events show them: ids, name, department, role; never the
/// personal fields (mobile, email…).
fn user_json(user: &user::Model) -> Value {
    json!({
        "userName": user.user_name,
        "name": user.name,
        "orgCode": user.org_code,
        "role": user.role,
        "enabled": user.enabled,
    })
}

fn department_row(tenant_id: &str, org: &Org, mark: &str) -> department::Model {
    department::Model {
        tenant_id: tenant_id.to_string(),
        org_code: org.org_code.clone(),
        org_name: org.org_name.clone().unwrap_or_default(),
        parent_code: org.parent_code.clone(),
        retired: false,
        sync_mark: mark.to_string(),
        updated_at: Utc::now(),
    }
}

/// When a released instance leaves a tenant with no live instance, the
/// tenant's app secrets and its users' personal fields go at once; the
/// audit trail stays.
pub async fn erase_unbound_tenants(
    conn: &impl ConnectionTrait,
    released_instance: &str,
) -> Result<(), Error> {
    for tenant_id in store::tenants::bound_by(conn, released_instance).await? {
        if store::tenants::live_instance_count(conn, &tenant_id).await? == 0 {
            store::apps::erase_secrets(conn, &tenant_id).await?;
            store::users::erase_personal(conn, &tenant_id).await?;
        }
    }
    Ok(())
}
