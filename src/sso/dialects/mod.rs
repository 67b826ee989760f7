//! The ways a tenant's auth centre vouches for a user (spec §7): the
//! KooGallery OAuth2 dialect (code, then userinfo), OpenID Connect (code,
//! then a verified ID token; see [`super::oidc`]), Huawei OrgID ([`orgid`])
//! and CAS 3.0 ([`cas`]). Which one a tenant speaks is [`choice`]'s; every
//! one ends in [`SignedIn`], checked by the same grant rules.

pub mod cas;
mod choice;
pub mod orgid;

use std::sync::Arc;

pub use choice::{of_tenant as choice_of, parse_choice, set as set_choice, Choice, SignInDialect};

use super::auth_centre::{AuthCentreError, Endpoints, TenantClient, Tokens};
use super::oidc::{Dialect, OidcClient, Provider};
use super::refusal::{BadAnswer, Refusal};
use super::sign_ins::{Dialect as RecordedDialect, Seen};
use super::{token_hash, Deps};
use crate::error::Error;
use entity::{tenant, tenant_app};

/// Who the tenant's auth centre says signed in, whichever dialect it
/// speaks.
pub struct SignedIn {
    pub user_name: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub org_code: Option<String>,
    pub tokens: Tokens,
}

/// What a tenant's auth centre speaks now, with where it answers.
pub enum Speaks {
    KooGallery {
        base: String,
    },
    Oidc(Arc<Provider>),
    OrgId {
        base: String,
    },
    /// `orgid`: the CAS of the site's OrgID host (its own paths, and a
    /// userinfo call after the ticket).
    Cas {
        base: String,
        orgid: bool,
    },
}

impl Speaks {
    /// The dialect as the sign-in record names it.
    pub fn recorded(&self) -> RecordedDialect {
        match self {
            Speaks::KooGallery { .. } => RecordedDialect::Koogallery,
            Speaks::Oidc(_) => RecordedDialect::Oidc,
            Speaks::OrgId { .. } => RecordedDialect::Orgid,
            Speaks::Cas { .. } => RecordedDialect::Cas,
        }
    }
}

/// The app's client secret, opened.
pub fn client_secret(deps: &Deps<'_>, app: &tenant_app::Model) -> Result<String, Error> {
    deps.vault.open(app.client_secret_sealed.as_deref().unwrap_or_default())
}

/// What the tenant speaks: the operator's choice for it, else
/// `sso.dialect`; `auto` and `oidc` ask discovery (see
/// [`super::oidc::Discoveries`]). A provider that names another issuer
/// than the tenant's base (the mix-up defence), whose keys cannot be
/// fetched, or that an operator declared OIDC but serves no discovery, is
/// refused.
pub async fn speaks(deps: &Deps<'_>, tenant: &tenant::Model) -> Result<Speaks, Refusal> {
    let choice = choice::of_tenant(&deps.db.conn, deps.settings, &tenant.tenant_id).await?;
    let base = choice.base(deps.settings, tenant);
    match choice.dialect {
        SignInDialect::Auto => discovered(deps, tenant, base, false).await,
        SignInDialect::Oidc => discovered(deps, tenant, base, true).await,
        SignInDialect::KooGallery => Ok(Speaks::KooGallery { base }),
        SignInDialect::OrgId => Ok(Speaks::OrgId { base }),
        SignInDialect::Cas => {
            let orgid = !deps.settings.orgid_url.is_empty()
                && base == deps.settings.orgid_url.trim_end_matches('/');
            Ok(Speaks::Cas { base, orgid })
        }
    }
}

async fn discovered(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    base: String,
    required: bool,
) -> Result<Speaks, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    match deps.oidc.dialect(deps.http, tenant_id, &base).await {
        Dialect::WrongIssuer(issuer) => {
            tracing::warn!(tenant_id, %issuer, "sign-in refused: the OpenID provider's issuer is not the tenant's base URL");
            Err(Refusal::ProviderMisconfigured)
        }
        Dialect::Unavailable => {
            tracing::warn!(tenant_id, "sign-in refused: the tenant's OpenID provider is unusable");
            Err(Refusal::ProviderUnreachable)
        }
        Dialect::KooGallery if required => {
            tracing::warn!(tenant_id, "sign-in refused: the tenant is set to OpenID Connect, its base URL serves no discovery");
            Err(Refusal::ProviderUnreachable)
        }
        Dialect::KooGallery => Ok(Speaks::KooGallery { base }),
        Dialect::Oidc(provider) => Ok(Speaks::Oidc(provider)),
    }
}

/// Where a sign-in koogate starts sends the browser, and what the login
/// state keeps for the answer.
pub struct Authorize {
    pub url: String,
    pub verifier: String,
    pub nonce_hash: Option<String>,
}

/// Starts a sign-in in the tenant's dialect: `state` (and PKCE, and for
/// OpenID a nonce) for the OAuth2 dialects; for CAS the `service` carries
/// the tenant and the state.
pub async fn authorize(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    state: &str,
) -> Result<Authorize, Refusal> {
    let secret = || client_secret(deps, app);
    let redirect_uri = deps.redirect_uri();
    Ok(match speaks(deps, tenant).await? {
        Speaks::Oidc(provider) => {
            let client = OidcClient::new(&provider, &app.client_id, &secret()?, &redirect_uri)?;
            let authorization = client.authorize_url(state);
            Authorize {
                url: authorization.url,
                verifier: authorization.pkce_verifier,
                nonce_hash: Some(token_hash(&authorization.nonce)),
            }
        }
        Speaks::KooGallery { base } => {
            let client = TenantClient::new(&base, &app.client_id, &secret()?, &redirect_uri)?;
            let (url, verifier) = client.authorize_url(state);
            Authorize { url, verifier, nonce_hash: None }
        }
        Speaks::OrgId { base } => {
            let (url, verifier) = orgid::authorize_url(&base, &app.client_id, &redirect_uri, state);
            Authorize { url, verifier, nonce_hash: None }
        }
        Speaks::Cas { base, .. } => {
            let service = cas::service_url(deps.public_url, &tenant.tenant_id, Some(state));
            Authorize {
                url: cas::login_url(&base, &service),
                verifier: String::new(),
                nonce_hash: None,
            }
        }
    })
}

/// What the browser brought back: an OAuth2 code (with the issuer an
/// OpenID provider names), or a CAS ticket for the service it was issued
/// to.
pub enum Proof<'a> {
    Code { code: &'a str, iss: Option<&'a str> },
    Ticket { ticket: &'a str, service: String },
}

/// The tenant's auth centre asked who `proof` belongs to, in the dialect
/// the tenant speaks; a proof of another dialect is refused before it goes
/// anywhere. `pending` is the login state koogate issued, when it started
/// the sign-in.
pub async fn sign_in(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    proof: Proof<'_>,
    pending: Option<&crate::sso::pending::Pending>,
    seen: &mut Seen,
) -> Result<SignedIn, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    let speaks = speaks(deps, tenant).await?;
    seen.dialect = Some(speaks.recorded());
    let changed = |why: &str| {
        tracing::warn!(tenant_id, why, "sign-in refused: not the tenant's dialect");
        Refusal::ProviderChanged
    };
    let verifier = pending.map(|p| p.verifier.clone()).filter(|v| !v.is_empty());
    match proof {
        Proof::Ticket { ticket, service } => match speaks {
            Speaks::Cas { base, orgid } => {
                cas::sign_in(deps, tenant_id, &base, orgid, ticket, &service).await
            }
            _ => Err(changed("a CAS ticket for a tenant that does not speak CAS")),
        },
        Proof::Code { code, iss } => {
            match (speaks, pending.and_then(|p| p.nonce_hash.as_deref())) {
                (Speaks::Oidc(provider), Some(nonce_hash)) => {
                    let verifier = verifier.unwrap_or_default();
                    let answer = OidcAnswer { code, iss, verifier: &verifier, nonce_hash };
                    oidc_sign_in(deps, tenant, app, &provider, answer).await
                }
                (_, Some(_)) => {
                    Err(changed("started with OpenID Connect, the tenant no longer serves it"))
                }
                (Speaks::Cas { .. }, None) => Err(changed("an OAuth2 code for a CAS tenant")),
                (Speaks::OrgId { base }, None) => {
                    let secret = client_secret(deps, app)?;
                    let client = orgid::OrgIdClient::new(
                        &base,
                        &app.client_id,
                        &secret,
                        &deps.redirect_uri(),
                    );
                    let failed = |e| auth_centre_failed(deps, tenant_id, e);
                    let tokens = client
                        .exchange(deps.http, code, verifier.as_deref())
                        .await
                        .map_err(failed)?;
                    let info =
                        client.user_info(deps.http, &tokens.access_token).await.map_err(failed)?;
                    signed_in_as(tenant_id, info, tokens)
                }
                // An OpenID tenant reached without our state (unified mode)
                // answers at its KooGallery endpoints, as before dialects.
                (Speaks::Oidc(_), None) => {
                    koogallery_sign_in(
                        deps,
                        tenant,
                        app,
                        &tenant.domain_name,
                        code,
                        verifier.as_deref(),
                    )
                    .await
                }
                (Speaks::KooGallery { base }, None) => {
                    koogallery_sign_in(deps, tenant, app, &base, code, verifier.as_deref()).await
                }
            }
        }
    }
}

/// A userinfo answer as who signed in; one that names another tenant is
/// refused (a shared OrgID host answers for every tenant of the site).
pub(super) fn signed_in_as(
    tenant_id: &str,
    info: super::auth_centre::UserInfo,
    tokens: Tokens,
) -> Result<SignedIn, Refusal> {
    if info.tenant.as_deref().is_some_and(|t| !t.is_empty() && t != tenant_id) {
        tracing::warn!(
            tenant_id,
            "sign-in refused: the auth centre vouched for a user of another tenant"
        );
        return Err(Refusal::BadAnswer(BadAnswer::OtherSignIn));
    }
    Ok(SignedIn {
        user_name: info.user_name,
        name: info.name,
        email: info.email,
        org_code: info.organization_code,
        tokens,
    })
}

/// The KooGallery end of a sign-in (spec §7): the code redeemed (with
/// the PKCE verifier, when koogate started the flow), then userinfo.
async fn koogallery_sign_in(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    base: &str,
    code: &str,
    verifier: Option<&str>,
) -> Result<SignedIn, Refusal> {
    let secret = client_secret(deps, app)?;
    let client = TenantClient::new(base, &app.client_id, &secret, &deps.redirect_uri())?;
    let failed = |e| auth_centre_failed(deps, &tenant.tenant_id, e);
    let tokens = client.exchange(deps.http, code, verifier).await.map_err(failed)?;
    let info = client.user_info(deps.http, &tokens.access_token).await.map_err(failed)?;
    Ok(SignedIn {
        user_name: info.user_name,
        name: info.name,
        email: info.email,
        org_code: info.organization_code,
        tokens,
    })
}

/// What an OpenID sign-in kept for its callback.
struct OidcAnswer<'a> {
    code: &'a str,
    /// RFC 9207: the issuer the answer names.
    iss: Option<&'a str>,
    verifier: &'a str,
    nonce_hash: &'a str,
}

/// The OpenID Connect end of a sign-in: the code redeemed and the ID
/// token verified against the tenant's provider (see [`super::oidc`]).
///
/// # Security
/// The provider must still be the one whose issuer is the tenant's base
/// URL; an answer naming another issuer, or naming none when the
/// provider promises to (RFC 9207 `iss`), is refused before the code goes
/// anywhere.
async fn oidc_sign_in(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    provider: &Provider,
    answer: OidcAnswer<'_>,
) -> Result<SignedIn, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    if !provider.answered_by_me(answer.iss) {
        tracing::warn!(tenant_id, "sign-in refused: the answer does not name the tenant's issuer");
        return Err(Refusal::BadAnswer(BadAnswer::WrongIssuer));
    }
    let secret = client_secret(deps, app)?;
    let client = OidcClient::new(provider, &app.client_id, &secret, &deps.redirect_uri())?;
    let identity = client
        .finish(deps.http, answer.code, answer.verifier, answer.nonce_hash)
        .await
        .map_err(|e| auth_centre_failed(deps, tenant_id, e))?;
    Ok(SignedIn {
        user_name: identity.user_name,
        name: identity.name,
        email: identity.email,
        org_code: None,
        tokens: identity.tokens,
    })
}

/// A failure at the tenant's auth centre as a refusal, and a log line
/// naming the tenant (never a token or secret: the reasons are the
/// crates' and the auth centre's error codes).
pub(super) fn auth_centre_failed(
    deps: &Deps<'_>,
    tenant_id: &str,
    err: AuthCentreError,
) -> Refusal {
    match err {
        AuthCentreError::Refused(why) => {
            tracing::warn!(tenant_id, reason = %why, "the auth centre refused the sign-in");
            Refusal::NotAccepted
        }
        AuthCentreError::Unreachable(why) => {
            tracing::warn!(tenant_id, reason = %why, "the auth centre could not be reached");
            Refusal::NotAccepted
        }
        AuthCentreError::BadIdToken(why) => {
            tracing::warn!(tenant_id, reason = %why, "sign-in refused: the ID token failed verification");
            // Perhaps the provider rotated its keys: fetch them again.
            deps.oidc.refetch_soon(tenant_id);
            Refusal::NotAccepted
        }
        AuthCentreError::WrongNonce => {
            tracing::warn!(tenant_id, "sign-in refused: the ID token belongs to another sign-in");
            Refusal::BadAnswer(BadAnswer::OtherSignIn)
        }
    }
}

/// How a session's tokens are renewed at the tenant, in its dialect.
pub enum Renewal {
    /// Through this token endpoint (plain OAuth2).
    Endpoints(Endpoints),
    /// OrgID's token endpoint, whose answers koogate reads itself.
    OrgId(String),
    /// The dialect has nothing to renew (CAS) or the provider cannot be
    /// used: the session ends.
    End,
    /// The provider cannot be asked now: tried again later.
    Later,
}

/// Where the tenant's tokens are renewed (see [`Renewal`]).
pub async fn renewal(deps: &Deps<'_>, tenant: &tenant::Model) -> Renewal {
    match speaks(deps, tenant).await {
        Ok(Speaks::KooGallery { base }) => Renewal::Endpoints(Endpoints::koogallery(&base)),
        Ok(Speaks::Oidc(provider)) => provider.endpoints().map_or(Renewal::End, Renewal::Endpoints),
        Ok(Speaks::OrgId { base }) => Renewal::OrgId(base),
        Ok(Speaks::Cas { .. }) => Renewal::End,
        Err(Refusal::ProviderUnreachable | Refusal::TryAgain) => Renewal::Later,
        Err(_) => Renewal::End,
    }
}

/// Where the browser ends its session at the tenant: an OpenID provider's
/// `end_session_endpoint` when it announced one, else the KooGallery
/// (and aPaaS CAS) logout address; for OrgID straight back.
pub async fn logout_url(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app_id: &str,
    back: &str,
) -> Result<String, Error> {
    match speaks(deps, tenant).await {
        Ok(Speaks::Oidc(provider)) => {
            let app = crate::store::apps::for_tenant(&deps.db.conn, &tenant.tenant_id)
                .await?
                .into_iter()
                .find(|a| a.app_id == app_id);
            if let Some(url) = app.and_then(|a| provider.logout_url(&a.client_id, back)) {
                return Ok(url);
            }
            Ok(TenantClient::logout_url(&tenant.domain_name, back))
        }
        Ok(Speaks::KooGallery { base } | Speaks::Cas { base, .. }) => {
            Ok(TenantClient::logout_url(&base, back))
        }
        // OrgID publishes no logout address for these clients: the
        // session here ends, the OrgID one is the workbench's.
        Ok(Speaks::OrgId { .. }) => Ok(back.to_string()),
        Err(_) => Ok(TenantClient::logout_url(&tenant.domain_name, back)),
    }
}
