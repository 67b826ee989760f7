//! The identity handed upstream: an ES256 JWT (`X-Koogate-Identity`) whose
//! key is published at `/.well-known/jwks.json` (ARCHITECTURE §4).
//!
//! # Security
//! The key is made once, kept only sealed with the master key, and shared
//! by every replica through the database. Tokens live at most 300 s and are
//! for the audience `upstream` only.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::Error;
use crate::state::AppState;
use crate::store::{self, Db};
use crate::vault::Vault;

/// How long an identity token is good for.
pub const TOKEN_TTL_SECS: i64 = 300;

/// The signing key and the published keys.
pub struct Keys {
    kid: String,
    signing: EncodingKey,
    jwks: Value,
}

/// Who a token says is calling.
#[derive(Serialize)]
pub struct Claims<'a> {
    #[serde(rename = "sub")]
    pub user_name: &'a str,
    #[serde(rename = "tenant")]
    pub tenant_id: &'a str,
    pub role: &'a str,
    #[serde(rename = "org")]
    pub org_code: Option<&'a str>,
    /// The skuCode of the session's instance, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<&'a str>,
    /// Its quantity (`linearValue`: seats, storage…), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<&'a serde_json::Number>,
}

/// The whole body: who, and for whom and how long.
#[derive(Serialize)]
struct Body<'a> {
    iss: &'a str,
    aud: &'static str,
    #[serde(flatten)]
    who: &'a Claims<'a>,
    iat: i64,
    exp: i64,
}

impl Keys {
    /// Loads the keys, making the first one if there is none.
    pub async fn load_or_create(db: &Db, vault: &Vault) -> Result<Keys, Error> {
        let mut rows = store::signing_keys::all(&db.conn).await?;
        if rows.is_empty() {
            let key = SigningKey::random(&mut rand::rngs::OsRng);
            let row = entity::signing_key::Model {
                kid: crate::sso::random_token()[..16].to_string(),
                private_sealed: vault.seal(&B64.encode(key.to_bytes()))?,
                created_at: chrono::Utc::now().timestamp_millis(),
            };
            let tx = db.begin_write().await?;
            store::signing_keys::insert(&tx.txn, row).await?;
            tx.commit().await?;
            rows = store::signing_keys::all(&db.conn).await?;
        }
        let mut published = Vec::new();
        let mut newest = None;
        for row in rows {
            let damaged = || Error::Internal("a stored identity key is damaged".to_string());
            let scalar = B64.decode(vault.open(&row.private_sealed)?).map_err(|_| damaged())?;
            let key = SigningKey::from_slice(&scalar).map_err(|_| damaged())?;
            let mut jwk: Value =
                serde_json::from_str(&p256::PublicKey::from(key.verifying_key()).to_jwk_string())
                    .map_err(|_| Error::Internal("cannot publish the identity key".to_string()))?;
            jwk["kid"] = json!(row.kid);
            jwk["alg"] = json!("ES256");
            jwk["use"] = json!("sig");
            published.push(jwk);
            if newest.is_none() {
                // jsonwebtoken reads EC keys as PKCS#8 DER.
                let der = key.to_pkcs8_der().map_err(|_| damaged())?;
                newest = Some((row.kid, EncodingKey::from_ec_der(der.as_bytes())));
            }
        }
        let (kid, signing) =
            newest.ok_or_else(|| Error::Internal("no identity key".to_string()))?;
        Ok(Keys { kid, signing, jwks: json!({ "keys": published }) })
    }

    /// A signed identity token for `claims`, issued by `issuer`.
    pub fn token(&self, issuer: &str, claims: &Claims<'_>) -> Result<String, Error> {
        let now = chrono::Utc::now().timestamp();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let body =
            Body { iss: issuer, aud: "upstream", who: claims, iat: now, exp: now + TOKEN_TTL_SECS };
        jsonwebtoken::encode(&header, &body, &self.signing)
            .map_err(|e| Error::Internal(format!("cannot sign the identity token: {e}")))
    }
}

/// `GET /.well-known/jwks.json`
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(&state.identity.jwks)
}
