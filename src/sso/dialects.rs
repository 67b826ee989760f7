//! The two ways a tenant's auth centre vouches for a user: the KooGallery
//! OAuth2 dialect (code, then userinfo; spec §7) and OpenID Connect (code,
//! then a verified ID token; see [`super::oidc`]).

use super::auth_centre::{AuthCentreError, TenantClient, Tokens};
use super::oidc::{Dialect, OidcClient};
use super::refusal::{BadAnswer, Refusal};
use super::Deps;
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

/// The app's client secret, opened.
pub fn client_secret(deps: &Deps<'_>, app: &tenant_app::Model) -> Result<String, Error> {
    deps.vault.open(app.client_secret_sealed.as_deref().unwrap_or_default())
}

/// The tenant's KooGallery-dialect client.
pub fn tenant_client(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
) -> Result<TenantClient, Error> {
    let secret = client_secret(deps, app)?;
    TenantClient::new(&tenant.domain_name, &app.client_id, &secret, &deps.redirect_uri())
}

/// What the tenant's auth centre speaks (see [`super::oidc::Discoveries`]);
/// a provider that names another issuer than the tenant's `domainName`
/// (the mix-up defence), or whose keys cannot be fetched, is refused.
pub async fn tenant_dialect(deps: &Deps<'_>, tenant: &tenant::Model) -> Result<Dialect, Refusal> {
    let dialect = deps.oidc.dialect(deps.http, &tenant.tenant_id, &tenant.domain_name).await;
    match &dialect {
        Dialect::WrongIssuer(issuer) => {
            tracing::warn!(tenant_id = %tenant.tenant_id, %issuer, "sign-in refused: the OpenID provider's issuer is not the tenant's domainName");
            Err(Refusal::ProviderMisconfigured)
        }
        Dialect::Unavailable => {
            tracing::warn!(tenant_id = %tenant.tenant_id, "sign-in refused: the tenant's OpenID provider is unusable");
            Err(Refusal::ProviderUnreachable)
        }
        Dialect::KooGallery | Dialect::Oidc(_) => Ok(dialect),
    }
}

/// The KooGallery end of a sign-in (spec §7): the code redeemed (with
/// the PKCE verifier, when koogate started the flow), then userinfo.
pub async fn koogallery_sign_in(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    code: &str,
    verifier: Option<&str>,
) -> Result<SignedIn, Refusal> {
    let client = tenant_client(deps, tenant, app)?;
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
pub struct OidcAnswer<'a> {
    pub code: &'a str,
    /// RFC 9207: the issuer the answer names.
    pub iss: Option<&'a str>,
    pub verifier: &'a str,
    pub nonce_hash: &'a str,
}

/// The OpenID Connect end of a sign-in: the code redeemed and the ID
/// token verified against the tenant's provider (see [`super::oidc`]).
///
/// # Security
/// The provider must still be the one whose issuer is the tenant's
/// `domainName`; an answer naming another issuer, or naming none when the
/// provider promises to (RFC 9207 `iss`), is refused before the code goes
/// anywhere.
pub async fn oidc_sign_in(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    answer: OidcAnswer<'_>,
) -> Result<SignedIn, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    let Dialect::Oidc(provider) = tenant_dialect(deps, tenant).await? else {
        tracing::warn!(
            tenant_id,
            "sign-in refused: started with OpenID Connect, the tenant no longer serves it"
        );
        return Err(Refusal::ProviderChanged);
    };
    if !provider.answered_by_me(answer.iss) {
        tracing::warn!(tenant_id, "sign-in refused: the answer does not name the tenant's issuer");
        return Err(Refusal::BadAnswer(BadAnswer::WrongIssuer));
    }
    let secret = client_secret(deps, app)?;
    let client = OidcClient::new(&provider, &app.client_id, &secret, &deps.redirect_uri())?;
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
fn auth_centre_failed(deps: &Deps<'_>, tenant_id: &str, err: AuthCentreError) -> Refusal {
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

/// Where the browser ends its session at the tenant: an OpenID provider's
/// `end_session_endpoint` when it announced one, else the KooGallery
/// logout address.
pub async fn logout_url(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app_id: &str,
    back: &str,
) -> Result<String, Error> {
    let dialect = deps.oidc.dialect(deps.http, &tenant.tenant_id, &tenant.domain_name).await;
    if let Dialect::Oidc(provider) = dialect {
        let app = crate::store::apps::for_tenant(&deps.db.conn, &tenant.tenant_id)
            .await?
            .into_iter()
            .find(|a| a.app_id == app_id);
        if let Some(url) = app.and_then(|a| provider.logout_url(&a.client_id, back)) {
            return Ok(url);
        }
    }
    Ok(TenantClient::logout_url(&tenant.domain_name, back))
}
