//! OpenID Connect on top of the KooGallery OAuth2 endpoints: a discovery
//! document whose issuer is the address it is reached at, the signing key
//! (RS256, what relying parties accept by default) and an ID token beside
//! the access token, carrying the nonce of the authorize request.

use std::sync::OnceLock;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::Centre;
use crate::error::Error;

const KID: &str = "sim-1";

/// The stand-in's signing key and its public JWK, made once per process
/// (an RSA key takes a while to generate).
struct Signer {
    key: EncodingKey,
    jwk: Value,
}

fn signer() -> Result<&'static Signer, Error> {
    static SIGNER: OnceLock<Result<Signer, String>> = OnceLock::new();
    let made = SIGNER.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .map_err(|e| format!("no RSA key: {e}"))?;
        let der = private.to_pkcs1_der().map_err(|e| format!("no RSA key: {e}"))?;
        let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be()),
        });
        Ok(Signer { key: EncodingKey::from_rsa_der(der.as_bytes()), jwk })
    });
    made.as_ref().map_err(|why| Error::Internal(why.clone()))
}

/// Makes the signing key before the first sign-in needs it.
pub(super) fn prepare() -> Result<(), Error> {
    signer().map(|_| ())
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/openid-configuration", web::get().to(discovery));
    cfg.route("/jwks", web::get().to(jwks));
}

/// The address this stand-in is reached at: its issuer.
pub(super) fn issuer(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

async fn discovery(request: HttpRequest) -> HttpResponse {
    let issuer = issuer(&request);
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/api/v1/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/api/v1/oauth2/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/api/v1/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "get_user_info"],
    }))
}

async fn jwks() -> HttpResponse {
    match signer() {
        Ok(signer) => HttpResponse::Ok().json(json!({"keys": [signer.jwk]})),
        Err(err) => HttpResponse::InternalServerError().body(err.to_string()),
    }
}

/// The ID token for `user_name`'s sign-in, for `client_id`.
pub(super) fn id_token(
    centre: &Centre,
    account: &Value,
    issuer: &str,
    nonce: Option<&str>,
) -> Result<String, Error> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": issuer,
        "sub": account["id"],
        "aud": centre.config.client_id,
        "iat": now,
        "exp": now + 600,
        "preferred_username": account["userName"],
        "name": account["name"],
        "email": account["email"],
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_string());
    encode(&header, &claims, &signer()?.key)
        .map_err(|e| Error::Internal(format!("the ID token cannot be signed: {e}")))
}
