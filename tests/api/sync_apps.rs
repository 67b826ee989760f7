//! applicationSync: the enterprise's OAuth client for the app arrives with
//! its secret RSA-encrypted to the ISV key; it is replaced, removed, and
//! never shown or logged.

use base64::Engine;
use serde_json::json;

use crate::helpers::*;

const PADDINGS: [OaepDigest; 3] =
    [OaepDigest::Sha1, OaepDigest::Sha256WithMgf1Sha1, OaepDigest::Sha256];

async fn a_client_secret_in_any_of_the_three_oaep_paddings_is_accepted(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let mut shown = Vec::new();
    let mut kept_secret = Vec::new();
    for (i, padding) in PADDINGS.into_iter().enumerate() {
        let (app_id, client_id) = (format!("app-{i}"), format!("client-{i}"));
        let secret = random_id("secret-");
        let sealed = encrypt_client_secret(&secret, padding);
        let credential = enterprise.application_sync(&app_id, &client_id, &sealed, 1);
        app.kit_v2("applicationSync", &credential).await.assert_kit_ok();
        shown.push(json!({"appId": app_id, "clientId": client_id}));
        kept_secret.extend([secret, sealed]);
    }

    assert_eq!(app.tenant(&enterprise.tenant_id).await["apps"], json!(shown));
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("kit_v2", "applicationSync"));
    let kept: Vec<&str> = kept_secret.iter().map(String::as_str).collect();
    app.assert_never_shown(&enterprise.tenant_id, &kept).await;
}
kit_on_both_backends!(a_client_secret_in_any_of_the_three_oaep_paddings_is_accepted);

async fn an_app_gets_new_credentials_and_is_then_removed(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let first_secret = random_id("secret-");
    let first = enterprise.application_sync(
        APP_ID,
        "client-first",
        &encrypt_client_secret(&first_secret, OaepDigest::Sha1),
        1,
    );
    app.kit_v2("applicationSync", &first).await.assert_kit_ok();
    // A repeated delivery of the same credential adds nothing.
    app.kit_v2("applicationSync", &first).await.assert_kit_ok();
    let only_first = json!([{"appId": APP_ID, "clientId": "client-first"}]);
    assert_eq!(app.tenant(&enterprise.tenant_id).await["apps"], only_first);

    // The auth centre re-issues the client: the new one replaces the old.
    let second_secret = random_id("secret-");
    let second_sealed = encrypt_client_secret(&second_secret, OaepDigest::Sha256);
    let second = enterprise.application_sync(APP_ID, "client-second", &second_sealed, 2);
    app.kit_v2("applicationSync", &second).await.assert_kit_ok();
    assert_eq!(
        app.tenant(&enterprise.tenant_id).await["apps"],
        json!([{"appId": APP_ID, "clientId": "client-second"}])
    );

    let removal = enterprise.application_sync(APP_ID, "client-second", &second_sealed, 0);
    app.kit_v2("applicationSync", &removal).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await["apps"], json!([]));
    app.kit_v2("applicationSync", &removal).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await["apps"], json!([]));

    app.assert_never_shown(&enterprise.tenant_id, &[&first_secret, &second_secret, &second_sealed])
        .await;
}
kit_on_both_backends!(an_app_gets_new_credentials_and_is_then_removed);

async fn a_client_secret_that_cannot_be_decrypted_answers_000101(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let mut tampered = base64::engine::general_purpose::STANDARD
        .decode(encrypt_client_secret("the-real-secret", OaepDigest::Sha1))
        .expect("base64");
    tampered[10] ^= 0x55;
    let another_key =
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("a throw-away key");
    let for_someone_else =
        encrypt_with(&rsa::RsaPublicKey::from(&another_key), "the-real-secret", OaepDigest::Sha256);
    let undecryptable = [
        ("not base64 at all", "%%% not base64 %%%".to_string()),
        ("random bytes", b64(&[7u8; 384])),
        ("a tampered ciphertext", b64(&tampered)),
        ("encrypted with another key", for_someone_else),
    ];

    for (what, client_secret) in undecryptable {
        // Neither replacing the existing app's secret nor adding a new app.
        for (app_id, flag) in [(APP_ID, 2), ("app-new", 1)] {
            let body = enterprise.application_sync(app_id, "client-x", &client_secret, flag);
            let send = app.kit_v2("applicationSync", &body);
            let channel = ("kit_v2", "applicationSync");
            kit_refused(&app, &enterprise, channel, what, "000101", send).await;
        }
    }
}
kit_on_both_backends!(a_client_secret_that_cannot_be_decrypted_answers_000101);
