//! No key, token, password or personal field in clear: not in the process
//! output (the real binary, configured through its environment), not in
//! the event log.

use std::time::Duration;

use base64::Engine;
use koogate::marketplace::appinfo::{self, EncryptType};
use koogate::marketplace::signature;
use serde_json::json;

use crate::helpers::*;

const PHONE: &str = "18652996659";
const EMAIL: &str = "private.buyer@example.com";
const BUYER_NAME: &str = "Zhang San Buyer";
const CLIENT_SECRET: &str = "the-tenants-oauth-client-secret";

#[tokio::test]
async fn secrets_and_personal_fields_stay_out_of_logs_and_the_event_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("access_key");
    std::fs::write(&key_file, format!("{ACCESS_KEY}\n")).expect("key file");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
    let mut process = Serve::bare()
        .clear_env()
        .log("debug")
        .in_dir(dir.path())
        .setting("database.url", &db_url)
        .setting("marketplace.access_key_file", &key_file.display().to_string())
        .setting("provisioning.local_accounts", "true")
        .setting("admin.api_token", ADMIN_TOKEN)
        .env("KOOGATE__MARKETPLACE__ACESS_KEY", "typo")
        .setting(
            "marketplace.rsa_private_key_file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
        )
        .start()
        .await;
    let address = process.address.clone();
    let http = reqwest::Client::new();

    // A purchase in the 2022 shape with plain personal fields, answered
    // with local credentials.
    let order_id = random_id("CS");
    let body = json!({
        "activity": "newInstance",
        "buyerInfo": {"customerId": "c-1", "customerName": BUYER_NAME, "userName": BUYER_NAME,
                      "mobilePhone": PHONE, "email": EMAIL},
        "orderInfo": [{"businessId": random_id("biz-"), "orderId": order_id, "orderLineId": "L1",
                       "productInfo": [{"skuCode": "s", "productId": "p"}]}]
    })
    .to_string();
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let nonce = random_nonce();
    let sig = signature::lifecycle_v2_signature(ACCESS_KEY, &nonce, &ts, body.as_bytes());
    let bought: serde_json::Value = http
        .post(format!("{address}/koogallery?signature={sig}&timestamp={ts}&nonce={nonce}"))
        .body(body)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(bought["resultCode"], "000000", "{bought}");
    let password = appinfo::decrypt(
        ACCESS_KEY,
        EncryptType::Aes256,
        bought["appInfo"]["password"].as_str().expect("pw"),
    )
    .expect("decrypts");

    // A V1 purchase with encrypted contact fields and a token.
    let mut params: Vec<(String, String)> = vec![
        ("activity".into(), "newInstance".into()),
        ("customerId".into(), "c-2".into()),
        ("customerName".into(), BUYER_NAME.into()),
        ("businessId".into(), random_id("biz-")),
        ("orderId".into(), random_id("CS")),
        ("productId".into(), "p".into()),
        ("mobilePhone".into(), appinfo::encrypt(ACCESS_KEY, EncryptType::Aes256, PHONE)),
        ("email".into(), appinfo::encrypt(ACCESS_KEY, EncryptType::Aes256, EMAIL)),
        ("timeStamp".into(), koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0)),
    ];
    let token = signature::v1_auth_token(ACCESS_KEY, &params);
    params.push(("authToken".into(), token.clone()));
    let query: String =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
    let v1: serde_json::Value = http
        .get(format!("{address}/koogallery?{query}"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v1["resultCode"], "000000", "{v1}");

    // A refused call whose signature must not be echoed anywhere.
    let bad_sig = "ABCDEF0123456789".repeat(4);
    http.post(format!(
        "{address}/koogallery?signature={bad_sig}&timestamp={ts}&nonce={}",
        random_nonce()
    ))
    .body("{\"activity\":\"queryInstance\",\"instanceId\":\"x\"}")
    .send()
    .await
    .expect("sent");

    // Joint-operation syncs: a client secret and a user's contact fields.
    let kit = |call: &'static str, body: serde_json::Value| {
        let (http, address) = (http.clone(), address.clone());
        async move {
            let body = body.to_string();
            let ts = chrono::Utc::now().timestamp_millis().to_string();
            let nonce = random_nonce();
            let sign = signature::kit_signature(ACCESS_KEY, &nonce, &ts, body.as_bytes());
            let answer: serde_json::Value = http
                .post(format!("{address}/koogallery/produceAPI/v2/{call}"))
                .header("x-sign", sign)
                .header("x-timestamp", ts)
                .header("x-nonce", nonce)
                .body(body)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            assert_eq!(answer["resultCode"], "000000", "{call}: {answer}");
        }
    };
    let client_secret_cipher = encrypt_client_secret(CLIENT_SECRET, OaepDigest::Sha256);
    kit(
        "tenantSync",
        json!({"instanceId": "", "orderId": "", "tenantId": "t-1", "tenantCode": "t",
        "name": "Ent", "domainName": "https://auth.example.com", "flag": 1, "testFlag": 1}),
    )
    .await;
    kit(
        "applicationSync",
        json!({"instanceId": "", "tenantId": "t-1", "appId": "app", "clientId": "cid",
        "clientSecret": client_secret_cipher, "flag": 1, "testFlag": 1}),
    )
    .await;
    kit("authSync", json!({"instanceId": "", "tenantId": "t-1", "appId": "app", "flag": 1, "testFlag": 1,
        "currentSyncTime": "20260101000000000", "userList": json!([{"userName": "zs", "name": "Zhang San",
        "orgCode": "1", "role": "user", "enable": "true", "mobile": PHONE, "email": EMAIL}]).to_string()})).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    process.kill().await;
    let logs = process.output();
    assert!(
        logs.contains("KOOGATE__MARKETPLACE__ACESS_KEY"),
        "the misspelt variable is reported:\n{logs}"
    );
    assert!(logs.contains("marketplace call"), "calls are logged:\n{logs}");

    let db = sea_orm::Database::connect(db_url).await.expect("db");
    use sea_orm::EntityTrait;
    let events = entity::event::Entity::find().all(&db).await.expect("events");
    assert_eq!(events.len(), 6);
    let event_log: String =
        events.iter().map(|e| format!("{}\n{}\n", e.request, e.response)).collect();
    let instances = entity::instance::Entity::find().all(&db).await.expect("instances");
    let mut stored: String = instances.iter().map(|i| format!("{i:?}\n")).collect();
    let apps = entity::tenant_app::Entity::find().all(&db).await.expect("apps");
    let users = entity::user::Entity::find().all(&db).await.expect("users");
    stored.push_str(&format!("{apps:?}\n{users:?}\n"));

    let encoded_token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let b64_key = base64::engine::general_purpose::STANDARD.encode(ACCESS_KEY);
    for secret in [
        ACCESS_KEY,
        b64_key.as_str(),
        PHONE,
        EMAIL,
        BUYER_NAME,
        password.as_str(),
        token.as_str(),
        encoded_token.as_str(),
        bad_sig.as_str(),
        sig.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret} appears in the logs:\n{logs}");
        assert!(!event_log.contains(secret), "{secret} appears in the event log:\n{event_log}");
        assert!(!stored.contains(secret), "{secret} is stored in clear");
    }
}
