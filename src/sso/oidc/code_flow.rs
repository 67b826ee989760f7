//! The OpenID Connect code flow with one tenant's provider: authorization
//! code with PKCE and a nonce, the ID token verified by the `openidconnect`
//! crate (signature against the provider's JWKS, `iss`, `aud`, `exp`,
//! `nonce`).

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreUserInfoClaims};
use openidconnect::{
    AccessToken, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::discovery::Provider;
use crate::error::Error;
use crate::outbound::AuthCentreHttp;
use crate::sso::auth_centre::{AuthCentreError, Tokens};
use crate::sso::token_hash;

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
        http: &AuthCentreHttp,
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
        http: &AuthCentreHttp,
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
