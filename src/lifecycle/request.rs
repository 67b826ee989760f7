//! Lifecycle requests, validated once at the edge into commands (spec §5,
//! field tables in research/lifecycle-interface.md §3–4). Lenient where the
//! marketplace is inconsistent (scalars as numbers, two newInstance body
//! shapes), strict everywhere else.

use serde_json::Value;

use self::new_instance::{new_instance_v1, new_instance_v2};
use super::FreezeReason;
use crate::error::Error;
use crate::marketplace::fields::{Fields, ID_LEN};
use crate::store::orders::OrderKey;

mod new_instance;

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

/// A `refreshInstance` scene (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    TrialToFormal,
    Renewal,
    /// A renewal with a change of specification (续费变更): the expiry moves
    /// and the productId/SKU may change.
    RenewalChange,
    UnsubscribeRenewalPeriod,
}

impl Scene {
    const ALL: [Scene; 4] = [
        Scene::TrialToFormal,
        Scene::Renewal,
        Scene::RenewalChange,
        Scene::UnsubscribeRenewalPeriod,
    ];

    /// The marketplace's name of the scene.
    pub fn wire_name(self) -> &'static str {
        match self {
            Scene::TrialToFormal => "TRIAL_TO_FORMAL",
            Scene::Renewal => "RENEWAL",
            Scene::RenewalChange => "RENEWAL_CHANGE",
            Scene::UnsubscribeRenewalPeriod => "UNSUBSCRIBE_RENEWAL_PERIOD",
        }
    }

    /// The scene's order kind (its idempotency key: orderId + orderLineId +
    /// scene) and its transition cause.
    pub fn as_str(self) -> &'static str {
        match self {
            Scene::TrialToFormal => "trial_to_formal",
            Scene::Renewal => "renewal",
            Scene::RenewalChange => "renewal_change",
            Scene::UnsubscribeRenewalPeriod => "unsubscribe_renewal_period",
        }
    }

    pub fn parse(wire_name: &str) -> Option<Scene> {
        Scene::ALL.into_iter().find(|s| s.wire_name() == wire_name)
    }
}

#[derive(Debug, Clone)]
pub struct Refresh {
    pub instance_id: String,
    pub key: OrderKey,
    pub scene: Scene,
    pub expire_time: String,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
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
        "refreshInstance" => refresh_v2(fields),
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

fn refresh_v2(fields: &Fields) -> Result<Command, Error> {
    let wire_scene = fields.required("scene", 64)?;
    let Some(scene) = Scene::parse(&wire_scene) else {
        // A scene the marketplace added since: the operator must see it the
        // same hour, and the marketplace retries until koogate knows it.
        crate::prometheus::unknown_scene("refreshInstance");
        let known: Vec<&str> = Scene::ALL.iter().map(|s| s.wire_name()).collect();
        return Err(Error::invalid(format!(
            "scene {wire_scene} is unknown (known: {})",
            known.join(", ")
        )));
    };
    let (mut product_id, mut sku_code) =
        (fields.optional_id("productId")?, fields.optional_id("skuCode")?);
    if scene == Scene::RenewalChange && (product_id.is_none() || sku_code.is_none()) {
        if let Some(product) = first_product(fields.get("productInfo")) {
            product_id = product_id.or(product.optional_id("productId")?);
            sku_code = sku_code.or(product.optional_id("skuCode")?);
        }
    }
    Ok(Command::Refresh(Refresh {
        instance_id: fields.id("instanceId")?,
        key: order_key(
            scene.as_str(),
            fields.id("orderId")?,
            Some(fields.id("orderLineId")?),
            None,
        ),
        scene,
        expire_time: fields.expire_time("expireTime", true)?.unwrap_or_default(),
        product_id,
        sku_code,
        lifts_expiry_freeze: false,
    }))
}

/// The first product of a `productInfo` in any of its shapes (an object, an
/// array of objects, a string holding either). It only describes: one that
/// cannot be read is dropped with a log line naming it (spec §5).
fn first_product(value: Option<&Value>) -> Option<Fields> {
    let value = value.filter(|v| !v.is_null())?;
    match crate::marketplace::fields::objects(value, true) {
        Some(items) => items.into_iter().next().map(Fields::from),
        None => {
            tracing::warn!(field = "productInfo", "productInfo is not readable; not kept");
            None
        }
    }
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
            sku_code: None,
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
                "expireTime is not yyyyMMddHHmmss or yyyyMMddHHmmssSSS",
            ),
            (
                r#"{"activity":"refreshInstance","instanceId":"I","orderId":"O","orderLineId":"L","scene":"SOMETHING","expireTime":"20260101000000"}"#,
                "scene SOMETHING is unknown (known: TRIAL_TO_FORMAL, RENEWAL, RENEWAL_CHANGE, UNSUBSCRIBE_RENEWAL_PERIOD)",
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
    fn a_renewal_change_takes_its_specification_from_the_top_level_or_product_info() {
        let base = r#""activity":"refreshInstance","instanceId":"I","orderId":"O","orderLineId":"L","scene":"RENEWAL_CHANGE","expireTime":"20221124023618256""#;
        let shapes = [
            format!(r#"{{{base},"productId":"P2","skuCode":"S2"}}"#),
            format!(r#"{{{base},"productInfo":{{"productId":"P2","skuCode":"S2"}}}}"#),
            format!(r#"{{{base},"productInfo":"[{{\"productId\":\"P2\",\"skuCode\":\"S2\"}}]"}}"#),
        ];
        for body in shapes {
            let Ok(Command::Refresh(r)) = v2(&body) else { panic!("not parsed: {body}") };
            assert_eq!(r.scene, Scene::RenewalChange);
            assert_eq!((r.product_id.as_deref(), r.sku_code.as_deref()), (Some("P2"), Some("S2")));
            assert_eq!(r.expire_time, "20221124023618");
            assert_eq!(r.key.kind, "renewal_change");
        }
        let bare = format!(r#"{{{base},"productInfo":"???"}}"#);
        let Ok(Command::Refresh(r)) = v2(&bare) else { panic!("not parsed: {bare}") };
        assert_eq!((r.product_id, r.sku_code), (None, None), "unreadable productInfo is dropped");
    }

    #[test]
    fn scenes_round_trip_through_their_wire_names() {
        for scene in Scene::ALL {
            assert_eq!(Scene::parse(scene.wire_name()), Some(scene));
        }
        assert_eq!(Scene::parse("renewal"), None, "case matters");
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
}
