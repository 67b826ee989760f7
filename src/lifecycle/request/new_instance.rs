//! newInstance, the purchase: the call that must never be lost. Its
//! identifying fields are strict; the ones that only describe the order
//! (contact details, `productInfo`, `extendParams`, `saasExtendParams`) are
//! read in every shape the marketplace has been seen to send, and kept raw
//! or dropped with a log line naming them when they cannot be read (spec §5).

use serde_json::{json, Map, Value};

use super::{first_product, order_key, Command, NewInstance};
use crate::error::Error;
use crate::marketplace::fields::{decode_extend_params, flag, objects, Fields};

/// Both V2 newInstance shapes: the current one (ids only) and the 2022 one
/// with `buyerInfo` and `orderInfo[]` (spec §5).
pub(super) fn new_instance_v2(fields: &Fields) -> Result<Command, Error> {
    let Some(order_info) = fields.get("orderInfo") else {
        let order_line_id = fields.id("orderLineId")?;
        return Ok(Command::NewInstance(NewInstance {
            instance_id: fields.id("businessId")?,
            key: order_key("new", fields.id("orderId")?, Some(order_line_id.clone()), None),
            order_line_id: Some(order_line_id),
            product_id: fields.optional_id("productId")?,
            sku_code: fields.optional_id("skuCode")?,
            customer_id: informative(fields, "customerId", 100),
            trial: false,
            expire_time: None,
            channel: "v2",
            test_flag: fields.test_flag()?,
            details: json!({}),
            buyer: None,
        }));
    };
    let Some(order) = objects(order_info, true).and_then(|items| items.into_iter().next()) else {
        return Err(Error::invalid("orderInfo must be a non-empty array of objects"));
    };
    let order = Fields::from(order);
    let product = first_product(order.get("productInfo"));
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
        None | Some(Value::Null) => None,
        Some(value) => match objects(value, true).and_then(|items| items.into_iter().next()) {
            Some(b) => Some(b),
            None => {
                tracing::warn!(field = "buyerInfo", "not an object; not kept");
                None
            }
        },
    };
    let buyer_fields = buyer.clone().map(Fields::from);
    let customer_id = buyer_fields.as_ref().and_then(|b| informative(b, "customerId", 100));
    let order_line_id = order.optional_id("orderLineId")?.or(fields.optional_id("orderLineId")?);
    let mut details = Map::new();
    for name in
        ["chargingMode", "periodType", "periodNumber", "provisionType", "orderAmount", "createTime"]
    {
        if let Some(v) = informative(&order, name, 64) {
            details.insert(name.to_string(), Value::String(v));
        }
    }
    match order.get("extendParams") {
        None | Some(Value::Null) => {}
        Some(value) => {
            details.insert("extendParams".to_string(), extend_params(value));
        }
    }
    if let Some(p) = &product {
        if let Some(v) = informative(p, "linearValue", 32) {
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

pub(super) fn new_instance_v1(
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
        if let Some(v) = informative(fields, name, 64) {
            details.insert(name.to_string(), Value::String(v));
        }
    }
    if let Some(encoded) = informative(fields, "saasExtendParams", 8192) {
        let value = decode_extend_params(&encoded).unwrap_or_else(|| {
            tracing::warn!(field = "saasExtendParams", "not base64 JSON; kept as sent");
            Value::String(encoded)
        });
        details.insert("extendParams".to_string(), value);
    }
    let mut buyer = Map::new();
    for name in ["customerName", "userId", "userName"] {
        if let Some(v) = informative(fields, name, 64) {
            buyer.insert(name.to_string(), Value::String(v));
        }
    }
    for name in ["mobilePhone", "email"] {
        if let Some(sealed) = informative(fields, name, 256) {
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

/// A field that only describes the order: kept when readable, else
/// dropped with a log line naming it (never its value).
fn informative(fields: &Fields, name: &'static str, max_len: usize) -> Option<String> {
    fields.optional(name, max_len).unwrap_or_else(|_| {
        tracing::warn!(field = name, "newInstance field is not readable; not kept");
        None
    })
}

/// V2 `extendParams`: a list of `{name, value}` objects, or a string
/// holding one; anything else is kept as sent.
fn extend_params(value: &Value) -> Value {
    match objects(value, false) {
        Some(items) => Value::Array(items.into_iter().map(Value::Object).collect()),
        None => {
            tracing::warn!(field = "extendParams", "not a list of objects; kept as sent");
            value.clone()
        }
    }
}
