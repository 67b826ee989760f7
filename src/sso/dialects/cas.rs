//! CAS 3.0 as the aPaaS workbench starts it (spec §7): the browser
//! arrives at `/sso/cas?ticket=ST-…&tenant={tenantId}`, that address
//! without the ticket being the `service`; koogate validates the ticket
//! at `{base}/api/v1/cas/p3/serviceValidate` (XML or JSON answers) or, for
//! the site's OrgID host, at `/orgid/openapi/v1/cas/p3/serviceValidate`
//! and then reads userinfo with the answer's `token`.
//!
//! # Security
//! A ticket is single use: one already used is refused before it is sent
//! anywhere, and a ticket the CAS server accepted is recorded (like a
//! marketplace nonce, in the database and Redis) before any session opens,
//! so a replay is refused even by a server that would accept it twice.
//! Only accepted tickets are recorded: random tickets from anyone leave
//! nothing behind. It is bound to the
//! exact service address, which names the tenant: a ticket issued for one
//! tenant's address does not validate for another's, and an answer naming
//! another tenant is refused.

use serde_json::Value;

use super::{auth_centre_failed, signed_in_as, SignedIn};
use crate::sso::auth_centre::{AuthCentreError, Tokens, UserInfo};
use crate::sso::refusal::Refusal;
use crate::sso::Deps;

/// How long a used ticket is remembered: far longer than any CAS server
/// keeps one valid (seconds to minutes).
const TICKET_MEMORY_MS: i64 = 24 * 3600 * 1000;

/// The scope used tickets are remembered under.
const CAS_TICKET: &str = "cas-ticket";

/// The service address a ticket is bound to: `/sso/cas?tenant=T`, and
/// `&state=S` when koogate started the sign-in.
pub fn service_url(public_url: &str, tenant_id: &str, state: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("tenant", tenant_id);
    if let Some(state) = state {
        query.append_pair("state", state);
    }
    format!("{}/sso/cas?{}", public_url.trim_end_matches('/'), query.finish())
}

/// Where the browser signs in: `{base}/api/v1/cas/login?service=…`.
pub fn login_url(base: &str, service: &str) -> String {
    let service: String = form_urlencoded::byte_serialize(service.as_bytes()).collect();
    format!("{}/api/v1/cas/login?service={service}", base.trim_end_matches('/'))
}

/// The ticket claimed, validated for `service`, and the user it names.
pub async fn sign_in(
    deps: &Deps<'_>,
    tenant_id: &str,
    base: &str,
    orgid: bool,
    ticket: &str,
    service: &str,
) -> Result<SignedIn, Refusal> {
    crate::sso::once::unused(deps, CAS_TICKET, ticket).await?;
    let failed = |e| auth_centre_failed(deps, tenant_id, e);
    let validate = if orgid {
        format!("{base}/orgid/openapi/v1/cas/p3/serviceValidate")
    } else {
        format!("{base}/api/v1/cas/p3/serviceValidate")
    };
    let response = deps
        .http
        .get(&validate)
        .query(&[("service", service), ("ticket", ticket)])
        .send()
        .await
        .map_err(|e| failed(AuthCentreError::Unreachable(e.to_string())))?;
    let status = response.status;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    if !status.is_success() {
        return Err(failed(AuthCentreError::Refused(format!("serviceValidate answered {status}"))));
    }
    let success = parse(&body).map_err(failed)?;
    // Two uses racing past `unused` with a lenient server: one claim wins.
    crate::sso::once::claim(deps, CAS_TICKET, ticket, TICKET_MEMORY_MS).await?;
    // A CAS session has nothing to renew: it lasts the session's lifetime.
    let tokens = |access_token: String| Tokens {
        access_token,
        refresh_token: None,
        expires_in_secs: deps.settings.session_ttl_secs,
    };
    if orgid {
        let Some(token) = success.get("token").filter(|t| !t.is_empty()) else {
            return Err(failed(AuthCentreError::Refused(
                "the OrgID ticket answer carries no token".to_string(),
            )));
        };
        let info = super::orgid::user_info(deps.http, base, token).await.map_err(failed)?;
        return signed_in_as(tenant_id, info, tokens(token.clone()));
    }
    let info = UserInfo {
        user_name: success
            .get("userName")
            .or_else(|| success.get("user_name"))
            .or_else(|| success.get("user"))
            .cloned()
            .unwrap_or_default(),
        name: success.get("name").cloned(),
        email: success.get("email").cloned(),
        organization_code: success
            .get("organizationCode")
            .or_else(|| success.get("organization_code"))
            .cloned(),
        tenant: success.get("tenant").cloned(),
    };
    if info.user_name.is_empty() {
        return Err(failed(AuthCentreError::Refused(
            "the ticket answer names no user".to_string(),
        )));
    }
    signed_in_as(tenant_id, info, tokens(String::new()))
}

/// The success's user and attributes (`user` under that name), from an
/// XML or a JSON answer; a failure, or an answer that is neither, as the
/// auth centre's refusal.
fn parse(body: &str) -> Result<std::collections::HashMap<String, String>, AuthCentreError> {
    if body.trim_start().starts_with('<') {
        parse_xml(body)
    } else {
        parse_json(body)
    }
}

fn parse_xml(body: &str) -> Result<std::collections::HashMap<String, String>, AuthCentreError> {
    let doc = roxmltree::Document::parse(body)
        .map_err(|_| AuthCentreError::Unreachable("the ticket answer is not XML".to_string()))?;
    let named = |name: &str| doc.descendants().find(|n| n.tag_name().name() == name);
    if let Some(failure) = named("authenticationFailure") {
        let code = failure.attribute("code").unwrap_or("INVALID_TICKET");
        return Err(AuthCentreError::Refused(format!("serviceValidate: {code}")));
    }
    let Some(success) = named("authenticationSuccess") else {
        return Err(AuthCentreError::Unreachable("the ticket answer says nothing".to_string()));
    };
    let mut fields = std::collections::HashMap::new();
    for node in success.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let text = node.text().map(str::trim).unwrap_or_default();
        let leaf = !node.children().any(|c| c.is_element());
        if leaf && !text.is_empty() && name != "authenticationSuccess" {
            fields.entry(name.to_string()).or_insert_with(|| text.to_string());
        }
    }
    Ok(fields)
}

fn parse_json(body: &str) -> Result<std::collections::HashMap<String, String>, AuthCentreError> {
    let answer: Value = serde_json::from_str(body)
        .map_err(|_| AuthCentreError::Unreachable("the ticket answer is not JSON".to_string()))?;
    let response =
        answer.get("serviceResponse").or_else(|| answer.get("service_response")).unwrap_or(&answer);
    let member = |camel: &str, snake: &str| {
        response.get(camel).or_else(|| response.get(snake)).filter(|v| !v.is_null())
    };
    if let Some(failure) = member("authenticationFailure", "authentication_failure") {
        let code = failure.get("code").and_then(Value::as_str).unwrap_or("INVALID_TICKET");
        return Err(AuthCentreError::Refused(format!("serviceValidate: {code}")));
    }
    let Some(success) = member("authenticationSuccess", "authentication_success") else {
        return Err(AuthCentreError::Unreachable("the ticket answer says nothing".to_string()));
    };
    let mut fields = std::collections::HashMap::new();
    if let Some(user) = text(success.get("user")) {
        fields.insert("user".to_string(), user);
    }
    if let Some(Value::Object(attributes)) = success.get("attributes") {
        for (name, value) in attributes {
            if let Some(value) = text(Some(value)) {
                fields.insert(snake_to_camel(name), value);
            }
        }
    }
    Ok(fields)
}

/// An attribute's value: a string, a number, or the first of a list (CAS
/// servers send attributes as lists).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => text(items.first()),
        _ => None,
    }
}

/// `organization_code` → `organizationCode`, so either spelling reads the
/// same.
fn snake_to_camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marketplaces_xml_answer_is_read() {
        let body = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationSuccess>
              <cas:user>zhangsan</cas:user>
              <cas:attributes>
                <cas:isFromNewLogin>true</cas:isFromNewLogin>
                <cas:role>admin</cas:role><cas:organizationCode>10000</cas:organizationCode>
                <cas:name>张三</cas:name><cas:userName>zhangsan</cas:userName><cas:tenant>t1</cas:tenant>
              </cas:attributes>
            </cas:authenticationSuccess>
          </cas:serviceResponse>"#;
        let fields = parse(body).unwrap_or_default();
        assert_eq!(fields.get("user").map(String::as_str), Some("zhangsan"));
        assert_eq!(fields.get("organizationCode").map(String::as_str), Some("10000"));
        assert_eq!(fields.get("name").map(String::as_str), Some("张三"));
        assert_eq!(fields.get("tenant").map(String::as_str), Some("t1"));
    }

    #[test]
    fn json_answers_in_either_spelling_read_the_same() {
        let camel = r#"{"serviceResponse":{"authenticationSuccess":{"user":"u",
            "attributes":{"organizationCode":["D1"],"tenant":"t1","token":"tk"}},
            "authenticationFailure":null}}"#;
        let snake = r#"{"serviceResponse":{"authenticationFailure":null,
            "authenticationSuccess":{"user":"u","attributes":{"organization_code":"D1","tenant":"t1","token":"tk"}}}}"#;
        let (a, b) = (parse(camel).unwrap_or_default(), parse(snake).unwrap_or_default());
        assert_eq!(a.get("organizationCode").map(String::as_str), Some("D1"));
        assert_eq!(a, b);
    }

    #[test]
    fn failures_are_the_auth_centres_refusals() {
        let xml = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized</cas:authenticationFailure>
          </cas:serviceResponse>"#;
        let json = r#"{"serviceResponse":{"authenticationFailure":{"code":"INVALID_SERVICE","description":"x"},"authenticationSuccess":null}}"#;
        assert!(matches!(parse(xml), Err(AuthCentreError::Refused(_))));
        assert!(matches!(parse(json), Err(AuthCentreError::Refused(_))));
        assert!(matches!(parse("oops"), Err(AuthCentreError::Unreachable(_))));
    }
}
