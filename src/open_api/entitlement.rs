//! What each instance is entitled to: the plan, quantity and term the
//! buyer bought, derived from the instance's orders in the order their
//! calls arrived. `source` says where it came from: the marketplace's
//! order/query, the call itself (V1 and the 2022 V2 body carry details),
//! or nothing yet (`pending`: a V2 ids-only purchase whose order is still
//! being fetched).

use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{Number, Value};

use crate::error::Error;
use crate::store;
use entity::{instance, order_line};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = EntitlementSource)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    OrderQuery,
    Request,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entitlement {
    pub charging_mode: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub product_name: Option<String>,
    /// `linearValue` (seats, storage…), a number, when the SKU has one.
    #[schema(value_type = Option<f64>)]
    pub quantity: Option<Number>,
    pub period_type: Option<String>,
    pub period_number: Option<i64>,
    pub expire_time: Option<String>,
    pub trial: bool,
    pub source: Source,
}

/// The instance's current entitlement, read in the caller's connection.
pub async fn of_instance(
    conn: &impl ConnectionTrait,
    row: &instance::Model,
) -> Result<Entitlement, Error> {
    let lines = store::order_details::lines_of(conn, &row.instance_id).await?;
    Ok(derive(row, &lines))
}

/// Orders apply one after the other; an unsubscription changes no plan.
pub fn derive(row: &instance::Model, lines: &[order_line::Model]) -> Entitlement {
    let mut e = from_request(row);
    let mut seen = false;
    for line in lines {
        if line.order_type.as_deref() == Some("UNSUBSCRIBE") {
            continue;
        }
        seen = true;
        let take = |slot: &mut Option<String>, value: &Option<String>| {
            if value.is_some() {
                slot.clone_from(value);
            }
        };
        take(&mut e.charging_mode, &line.charging_mode);
        take(&mut e.product_id, &line.product_id);
        take(&mut e.sku_code, &line.sku_code);
        take(&mut e.product_name, &line.product_name);
        take(&mut e.period_type, &line.period_type);
        take(&mut e.expire_time, &line.expire_time);
        if line.period_number.is_some() {
            e.period_number = line.period_number;
        }
        if let Some(q) = line.linear_value.as_deref().and_then(number) {
            e.quantity = Some(q);
        }
    }
    if seen {
        e.source = Source::OrderQuery;
        // The lifecycle calls move the expiry after the order (renewals,
        // shortened periods): the instance's own is the newer when set.
        if row.expire_time.is_some() {
            e.expire_time.clone_from(&row.expire_time);
        }
    }
    e
}

/// What the purchase call itself said (V1, 2022 V2 body), or `pending`.
fn from_request(row: &instance::Model) -> Entitlement {
    let details: Value =
        row.details.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
    let detail = |name: &str| details.get(name).and_then(Value::as_str).map(str::to_string);
    let known = row.product_id.is_some() || row.sku_code.is_some();
    Entitlement {
        charging_mode: detail("chargingMode"),
        product_id: row.product_id.clone(),
        sku_code: row.sku_code.clone(),
        product_name: None,
        quantity: detail("linearValue").or_else(|| detail("amount")).as_deref().and_then(number),
        period_type: detail("periodType"),
        period_number: detail("periodNumber").and_then(|n| n.parse().ok()),
        expire_time: row.expire_time.clone(),
        trial: row.trial,
        source: if known { Source::Request } else { Source::Pending },
    }
}

pub fn number(text: &str) -> Option<Number> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Number::from(i));
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// The entitlement as JSON for the app API and the admin API.
pub fn to_json(entitlement: &Entitlement) -> Value {
    serde_json::to_value(entitlement).unwrap_or(Value::Null)
}
