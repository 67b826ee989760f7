//! The Open API client: signs each call (afresh on every try), waits its
//! turn under `open_api.max_requests_per_sec`, bounds every call with a
//! timeout, retries what the marketplace says is worth retrying (HTTP 406
//! / `*.0250`, 5xx, `*.0999`, a dropped connection) with backoff and
//! jitter, and never retries a refusal. A refusal of the credentials
//! (`*.0150`–`*.0154`, or the gateway's 401) is remembered for `/readyz`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use chrono::Utc;
use rand::distributions::DistString;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::signer;
use crate::settings::OpenApiSettings;

pub const ORDER_QUERY_PATH: &str = "/api/mkp-openapi-public/global/v1/order/query";
pub const USAGE_PATH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";

/// Tries of one call (the first and the retries).
const TRIES: u32 = 3;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The marketplace refused the AK/SK (or the signature): not retried.
    #[error("the marketplace refused the credentials (HTTP {status}, {code})")]
    CredentialsRefused { status: u16, code: String },
    /// The marketplace refused the request itself (unknown order, bad
    /// parameter…): not retried.
    #[error("the marketplace refused the call (HTTP {status}, {code}: {message})")]
    Refused { status: u16, code: String, message: String },
    /// Still failing after every try (rate limit, 5xx, timeout, no
    /// connection): worth trying again later.
    #[error("the marketplace did not answer usefully: {0}")]
    Unavailable(String),
}

/// What `/readyz` and the admin dashboard say about the Open API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No call has answered yet.
    Unknown,
    Ok,
    CredentialsRefused,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "configured",
            Health::Ok => "ok",
            Health::CredentialsRefused => "credentials refused",
        }
    }
}

/// A successful answer: the raw body (kept for the event view) and its JSON.
#[derive(Debug, Clone)]
pub struct Answer {
    pub raw: String,
    pub json: Value,
}

/// One per process, built at start when both keys are set.
pub struct OpenApi {
    http: reqwest::Client,
    bases: Vec<String>,
    access_key_id: SecretString,
    secret_access_key: SecretString,
    /// Signs usage pushes' bodies (the KooGallery key, not the SK).
    koogallery_key: Option<SecretString>,
    retry_base: Duration,
    /// The earliest moment the next call may leave.
    next_slot: Mutex<Instant>,
    interval: Duration,
    health: AtomicU8,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi").field("bases", &self.bases).finish_non_exhaustive()
    }
}

impl OpenApi {
    /// `None` when the keys are not set: koogate then never calls out.
    pub fn from_settings(
        settings: &OpenApiSettings,
        koogallery_key: Option<&str>,
    ) -> Result<Option<OpenApi>, reqwest::Error> {
        if !settings.enabled() {
            return Ok(None);
        }
        // rustls with the webpki roots (the workspace's reqwest features):
        // the docs ask sellers to verify the marketplace strictly.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.timeout_ms.min(5_000)))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .build()?;
        Ok(Some(OpenApi {
            http,
            bases: settings.base_urls(),
            access_key_id: settings.access_key_id.clone(),
            secret_access_key: settings.secret_access_key.clone(),
            koogallery_key: koogallery_key
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_string())),
            retry_base: Duration::from_millis(settings.retry_base_ms),
            next_slot: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / settings.max_requests_per_sec.max(1),
            health: AtomicU8::new(0),
        }))
    }

    pub fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            1 => Health::Ok,
            2 => Health::CredentialsRefused,
            _ => Health::Unknown,
        }
    }

    /// `order/query` for one order (and one of its lines when given).
    pub async fn order_query(
        &self,
        order_id: &str,
        order_line_id: Option<&str>,
    ) -> Result<Answer, CallError> {
        let mut query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("orderId", order_id)
            .finish();
        if let Some(line) = order_line_id.filter(|l| !l.is_empty()) {
            query =
                form_urlencoded::Serializer::new(query).append_pair("orderLineId", line).finish();
        }
        self.call("GET", ORDER_QUERY_PATH, &query, Vec::new(), &[]).await
    }

    /// `isv/usage-data`: `body` is the exact JSON sent (keys sorted, as the
    /// body signature wants them).
    pub async fn push_usage(&self, body: &str) -> Result<Answer, CallError> {
        let key = self.koogallery_key.as_ref().ok_or_else(|| {
            CallError::Unavailable("no marketplace.access_key to sign usage with".to_string())
        })?;
        let key = key.expose_secret().to_string();
        let extra = move || {
            let nonce =
                rand::distributions::Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            signer::usage_headers(&key, Utc::now(), &nonce, body)
        };
        self.call_with("POST", USAGE_PATH, "", &extra, body.as_bytes()).await
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        extra: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<Answer, CallError> {
        self.call_with(method, path, query, &move || extra.clone(), body).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        query: &str,
        extra: &(dyn Fn() -> Vec<(String, String)> + Sync),
        body: &[u8],
    ) -> Result<Answer, CallError> {
        let mut last = String::new();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            // The `.cn` fallback is for a host that cannot be reached.
            for base in &self.bases {
                let url = if query.is_empty() {
                    format!("{base}{path}")
                } else {
                    format!("{base}{path}?{query}")
                };
                match self.try_once(method, &url, extra(), body).await {
                    Ok(answer) => {
                        self.health.store(1, Ordering::Relaxed);
                        return Ok(answer);
                    }
                    Err(Try::Final(CallError::CredentialsRefused { status, code })) => {
                        self.health.store(2, Ordering::Relaxed);
                        tracing::warn!(status, code = %code, "the marketplace refused the Open API credentials");
                        return Err(CallError::CredentialsRefused { status, code });
                    }
                    Err(Try::Final(err)) => return Err(err),
                    Err(Try::Again(why)) => {
                        last = why;
                        break;
                    }
                    Err(Try::Unreachable(why)) => last = why,
                }
            }
            tracing::info!(attempt = attempt + 1, error = %last, path, "an Open API call failed; retrying");
        }
        Err(CallError::Unavailable(last))
    }

    /// `base * 2^(attempt-1)` with jitter in its upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let delay = self.retry_base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
        let ms = delay.as_millis() as u64;
        Duration::from_millis(ms / 2 + rand::thread_rng().gen_range(0..=ms / 2))
    }

    /// Waits for this call's slot under the rate limit.
    async fn wait_turn(&self) {
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    async fn try_once(
        &self,
        method: &str,
        url: &str,
        extra: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<Answer, Try> {
        self.wait_turn().await;
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        headers.extend(extra);
        let signed = signer::sign(
            method,
            url,
            &headers,
            body,
            self.access_key_id.expose_secret(),
            self.secret_access_key.expose_secret(),
            Utc::now(),
        )
        .map_err(|e| Try::Final(CallError::Unavailable(e.to_string())))?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Try::Final(CallError::Unavailable(e.to_string())))?;
        let mut request = self.http.request(method, &signed.url).body(body.to_vec());
        for (name, value) in &signed.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Try::Unreachable(format!("cannot connect: {}", without_url(&e)))
            } else {
                Try::Again(without_url(&e))
            }
        })?;
        let status = response.status().as_u16();
        let raw = response.text().await.map_err(|e| Try::Again(without_url(&e)))?;
        classify(status, raw)
    }
}

/// The outcome of one try.
#[derive(Debug)]
enum Try {
    Final(CallError),
    /// Retry after a pause.
    Again(String),
    /// This host did not answer at all: try the next host now.
    Unreachable(String),
}

fn without_url(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_string();
    }
    // The URL carries only the host and order ids, but the error's text
    // is kept short and free of it anyway.
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// What an answer means (research §1.6, §3.1): `*.0000` is success under
/// either prefix; codes are read from `resultCode` or `error_code`.
fn classify(status: u16, raw: String) -> Result<Answer, Try> {
    let json: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let code = ["resultCode", "error_code"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .replace(' ', "");
    let message = ["resultMsg", "error_msg"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    let suffix = code.rsplit_once('.').map(|(_, s)| s).unwrap_or("");
    if status == 200 && suffix == "0000" {
        return Ok(Answer { raw, json });
    }
    if matches!(suffix, "0150" | "0151" | "0152" | "0153" | "0154")
        || (status == 401 && code.starts_with("APIGW"))
        || (status == 401 && code.is_empty())
    {
        return Err(Try::Final(CallError::CredentialsRefused { status, code }));
    }
    if status == 406 || suffix == "0250" || suffix == "0999" || (status >= 500 && code.is_empty()) {
        return Err(Try::Again(format!("HTTP {status} {code}")));
    }
    if status >= 500 && !code.starts_with("MKT.") && !code.starts_with("CBC.") {
        return Err(Try::Again(format!("HTTP {status} {code}")));
    }
    Err(Try::Final(CallError::Refused { status, code, message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, body: &str) -> String {
        match classify(status, body.to_string()) {
            Ok(_) => "ok".into(),
            Err(Try::Final(CallError::CredentialsRefused { .. })) => "credentials".into(),
            Err(Try::Final(CallError::Refused { code, .. })) => format!("refused {code}"),
            Err(Try::Final(CallError::Unavailable(_))) => "unavailable".into(),
            Err(Try::Again(_)) => "again".into(),
            Err(Try::Unreachable(_)) => "unreachable".into(),
        }
    }

    #[test]
    fn answers_are_read_as_the_error_table_says() {
        assert_eq!(kind(200, r#"{"resultCode":"MKT.0000","resultMsg":"Success"}"#), "ok");
        assert_eq!(kind(200, r#"{"resultCode":"CBC.0000","resultMsg":"Success"}"#), "ok");
        assert_eq!(kind(200, r#"{"error_code":"MKT.0000","error_msg":"success"}"#), "ok");
        assert_eq!(kind(406, r#"{"resultCode":"MKT. 0250"}"#), "again");
        assert_eq!(kind(500, r#"{"resultCode":"MKT.0999"}"#), "again");
        assert_eq!(kind(502, "<html>bad gateway</html>"), "again");
        assert_eq!(kind(401, r#"{"resultCode":"MKT.0154"}"#), "credentials");
        assert_eq!(kind(401, r#"{"resultCode":"MKT.0150"}"#), "credentials");
        assert_eq!(kind(401, r#"{"error_code":"APIGW.0301","error_msg":"x"}"#), "credentials");
        assert_eq!(kind(500, r#"{"resultCode":"MKT.9001"}"#), "refused MKT.9001");
        assert_eq!(kind(400, r#"{"resultCode":"MKT.0101"}"#), "refused MKT.0101");
        assert_eq!(kind(400, r#"{"error_code":"MKT.0102"}"#), "refused MKT.0102");
    }
}
