//! The recording of inbound calls: the marketplace's lifecycle and Kit
//! calls, and an operator's actions recorded like them. Every call, good or
//! bad, leaves one event; its nonce, its replay input and its effects are
//! written with that event in one transaction (see [`record`]).
//!
//! The wire algorithms (signatures, canonical bodies, result codes) live in
//! `marketplace/`, which does no I/O; this module is where they meet the
//! database, the nonce store and the metrics.

pub mod auth;
pub mod http;
pub mod record;
pub mod redact;
pub mod refused;
pub mod replay;

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::kv::PendingNonce;
use crate::marketplace::result::Answer;

pub use auth::{authenticate_v2, precheck_v2, V2Credentials};
pub use http::{announced_size, large_body_turn, read_body, respond, LIFECYCLE_MAX_BODY};
pub use record::{begin, commit_call, is_stale_v1, record_failure, settle, Effects};
pub use redact::{redact_body, redact_params, refused_body, unread_body_record};
pub use refused::RefusedLog;
pub use replay::ReplayInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Channel {
    LifecycleV2,
    LifecycleV1,
    KitV2,
    KitV1,
    /// Not the marketplace: an operator's action in the admin site,
    /// recorded like a call so the audit trail has it.
    Operator,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::LifecycleV2 => "lifecycle_v2",
            Channel::LifecycleV1 => "lifecycle_v1",
            Channel::KitV2 => "kit_v2",
            Channel::KitV1 => "kit_v1",
            Channel::Operator => "operator",
        }
    }

    pub fn parse(value: &str) -> Option<Channel> {
        [
            Channel::LifecycleV2,
            Channel::LifecycleV1,
            Channel::KitV2,
            Channel::KitV1,
            Channel::Operator,
        ]
        .into_iter()
        .find(|c| c.as_str() == value)
    }
}

/// One inbound call, as the event log will record it.
#[derive(Debug, Clone)]
pub struct Call {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    started: Instant,
    pub activity: String,
    pub instance_id: Option<String>,
    pub tenant_id: Option<String>,
    pub order_id: Option<String>,
    pub test_flag: bool,
    /// The request, redacted.
    pub request: String,
    pub replay_of: Option<i64>,
    /// [`ReplayInput`], sealed; set once the call has authenticated.
    pub replay_sealed: Option<String>,
    /// The nonce to remember with this call (database nonce store).
    pub nonce: Option<PendingNonce>,
    /// A verified V1 call's `timeStamp`, epoch ms: V1 has no nonce, so
    /// state changes are ordered by it (see [`record::is_stale_v1`]).
    pub v1_sent_at: Option<i64>,
}

impl Call {
    pub fn new(channel: Channel) -> Call {
        Call {
            channel,
            received_at: Utc::now(),
            started: Instant::now(),
            activity: String::new(),
            instance_id: None,
            tenant_id: None,
            order_id: None,
            test_flag: false,
            request: String::new(),
            replay_of: None,
            replay_sealed: None,
            nonce: None,
            v1_sent_at: None,
        }
    }

    /// Whether the call passed authentication (or is an operator's own
    /// action): only then is its input kept for replays.
    pub fn authenticated(&self) -> bool {
        self.replay_sealed.is_some() || self.channel == Channel::Operator
    }

    /// The event row for this call and its answer.
    pub fn event(&self, answer: &Answer) -> entity::event::Model {
        entity::event::Model {
            id: 0,
            received_at: self.received_at,
            channel: self.channel.as_str().to_string(),
            activity: truncate(&self.activity, 64),
            result_code: answer.result_code.to_string(),
            result_msg: truncate(&answer.result_msg, 255),
            instance_id: self.instance_id.as_deref().map(|s| truncate(s, 64)),
            tenant_id: self.tenant_id.as_deref().map(|s| truncate(s, 64)),
            order_id: self.order_id.as_deref().map(|s| truncate(s, 64)),
            test_flag: self.test_flag,
            duration_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            request: self.request.clone(),
            response: answer.redacted(),
            replay_of: self.replay_of,
            detail: None,
            replay_sealed: self.replay_sealed.clone(),
            refused: !self.authenticated(),
        }
    }
}

/// Puts the call's ids on the request's span, so every line logged while
/// it is answered, and the request's own, can be found by them.
pub(crate) fn trace(call: &Call) {
    let span = tracing::Span::current();
    span.record("channel", call.channel.as_str());
    if !call.activity.is_empty() {
        span.record("activity", call.activity.as_str());
    }
    if let Some(tenant_id) = &call.tenant_id {
        span.record("tenant_id", tenant_id.as_str());
    }
    if let Some(instance_id) = &call.instance_id {
        span.record("instance_id", instance_id.as_str());
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
