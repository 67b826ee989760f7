//! OpenID Connect sign-in for tenants whose `domainName` serves discovery
//! (`{domainName}/.well-known/openid-configuration`): authorization code
//! with PKCE and a nonce, the ID token verified by the `openidconnect`
//! crate (signature against the provider's JWKS, `iss`, `aud`, `exp`,
//! `nonce`), and the issuer pinned to the tenant's `domainName`.
//!
//! Which dialect a tenant speaks is decided here and remembered for a
//! while per tenant ([`Discoveries`]), so a sign-in does not fetch the
//! provider's metadata and keys each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, RedirectUrl,
    Scope, TokenResponse,
};

use super::auth_centre::{AuthCentreError, Endpoints, Tokens};
use super::token_hash;
use crate::error::Error;

/// How long a discovery answer is trusted before it is fetched again.
const DECISION_TTL: Duration = Duration::from_secs(600);
/// How soon a failed or refused discovery is tried again.
const RETRY_TTL: Duration = Duration::from_secs(30);

/// The discovery fields koogate reads beyond the core ones.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
struct Extras {
    /// RP-Initiated Logout 1.0.
    end_session_endpoint: Option<openidconnect::EndSessionUrl>,
    /// RFC 9207: the provider names itself (`iss`) in every answer.
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for Extras {}

type Metadata = openidconnect::ProviderMetadata<
    Extras,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// What a tenant's auth centre speaks.
#[derive(Clone)]
pub enum Dialect {
    /// The KooGallery OAuth2 dialect (spec §7): no discovery document.
    KooGallery,
    /// OpenID Connect, with the provider's metadata and keys.
    Oidc(Arc<Provider>),
    /// Serves discovery for another issuer than the tenant's `domainName`:
    /// never used (the mix-up defence); holds the issuer it named.
    WrongIssuer(String),
    /// Serves its own discovery document, but its keys could not be
    /// fetched: no sign-in until they can (never a downgrade).
    Unavailable,
}

/// One tenant's OpenID provider, as discovered (keys included).
pub struct Provider {
    metadata: Metadata,
}

impl Provider {
    pub fn issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    /// Whether an authorization answer's `iss` is the right one (RFC
    /// 9207): it must name this issuer, and may only be missing when the
    /// provider does not promise to send it.
    pub fn answered_by_me(&self, iss: Option<&str>) -> bool {
        match iss {
            Some(iss) => iss == self.issuer(),
            None => {
                !self.metadata.additional_metadata().authorization_response_iss_parameter_supported
            }
        }
    }

    /// Its endpoints for plain OAuth2 (refreshes); `None` without a
    /// token endpoint.
    pub fn endpoints(&self) -> Option<Endpoints> {
        Some(Endpoints {
            auth_url: self.metadata.authorization_endpoint().to_string(),
            token_url: self.metadata.token_endpoint()?.to_string(),
            auth_type: self.auth_type(),
        })
    }

    /// `client_secret_post` when the provider lists it (the KooGallery
    /// habit), else `client_secret_basic`, the default when none is listed.
    fn auth_type(&self) -> AuthType {
        let post = self
            .metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| methods.contains(&CoreClientAuthMethod::ClientSecretPost));
        if post {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        }
    }

    /// Where the browser ends its session at the provider (RP-Initiated
    /// Logout), if it has such an endpoint. The client is named by
    /// `client_id` rather than an `id_token_hint`, so no ID token is kept.
    pub fn logout_url(&self, client_id: &str, redirect_url: &str) -> Option<String> {
        let endpoint = self.metadata.additional_metadata().end_session_endpoint.clone()?;
        let mut request =
            LogoutRequest::from(endpoint).set_client_id(ClientId::new(client_id.to_string()));
        if let Ok(back) = PostLogoutRedirectUrl::new(redirect_url.to_string()) {
            request = request.set_post_logout_redirect_uri(back);
        }
        Some(request.http_get_url().to_string())
    }
}

/// A `domainName` or issuer compared as the same place whether or not it
/// ends in a slash.
fn normalised(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// What fetching the discovery document gave.
enum Discovery {
    Found(Box<Metadata>),
    /// A clean 404 (or 410): the tenant's domain says it serves no OIDC.
    NotServed,
    /// Anything else: unreachable, a 5xx, a redirect, not metadata.
    Failed(String),
}

async fn discover(http: &reqwest::Client, domain: &str) -> Discovery {
    let url = format!("{}/.well-known/openid-configuration", normalised(domain));
    let response =
        match http.get(&url).header(reqwest::header::ACCEPT, "application/json").send().await {
            Ok(response) => response,
            Err(err) => return Discovery::Failed(err.without_url().to_string()),
        };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Discovery::NotServed;
    }
    if status != reqwest::StatusCode::OK {
        return Discovery::Failed(format!("discovery answered {status}"));
    }
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) => return Discovery::Failed(err.without_url().to_string()),
    };
    match serde_json::from_slice::<Metadata>(&body) {
        Ok(metadata) => Discovery::Found(Box::new(metadata)),
        Err(err) => Discovery::Failed(format!("not OpenID provider metadata: {err}")),
    }
}

/// The keys, fetched once the issuer is known to be the tenant's own.
async fn with_keys(http: &reqwest::Client, metadata: Metadata) -> Result<Provider, String> {
    let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
        .await
        .map_err(|err| format!("the provider's keys could not be fetched: {err}"))?;
    Ok(Provider { metadata: metadata.set_jwks(jwks) })
}

struct Entry {
    domain: String,
    dialect: Dialect,
    until: Instant,
}

/// Each tenant's dialect, as last discovered (one entry per tenant that
/// signed in; an entry is only reused for the same `domainName`).
#[derive(Default)]
pub struct Discoveries {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Discoveries {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map holds no invariant a panic elsewhere could break.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the tenant at `domain` speaks, fetched at most every ten
    /// minutes.
    ///
    /// # Security
    /// Downgrade: a tenant once seen serving OIDC loses it only on a clean
    /// 404 from its own domain. A timeout, a 5xx, a redirect or a garbled
    /// document (what an attacker on the path, or an outage, produces)
    /// keeps the provider last seen, so the ID-token and nonce checks
    /// cannot be switched off by making discovery fail. A tenant never
    /// seen serving OIDC is signed in with the KooGallery dialect when
    /// discovery fails, and asked again sooner; one whose own metadata
    /// answers but whose keys cannot be fetched cannot sign in until they
    /// can ([`Dialect::Unavailable`]). What was seen lives in
    /// this process: a restarted replica decides afresh, on its first
    /// sign-in for the tenant.
    ///
    /// Mix-up: the discovered issuer must be the tenant's `domainName`
    /// (the address the marketplace synced for it); otherwise the tenant
    /// cannot sign in at all ([`Dialect::WrongIssuer`]), so one tenant's
    /// provider can never answer for another.
    pub async fn dialect(&self, http: &reqwest::Client, tenant_id: &str, domain: &str) -> Dialect {
        let now = Instant::now();
        let before = {
            let entries = self.lock();
            match entries.get(tenant_id).filter(|e| e.domain == domain) {
                Some(entry) if entry.until > now => return entry.dialect.clone(),
                Some(entry) => Some(entry.dialect.clone()),
                None => None,
            }
        };
        let (dialect, ttl) = match discover(http, domain).await {
            Discovery::Found(metadata)
                if normalised(metadata.issuer().as_str()) != normalised(domain) =>
            {
                let issuer = metadata.issuer().as_str().to_string();
                tracing::warn!(tenant_id, %issuer, domain, "the tenant's OpenID provider names another issuer than its domainName; sign-in refused");
                (Dialect::WrongIssuer(issuer), RETRY_TTL)
            }
            Discovery::Found(metadata) => match with_keys(http, *metadata).await {
                Ok(provider) => (Dialect::Oidc(Arc::new(provider)), DECISION_TTL),
                Err(why) => match before {
                    Some(Dialect::Oidc(provider)) => kept(tenant_id, provider, &why),
                    _ => {
                        tracing::warn!(tenant_id, reason = %why, "the tenant's OpenID provider is unusable");
                        (Dialect::Unavailable, RETRY_TTL)
                    }
                },
            },
            Discovery::NotServed => {
                if matches!(before, Some(Dialect::Oidc(_))) {
                    tracing::warn!(tenant_id, "the tenant's domain no longer serves OpenID discovery; signing in with the KooGallery dialect");
                }
                (Dialect::KooGallery, DECISION_TTL)
            }
            Discovery::Failed(why) => kept_after_failure(tenant_id, before, &why),
        };
        let entry =
            Entry { domain: domain.to_string(), dialect: dialect.clone(), until: now + ttl };
        self.lock().insert(tenant_id.to_string(), entry);
        dialect
    }

    /// Drops what is known of the tenant's provider, so the next sign-in
    /// fetches its keys again (they may have been rotated). What it spoke
    /// is kept, so this cannot downgrade it.
    pub fn refetch_soon(&self, tenant_id: &str) {
        if let Some(entry) = self.lock().get_mut(tenant_id) {
            entry.until = Instant::now();
        }
    }
}

/// A failed discovery keeps an OIDC tenant OIDC (see [`Discoveries::dialect`]).
fn kept_after_failure(tenant_id: &str, before: Option<Dialect>, why: &str) -> (Dialect, Duration) {
    match before {
        Some(Dialect::Oidc(provider)) => kept(tenant_id, provider, why),
        Some(Dialect::WrongIssuer(issuer)) => (Dialect::WrongIssuer(issuer), RETRY_TTL),
        Some(Dialect::Unavailable) => (Dialect::Unavailable, RETRY_TTL),
        Some(Dialect::KooGallery) | None => {
            tracing::info!(tenant_id, reason = %why, "no OpenID discovery; signing in with the KooGallery dialect");
            (Dialect::KooGallery, RETRY_TTL)
        }
    }
}

fn kept(tenant_id: &str, provider: Arc<Provider>, why: &str) -> (Dialect, Duration) {
    tracing::warn!(tenant_id, reason = %why, "OpenID discovery failed; keeping the provider last seen");
    (Dialect::Oidc(provider), RETRY_TTL)
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One tenant's OpenID client, as the syncs delivered it.
pub struct OidcClient {
    client: Client,
}

/// What the browser is sent to, and what to keep for the callback.
pub struct Authorization {
    pub url: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// Who signed in, as the provider vouched for them.
pub struct Identity {
    /// `preferred_username`, else `sub`: matched to the authSync grants.
    pub user_name: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub tokens: Tokens,
}

impl OidcClient {
    pub fn new(
        provider: &Provider,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<OidcClient, Error> {
        let client = CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            ClientId::new(client_id.to_string()),
            Some(ClientSecret::new(client_secret.to_string())),
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string())
                .map_err(|_| Error::Config("the redirect URI is not a URL".to_string()))?,
        )
        .set_auth_type(provider.auth_type());
        Ok(OidcClient { client })
    }

    /// The authorization address: code flow, `openid profile`, `state`,
    /// a fresh `nonce` and an S256 PKCE challenge.
    pub fn authorize_url(&self, state: &str) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_string();
        let (url, _, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_string()))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            pkce_verifier: verifier.secret().to_string(),
            nonce: nonce.secret().to_string(),
        }
    }

    /// Redeems the code and verifies the ID token it brings: signature,
    /// `iss` (the discovered issuer, which is the tenant's `domainName`),
    /// `aud`, `exp`, and a `nonce` whose hash is `nonce_hash`.
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        code: &str,
        pkce_verifier: &str,
        nonce_hash: &str,
    ) -> Result<Identity, AuthCentreError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| AuthCentreError::Unreachable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(token_error)?;
        let id_token = response.id_token().ok_or_else(|| {
            AuthCentreError::BadIdToken("the token answer has no ID token".to_string())
        })?;
        let nonce_matches = |nonce: Option<&Nonce>| -> Result<(), String> {
            let ok = nonce.is_some_and(|n| {
                subtle::ConstantTimeEq::ct_eq(
                    token_hash(n.secret()).as_bytes(),
                    nonce_hash.as_bytes(),
                )
                .into()
            });
            if ok {
                Ok(())
            } else {
                Err("not the nonce this sign-in sent".to_string())
            }
        };
        let claims = id_token.claims(&self.client.id_token_verifier(), nonce_matches).map_err(
            |e| match e {
                ClaimsVerificationError::InvalidNonce(_) => AuthCentreError::WrongNonce,
                other => AuthCentreError::BadIdToken(other.to_string()),
            },
        )?;
        let subject = claims.subject().clone();
        let mut user_name = claims.preferred_username().map(|u| u.to_string());
        let mut name = claims.name().and_then(|n| n.get(None)).map(|n| n.to_string());
        let mut email = claims.email().map(|e| e.to_string());
        let access_token = response.access_token().clone();
        // Providers that keep profile claims out of the ID token (as the
        // core spec suggests for the code flow) answer them at userinfo;
        // the crate checks it speaks of the same subject.
        if user_name.is_none() && self.client.user_info_url().is_some() {
            let info = self.user_info(http, access_token.clone(), subject.clone()).await?;
            user_name = info.preferred_username().map(|u| u.to_string());
            name = name.or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
            email = email.or_else(|| info.email().map(|e| e.to_string()));
        }
        Ok(Identity {
            user_name: user_name.unwrap_or_else(|| subject.to_string()),
            name,
            email,
            tokens: Tokens {
                access_token: access_token.secret().to_string(),
                refresh_token: response.refresh_token().map(|t| t.secret().to_string()),
                expires_in_secs: response.expires_in().map_or(3600, |d| d.as_secs()),
            },
        })
    }

    async fn user_info(
        &self,
        http: &reqwest::Client,
        access_token: AccessToken,
        subject: openidconnect::SubjectIdentifier,
    ) -> Result<CoreUserInfoClaims, AuthCentreError> {
        self.client
            .user_info(access_token, Some(subject))
            .map_err(|e| AuthCentreError::Unreachable(e.to_string()))?
            .request_async(http)
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::ClaimsVerification(why) => {
                    AuthCentreError::BadIdToken(format!("userinfo: {why}"))
                }
                other => AuthCentreError::Unreachable(format!("userinfo: {other}")),
            })
    }
}

fn token_error<E: std::error::Error + 'static>(
    err: openidconnect::RequestTokenError<
        E,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> AuthCentreError {
    match err {
        openidconnect::RequestTokenError::ServerResponse(r) => {
            AuthCentreError::Refused(r.error().to_string())
        }
        other => AuthCentreError::Unreachable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
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
                "../../tests/data/isv-test-private.pem"
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
            let header =
                b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string().as_bytes());
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

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
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
        assert_eq!(
            decided(&discoveries, &domain).await,
            "wrong issuer",
            "a failure changes nothing"
        );

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
        assert_eq!(
            refusal(finish(&domain).await),
            "accepted u-1",
            "sub, without preferred_username"
        );

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
}
