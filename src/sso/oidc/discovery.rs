//! Which dialect a tenant's auth centre speaks, decided by OpenID
//! discovery (`{domainName}/.well-known/openid-configuration`) and
//! remembered for a while per tenant ([`Discoveries`]), so a sign-in does
//! not fetch the provider's metadata and keys each time. The issuer is
//! pinned to the tenant's `domainName`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AuthType, ClientId, LogoutRequest, PostLogoutRedirectUrl};

use crate::outbound::AuthCentreHttp;
use crate::sso::auth_centre::Endpoints;

/// How long a discovery answer is trusted before it is fetched again.
const DECISION_TTL: Duration = Duration::from_secs(600);
/// How soon a failed or refused discovery is tried again.
const RETRY_TTL: Duration = Duration::from_secs(30);

/// The discovery fields koogate reads beyond the core ones.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub(super) struct Extras {
    /// RP-Initiated Logout 1.0.
    end_session_endpoint: Option<openidconnect::EndSessionUrl>,
    /// RFC 9207: the provider names itself (`iss`) in every answer.
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for Extras {}

pub(super) type Metadata = openidconnect::ProviderMetadata<
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
    pub(super) metadata: Metadata,
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
    pub(super) fn auth_type(&self) -> AuthType {
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

async fn discover(http: &AuthCentreHttp, domain: &str) -> Discovery {
    let url = format!("{}/.well-known/openid-configuration", normalised(domain));
    let answer = match http.get(&url).header("Accept", "application/json").send().await {
        Ok(answer) => answer,
        Err(err) => return Discovery::Failed(err.to_string()),
    };
    let status = answer.status;
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Discovery::NotServed;
    }
    if status != reqwest::StatusCode::OK {
        return Discovery::Failed(format!("discovery answered {status}"));
    }
    match answer.json::<Metadata>() {
        Ok(metadata) => Discovery::Found(Box::new(metadata)),
        Err(err) => Discovery::Failed(format!("not OpenID provider metadata: {err}")),
    }
}

/// The keys, fetched once the issuer is known to be the tenant's own.
async fn with_keys(http: &AuthCentreHttp, metadata: Metadata) -> Result<Provider, String> {
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
    /// One turn per tenant: while one request fetches a tenant's
    /// discovery, the others wait for its answer instead of fetching too.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Discoveries {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map holds no invariant a panic elsewhere could break.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tenant's fetching turn (one entry per tenant that signed in,
    /// like the entries themselves).
    fn turn(&self, tenant_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        turns.entry(tenant_id.to_string()).or_default().clone()
    }

    /// The decision still trusted (`Ok`), or the one last seen (`Err`).
    fn cached(&self, tenant_id: &str, domain: &str) -> Result<Dialect, Option<Dialect>> {
        let entries = self.lock();
        match entries.get(tenant_id).filter(|e| e.domain == domain) {
            Some(entry) if entry.until > Instant::now() => Ok(entry.dialect.clone()),
            Some(entry) => Err(Some(entry.dialect.clone())),
            None => Err(None),
        }
    }

    /// What the tenant at `domain` speaks, fetched at most every ten
    /// minutes (every 30 s after a failure), and by one request at a time:
    /// a flood of anonymous `/sso/login` for a tenant makes one fetch.
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
    pub async fn dialect(&self, http: &AuthCentreHttp, tenant_id: &str, domain: &str) -> Dialect {
        if let Ok(fresh) = self.cached(tenant_id, domain) {
            return fresh;
        }
        let turn = self.turn(tenant_id);
        let _turn = turn.lock().await;
        // Whoever had the turn before may have just decided.
        let before = match self.cached(tenant_id, domain) {
            Ok(fresh) => return fresh,
            Err(before) => before,
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
        let until = Instant::now() + ttl;
        let entry = Entry { domain: domain.to_string(), dialect: dialect.clone(), until };
        self.lock().insert(tenant_id.to_string(), entry);
        dialect
    }

    /// Whether the tenant's domain was last seen serving OpenID discovery,
    /// without asking it; `None` when it was not asked in this process.
    pub fn seen(&self, tenant_id: &str) -> Option<bool> {
        self.lock().get(tenant_id).map(|e| !matches!(e.dialect, Dialect::KooGallery))
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
