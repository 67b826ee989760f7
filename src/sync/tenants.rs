//! The buyer's enterprise (tenantSync) and its app credentials
//! (applicationSync), and what goes when its last instance is released.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::request::{AppSync, Common, TenantSync};
use super::service::Ctx;
use super::Flag;
use crate::error::Error;
use crate::outbox::{Event, EventType};
use crate::store;
use entity::{tenant, tenant_app};

pub(super) async fn tenant_sync(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sync: &TenantSync,
    events: &mut Vec<Event>,
) -> Result<Option<Value>, Error> {
    let tenant_id = &sync.common.tenant_id;
    let existing = store::tenants::find(conn, tenant_id).await?;
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

pub(super) async fn app_sync(
    ctx: &Ctx<'_>,
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
            store::apps::delete(conn, tenant_id, &sync.app_id).await?;
            crate::access::revoke::app(conn, tenant_id, &sync.app_id).await?
        }
        (_, Some(secret)) => {
            let client_id = sync.client_id.clone().unwrap_or_default();
            let same_secret = |sealed: &str| {
                ctx.vault
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
                    client_secret_sealed: Some(ctx.vault.seal(&secret)?),
                    updated_at: ctx.now,
                },
            )
            .await?
        }
        (_, None) => return Err(Error::AppSecret("clientSecret is missing")),
    }
    Ok(None)
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
