//! What each sync call does, in one transaction with the event that
//! records it. Adds and deletes are idempotent: a repeat, or a delete of
//! something absent, changes nothing and answers success (spec §6).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::request::{AllOrgSync, AppSync, AuthSync, Org, SingleOrgSync, SyncCommand, TenantSync};
use super::Flag;
use crate::error::Error;
use crate::marketplace::client_secret::decrypt_client_secret;
use crate::marketplace::inbound::Call;
use crate::marketplace::result::Answer;
use crate::startup::AppState;
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
    let detail = match command {
        SyncCommand::Tenant(t) => tenant_sync(conn, t).await?,
        SyncCommand::App(a) => app_sync(state, conn, a, client_secret).await?,
        SyncCommand::Auth(a) => auth_sync(state, conn, a).await?,
        SyncCommand::SingleOrg(o) => single_org_sync(conn, o).await?,
        SyncCommand::AllOrg(o) => all_org_sync(conn, o).await?,
    };
    let answer = Answer::success();
    let mut event = call.event(&answer);
    event.detail = detail.map(|d| d.to_string());
    store::events::insert(conn, event).await?;
    tx.commit().await?;
    Ok(answer)
}

async fn tenant_sync(
    conn: &impl ConnectionTrait,
    sync: &TenantSync,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let existing = store::tenants::find(conn, tenant_id).await?;
    let now = Utc::now();
    match sync.flag {
        Flag::Delete => {
            if let Some(mut row) = existing.filter(|t| !t.deleted) {
                row.deleted = true;
                row.updated_at = now;
                store::tenants::upsert(conn, row).await?;
            }
            crate::sso::revoke::tenant(conn, tenant_id, "released").await?;
        }
        Flag::Add | Flag::Modify => {
            // A modify changes only name and domainName; one for a tenant
            // never added is taken as the add it should have followed.
            let tenant_code = match (&existing, sync.flag) {
                (Some(row), Flag::Modify) => row.tenant_code.clone(),
                _ => sync.tenant_code.clone().unwrap_or_default(),
            };
            store::tenants::upsert(
                conn,
                tenant::Model {
                    tenant_id: tenant_id.clone(),
                    tenant_code,
                    name: sync.name.clone().unwrap_or_default(),
                    domain_name: sync.domain_name.clone().unwrap_or_default(),
                    test_flag: sync.common.test_flag,
                    deleted: false,
                    created_at: existing.as_ref().map_or(now, |t| t.created_at),
                    updated_at: now,
                },
            )
            .await?;
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
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    match (sync.flag, client_secret) {
        (Flag::Delete, _) => store::apps::delete(conn, tenant_id, &sync.app_id).await?,
        (_, Some(secret)) => {
            store::apps::upsert(
                conn,
                tenant_app::Model {
                    tenant_id: tenant_id.clone(),
                    app_id: sync.app_id.clone(),
                    instance_id: sync.common.instance_id.clone().unwrap_or_default(),
                    client_id: sync.client_id.clone().unwrap_or_default(),
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
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
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
            store::users::upsert_users(conn, users).await?;
            store::users::upsert_grants(conn, grants).await?;
            crate::sso::revoke::users(conn, tenant_id, &ended).await?;
        }
        Flag::Cancel => {
            let grants = current.iter().map(|u| grant_row(&u.user_name, false)).collect();
            store::users::upsert_grants(conn, grants).await?;
            let names: Vec<String> = current.iter().map(|u| u.user_name.clone()).collect();
            crate::sso::revoke::users(conn, tenant_id, &names).await?;
        }
        Flag::Delete => {
            let names: Vec<String> = current.iter().map(|u| u.user_name.clone()).collect();
            let grants = current.iter().map(|u| grant_row(&u.user_name, false)).collect();
            store::users::upsert_grants(conn, grants).await?;
            store::users::delete(conn, tenant_id, &names).await?;
            crate::sso::revoke::users(conn, tenant_id, &names).await?;
        }
    }
    Ok((stale > 0).then(|| json!({"skippedAsOlder": stale})))
}

async fn single_org_sync(
    conn: &impl ConnectionTrait,
    sync: &SingleOrgSync,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let org = &sync.org;
    if sync.flag == Flag::Delete {
        store::departments::retire(conn, tenant_id, &org.org_code).await?;
        return Ok(None);
    }
    if let Some(parent) = &org.parent_code {
        check_move(conn, tenant_id, &org.org_code, parent).await?;
    }
    let mark = store::departments::find(conn, tenant_id, &org.org_code)
        .await?
        .map(|d| d.sync_mark)
        .unwrap_or_default();
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
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let before: HashMap<String, department::Model> = store::departments::all(conn, tenant_id)
        .await?
        .into_iter()
        .map(|d| (d.org_code.clone(), d))
        .collect();
    let (mut added, mut renamed, mut moved) = (Vec::new(), Vec::new(), Vec::new());
    for org in &sync.orgs {
        match before.get(&org.org_code).filter(|d| !d.retired) {
            None => added.push(org.org_code.clone()),
            Some(old) => {
                if org.org_name.as_ref() != Some(&old.org_name) {
                    renamed.push(org.org_code.clone());
                }
                if org.parent_code != old.parent_code {
                    moved.push(org.org_code.clone());
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
    // A fresh mark per full sync: whatever it does not touch is retired.
    let mark = format!("{:x}", rand::random::<u64>());
    let rows = sync.orgs.iter().map(|o| department_row(tenant_id, o, &mark)).collect();
    store::departments::upsert_many(conn, rows).await?;
    store::departments::retire_unmarked(conn, tenant_id, &mark).await?;
    Ok(Some(json!({"added": added, "renamed": renamed, "moved": moved, "retired": retired})))
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
