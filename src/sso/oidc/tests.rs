//! The dialect decision against a stand-in domain whose discovery
//! answer each test sets (what downgrades a tenant, what does not),
//! and the ID-token checks against tokens the test signs itself.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::{Dialect, Discoveries, OidcClient};
use crate::sso::auth_centre::AuthCentreError;
use crate::sso::token_hash;

const CLIENT_ID: &str = "client-1";
const NONCE: &str = "the-nonce-of-this-sign-in";

/// What the stand-in's discovery and JWKS answer.
#[derive(Clone, Copy)]
enum Answer {
    Metadata { issuer_ok: bool, keys_ok: bool },
    Status(u16),
}

#[derive(Clone)]
struct Shared {
    answer: Arc<Mutex<Answer>>,
    /// The token endpoint's answer.
    token: Arc<Mutex<Value>>,
}

struct Domain {
    url: String,
    shared: Shared,
    key: rsa::RsaPrivateKey,
}

impl Domain {
    fn start() -> Domain {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/data/isv-test-private.pem"
        ))
        .expect("the test key");
        let shared = Shared {
            answer: Arc::new(Mutex::new(Answer::Status(404))),
            token: Arc::new(Mutex::new(Value::Null)),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let jwks = json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        }]});
        let (data, base) = (shared.clone(), url.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new((data.clone(), base.clone(), jwks.clone())))
                .route("/.well-known/openid-configuration", web::get().to(discovery))
                .route("/jwks", web::get().to(keys))
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Domain { url, shared, key }
    }

    fn answers(&self, answer: Answer) {
        *self.shared.answer.lock().expect("answer") = answer;
    }

    /// The token endpoint hands out this ID token (claims, then signed).
    fn issues(&self, claims: Value, tamper: bool) {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let header = b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string().as_bytes());
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let signature = b64(&signer.sign(input.as_bytes()).to_bytes());
        let mut id_token = format!("{input}.{signature}");
        if tamper {
            let mut changed = claims.clone();
            changed["preferred_username"] = json!("mallory");
            id_token = format!("{header}.{}.{signature}", b64(changed.to_string().as_bytes()));
        }
        *self.shared.token.lock().expect("token") = json!({
            "access_token": "an-access-token", "token_type": "Bearer",
            "expires_in": 600, "id_token": id_token,
        });
    }

    /// Claims a good ID token for this domain carries.
    fn claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.url, "aud": CLIENT_ID, "sub": "u-1",
            "preferred_username": "alice", "name": "Alice",
            "iat": now, "exp": now + 300, "nonce": NONCE,
        })
    }
}

type Data = web::Data<(Shared, String, Value)>;

async fn discovery(data: Data) -> HttpResponse {
    let (shared, base, _) = data.get_ref();
    let answer = *shared.answer.lock().expect("answer");
    match answer {
        Answer::Metadata { issuer_ok, .. } => {
            let issuer = if issuer_ok { base.clone() } else { "https://other.example".into() };
            HttpResponse::Ok().json(json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{base}/auth"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }))
        }
        Answer::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).expect("a status"))
                .body("<html>not here</html>")
        }
    }
}

async fn keys(data: Data) -> HttpResponse {
    let (shared, _, jwks) = data.get_ref();
    let answer = *shared.answer.lock().expect("answer");
    match answer {
        Answer::Metadata { keys_ok: true, .. } => HttpResponse::Ok().json(jwks),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

async fn token(data: Data) -> HttpResponse {
    let token = data.get_ref().0.token.lock().expect("token").clone();
    HttpResponse::Ok().json(token)
}

fn http() -> crate::outbound::AuthCentreHttp {
    // The stand-in providers listen on 127.0.0.1.
    crate::outbound::AuthCentreHttp::new(true).expect("client")
}

fn name(dialect: &Dialect) -> &'static str {
    match dialect {
        Dialect::KooGallery => "koogallery",
        Dialect::Oidc(_) => "oidc",
        Dialect::WrongIssuer(_) => "wrong issuer",
        Dialect::Unavailable => "unavailable",
    }
}

async fn decided(discoveries: &Discoveries, domain: &Domain) -> &'static str {
    let dialect = discoveries.dialect(&http(), "tenant-1", &domain.url).await;
    // Each call below asks the domain again.
    discoveries.refetch_soon("tenant-1");
    name(&dialect)
}

#[tokio::test]
async fn an_oidc_tenant_is_downgraded_by_a_clean_404_only() {
    let domain = Domain::start();
    let discoveries = Discoveries::default();
    domain.answers(Answer::Metadata { issuer_ok: true, keys_ok: true });
    assert_eq!(decided(&discoveries, &domain).await, "oidc");
    for failure in [500, 503, 302, 403] {
        domain.answers(Answer::Status(failure));
        assert_eq!(decided(&discoveries, &domain).await, "oidc", "after a {failure}");
    }
    domain.answers(Answer::Metadata { issuer_ok: true, keys_ok: false });
    assert_eq!(decided(&discoveries, &domain).await, "oidc", "after its keys failed");
    domain.answers(Answer::Status(404));
    assert_eq!(decided(&discoveries, &domain).await, "koogallery");
}

#[tokio::test]
async fn a_tenant_never_seen_serving_oidc_stays_koogallery_on_failures() {
    let domain = Domain::start();
    let discoveries = Discoveries::default();
    for answer in [404, 500, 302, 200] {
        domain.answers(Answer::Status(answer));
        assert_eq!(decided(&discoveries, &domain).await, "koogallery", "after a {answer}");
    }
}

#[tokio::test]
async fn another_issuer_or_missing_keys_are_never_signed_in_with() {
    let domain = Domain::start();
    let discoveries = Discoveries::default();
    domain.answers(Answer::Metadata { issuer_ok: false, keys_ok: true });
    assert_eq!(decided(&discoveries, &domain).await, "wrong issuer");
    domain.answers(Answer::Status(500));
    assert_eq!(decided(&discoveries, &domain).await, "wrong issuer", "a failure changes nothing");

    let fresh = Discoveries::default();
    domain.answers(Answer::Metadata { issuer_ok: true, keys_ok: false });
    assert_eq!(decided(&fresh, &domain).await, "unavailable");
}

/// Redeems a code at the stand-in and verifies what it hands out.
async fn finish(domain: &Domain) -> Result<super::Identity, AuthCentreError> {
    let Dialect::Oidc(provider) =
        Discoveries::default().dialect(&http(), "tenant-1", &domain.url).await
    else {
        panic!("the stand-in is an OpenID provider");
    };
    let client = OidcClient::new(&provider, CLIENT_ID, "secret", "http://koogate/sso/callback")
        .expect("a client");
    client.finish(&http(), "a-code", "a-verifier", &token_hash(NONCE)).await
}

fn refusal(result: Result<super::Identity, AuthCentreError>) -> String {
    match result {
        Ok(identity) => format!("accepted {}", identity.user_name),
        Err(AuthCentreError::WrongNonce) => "wrong nonce".to_string(),
        Err(AuthCentreError::BadIdToken(_)) => "bad ID token".to_string(),
        Err(AuthCentreError::Refused(why) | AuthCentreError::Unreachable(why)) => why,
    }
}

#[tokio::test]
async fn only_an_id_token_signed_by_the_provider_for_this_sign_in_is_accepted() {
    let domain = Domain::start();
    domain.answers(Answer::Metadata { issuer_ok: true, keys_ok: true });
    let good = domain.claims();

    domain.issues(good.clone(), false);
    let identity = finish(&domain).await.map_err(|e| refusal(Err(e))).expect("accepted");
    assert_eq!(identity.user_name, "alice");
    assert_eq!(identity.name.as_deref(), Some("Alice"));
    assert_eq!(identity.tokens.access_token, "an-access-token");

    let mut without_username = good.clone();
    without_username.as_object_mut().expect("claims").remove("preferred_username");
    domain.issues(without_username, false);
    assert_eq!(refusal(finish(&domain).await), "accepted u-1", "sub, without preferred_username");

    let now = chrono::Utc::now().timestamp();
    for (claim, value, expected) in [
        ("nonce", json!("another-sign-ins-nonce"), "wrong nonce"),
        ("iss", json!("https://other.example"), "bad ID token"),
        ("aud", json!("another-client"), "bad ID token"),
        ("exp", json!(now - 60), "bad ID token"),
    ] {
        let mut claims = good.clone();
        claims[claim] = value;
        domain.issues(claims, false);
        assert_eq!(refusal(finish(&domain).await), expected, "with another {claim}");
    }
    let mut no_nonce = good.clone();
    no_nonce.as_object_mut().expect("claims").remove("nonce");
    domain.issues(no_nonce, false);
    assert_eq!(refusal(finish(&domain).await), "wrong nonce", "without a nonce");

    domain.issues(good, true);
    assert_eq!(refusal(finish(&domain).await), "bad ID token", "altered after signing");
}
