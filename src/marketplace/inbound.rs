//! What every inbound marketplace call shares: the body limit, the event
//! that records it, and the redaction of what the event log keeps.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::result::{signed_response, Answer};
use super::timestamp;
use crate::error::Error;
use crate::kv::{Kv, PendingNonce};
use crate::settings::MarketplaceSettings;
use crate::store::{self, Db};

/// Largest lifecycle body (spec §2).
pub const LIFECYCLE_MAX_BODY: usize = 64 * 1024;

/// Past the limit we keep reading (and discarding) up to this much, so a
/// client still sending gets its answer instead of a reset connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Request fields never kept in clear: keys, tokens, secrets, personal data.
const SENSITIVE: &[&str] = &[
    "authToken",
    "signature",
    "password",
    "clientSecret",
    "mobilePhone",
    "mobile",
    "email",
    "customerName",
    "userName",
    "name",
    "workPlace",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What a call's effect depends on once it has authenticated: enough to
/// run it again through the same code (an operator's replay). Kept sealed
/// with the master key, never in clear: it holds personal fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplayInput {
    /// The Kit call (`tenantSync`, ...); empty for lifecycle calls.
    #[serde(default)]
    pub call: String,
    /// The raw body, base64 (lifecycle V2 and Kit).
    #[serde(default)]
    pub body: String,
    /// The query parameters of a lifecycle V1 call, without `authToken`.
    #[serde(default)]
    pub params: Vec<(String, String)>,
}

impl ReplayInput {
    pub fn body(call: &str, body: &[u8]) -> ReplayInput {
        use base64::Engine;
        ReplayInput {
            call: call.to_string(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
            params: Vec::new(),
        }
    }

    pub fn params(params: &[(String, String)]) -> ReplayInput {
        ReplayInput {
            params: params.iter().filter(|(k, _)| k != "authToken").cloned().collect(),
            ..ReplayInput::default()
        }
    }

    pub fn seal(&self, vault: &crate::vault::Vault) -> Result<String, Error> {
        let text = serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))?;
        vault.seal(&text)
    }

    pub fn open(vault: &crate::vault::Vault, sealed: &str) -> Result<ReplayInput, Error> {
        serde_json::from_str(&vault.open(sealed)?)
            .map_err(|_| Error::Internal("a sealed replay input does not parse".to_string()))
    }

    pub fn raw_body(&self) -> Result<Vec<u8>, Error> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .map_err(|_| Error::Internal("a sealed replay body is not base64".to_string()))
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
        }
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
        }
    }
}

/// The signed answer to a call. A success was recorded inside its own
/// transaction; a failure is recorded here, then answered with its code.
pub async fn respond(
    db: &Db,
    call: &Call,
    result: Result<Answer, Error>,
    signing_key: Option<&String>,
) -> HttpResponse {
    let answer = settle(db, call, result).await;
    signed_response(answer.to_bytes(), signing_key.map(String::as_str))
}

/// The answer to a call, its failure recorded (a success was recorded in
/// its own transaction). Shared by `respond` and an operator's replay.
pub async fn settle(db: &Db, call: &Call, result: Result<Answer, Error>) -> Answer {
    let answer = match result {
        Ok(answer) => {
            tracing::info!(channel = call.channel.as_str(), activity = %call.activity, instance_id = call.instance_id.as_deref(), tenant_id = call.tenant_id.as_deref(), result_code = answer.result_code, "marketplace call");
            answer
        }
        Err(err) => {
            let answer = Answer::with_code(err.result_code(), err.public_message());
            tracing::warn!(channel = call.channel.as_str(), activity = %call.activity, instance_id = call.instance_id.as_deref(), tenant_id = call.tenant_id.as_deref(), result_code = answer.result_code, error = ?err, "marketplace call refused");
            record_failure(db, call, &answer).await;
            answer
        }
    };
    crate::prometheus::marketplace_call(
        call.channel.as_str(),
        &call.activity,
        answer.result_code,
        call.started.elapsed(),
    );
    answer
}

/// Records a refused or failed call in its own transaction. Best effort:
/// when the database is what failed, the log line is all that is left.
pub async fn record_failure(db: &Db, call: &Call, answer: &Answer) {
    let result = async {
        let tx = db.begin_write().await?;
        if let Some(nonce) = &call.nonce {
            // Remembered even when refused; a replay is already refused.
            store::nonces::remember(&tx.txn, &nonce.key, nonce.expires_at).await?;
        }
        store::events::insert(&tx.txn, call.event(answer)).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = result {
        // While the database cannot write, that was said once per failure
        // class (store::write_health); a line per call would bury it.
        if db.failing_writes().is_empty() {
            tracing::error!(channel = call.channel.as_str(), activity = %call.activity, error = ?err, "could not record a failed call");
        } else {
            tracing::debug!(channel = call.channel.as_str(), activity = %call.activity, error = ?err, "could not record a failed call");
        }
    }
}

/// The three V2 credentials of a call: signature, epoch-ms timestamp, nonce.
pub struct V2Credentials<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
}

/// Authenticates a V2 call (lifecycle §3.1 or Kit §3.2, told apart by
/// `verify` and `scope`): a key must be configured, the timestamp inside
/// the window, the signature good under one of `keys`, and the nonce new.
/// Returns the nonce claim to write with the call, if the database keeps it.
///
/// # Security
/// The window is checked before the signature so stale requests cost no
/// HMAC; the nonce is claimed only for a verified request, so nobody can
/// burn another sender's nonces.
pub async fn authenticate_v2(
    kv: &Kv,
    settings: &MarketplaceSettings,
    keys: &[String],
    scope: &str,
    credentials: V2Credentials<'_>,
    verify: impl Fn(&[String]) -> bool,
) -> Result<Option<PendingNonce>, Error> {
    if keys.is_empty() {
        return Err(Error::Unauthenticated("no access key is configured"));
    }
    let tolerance = settings.timestamp_tolerance_secs;
    timestamp::check_v2(credentials.timestamp, Utc::now(), tolerance)?;
    if !verify(keys) {
        return Err(Error::Unauthenticated("the signature does not verify"));
    }
    if credentials.nonce.is_empty() || credentials.nonce.len() > 128 {
        return Err(Error::Unauthenticated("the nonce must be 1 to 128 characters"));
    }
    // Remembered for both sides of the window: a timestamp up to
    // `tolerance` ahead stays acceptable for twice as long.
    let ttl_ms = i64::try_from(tolerance.saturating_mul(2000)).unwrap_or(i64::MAX);
    kv.claim_nonce(scope, credentials.nonce, ttl_ms).await
}

/// Reads a request body of at most `limit` bytes.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, Error> {
    let mut body = web::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Error::invalid("the request body could not be read"))?;
        seen += chunk.len();
        if seen <= limit {
            body.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        return Err(Error::invalid(format!("the body is larger than {limit} bytes")));
    }
    Ok(body.freeze())
}

/// The request as the event log keeps it: a JSON body with sensitive
/// fields masked at any depth; an unparsable body only by its size.
pub fn redact_body(body: &[u8]) -> String {
    match super::exact_json::parse_slice(body) {
        Ok(mut value) => {
            mask(&mut value);
            value.to_string()
        }
        Err(_) => format!("{{\"unparsable\":true,\"bytes\":{}}}", body.len()),
    }
}

/// Query parameters as a redacted JSON object (V1 calls).
pub fn redact_params(params: &[(String, String)]) -> String {
    let mut object = Map::new();
    for (name, value) in params {
        object.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
    }
    let mut value = Value::Object(object);
    mask(&mut value);
    value.to_string()
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SENSITIVE.contains(&key.as_str()) && !inner.is_null() {
                    *inner = Value::String("***".to_string());
                } else {
                    mask(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        // Kit lists may arrive as strings holding JSON (spec §6).
        Value::String(text) if text.starts_with('[') || text.starts_with('{') => {
            if let Ok(mut inner) = super::exact_json::parse(text) {
                mask(&mut inner);
                *text = inner.to_string();
            }
        }
        _ => {}
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_fields_and_tokens_are_masked_at_any_depth() {
        let body = br#"{"activity":"newInstance","buyerInfo":{"customerId":"c1","mobilePhone":"18652996659","email":"a@b.c","userName":"bob"},"orderId":"O1"}"#;
        let kept = redact_body(body);
        assert!(kept.contains("\"customerId\":\"c1\""));
        assert!(kept.contains("\"orderId\":\"O1\""));
        for secret in ["18652996659", "a@b.c", "bob"] {
            assert!(!kept.contains(secret), "{secret} leaked into {kept}");
        }
    }

    #[test]
    fn query_parameters_keep_their_first_value_and_lose_the_token() {
        let params = vec![
            ("activity".to_string(), "newInstance".to_string()),
            ("authToken".to_string(), "abc+def=".to_string()),
            ("activity".to_string(), "other".to_string()),
        ];
        let kept = redact_params(&params);
        assert!(kept.contains("\"activity\":\"newInstance\""));
        assert!(!kept.contains("abc+def="));
    }

    #[test]
    fn lists_sent_as_strings_are_masked_too() {
        let body = br#"{"userList":"[{\"userName\":\"zs\",\"mobile\":\"13800000000\",\"extension\":{\"email\":\"a@b.c\"}}]"}"#;
        let kept = redact_body(body);
        assert!(!kept.contains("13800000000") && !kept.contains("a@b.c"), "{kept}");
    }

    #[test]
    fn unparsable_bodies_are_kept_only_by_size() {
        assert_eq!(redact_body(b"{not json"), "{\"unparsable\":true,\"bytes\":9}");
    }
}
