//! Lifecycle requests, validated once at the edge into commands (spec §5,
//! field tables in research/lifecycle-interface.md §3–4). Lenient where the
//! marketplace is inconsistent (scalars as numbers, two newInstance body
//! shapes), strict everywhere else.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::FreezeReason;
use crate::error::Error;
use crate::marketplace::fields::{flag, Fields, ID_LEN};
use crate::store::orders::OrderKey;

/// queryInstance takes at most 100 ids.
pub const MAX_QUERY_IDS: usize = 100;

/// A validated lifecycle call.
#[derive(Debug, Clone)]
pub enum Command {
    NewInstance(NewInstance),
    Query { instance_ids: Vec<String> },
    Refresh(Refresh),
    Freeze { instance_id: String, reason: FreezeReason },
    Unfreeze { instance_id: String },
    Upgrade(Upgrade),
    ChangeCheck { instance_id: String },
    Release { instance_id: String },
}

#[derive(Debug, Clone)]
pub struct NewInstance {
    /// The first delivery's businessId becomes the instanceId.
    pub instance_id: String,
    pub key: OrderKey,
    pub order_line_id: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub customer_id: Option<String>,
    pub trial: bool,
    pub expire_time: Option<String>,
    pub channel: &'static str,
    /// A seller-console debugging call: kept in the sandbox.
    pub test_flag: bool,
    /// Non-personal order details.
    pub details: Value,
    /// Personal buyer fields, sealed before storage.
    pub buyer: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    TrialToFormal,
    Renewal,
    UnsubscribeRenewalPeriod,
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub instance_id: String,
    pub key: OrderKey,
    pub scene: Scene,
    pub expire_time: String,
    pub product_id: Option<String>,
    /// V1 renewals lift an expiry freeze when the new expiry is ahead.
    pub lifts_expiry_freeze: bool,
}

#[derive(Debug, Clone)]
pub struct Upgrade {
    pub instance_id: String,
    pub key: OrderKey,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
}

impl Command {
    /// The instance a call is about, for the event log.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Command::NewInstance(n) => Some(&n.instance_id),
            Command::Query { instance_ids } => instance_ids.first().map(String::as_str),
            Command::Refresh(r) => Some(&r.instance_id),
            Command::Upgrade(u) => Some(&u.instance_id),
            Command::Freeze { instance_id, .. }
            | Command::Unfreeze { instance_id }
            | Command::ChangeCheck { instance_id }
            | Command::Release { instance_id } => Some(instance_id),
        }
    }

    /// The order a call is about, for the event log.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Command::NewInstance(n) => Some(&n.key.order_id),
            Command::Refresh(r) => Some(&r.key.order_id),
            Command::Upgrade(u) => Some(&u.key.order_id),
            _ => None,
        }
    }
}

/// Parses a V2 call (`POST`, JSON body).
pub fn parse_v2(fields: &Fields, activity: &str) -> Result<Command, Error> {
    match activity {
        "newInstance" => new_instance_v2(fields),
        "queryInstance" => Ok(Command::Query {
            instance_ids: query_ids(&fields.required("instanceId", MAX_QUERY_IDS * (ID_LEN + 1))?)?,
        }),
        "refreshInstance" => {
            let scene = match fields.required("scene", 64)?.as_str() {
                "TRIAL_TO_FORMAL" => Scene::TrialToFormal,
                "RENEWAL" => Scene::Renewal,
                "UNSUBSCRIBE_RENEWAL_PERIOD" => Scene::UnsubscribeRenewalPeriod,
                _ => {
                    return Err(Error::invalid(
                        "scene is not TRIAL_TO_FORMAL, RENEWAL or UNSUBSCRIBE_RENEWAL_PERIOD",
                    ))
                }
            };
            let kind = match scene {
                Scene::TrialToFormal => "trial_to_formal",
                Scene::Renewal => "renewal",
                Scene::UnsubscribeRenewalPeriod => "unsubscribe_renewal_period",
            };
            Ok(Command::Refresh(Refresh {
                instance_id: fields.id("instanceId")?,
                key: order_key(kind, fields.id("orderId")?, Some(fields.id("orderLineId")?), None),
                scene,
                expire_time: fields.expire_time("expireTime", true)?.unwrap_or_default(),
                product_id: fields.optional_id("productId")?,
                lifts_expiry_freeze: false,
            }))
        }
        "updateInstanceStatus" => {
            let instance_id = fields.id("instanceId")?;
            match fields.required("status", 32)?.as_str() {
                "FREEZE" => Ok(Command::Freeze { instance_id, reason: FreezeReason::Marketplace }),
                "UNFREEZE" => Ok(Command::Unfreeze { instance_id }),
                _ => Err(Error::invalid("status is not FREEZE or UNFREEZE")),
            }
        }
        "upgradeInstance" => Ok(Command::Upgrade(Upgrade {
            instance_id: fields.id("instanceId")?,
            key: order_key("upgrade", fields.id("orderId")?, Some(fields.id("orderLineId")?), None),
            product_id: fields.optional_id("productId")?,
            sku_code: fields.optional_id("skuCode")?,
        })),
        "changeInstanceCheck" => {
            let instance_id = fields.id("instanceId")?;
            match fields.get("productInfo") {
                Some(Value::Object(_)) | Some(Value::Array(_)) => {}
                Some(Value::String(s)) if !s.is_empty() => {}
                _ => return Err(Error::invalid("productInfo is missing")),
            }
            Ok(Command::ChangeCheck { instance_id })
        }
        "releaseInstance" => {
            fields.optional_id("orderId")?;
            fields.optional_id("orderLineId")?;
            Ok(Command::Release { instance_id: fields.id("instanceId")? })
        }
        _ => Err(Error::invalid("unknown activity")),
    }
}

/// Both V2 newInstance shapes: the current one (ids only) and the 2022 one
/// with `buyerInfo` and `orderInfo[]` (spec §5).
fn new_instance_v2(fields: &Fields) -> Result<Command, Error> {
    let Some(order_info) = fields.get("orderInfo") else {
        let order_line_id = fields.id("orderLineId")?;
        return Ok(Command::NewInstance(NewInstance {
            instance_id: fields.id("businessId")?,
            key: order_key("new", fields.id("orderId")?, Some(order_line_id.clone()), None),
            order_line_id: Some(order_line_id),
            product_id: fields.optional_id("productId")?,
            sku_code: fields.optional_id("skuCode")?,
            customer_id: fields.optional("customerId", 100)?,
            trial: false,
            expire_time: None,
            channel: "v2",
            test_flag: fields.test_flag()?,
            details: json!({}),
            buyer: None,
        }));
    };
    let first = match order_info {
        Value::Array(items) => items.first(),
        _ => None,
    };
    let Some(Value::Object(order)) = first else {
        return Err(Error::invalid("orderInfo must be a non-empty array of objects"));
    };
    let order = Fields::from(order.clone());
    let product = match order.get("productInfo") {
        Some(Value::Array(items)) => match items.first() {
            Some(Value::Object(p)) => Some(Fields::from(p.clone())),
            _ => None,
        },
        Some(Value::Object(p)) => Some(Fields::from(p.clone())),
        _ => None,
    };
    let product_id = match &product {
        Some(p) => p.optional_id("productId")?,
        None => None,
    };
    let sku_code = match &product {
        Some(p) => p.optional_id("skuCode")?,
        None => None,
    };
    let charging_mode = order.optional("chargingMode", 32)?;
    let pay_per_use = charging_mode.as_deref() == Some("ON_DEMAND");
    let buyer = match fields.get("buyerInfo") {
        Some(Value::Object(b)) => Some(b.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Error::invalid("buyerInfo must be an object")),
    };
    let buyer_fields = buyer.clone().map(Fields::from);
    let customer_id = match &buyer_fields {
        Some(b) => b.optional("customerId", 100)?,
        None => None,
    };
    let order_line_id = order.optional_id("orderLineId")?.or(fields.optional_id("orderLineId")?);
    let mut details = Map::new();
    for name in
        ["chargingMode", "periodType", "periodNumber", "provisionType", "orderAmount", "createTime"]
    {
        if let Some(v) = order.optional(name, 64)? {
            details.insert(name.to_string(), Value::String(v));
        }
    }
    if let Some(Value::Array(params)) = order.get("extendParams") {
        details.insert("extendParams".to_string(), Value::Array(params.clone()));
    }
    if let Some(p) = &product {
        if let Some(v) = p.optional("linearValue", 32)? {
            details.insert("linearValue".to_string(), Value::String(v));
        }
    }
    let order_id = order.id("orderId")?;
    Ok(Command::NewInstance(NewInstance {
        instance_id: order.id("businessId")?,
        key: order_key(
            "new",
            order_id,
            order_line_id.clone(),
            pay_per_use.then(|| product_id.clone()).flatten(),
        ),
        order_line_id,
        product_id,
        sku_code,
        customer_id,
        trial: flag(order.optional("trialFlag", 2)?.as_deref(), "trialFlag")?,
        expire_time: order.expire_time("expireTime", false)?,
        channel: "v2",
        test_flag: fields.test_flag()?,
        details: Value::Object(details),
        buyer: buyer.map(|mut b| {
            b.remove("customerId");
            Value::Object(b)
        }),
    }))
}

/// Parses a V1 call (`GET`, query string). `decrypt` opens the AES fields
/// (mobilePhone, email) with the access key.
pub fn parse_v1(
    fields: &Fields,
    activity: &str,
    decrypt: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, Error> {
    match activity {
        "newInstance" => new_instance_v1(fields, decrypt),
        "queryInstance" => Ok(Command::Query {
            instance_ids: query_ids(&fields.required("instanceId", MAX_QUERY_IDS * (ID_LEN + 1))?)?,
        }),
        "refreshInstance" => Ok(Command::Refresh(Refresh {
            instance_id: fields.id("instanceId")?,
            key: order_key("renewal", fields.id("orderId")?, None, None),
            scene: Scene::Renewal,
            expire_time: fields.expire_time("expireTime", true)?.unwrap_or_default(),
            product_id: fields.optional_id("productId")?,
            lifts_expiry_freeze: true,
        })),
        "expireInstance" => {
            fields.optional_id("orderId")?;
            Ok(Command::Freeze {
                instance_id: fields.id("instanceId")?,
                reason: FreezeReason::Expiry,
            })
        }
        "releaseInstance" => {
            fields.optional_id("orderId")?;
            Ok(Command::Release { instance_id: fields.id("instanceId")? })
        }
        "upgrade" => Ok(Command::Upgrade(Upgrade {
            instance_id: fields.id("instanceId")?,
            key: order_key("upgrade", fields.id("orderId")?, None, None),
            product_id: Some(fields.id("productId")?),
            sku_code: Some(fields.id("skuCode")?),
        })),
        "instanceStatus" => {
            let instance_id = fields.id("instanceId")?;
            match fields.required("instanceStatus", 32)?.as_str() {
                "FREEZE" => Ok(Command::Freeze { instance_id, reason: FreezeReason::Arrears }),
                "NORMAL" => Ok(Command::Unfreeze { instance_id }),
                _ => Err(Error::invalid("instanceStatus is not FREEZE or NORMAL")),
            }
        }
        _ => Err(Error::invalid("unknown activity")),
    }
}

fn new_instance_v1(
    fields: &Fields,
    decrypt: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, Error> {
    let order_id = fields.id("orderId")?;
    let product_id = fields.id("productId")?;
    let charging_mode = fields.optional("chargingMode", 32)?;
    // Pay-per-use (chargingMode 3): one order may hold several billing
    // items, each its own instance (research §3.1).
    let pay_per_use = charging_mode.as_deref() == Some("3");
    let mut details = Map::new();
    for name in [
        "chargingMode",
        "periodType",
        "periodNumber",
        "orderAmount",
        "provisionType",
        "amount",
        "diskSize",
        "bandWidth",
    ] {
        if let Some(v) = fields.optional(name, 64)? {
            details.insert(name.to_string(), Value::String(v));
        }
    }
    if let Some(encoded) = fields.optional("saasExtendParams", 8192)? {
        details.insert("extendParams".to_string(), decode_extend_params(&encoded)?);
    }
    let mut buyer = Map::new();
    for name in ["customerName", "userId", "userName"] {
        if let Some(v) = fields.optional(name, 64)? {
            buyer.insert(name.to_string(), Value::String(v));
        }
    }
    for name in ["mobilePhone", "email"] {
        if let Some(sealed) = fields.optional(name, 256)? {
            // An unreadable contact field must not lose a purchase: it is
            // optional and only informative. Log its name, never its value.
            match decrypt(&sealed) {
                Some(plain) => {
                    buyer.insert(name.to_string(), Value::String(plain));
                }
                None => {
                    tracing::warn!(field = name, "V1 newInstance field did not decrypt; not kept")
                }
            }
        }
    }
    Ok(Command::NewInstance(NewInstance {
        instance_id: fields.id("businessId")?,
        key: order_key("new", order_id, None, pay_per_use.then(|| product_id.clone())),
        order_line_id: None,
        product_id: Some(product_id),
        sku_code: fields.optional_id("skuCode")?,
        customer_id: Some(fields.required("customerId", 100)?),
        trial: flag(fields.optional("trialFlag", 2)?.as_deref(), "trialFlag")?,
        expire_time: fields.expire_time("expireTime", false)?,
        channel: "v1",
        test_flag: fields.test_flag()?,
        details: Value::Object(details),
        buyer: (!buyer.is_empty()).then_some(Value::Object(buyer)),
    }))
}

/// `saasExtendParams` = base64(JSON array of {name, value}); the URL
/// encoding is already undone by the query parser.
fn decode_extend_params(encoded: &str) -> Result<Value, Error> {
    let bytes =
        B64.decode(encoded.trim()).map_err(|_| Error::invalid("saasExtendParams is not base64"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Array(items)) => Ok(Value::Array(items)),
        _ => Err(Error::invalid("saasExtendParams is not a JSON array")),
    }
}

fn query_ids(list: &str) -> Result<Vec<String>, Error> {
    let ids: Vec<String> =
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if ids.is_empty() {
        return Err(Error::invalid("instanceId is missing"));
    }
    if ids.len() > MAX_QUERY_IDS {
        return Err(Error::invalid(format!("at most {MAX_QUERY_IDS} instanceIds per query")));
    }
    if ids.iter().any(|id| id.chars().count() > ID_LEN) {
        return Err(Error::invalid(format!("instanceId is longer than {ID_LEN} characters")));
    }
    Ok(ids)
}

fn order_key(
    kind: &'static str,
    order_id: String,
    order_line_id: Option<String>,
    product: Option<String>,
) -> OrderKey {
    OrderKey {
        kind,
        order_id,
        order_line_id: order_line_id.unwrap_or_default(),
        product_key: product.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(body: &str) -> Result<Command, Error> {
        let fields = Fields::from_json(body.as_bytes())?;
        let activity = fields.activity()?;
        parse_v2(&fields, &activity)
    }

    #[test]
    fn both_new_instance_shapes_give_the_same_kind_of_command() {
        let current = v2(
            r#"{"activity":"newInstance","orderId":"O1","orderLineId":"O1-1","businessId":"B1"}"#,
        );
        let Ok(Command::NewInstance(n)) = current else { panic!("not parsed: {current:?}") };
        assert_eq!((n.instance_id.as_str(), n.key.order_line_id.as_str()), ("B1", "O1-1"));

        let old = v2(
            r#"{"activity":"newInstance","buyerInfo":{"customerId":"C1","mobilePhone":"186"},
            "orderInfo":[{"businessId":"B2","orderId":"O2","trialFlag":"1","chargingMode":"PERIOD",
            "productInfo":[{"skuCode":"S","productId":"P","linearValue":20}],"expireTime":"20221224194509"}]}"#,
        );
        let Ok(Command::NewInstance(n)) = old else { panic!("not parsed: {old:?}") };
        assert_eq!(n.instance_id, "B2");
        assert!(n.trial);
        assert_eq!(n.customer_id.as_deref(), Some("C1"));
        assert_eq!(n.product_id.as_deref(), Some("P"));
        assert_eq!(n.key.product_key, "", "only pay-per-use keys on the product");
    }

    #[test]
    fn bad_fields_are_named_precisely() {
        let cases = [
            (
                r#"{"activity":"newInstance","orderId":"O1","businessId":"B1"}"#,
                "orderLineId is missing",
            ),
            (
                r#"{"activity":"refreshInstance","instanceId":"I","orderId":"O","orderLineId":"L","scene":"RENEWAL","expireTime":"2026-01-01"}"#,
                "expireTime is not yyyyMMddHHmmss",
            ),
            (
                r#"{"activity":"refreshInstance","instanceId":"I","orderId":"O","orderLineId":"L","scene":"SOMETHING","expireTime":"20260101000000"}"#,
                "scene is not",
            ),
            (
                r#"{"activity":"updateInstanceStatus","instanceId":"I","status":"PAUSE"}"#,
                "status is not FREEZE or UNFREEZE",
            ),
            (r#"{"activity":"dance","instanceId":"I"}"#, "unknown activity"),
            (
                r#"{"activity":"releaseInstance","instanceId":{"a":1}}"#,
                "instanceId must be a string",
            ),
        ];
        for (body, expected) in cases {
            let err = v2(body).expect_err(body);
            assert!(err.to_string().contains(expected), "{body}: {err}");
        }
        let long = format!(r#"{{"activity":"releaseInstance","instanceId":"{}"}}"#, "x".repeat(65));
        assert!(v2(&long).expect_err("long").to_string().contains("longer than 64"));
    }

    #[test]
    fn query_takes_up_to_one_hundred_ids() {
        let ids: Vec<String> = (0..100).map(|i| format!("i{i}")).collect();
        let ok = v2(&format!(r#"{{"activity":"queryInstance","instanceId":"{}"}}"#, ids.join(",")));
        assert!(matches!(ok, Ok(Command::Query { instance_ids }) if instance_ids.len() == 100));
        let too_many: Vec<String> = (0..101).map(|i| format!("i{i}")).collect();
        let err =
            v2(&format!(r#"{{"activity":"queryInstance","instanceId":"{}"}}"#, too_many.join(",")));
        assert!(err.is_err());
    }

    #[test]
    fn v1_extend_params_must_be_base64_json() {
        let good = B64.encode(r#"[{"name":"emailDomainName","value":"x.com"}]"#);
        assert!(decode_extend_params(&good).is_ok());
        assert!(decode_extend_params("%%%").is_err());
        assert!(decode_extend_params(&B64.encode("{}")).is_err());
    }
}
