//! `koogate sim story`: a tenant's whole life as the marketplace tells it,
//! against a running koogate: purchase → bind tenant → app credentials →
//! grant users → departments → freeze → unfreeze → release. Every answer
//! must be a success with a valid `Body-Sign`, or the story stops there.

use std::io::Write;

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use rsa::pkcs8::DecodePublicKey;
use serde_json::{json, Value};

use super::client::{Marketplace, Reply, Version};
use crate::error::Error;
use crate::marketplace::timestamp;

pub struct Story {
    pub version: Version,
    /// The tenant's auth centre (`domainName`), e.g. `koogate sim auth-centre`.
    pub domain_name: String,
    pub client_id: String,
    pub client_secret: String,
    /// The ISV public key (PEM) the seller uploaded: client secrets are
    /// encrypted with it.
    pub isv_public_key_pem: String,
    pub users: Vec<String>,
    /// Stop after the departments, leaving the tenant signed up and open.
    pub keep: bool,
}

/// What the story made, for the caller to use (sign in, look it up).
#[derive(Debug, Clone)]
pub struct Made {
    pub instance_id: String,
    pub tenant_id: String,
    pub app_id: String,
}

fn random(prefix: &str) -> String {
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 12))
}

/// RSA-OAEP (SHA-256, MGF1-SHA-1: Java's default) under the ISV public
/// key, base64: what applicationSync carries.
pub fn encrypt_client_secret(public_key_pem: &str, secret: &str) -> Result<String, Error> {
    use base64::Engine;
    let key = rsa::RsaPublicKey::from_public_key_pem(public_key_pem)
        .map_err(|_| Error::Config("the ISV public key is not an RSA public key in PEM".into()))?;
    let padding = rsa::Oaep::new_with_mgf_hash::<sha2::Sha256, sha1::Sha1>();
    let cipher = key
        .encrypt(&mut rand::rngs::OsRng, padding, secret.as_bytes())
        .map_err(|e| Error::Internal(format!("cannot encrypt the client secret: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(cipher))
}

fn step(out: &mut impl Write, what: &str, reply: &Reply) -> Result<(), Error> {
    let sign = match reply.body_sign_ok {
        Some(true) => "Body-Sign ok",
        Some(false) => "Body-Sign WRONG",
        None => "no Body-Sign",
    };
    let _ = writeln!(out, "{what:<28} HTTP {} code {} ({sign})", reply.status, reply.code());
    if reply.status != 200 || reply.code() != "000000" || reply.body_sign_ok != Some(true) {
        return Err(Error::Internal(format!("{what} failed: {}", reply.json)));
    }
    Ok(())
}

impl Story {
    pub async fn run(
        &self,
        marketplace: &Marketplace,
        out: &mut impl Write,
    ) -> Result<Made, Error> {
        let order_id = random("SIM");
        let tenant_id = random("sim-tenant-");
        let app_id = random("sim-app-");
        let v = self.version;

        let bought = marketplace
            .lifecycle(
                v,
                &json!({
                    "activity": "newInstance",
                    "orderId": order_id,
                    "orderLineId": format!("{order_id}-000001"),
                    "businessId": random("biz-"),
                    "customerId": random("customer-"),
                    "productId": "00301-sim-product",
                    "skuCode": "sim-sku",
                    "testFlag": "0",
                }),
            )
            .await?;
        step(out, "purchase (newInstance)", &bought)?;
        let instance_id = bought.json["instanceId"]
            .as_str()
            .ok_or_else(|| Error::Internal("newInstance answered no instanceId".into()))?
            .to_string();

        let body = |fields: Value| {
            let mut body = json!({
                "instanceId": instance_id,
                "tenantId": tenant_id,
                "testFlag": 0,
                "timeStamp": timestamp::format_v1(Utc::now(), 8),
            });
            if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
                body.extend(fields.clone());
            }
            body
        };
        let bind = body(json!({
            "orderId": order_id,
            "tenantCode": "sim",
            "name": "Simulated Enterprise",
            "domainName": self.domain_name,
            "flag": 1,
        }));
        step(out, "bind tenant (tenantSync)", &marketplace.kit(v, "tenantSync", &bind).await?)?;

        let secret = encrypt_client_secret(&self.isv_public_key_pem, &self.client_secret)?;
        let app = body(json!({
            "appId": app_id,
            "clientId": self.client_id,
            "clientSecret": secret,
            "flag": 1,
        }));
        step(out, "app credentials", &marketplace.kit(v, "applicationSync", &app).await?)?;

        let departments = json!([
            {"orgCode": "D1", "orgName": "Headquarters", "parentCode": ""},
            {"orgCode": "D11", "orgName": "Sales", "parentCode": "D1"},
            {"orgCode": "D12", "orgName": "Engineering", "parentCode": "D1"},
        ]);
        let tree = body(json!({"orgInfoList": departments}));
        step(out, "departments (allOrgSync)", &marketplace.kit(v, "allOrgSync", &tree).await?)?;

        let users: Vec<Value> = self
            .users
            .iter()
            .map(|u| json!({"userName": u, "name": u, "orgCode": "D11", "role": "user", "enable": "true"}))
            .collect();
        let grant = body(json!({
            "appId": app_id,
            "userList": users,
            "currentSyncTime": Utc::now().format("%Y%m%d%H%M%S%3f").to_string(),
            "flag": 1,
        }));
        step(out, "grant users (authSync)", &marketplace.kit(v, "authSync", &grant).await?)?;

        let made = Made { instance_id: instance_id.clone(), tenant_id, app_id };
        if self.keep {
            return Ok(made);
        }
        // V2 says updateInstanceStatus FREEZE/UNFREEZE; V1 instanceStatus
        // FREEZE/NORMAL.
        let status = |v2: &str, v1: &str| match v {
            Version::V2 => {
                json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": v2})
            }
            Version::V1 => {
                json!({"activity": "instanceStatus", "instanceId": instance_id, "instanceStatus": v1})
            }
        };
        step(out, "freeze", &marketplace.lifecycle(v, &status("FREEZE", "FREEZE")).await?)?;
        step(out, "unfreeze", &marketplace.lifecycle(v, &status("UNFREEZE", "NORMAL")).await?)?;
        let release = json!({"activity": "releaseInstance", "instanceId": instance_id});
        step(out, "release", &marketplace.lifecycle(v, &release).await?)?;
        Ok(made)
    }
}
