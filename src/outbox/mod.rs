//! Durable delivery of events to the vendor's app (`upstream.webhook_url`).
//!
//! Every state change writes its event to the `outbox` table in the same
//! transaction, so an event exists exactly when its change committed, and
//! a repeated marketplace call that changes nothing writes nothing. A relay
//! on every replica delivers them in the Standard Webhooks format (see
//! [`webhook`]), at least once, in order per tenant and per instance, with
//! backoff for up to a day, then keeps them as dead letters (see [`relay`]).
//!
//! With `upstream.webhook_url` empty no event is written: nobody would
//! receive them, and rows piling up for a receiver that may never exist
//! would only grow the database. A vendor that connects later reads the
//! current state through the app API, then hears about changes from then on.

pub mod relay;
pub mod webhook;

use chrono::Utc;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::Notify;

use crate::error::Error;
use crate::settings::{OutboxTuning, Settings};
use crate::store;
use entity::outbox;

/// What happened, as the `type` of the delivered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    InstanceCreated,
    InstanceRenewed,
    InstanceTrialConverted,
    InstanceFrozen,
    InstanceUnfrozen,
    InstanceUpgraded,
    InstanceReleased,
    /// The plan, quantity or term changed (crate::open_api::fetch).
    InstanceEntitlementChanged,
    /// Reconciliation found the marketplace disagreeing (crate::open_api::reconcile).
    InstanceDriftFound,
    TenantAdded,
    TenantChanged,
    TenantDeleted,
    AppCredentialsChanged,
    UserGranted,
    UserChanged,
    UserRevoked,
    UserDeleted,
    DepartmentsChanged,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InstanceCreated => "instance.created",
            EventType::InstanceRenewed => "instance.renewed",
            EventType::InstanceTrialConverted => "instance.trial_converted",
            EventType::InstanceFrozen => "instance.frozen",
            EventType::InstanceUnfrozen => "instance.unfrozen",
            EventType::InstanceUpgraded => "instance.upgraded",
            EventType::InstanceReleased => "instance.released",
            EventType::InstanceEntitlementChanged => "instance.entitlement_changed",
            EventType::InstanceDriftFound => "instance.drift_found",
            EventType::TenantAdded => "tenant.added",
            EventType::TenantChanged => "tenant.changed",
            EventType::TenantDeleted => "tenant.deleted",
            EventType::AppCredentialsChanged => "app.credentials_changed",
            EventType::UserGranted => "user.granted",
            EventType::UserChanged => "user.changed",
            EventType::UserRevoked => "user.revoked",
            EventType::UserDeleted => "user.deleted",
            EventType::DepartmentsChanged => "departments.changed",
        }
    }
}

/// One event about to be written. `data` must hold no secret and no
/// personal field (ids, names, roles and codes only).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_type: EventType,
    /// Events sharing a tenant, or an instance, are delivered in order.
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    pub data: Value,
}

impl Event {
    pub fn new(
        event_type: EventType,
        tenant_id: Option<&str>,
        instance_id: Option<&str>,
        data: Value,
    ) -> Event {
        let some = |id: Option<&str>| id.filter(|s| !s.is_empty()).map(str::to_string);
        Event { event_type, tenant_id: some(tenant_id), instance_id: some(instance_id), data }
    }
}

/// The outbox as every handler and the relay see it.
pub struct Outbox {
    /// Empty: events are neither written nor delivered.
    pub webhook_url: String,
    key: Vec<u8>,
    pub tuning: OutboxTuning,
    /// Wakes this replica's relay when a call has just committed events.
    wake: Notify,
}

impl Outbox {
    pub fn from_settings(settings: &Settings) -> Result<Outbox, Error> {
        let webhook_url = settings.upstream.webhook_url.trim().to_string();
        if !webhook_url.is_empty() {
            let url = reqwest::Url::parse(&webhook_url)
                .map_err(|_| Error::Config("upstream.webhook_url is not a URL".to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error::Config(
                    "upstream.webhook_url must be an http or https URL".to_string(),
                ));
            }
        }
        let key = webhook::signing_key(settings.upstream.webhook_secret.expose_secret())?;
        Ok(Outbox { webhook_url, key, tuning: settings.outbox.clone(), wake: Notify::new() })
    }

    pub fn enabled(&self) -> bool {
        !self.webhook_url.is_empty()
    }

    /// Writes the events in the caller's transaction (nothing when no
    /// webhook is configured); `true` when it wrote any, and then the
    /// caller calls [`Outbox::committed`] after the commit.
    pub async fn record(
        &self,
        conn: &impl ConnectionTrait,
        events: Vec<Event>,
    ) -> Result<bool, Error> {
        let rows = self.rows(events);
        if rows.is_empty() {
            return Ok(false);
        }
        store::outbox::insert_many(conn, rows).await?;
        Ok(true)
    }

    /// The outbox rows of these events, not yet written; none when no
    /// webhook is configured.
    pub fn rows(&self, events: Vec<Event>) -> Vec<outbox::ActiveModel> {
        if !self.enabled() {
            return Vec::new();
        }
        let now = Utc::now().timestamp_millis();
        events
            .into_iter()
            .map(|event| outbox::ActiveModel {
                id: NotSet,
                webhook_id: Set(webhook::new_webhook_id()),
                event_type: Set(event.event_type.as_str().to_string()),
                tenant_id: Set(event.tenant_id),
                instance_id: Set(event.instance_id),
                payload: Set(event.data.to_string()),
                status: Set(store::outbox::PENDING.to_string()),
                created_at: Set(now),
                retry_from: Set(now),
                attempts: Set(0),
                next_attempt_at: Set(now),
                claimed_until: Set(None),
                claim_token: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                dead_at: Set(None),
            })
            .collect()
    }

    /// Tells this replica's relay that events may be waiting (the others
    /// find them at their next poll).
    pub fn committed(&self) {
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Sources;

    fn settings(overrides: &[(&str, &str)]) -> Result<Settings, Error> {
        let sources = Sources {
            overrides: overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Sources::default()
        };
        Settings::load(&sources).map(|(s, _)| s)
    }

    #[test]
    fn the_clock_defaults_to_a_second_an_hour_a_day() {
        let tuning = settings(&[]).expect("settings").outbox;
        assert_eq!(tuning.retry_base_ms, 1_000);
        assert_eq!(tuning.retry_cap_ms, 3_600_000);
        assert_eq!(tuning.give_up_after_ms, 86_400_000);
        assert_eq!(tuning.lease_ms, 30_000);
        assert_eq!(tuning.timeout_ms, 5_000);
    }

    #[test]
    fn a_webhook_needs_a_secret_an_http_url_and_a_lease_longer_than_an_attempt() {
        let url = ("upstream.webhook_url", "https://app.example.com/hooks");
        assert!(settings(&[url]).is_err(), "no secret");
        let secret = ("upstream.webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let good = settings(&[url, secret]).expect("settings");
        assert!(Outbox::from_settings(&good).expect("outbox").enabled());
        let short_lease = [url, secret, ("outbox.lease_ms", "6000")];
        assert!(settings(&short_lease).is_err());
        let ftp = settings(&[("upstream.webhook_url", "ftp://app.example.com"), secret])
            .expect("settings");
        assert!(Outbox::from_settings(&ftp).is_err());
        let broken = settings(&[url, ("upstream.webhook_secret", "whsec_%%%")]).expect("settings");
        assert!(Outbox::from_settings(&broken).is_err());
    }

    #[test]
    fn without_a_url_the_outbox_is_off() {
        let outbox = Outbox::from_settings(&settings(&[]).expect("settings")).expect("outbox");
        assert!(!outbox.enabled());
    }

    #[test]
    fn empty_ids_order_nothing() {
        let event = Event::new(EventType::TenantDeleted, Some("t-1"), Some(""), Value::Null);
        assert_eq!(event.tenant_id.as_deref(), Some("t-1"));
        assert_eq!(event.instance_id, None);
        assert_eq!(event.event_type.as_str(), "tenant.deleted");
    }
}
