//! The marketplace's side of the wire: lifecycle and Kit calls, signed
//! as KooGallery signs them (V2 or V1), and the answer's `Body-Sign`
//! checked as KooGallery checks it.

use std::time::Duration;

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;

use crate::error::Error;
use crate::marketplace::{signature, timestamp};

/// How a call is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    /// HMAC-SHA256 signature, millisecond timestamp and nonce.
    V2,
    /// The legacy `authToken` over the sorted parameters, Beijing time.
    V1,
}

/// One koogate (or other ISV endpoint) as the marketplace sees it.
pub struct Marketplace {
    http: reqwest::Client,
    /// The production address: `{public_url}{marketplace.path}`.
    base_url: String,
    access_key: String,
    kit_access_key: String,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    /// `Some(true)` when `Body-Sign` verified with the key that signed the
    /// call, `Some(false)` when it did not, `None` when it was missing.
    pub body_sign_ok: Option<bool>,
}

impl Reply {
    /// `resultCode` (lifecycle) or `code` (Kit).
    pub fn code(&self) -> &str {
        self.json["resultCode"].as_str().or_else(|| self.json["code"].as_str()).unwrap_or("")
    }
}

fn nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

impl Marketplace {
    pub fn new(base_url: &str, access_key: &str, kit_access_key: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Marketplace {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            access_key: access_key.to_string(),
            kit_access_key: kit_access_key.to_string(),
        })
    }

    /// A lifecycle call: V2 `POST {base}?signature&timestamp&nonce` with
    /// the JSON body, or V1 `GET {base}?…&authToken` with the body's
    /// fields as the query.
    pub async fn lifecycle(&self, version: Version, body: &Value) -> Result<Reply, Error> {
        let request = match version {
            Version::V2 => {
                let bytes = body.to_string().into_bytes();
                let ts = Utc::now().timestamp_millis().to_string();
                let nonce = nonce();
                let sig = signature::lifecycle_v2_signature(&self.access_key, &nonce, &ts, &bytes);
                let query = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([("signature", &sig), ("timestamp", &ts), ("nonce", &nonce)])
                    .finish();
                self.http
                    .post(format!("{}?{query}", self.base_url))
                    .header("Content-Type", "application/json;charset=utf8")
                    .body(bytes)
            }
            Version::V1 => {
                let mut params = string_fields(body)?;
                // Lifecycle V1 time is UTC (Kit bodies use Beijing time).
                if !params.iter().any(|(k, _)| k == "timeStamp") {
                    params.push(("timeStamp".into(), timestamp::format_v1(Utc::now(), 0)));
                }
                let token = signature::v1_auth_token(&self.access_key, &params);
                params.push(("authToken".into(), token));
                let query =
                    form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
                self.http.get(format!("{}?{query}", self.base_url))
            }
        };
        self.send(request, &self.access_key).await
    }

    /// A Kit (joint-operation sync) call: V2 `POST {base}/produceAPI/v2/{call}`
    /// with `x-sign`, or V1 `POST {base}/produceAPI/{call}` with `authToken`.
    pub async fn kit(&self, version: Version, call: &str, body: &Value) -> Result<Reply, Error> {
        let request = match version {
            Version::V2 => {
                let bytes = body.to_string().into_bytes();
                let ts = Utc::now().timestamp_millis().to_string();
                let nonce = nonce();
                let sign = signature::kit_signature(&self.kit_access_key, &nonce, &ts, &bytes);
                self.http
                    .post(format!("{}/produceAPI/v2/{call}", self.base_url))
                    .header("Content-Type", "application/json")
                    .header("x-sign", sign)
                    .header("x-timestamp", ts)
                    .header("x-nonce", nonce)
                    .body(bytes)
            }
            Version::V1 => {
                let mut body = body.clone();
                if body.get("timeStamp").is_none() {
                    body["timeStamp"] = Value::String(timestamp::format_v1(Utc::now(), 8));
                }
                let bytes = body.to_string().into_bytes();
                let params = signature::kit_v1_params(&bytes)
                    .map_err(|e| Error::invalid(format!("the body is not a JSON object: {e}")))?;
                let token = signature::v1_auth_token(&self.kit_access_key, &params);
                self.http
                    .post(format!("{}/produceAPI/{call}", self.base_url))
                    .header("Content-Type", "application/json")
                    .header("authToken", token)
                    .body(bytes)
            }
        };
        self.send(request, &self.kit_access_key).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, key: &str) -> Result<Reply, Error> {
        let response = request
            .send()
            .await
            .map_err(|e| Error::Internal(format!("the call did not go through: {e}")))?;
        let status = response.status().as_u16();
        let body_sign =
            response.headers().get("Body-Sign").and_then(|v| v.to_str().ok()).map(str::to_string);
        let raw = response
            .bytes()
            .await
            .map_err(|e| Error::Internal(format!("the answer did not arrive: {e}")))?;
        let body_sign_ok = body_sign.map(|presented| {
            let expected = signature::body_sign_header(key, &raw);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), presented.as_bytes()).into()
        });
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Reply { status, json, body_sign_ok })
    }
}

/// A V1 query carries strings: a JSON object's fields, numbers and
/// booleans written out.
fn string_fields(body: &Value) -> Result<Vec<(String, String)>, Error> {
    let object =
        body.as_object().ok_or_else(|| Error::invalid("the body must be a JSON object"))?;
    Ok(object
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect())
}
