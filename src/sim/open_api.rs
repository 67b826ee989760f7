//! `koogate sim open-api`: the marketplace's seller Open API on a laptop.
//!
//! It checks every call as the marketplace's API gateway does: the
//! `SDK-HMAC-SHA256` signature recomputed from the bytes that arrived (so a
//! one-byte change is refused), a stale or future `X-Sdk-Date` refused,
//! and for usage pushes the body signature under the KooGallery key. It
//! answers `order/query` for the documented mock order ids and for orders
//! it is told about (`POST /sim/orders`), takes usage pushes (stored once
//! per `metering_sn`), and plays faults: a slow answer, a rate limit, a
//! refusal of the credentials.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::Error;
use crate::open_api::client::{ORDER_QUERY_PATH, USAGE_PATH};
use crate::open_api::signer;

/// How far `X-Sdk-Date` may be from the sim's clock (APIG's commonly cited window).
const DATE_WINDOW_SECS: i64 = 15 * 60;
/// Records per usage push (research §3.1: 100 to be safe).
const MAX_USAGE_RECORDS: usize = 100;
/// Usage may begin at most this long ago.
const USAGE_MAX_AGE_DAYS: i64 = 21;

#[derive(Debug, Clone)]
pub struct Config {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The KooGallery key that signs usage push bodies.
    pub koogallery_key: String,
    /// Calls per second beyond which it answers 406 `MKT.0250` (0: none).
    pub rate_limit: u32,
}

/// Faults switched on at run time (`PUT /sim/mode`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Mode {
    /// Every Open API answer waits this long.
    pub delay_ms: u64,
    /// Answer 401 `MKT.0154` whatever the signature.
    pub refuse_credentials: bool,
    /// Answer this many calls with 500 `MKT.0999`.
    pub fail_next: u32,
    /// Take this many usage pushes, then never answer them (the answer is
    /// lost on the way: the caller times out).
    pub lose_answers: u32,
    /// Instances the marketplace does not know: a usage push naming one is
    /// refused with 500 `MKT.9001`.
    pub unknown_instances: Vec<String>,
}

#[derive(Default)]
struct Memory {
    mode: Mode,
    orders: HashMap<String, Value>,
    /// order id → order/query calls that passed the signature check.
    queries: HashMap<String, u64>,
    usage: Vec<Value>,
    usage_sns: HashMap<String, usize>,
    /// metering_sn → accepted pushes that carried it (a resent record counts again).
    usage_receipts: HashMap<String, u64>,
    /// Signatures refused, for tests that plant a changed byte.
    refused: u64,
    window: (i64, u32),
}

struct Sim {
    config: Config,
    memory: Mutex<Memory>,
}

impl Sim {
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding the lock only loses the sim's own counters.
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the sim on `listener`; runs until the process ends.
pub fn serve(listener: TcpListener, config: Config) -> Result<actix_web::dev::Server, Error> {
    let sim = web::Data::new(Sim { config, memory: Mutex::new(Memory::default()) });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sim.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route(ORDER_QUERY_PATH, web::get().to(order_query))
            .route(USAGE_PATH, web::post().to(usage))
            .route("/sim/orders", web::post().to(add_order))
            .route("/sim/mode", web::put().to(set_mode))
            .route("/sim/stats", web::get().to(stats))
    })
    .workers(2)
    .listen(listener)
    .map_err(|e| Error::Internal(format!("cannot serve the Open API sim: {e}")))?
    .run();
    Ok(server)
}

/// APIG's own error shape, answered before the business layer.
fn gateway_refusal(detail: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({
        "error_code": "APIGW.0301",
        "error_msg": format!("Incorrect IAM authentication information: {detail}"),
        "request_id": "sim",
    }))
}

fn business(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({"resultCode": code, "resultMsg": message}))
}

/// The gateway's checks and the faults in force; `Some` is the answer
/// that ends the call.
async fn gate(sim: &Sim, req: &HttpRequest, body: &[u8]) -> Option<HttpResponse> {
    let (delay, refuse, fail) = {
        let mut memory = sim.memory();
        let fail = memory.mode.fail_next > 0;
        if fail {
            memory.mode.fail_next -= 1;
        }
        (memory.mode.delay_ms, memory.mode.refuse_credentials, fail)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Err(detail) = verify(&sim.config, req, body) {
        sim.memory().refused += 1;
        return Some(gateway_refusal(detail));
    }
    if refuse {
        return Some(business(401, "MKT.0154", "Illegal token"));
    }
    if sim.config.rate_limit > 0 {
        let mut memory = sim.memory();
        let second = Utc::now().timestamp();
        if memory.window.0 != second {
            memory.window = (second, 0);
        }
        memory.window.1 += 1;
        if memory.window.1 > sim.config.rate_limit {
            return Some(business(406, "MKT.0250", "Access frequency overlimit"));
        }
    }
    if fail {
        return Some(business(500, "MKT.0999", "System internal error."));
    }
    None
}

/// # Security
/// The signature is recomputed from the method, raw path, raw query,
/// headers named in `SignedHeaders` and body bytes as they arrived, and
/// compared in constant time.
fn verify(config: &Config, req: &HttpRequest, body: &[u8]) -> Result<(), &'static str> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_string(), v.to_string())))
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let auth = find("authorization").ok_or("no Authorization header")?;
    let auth = signer::Authorization::parse(auth).map_err(|_| "malformed Authorization")?;
    if auth.access_key != config.access_key_id {
        return Err("unknown access key");
    }
    let date = find("x-sdk-date").ok_or("no X-Sdk-Date")?;
    let date = signer::parse_sdk_date(date).map_err(|_| "malformed X-Sdk-Date")?;
    if (Utc::now() - date).num_seconds().abs() > DATE_WINDOW_SECS {
        return Err("X-Sdk-Date is out of the allowed window");
    }
    let expected = signer::expected_signature(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        &headers,
        body,
        &auth,
        &config.secret_access_key,
    )
    .map_err(|_| "a signed header is missing")?;
    use subtle::ConstantTimeEq;
    if expected.as_bytes().ct_eq(auth.signature.as_bytes()).into() {
        Ok(())
    } else {
        Err("the signature does not match")
    }
}

async fn order_query(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(answer) = gate(&sim, &req, &body).await {
        return answer;
    }
    let params: HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    if params.keys().any(|k| k != "orderId" && k != "orderLineId") {
        return business(400, "MKT.0101", "Invalid parameter");
    }
    let Some(order_id) = params.get("orderId").filter(|id| !id.is_empty() && id.len() <= 64) else {
        return business(400, "MKT.0101", "Invalid parameter");
    };
    let known = {
        let mut memory = sim.memory();
        *memory.queries.entry(order_id.clone()).or_default() += 1;
        memory.orders.get(order_id).cloned()
    };
    let Some(mut order) = known.or_else(|| mock_order(order_id, Utc::now())) else {
        return business(500, "MKT.9001", "Instance ID not found.");
    };
    if let Some(line) = params.get("orderLineId") {
        if let Some(lines) = order.get_mut("orderLine").and_then(Value::as_array_mut) {
            lines.retain(|l| l.get("orderLineId").and_then(Value::as_str) == Some(line));
            if lines.is_empty() {
                return business(500, "MKT.0100", "Failure of input parameter");
            }
        }
    }
    HttpResponse::Ok()
        .json(json!({"resultCode": "MKT.0000", "resultMsg": "Success", "orderInfo": order}))
}

async fn usage(sim: web::Data<Sim>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(answer) = gate(&sim, &req, &body).await {
        return answer;
    }
    let usage_error = |status: u16, code: &str, message: &str| {
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status).json(json!({"error_code": code, "error_msg": message}))
    };
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(given), Some(ts), Some(nonce)) = (header("signature"), header("ts"), header("nonce"))
    else {
        return usage_error(400, "MKT.0102", "Invalid body sign");
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return usage_error(400, "MKT.0101", "Invalid parameter");
    };
    let ts_ok = ts
        .parse::<i64>()
        .is_ok_and(|t| (Utc::now().timestamp_millis() - t).abs() <= DATE_WINDOW_SECS * 1000);
    let expected = ts
        .parse::<i64>()
        .map(|t| signer::usage_body_signature(&sim.config.koogallery_key, t, nonce, text));
    if !ts_ok || expected.as_deref() != Ok(given) {
        sim.memory().refused += 1;
        return usage_error(400, "MKT.0102", "Invalid body sign");
    }
    let Some(records) = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("usage_records").and_then(Value::as_array).cloned())
    else {
        return usage_error(400, "MKT.0101", "Invalid parameter");
    };
    if records.len() > MAX_USAGE_RECORDS {
        return usage_error(500, "MKT.9003", "Usage records extends size limit.");
    }
    let oldest = Utc::now() - chrono::Duration::days(USAGE_MAX_AGE_DAYS);
    let unknown = sim.memory().mode.unknown_instances.clone();
    for record in &records {
        let field = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        let value_ok = field("usage_value").parse::<f64>().is_ok_and(|v| v > 0.0);
        if field("instance_id").is_empty() || field("metering_sn").is_empty() || !value_ok {
            return usage_error(500, "MKT.9002", "Invalid usage enties.");
        }
        if unknown.iter().any(|i| i == field("instance_id")) {
            return usage_error(500, "MKT.9001", "Instance ID not found.");
        }
        match parse_usage_time(field("begin_time")) {
            Some(begin) if begin >= oldest => {}
            Some(_) => return usage_error(500, "MKT.9004", "Record beginTime extends Limit."),
            None => return usage_error(500, "MKT.9002", "Invalid usage enties."),
        }
    }
    let lose = {
        let mut memory = sim.memory();
        for record in records {
            let sn = record.get("metering_sn").and_then(Value::as_str).unwrap_or("").to_string();
            *memory.usage_receipts.entry(sn.clone()).or_default() += 1;
            if !memory.usage_sns.contains_key(&sn) {
                let at = memory.usage.len();
                memory.usage_sns.insert(sn, at);
                memory.usage.push(record);
            }
        }
        let lose = memory.mode.lose_answers > 0;
        if lose {
            memory.mode.lose_answers -= 1;
        }
        lose
    };
    if lose {
        // Taken, but the answer never arrives.
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    HttpResponse::Ok().json(json!({"error_code": "MKT.0000", "error_msg": "success"}))
}

fn parse_usage_time(value: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc())
}

/// Tells the sim about an order: the `orderInfo` object order/query will
/// answer for its `orderId`. Unsigned: the sim's own control surface.
async fn add_order(sim: web::Data<Sim>, order: web::Json<Value>) -> HttpResponse {
    let Some(id) = order.get("orderId").and_then(Value::as_str).map(str::to_string) else {
        return HttpResponse::BadRequest().json(json!({"error": "orderId is required"}));
    };
    sim.memory().orders.insert(id, order.into_inner());
    HttpResponse::NoContent().finish()
}

async fn set_mode(sim: web::Data<Sim>, mode: web::Json<Mode>) -> HttpResponse {
    sim.memory().mode = mode.into_inner();
    HttpResponse::NoContent().finish()
}

async fn stats(sim: web::Data<Sim>) -> HttpResponse {
    let memory = sim.memory();
    HttpResponse::Ok().json(json!({
        "orderQueries": memory.queries,
        "usage": memory.usage,
        "usageReceipts": memory.usage_receipts,
        "refused": memory.refused,
    }))
}

/// The documented mock orders (research §1.5), shaped like the one real
/// answer on record (§1.4) and dated from `now` as the marketplace's mocks
/// are. Only MOCKPERIODYEARNEW's answer was ever published; the others'
/// types and charging modes follow the doc's scenario names.
pub fn mock_order(order_id: &str, now: DateTime<Utc>) -> Option<Value> {
    let (order_type, charging_mode, period): (&str, &str, Option<(&str, i64)>) = match order_id {
        "MOCKPERIODYEARNEW" => ("NEW", "PERIOD", Some(("year", 1))),
        "MOCKONETIMENEW" => ("NEW", "ONE_TIME", None),
        "MOCKONDEMAND" => ("NEW", "ON_DEMAND", None),
        "MOCKONDEMANDPKG" => ("NEW", "ON_DEMAND_PKG", Some(("month", 1))),
        "MOCKPERIODDAYTRIAL" => ("TRIAL", "PERIOD", Some(("day", 7))),
        "MOCKMONTYTRIALTOFORMAL" => ("TRIAL_TO_FORMAL", "PERIOD", Some(("month", 1))),
        "MOCKMONTYUNSUBSCRIBE" => ("UNSUBSCRIBE", "PERIOD", Some(("month", 1))),
        "MOCKMONTYRENEW" => ("RENEW", "PERIOD", Some(("month", 1))),
        "MOCKMONTYCHANGE" => ("CHANGE", "PERIOD", Some(("month", 1))),
        _ => return None,
    };
    let mut line = json!({
        "orderLineId": format!("{order_id}-000001"),
        "chargingMode": charging_mode,
        "productInfo": [{
            "productId": "OFFI846204237451911168",
            "skuCode": "0a4d1578-5295-46a7-92d4-7c803dccc51d",
            "linearValue": 50,
            "productName": "MOCK sim product, basic",
        }],
        "extendParams": [{"name": "emailDomainName", "value": "test.example.com"}],
        "currency": "100",
        "currencyAfterDiscount": "100",
    });
    if let Some((period_type, number)) = period {
        let days = match period_type {
            "year" => 365 * number,
            "month" => 30 * number,
            _ => number,
        };
        let expire = (now + chrono::Duration::days(days)).format("%Y%m%d235959").to_string();
        line["periodType"] = json!(period_type);
        line["periodNumber"] = json!(number);
        line["expireTime"] = json!(expire);
    }
    Some(json!({
        "orderId": order_id,
        "orderType": order_type,
        "createTime": now.format("%Y%m%d%H%M%S").to_string(),
        "orderLine": [line],
        "buyerInfo": {
            "mobilePhone": "13800000000", "email": null,
            "customerId": "0123456789abcdef0123456789abcdef",
            "customerName": "mock_user_01", "customerRealName": "Mock Buyer",
            "customerType": 0, "userId": null, "userName": null,
        },
        "extendParams": [],
    }))
}
