//! Users and their authorisations to the app (authSync).

use std::collections::HashMap;

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::request::AuthSync;
use super::service::Ctx;
use super::Flag;
use crate::error::Error;
use crate::outbox::{Event, EventType};
use crate::store;
use entity::{grant, user};

pub(super) async fn auth_sync(
    ctx: &Ctx<'_>,
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
    let now = ctx.now;
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
                    Some(ctx.vault.seal(&Value::Object(u.personal.clone()).to_string())?)
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
