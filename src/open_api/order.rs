//! Reading an `order/query` answer (research §1.3–1.4). Lenient, as the
//! docs ask: fields may be missing, numbers may arrive as strings, new
//! fields may appear; what cannot be read is left empty, never fatal.

use serde_json::{Map, Value};

/// One order line, flattened with its (first) product. Kept as JSON in a
/// drift finding, for an operator to apply.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub order_line_id: String,
    pub order_type: Option<String>,
    pub create_time: Option<String>,
    pub charging_mode: Option<String>,
    pub period_type: Option<String>,
    pub period_number: Option<i64>,
    pub expire_time: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub product_name: Option<String>,
    pub linear_value: Option<String>,
    pub currency: Option<String>,
    pub currency_after_discount: Option<String>,
    /// JSON `[{name, value}]`.
    pub extend_params: Option<String>,
}

/// What koogate keeps of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub lines: Vec<Line>,
    /// `buyerInfo`: personal, sealed before it is stored.
    pub buyer: Option<Value>,
    /// The answer without `buyerInfo`, for the event view.
    pub redacted: String,
}

/// Reads `orderInfo` from a successful answer; `None` when it has none.
pub fn parse(answer: &Value) -> Option<Details> {
    let info = answer.get("orderInfo")?.as_object()?;
    let order_type = text(info.get("orderType"));
    let create_time = text(info.get("createTime"));
    let lines = list(info.get("orderLine"))
        .iter()
        .filter_map(Value::as_object)
        .map(|line| read_line(line, &order_type, &create_time))
        .filter(|line| !line.order_line_id.is_empty())
        .collect();
    let buyer = info.get("buyerInfo").filter(|b| b.is_object()).cloned();
    let mut redacted = answer.clone();
    if let Some(info) = redacted.get_mut("orderInfo").and_then(Value::as_object_mut) {
        info.remove("buyerInfo");
    }
    Some(Details { lines, buyer, redacted: redacted.to_string() })
}

fn read_line(
    line: &Map<String, Value>,
    order_type: &Option<String>,
    create: &Option<String>,
) -> Line {
    let product = list(line.get("productInfo")).into_iter().find(Value::is_object);
    let product_field = |name: &str| product.as_ref().and_then(|p| text(p.get(name)));
    let extend = line.get("extendParams").filter(|v| v.is_array()).map(Value::to_string);
    Line {
        order_line_id: text(line.get("orderLineId")).unwrap_or_default(),
        order_type: order_type.clone(),
        create_time: create.clone(),
        charging_mode: text(line.get("chargingMode")),
        period_type: text(line.get("periodType")),
        period_number: text(line.get("periodNumber")).and_then(|n| n.parse().ok()),
        expire_time: text(line.get("expireTime")),
        product_id: product_field("productId"),
        sku_code: product_field("skuCode"),
        product_name: product_field("productName"),
        linear_value: product_field("linearValue"),
        currency: text(line.get("currency")),
        currency_after_discount: text(line.get("currencyAfterDiscount")),
        extend_params: extend,
    }
}

/// A list, an object standing for a one-item list, or a string holding either.
fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        Some(object @ Value::Object(_)) => vec![object.clone()],
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::Array(_) | Value::Object(_))) => list(Some(&inner)),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A string or number as text; empty strings and null are absent.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// research §1.4, the captured answer (personal values are placeholders there too).
    const CAPTURED: &str = r#"{"resultCode":"MKT.0000","resultMsg":"Success",
 "orderInfo":{"orderId":"MOCKPERIODYEARNEW","orderType":"NEW","createTime":"20241121090846",
  "orderLine":[{"orderLineId":"MOCKPERIODYEARNEW-000001","chargingMode":"PERIOD",
     "periodType":"year","periodNumber":1,"expireTime":"20251121235959",
     "productInfo":[{"productId":"OFFI846204237451911168","skuCode":"0a4d1578-5295-46a7-92d4-7c803dccc51d",
                     "linearValue":50,"productName":"MOCK…,包周期"}],
     "extendParams":[{"name":"emailDomainName","value":"test.xxxx.com"},{"name":"ip","value":"127.0.0.1"}],
     "currency":"100","currencyAfterDiscount":"100"}],
  "buyerInfo":{"mobilePhone":"<phone>","email":null,"customerId":"<32hex>","customerName":"mock_user_01",
               "customerRealName":"<name>","customerType":0,"userId":null,"userName":null},
  "extendParams":[]}}"#;

    #[test]
    fn the_captured_answer_reads_completely_and_keeps_the_buyer_apart() {
        let answer: Value = serde_json::from_str(CAPTURED).expect("json");
        let details = parse(&answer).expect("orderInfo");
        assert_eq!(details.lines.len(), 1);
        let line = &details.lines[0];
        assert_eq!(line.order_line_id, "MOCKPERIODYEARNEW-000001");
        assert_eq!(line.order_type.as_deref(), Some("NEW"));
        assert_eq!(line.charging_mode.as_deref(), Some("PERIOD"));
        assert_eq!(line.period_type.as_deref(), Some("year"));
        assert_eq!(line.period_number, Some(1));
        assert_eq!(line.expire_time.as_deref(), Some("20251121235959"));
        assert_eq!(line.product_id.as_deref(), Some("OFFI846204237451911168"));
        assert_eq!(line.sku_code.as_deref(), Some("0a4d1578-5295-46a7-92d4-7c803dccc51d"));
        assert_eq!(line.linear_value.as_deref(), Some("50"));
        assert_eq!(line.currency.as_deref(), Some("100"));
        assert!(line.extend_params.as_deref().is_some_and(|e| e.contains("emailDomainName")));
        assert_eq!(
            details.buyer.as_ref().and_then(|b| b.get("customerName")),
            Some(&Value::from("mock_user_01"))
        );
        assert!(!details.redacted.contains("mock_user_01"));
        assert!(!details.redacted.contains("<phone>"));
        assert!(details.redacted.contains("OFFI846204237451911168"));
    }

    #[test]
    fn odd_shapes_are_read_and_missing_fields_stay_empty() {
        let answer = serde_json::json!({"resultCode": "MKT.0000", "orderInfo": {
            "orderId": "O", "orderLine": {"orderLineId": "O-1", "periodNumber": "3",
              "productInfo": "{\"skuCode\":\"s\"}"}}});
        let line = &parse(&answer).expect("orderInfo").lines[0];
        assert_eq!(line.period_number, Some(3));
        assert_eq!(line.sku_code.as_deref(), Some("s"));
        assert_eq!(line.charging_mode, None);
        assert!(parse(&serde_json::json!({"resultCode": "MKT.0000"})).is_none());
    }
}
