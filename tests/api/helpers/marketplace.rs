//! Playing the marketplace against the app: signed lifecycle and Kit
//! calls, and what koogate answers.

use koogate::marketplace::signature;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use super::app::{TestApp, ACCESS_KEY, KIT_KEY};
use super::enterprise::Enterprise;

/// One answer from koogate's marketplace endpoint.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub raw: Vec<u8>,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["resultCode"].as_str().unwrap_or("<none>")
    }

    /// Asserts the `Body-Sign` header signs exactly these bytes.
    pub fn assert_signed_with(&self, key: &str) {
        let header =
            self.headers.get("body-sign").and_then(|v| v.to_str().ok()).expect("Body-Sign header");
        assert_eq!(header, signature::body_sign_header(key, &self.raw));
    }

    /// Asserts a Kit call succeeded and its answer is signed with the Kit key.
    pub fn assert_kit_ok(&self) {
        assert_eq!(self.status, 200);
        assert_eq!(self.code(), "000000", "Kit call failed: {:?}", self.json);
        self.assert_signed_with(KIT_KEY);
    }
}

/// How to sign a V2 call; the defaults make a correct one.
#[derive(Debug, Clone)]
pub struct V2Options {
    pub key: String,
    pub timestamp_ms: i64,
    pub nonce: String,
    /// Sign these bytes instead of the body sent.
    pub signed_bytes: Option<Vec<u8>>,
    /// The 2025 formula (no inner HMAC).
    pub kit_formula: bool,
}

impl Default for V2Options {
    fn default() -> Self {
        V2Options {
            key: ACCESS_KEY.to_string(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            nonce: random_nonce(),
            signed_bytes: None,
            kit_formula: false,
        }
    }
}

/// How to sign a Kit V2 call; the defaults make a correct one.
#[derive(Debug, Clone)]
pub struct KitOptions {
    pub key: String,
    pub timestamp_ms: i64,
    pub nonce: String,
    /// Sign these bytes instead of the body sent.
    pub signed_bytes: Option<Vec<u8>>,
    /// Leave these headers out (`x-sign`, `x-timestamp`, `x-nonce`).
    pub omit: Vec<&'static str>,
}

impl Default for KitOptions {
    fn default() -> Self {
        KitOptions {
            key: KIT_KEY.to_string(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            nonce: random_nonce(),
            signed_bytes: None,
            omit: Vec::new(),
        }
    }
}

pub fn random_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 16))
}

impl TestApp {
    /// A correctly signed V2 lifecycle call.
    pub async fn v2(&self, body: &str) -> Reply {
        self.v2_with(body.as_bytes().to_vec(), V2Options::default()).await
    }

    pub async fn v2_with(&self, body: Vec<u8>, options: V2Options) -> Reply {
        let ts = options.timestamp_ms.to_string();
        let signed = options.signed_bytes.clone().unwrap_or_else(|| body.clone());
        let sig = if options.kit_formula {
            signature::kit_signature(&options.key, &options.nonce, &ts, &signed)
        } else {
            signature::lifecycle_v2_signature(&options.key, &options.nonce, &ts, &signed)
        };
        let url = format!(
            "{}{}?signature={sig}&timestamp={ts}&nonce={}",
            self.address, self.marketplace_path, options.nonce
        );
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json;charset=utf8")
            .body(body)
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }

    /// A correctly signed V1 lifecycle call (GET, authToken).
    pub async fn v1(&self, params: &[(&str, &str)]) -> Reply {
        let mut params: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if !params.iter().any(|(k, _)| k == "timeStamp") {
            params.push((
                "timeStamp".into(),
                koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0),
            ));
        }
        let token = signature::v1_auth_token(ACCESS_KEY, &params);
        params.push(("authToken".into(), token));
        self.v1_raw(&params).await
    }

    /// A V1 call with exactly these parameters.
    pub async fn v1_raw(&self, params: &[(String, String)]) -> Reply {
        let query: String =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let url = format!("{}{}?{query}", self.address, self.marketplace_path);
        let response = self.http.get(url).send().await.expect("request sent");
        reply(response).await
    }

    /// A correctly signed Kit V2 call: `POST {path}/produceAPI/v2/{call}`.
    pub async fn kit_v2(&self, call: &str, body: &Value) -> Reply {
        self.kit_v2_with(call, body.to_string().into_bytes(), KitOptions::default()).await
    }

    pub async fn kit_v2_with(&self, call: &str, body: Vec<u8>, options: KitOptions) -> Reply {
        let timestamp = options.timestamp_ms.to_string();
        let signed = options.signed_bytes.clone().unwrap_or_else(|| body.clone());
        let sign = signature::kit_signature(&options.key, &options.nonce, &timestamp, &signed);
        let mut request = self
            .http
            .post(format!("{}{}/produceAPI/v2/{call}", self.address, self.marketplace_path))
            .header("Content-Type", "application/json");
        for (name, value) in
            [("x-sign", sign), ("x-timestamp", timestamp), ("x-nonce", options.nonce)]
        {
            if !options.omit.contains(&name) {
                request = request.header(name, value);
            }
        }
        reply(request.body(body).send().await.expect("request sent")).await
    }

    /// A correctly signed Kit V1 call (`authToken` header over the body's
    /// fields); a Beijing-time `timeStamp` is added when the body has none.
    pub async fn kit_v1(&self, call: &str, body: &Value) -> Reply {
        let mut body = body.clone();
        if body.get("timeStamp").is_none() {
            body["timeStamp"] = json!(beijing_now());
        }
        let bytes = body.to_string().into_bytes();
        let params = signature::kit_v1_params(&bytes).expect("a JSON object");
        let token = signature::v1_auth_token(KIT_KEY, &params);
        self.kit_v1_raw(call, bytes, Some(&token)).await
    }

    /// A Kit V1 call with exactly this body and `authToken`.
    pub async fn kit_v1_raw(&self, call: &str, body: Vec<u8>, auth_token: Option<&str>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{}/produceAPI/{call}", self.address, self.marketplace_path))
            .header("Content-Type", "application/json");
        if let Some(token) = auth_token {
            request = request.header("authToken", token);
        }
        reply(request.body(body).send().await.expect("request sent")).await
    }

    /// A V2 updateInstanceStatus (`FREEZE` or `UNFREEZE`) that must succeed.
    pub async fn set_instance_status(&self, instance_id: &str, status: &str) {
        let body = json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": status});
        let reply = self.v2(&body.to_string()).await;
        assert_eq!(reply.code(), "000000", "{status} failed: {:?}", reply.json);
    }

    /// A V2 releaseInstance that must succeed.
    pub async fn release_instance(&self, instance_id: &str) {
        let body = json!({"activity": "releaseInstance", "instanceId": instance_id});
        let reply = self.v2(&body.to_string()).await;
        assert_eq!(reply.code(), "000000", "release failed: {:?}", reply.json);
    }

    /// A signed V2 newInstance for a fresh order; returns (orderId, reply).
    pub async fn buy(&self) -> (String, Reply) {
        let order_id = random_id("CS");
        let reply = self.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
        assert_eq!(reply.code(), "000000", "purchase failed: {:?}", reply.json);
        (order_id, reply)
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply { status, headers, raw, json }
}

/// The current V2 newInstance body.
pub fn new_instance_body(order_id: &str, business_id: &str) -> String {
    serde_json::json!({
        "activity": "newInstance",
        "orderId": order_id,
        "orderLineId": format!("{order_id}-000001"),
        "businessId": business_id,
        "testFlag": "0",
    })
    .to_string()
}

/// Now in Beijing time, `yyyyMMddHHmmssSSS`: the Kit `timeStamp`.
pub fn beijing_now() -> String {
    koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 8)
}

/// Sends a bad Kit call and checks its code, its signed answer, that the
/// enterprise looks the same through the admin API, and that the event log
/// recorded it once, on its channel, under its call name, with that code.
pub async fn kit_refused(
    app: &TestApp,
    enterprise: &Enterprise,
    (channel, call): (&str, &str),
    what: &str,
    expected: &str,
    send: impl std::future::Future<Output = Reply>,
) {
    let before = app.sync_footprint(&enterprise.tenant_id).await;
    let rows_before = app.footprint().await;
    let events_before = app.events().await.len();
    let reply = send.await;
    assert_eq!(reply.status, 200, "{what}");
    assert_eq!(reply.code(), expected, "{what}: {:?}", reply.json);
    assert!(reply.json["resultMsg"].as_str().is_some_and(|m| !m.is_empty()), "{what}: says why");
    reply.assert_signed_with(KIT_KEY);
    assert_eq!(
        app.sync_footprint(&enterprise.tenant_id).await,
        before,
        "{what} changed the enterprise"
    );
    assert_eq!(app.footprint().await, rows_before, "{what} changed rows");
    assert_eq!(app.events().await.len(), events_before + 1, "{what} recorded once");
    let event = app.last_event().await;
    assert_eq!(
        (event.channel.as_str(), event.activity.as_str(), event.result_code.as_str()),
        (channel, call, expected),
        "{what} recorded with its channel, call and code"
    );
}

/// Sends a bad call and checks its code, that it changed no row, and that
/// the event log recorded it with that code.
pub async fn refused(
    app: &TestApp,
    what: &str,
    expected: &str,
    send: impl std::future::Future<Output = Reply>,
) {
    let before = app.footprint().await;
    let snapshot = app.instances_snapshot().await;
    let events_before = app.events().await.len();
    let reply = send.await;
    assert_eq!(reply.status, 200, "{what}");
    assert_eq!(reply.code(), expected, "{what}: {:?}", reply.json);
    assert!(reply.json["resultMsg"].as_str().is_some_and(|m| !m.is_empty()), "{what}: says why");
    reply.assert_signed_with(ACCESS_KEY);
    assert_eq!(app.footprint().await, before, "{what} changed rows");
    assert_eq!(app.instances_snapshot().await, snapshot, "{what} changed an instance");
    let events = app.events().await;
    assert_eq!(events.len(), events_before + 1, "{what} recorded once");
    assert_eq!(app.last_event().await.result_code, expected, "{what} recorded with its code");
}
