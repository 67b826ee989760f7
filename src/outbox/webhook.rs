//! The Standard Webhooks wire format (https://www.standardwebhooks.com):
//! a JSON body `{type, timestamp, data}` and the headers `webhook-id`,
//! `webhook-timestamp` (unix seconds) and `webhook-signature`
//! (`v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::error::Error;

/// The HMAC key of `upstream.webhook_secret`.
///
/// `whsec_<base64>` (what the Standard Webhooks libraries generate and
/// expect) is the base64-decoded bytes; any other value is used as its
/// UTF-8 bytes, for receivers that take a plain shared string.
///
/// # Security
/// A `whsec_` secret that is not valid base64 stops the start rather than
/// signing with a key the receiver cannot share.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, Error> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).map_err(|_| {
            Error::Config("upstream.webhook_secret: whsec_ must be followed by base64".to_string())
        }),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(format!(".{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A fresh `msg_…` id: 24 random alphanumerics (about 143 bits).
pub fn new_webhook_id() -> String {
    format!("msg_{}", Alphanumeric.sample_string(&mut OsRng, 24))
}

/// The body of one event: the same bytes on every attempt.
pub fn body(event_type: &str, created_at_ms: i64, data: &str) -> Vec<u8> {
    let timestamp = chrono::DateTime::from_timestamp_millis(created_at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // `data` was written by koogate as JSON; an unreadable one goes as null
    // rather than blocking the tenant's queue forever.
    let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    json!({"type": event_type, "timestamp": timestamp, "data": data}).to_string().into_bytes()
}

/// Why an attempt failed, short and free of secrets, for `last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

/// POSTs one event; any 2xx is a delivery, anything else (another status,
/// a timeout, a refused connection) a failure to retry.
#[tracing::instrument(name = "webhook", skip_all, fields(webhook_id = %webhook_id))]
pub async fn deliver(
    http: &reqwest::Client,
    url: &str,
    key: &[u8],
    timeout: std::time::Duration,
    webhook_id: &str,
    body: Vec<u8>,
) -> Result<(), Failure> {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(key, webhook_id, timestamp, &body);
    let response = http
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| Failure(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let said = first_words(response).await;
    if said.is_empty() {
        Err(Failure(format!("HTTP {}", status.as_u16())))
    } else {
        Err(Failure(format!("HTTP {}: {said}", status.as_u16())))
    }
}

/// The most of a refusal's body an operator is shown (characters).
const ERROR_BODY_SHOWN: usize = 300;

/// The start of what the vendor's app answered when it refused an event,
/// on one line, so an operator sees why without reading the app's logs.
/// Reads at most a few KiB: a huge error page costs nothing.
async fn first_words(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < 4 * ERROR_BODY_SHOWN {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = one_line.split_whitespace().collect();
    words.join(" ").chars().take(ERROR_BODY_SHOWN).collect()
}

/// A transport error in a few words: reqwest's own text may carry the
/// URL, which could hold a token.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else if err.is_redirect() {
        "redirected".to_string()
    } else {
        "transport error".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its
    /// libraries' test suites (secret, id, timestamp, payload, signature);
    /// the signature was also recomputed independently with Python's
    /// `hmac` module before it was written here.
    #[test]
    fn signs_the_published_example() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let signature =
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_plain_secret_is_its_bytes_and_a_broken_whsec_is_refused() {
        assert_eq!(signing_key("s3cret").expect("key"), b"s3cret".to_vec());
        assert!(signing_key("whsec_not base64!").is_err());
    }

    #[test]
    fn webhook_ids_are_fresh() {
        let id = new_webhook_id();
        assert!(id.starts_with("msg_") && id.len() == 28);
        assert_ne!(id, new_webhook_id());
    }

    #[test]
    fn the_body_names_type_time_and_data() {
        let body = body("instance.frozen", 1_700_000_000_123, r#"{"instanceId":"i-1"}"#);
        let value: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(value["type"], "instance.frozen");
        assert_eq!(value["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(value["data"]["instanceId"], "i-1");
    }
}
