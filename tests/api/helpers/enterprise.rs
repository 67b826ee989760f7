//! A buyer's enterprise as the Kit calls name it: binding it, its bodies,
//! its people and departments, and the sealed client secrets.

use base64::Engine;
use serde_json::{json, Value};

use super::app::{TestApp, APP_ID, ISV_PUBLIC_KEY_FILE};
use super::marketplace::{beijing_now, new_instance_body, random_id};

impl TestApp {
    /// Buys an instance and binds a fresh enterprise to it (tenantSync add).
    pub async fn bound_enterprise(&self) -> Enterprise {
        let (order_id, bought) = self.buy().await;
        let enterprise = Enterprise {
            tenant_id: random_id("tenant-"),
            instance_id: bought.json["instanceId"].as_str().expect("instanceId").to_string(),
            order_id,
        };
        self.kit_v2("tenantSync", &enterprise.tenant_sync(1)).await.assert_kit_ok();
        enterprise
    }

    /// A bound enterprise that has also received its application
    /// credential ([`APP_ID`]), as the marketplace sends both on binding.
    pub async fn bound_enterprise_with_app(&self) -> Enterprise {
        let enterprise = self.bound_enterprise().await;
        let app = enterprise.application_sync(
            APP_ID,
            &random_id("client-"),
            &encrypt_client_secret(&random_id("secret-"), OaepDigest::Sha256WithMgf1Sha1),
            1,
        );
        self.kit_v2("applicationSync", &app).await.assert_kit_ok();
        enterprise
    }

    /// Buys an instance and binds a fresh enterprise whose auth centre is
    /// at `domain_name` (tenantSync add).
    pub async fn enterprise_at(&self, domain_name: &str) -> Enterprise {
        self.enterprise_for_order_at(domain_name, &random_id("CS")).await
    }

    /// As [`TestApp::enterprise_at`], for an order the test chose (one the
    /// Open API sim was told about first).
    pub async fn enterprise_for_order_at(&self, domain_name: &str, order_id: &str) -> Enterprise {
        let bought = self.v2(&new_instance_body(order_id, &random_id("biz-"))).await;
        assert_eq!(bought.code(), "000000", "purchase failed: {:?}", bought.json);
        let order_id = order_id.to_string();
        let enterprise = Enterprise {
            tenant_id: random_id("tenant-"),
            instance_id: bought.json["instanceId"].as_str().expect("instanceId").to_string(),
            order_id,
        };
        let mut bind = enterprise.tenant_sync(1);
        bind["domainName"] = json!(domain_name);
        self.kit_v2("tenantSync", &bind).await.assert_kit_ok();
        enterprise
    }

    /// Gives the enterprise its OAuth client for [`APP_ID`] (applicationSync add).
    pub async fn give_app_credential(
        &self,
        enterprise: &Enterprise,
        client_id: &str,
        client_secret: &str,
    ) {
        let sealed = encrypt_client_secret(client_secret, OaepDigest::Sha256WithMgf1Sha1);
        let credential = enterprise.application_sync(APP_ID, client_id, &sealed, 1);
        self.kit_v2("applicationSync", &credential).await.assert_kit_ok();
    }
}

/// A buyer's enterprise (tenant) as the Kit calls name it.
#[derive(Debug, Clone)]
pub struct Enterprise {
    pub tenant_id: String,
    /// Empty for a seller's test credential.
    pub instance_id: String,
    pub order_id: String,
}

impl Enterprise {
    /// A Kit body about this enterprise: its ids, a production `testFlag`
    /// and a Beijing-time `timeStamp`, plus `fields` (which win).
    pub fn body(&self, fields: Value) -> Value {
        let mut body = json!({
            "instanceId": self.instance_id,
            "tenantId": self.tenant_id,
            "testFlag": 0,
            "timeStamp": beijing_now(),
        });
        for (name, value) in fields.as_object().expect("fields as an object") {
            body[name] = value.clone();
        }
        body
    }

    /// A tenantSync body, as the documentation's example has it.
    pub fn tenant_sync(&self, flag: i64) -> Value {
        self.body(json!({
            "orderId": self.order_id,
            "tenantCode": "huawei",
            "name": "Example Enterprise",
            "domainName": "https://example.tenantaccount.com",
            "flag": flag,
        }))
    }

    /// An applicationSync body; `client_secret` is already encrypted.
    pub fn application_sync(
        &self,
        app_id: &str,
        client_id: &str,
        client_secret: &str,
        flag: i64,
    ) -> Value {
        self.body(json!({
            "appId": app_id,
            "clientId": client_id,
            "clientSecret": client_secret,
            "flag": flag,
        }))
    }

    /// An authSync body for [`APP_ID`].
    pub fn auth_sync(&self, flag: i64, current_sync_time: &str, users: Value) -> Value {
        self.body(json!({
            "appId": APP_ID,
            "userList": users,
            "currentSyncTime": current_sync_time,
            "flag": flag,
        }))
    }

    /// A singleOrgSync body; `parent` "" for a top-level department.
    pub fn single_org_sync(&self, flag: i64, code: &str, name: &str, parent: &str) -> Value {
        self.body(json!({
            "orgCode": code,
            "orgName": name,
            "parentCode": parent,
            "flag": flag,
        }))
    }
}

/// One user of an authSync `userList`, with the mandatory fields only.
pub fn person(user_name: &str, name: &str, org_code: &str, role: &str, enable: &str) -> Value {
    json!({"userName": user_name, "name": name, "orgCode": org_code, "role": role, "enable": enable})
}

/// One department as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Department {
    pub code: String,
    pub name: String,
    /// `None` at the top level.
    pub parent: Option<String>,
}

/// A department; `parent` "" for the top level.
pub fn department(code: &str, name: &str, parent: &str) -> Department {
    Department {
        code: code.to_string(),
        name: name.to_string(),
        parent: (!parent.is_empty()).then(|| parent.to_string()),
    }
}

/// The three OAEP variants the `clientSecret` may come in (spec §4).
#[derive(Debug, Clone, Copy)]
pub enum OaepDigest {
    Sha1,
    /// Java's `OAEPWithSHA-256AndMGF1Padding`.
    Sha256WithMgf1Sha1,
    Sha256,
}

impl OaepDigest {
    pub fn padding(self) -> rsa::Oaep {
        match self {
            OaepDigest::Sha1 => rsa::Oaep::new::<sha1::Sha1>(),
            OaepDigest::Sha256WithMgf1Sha1 => {
                rsa::Oaep::new_with_mgf_hash::<sha2::Sha256, sha1::Sha1>()
            }
            OaepDigest::Sha256 => rsa::Oaep::new::<sha2::Sha256>(),
        }
    }
}

/// What the marketplace sends as `clientSecret`: BASE64 of RSA-OAEP under
/// the ISV public key.
pub fn encrypt_client_secret(secret: &str, digest: OaepDigest) -> String {
    use rsa::pkcs8::DecodePublicKey;
    let pem = std::fs::read_to_string(ISV_PUBLIC_KEY_FILE).expect("ISV public key");
    let key = rsa::RsaPublicKey::from_public_key_pem(&pem).expect("a public key");
    encrypt_with(&key, secret, digest)
}

pub fn encrypt_with(key: &rsa::RsaPublicKey, secret: &str, digest: OaepDigest) -> String {
    let cipher = key
        .encrypt(&mut rand::thread_rng(), digest.padding(), secret.as_bytes())
        .expect("encrypts");
    base64::engine::general_purpose::STANDARD.encode(cipher)
}
