//! Talking to a tenant's auth centre (spec §7): token exchange with PKCE
//! and `client_secret_post`, userinfo, logout address.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::error::Error;
use crate::outbound::AuthCentreHttp;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// One tenant's OAuth client, as the syncs delivered it.
pub struct TenantClient {
    client: Client,
    domain: String,
}

/// Where a tenant's client authorizes and redeems, and how it
/// authenticates at the token endpoint.
pub struct Endpoints {
    pub auth_url: String,
    pub token_url: String,
    pub auth_type: AuthType,
}

impl Endpoints {
    /// The KooGallery dialect's (spec §7): `client_secret_post`.
    pub fn koogallery(domain: &str) -> Endpoints {
        let domain = domain.trim_end_matches('/');
        Endpoints {
            auth_url: format!("{domain}/api/v1/oauth2/authorize"),
            token_url: format!("{domain}/api/v1/oauth2/token"),
            auth_type: AuthType::RequestBody,
        }
    }
}

/// Tokens from a successful exchange.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in_secs: u64,
}

/// The userinfo fields koogate uses; only `userName` must be there. Each
/// is read in camelCase (KooGallery) or snake_case (OrgID).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    #[serde(alias = "user_name")]
    pub user_name: String,
    pub name: Option<String>,
    pub email: Option<String>,
    #[serde(alias = "organization_code")]
    pub organization_code: Option<String>,
    /// The tenant the user belongs to, when the auth centre says.
    pub tenant: Option<String>,
}

/// Why a sign-in failed at the auth centre.
#[derive(Debug)]
pub enum AuthCentreError {
    /// The auth centre refused (invalid_grant, invalid_client, …).
    Refused(String),
    /// It could not be reached or answered nonsense.
    Unreachable(String),
    /// OIDC: the ID token (or userinfo) failed verification.
    BadIdToken(String),
    /// OIDC: the ID token carries another sign-in's nonce (an injected code).
    WrongNonce,
}

impl TenantClient {
    pub fn new(
        domain: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<TenantClient, Error> {
        TenantClient::at(
            domain,
            Endpoints::koogallery(domain),
            client_id,
            client_secret,
            redirect_uri,
        )
    }

    /// A client for other endpoints: those an OpenID provider announced
    /// (its refreshes are plain OAuth2).
    pub fn at(
        domain: &str,
        endpoints: Endpoints,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<TenantClient, Error> {
        let bad = |what: &str| Error::Config(format!("the tenant's {what} is not a URL"));
        let client = BasicClient::new(ClientId::new(client_id.to_string()))
            .set_client_secret(ClientSecret::new(client_secret.to_string()))
            .set_auth_uri(AuthUrl::new(endpoints.auth_url).map_err(|_| bad("domainName"))?)
            .set_token_uri(TokenUrl::new(endpoints.token_url).map_err(|_| bad("domainName"))?)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_string()).map_err(|_| bad("redirect URI"))?,
            )
            .set_auth_type(endpoints.auth_type);
        Ok(TenantClient { client, domain: domain.trim_end_matches('/').to_string() })
    }

    /// The authorize address with `state` and an S256 PKCE challenge;
    /// returns it and the verifier to keep.
    pub fn authorize_url(&self, state: &str) -> (String, String) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_string();
        let (url, _) = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scope(Scope::new("get_user_info".to_string()))
            .set_pkce_challenge(challenge)
            .url();
        (url.to_string(), verifier.secret().to_string())
    }

    pub async fn exchange(
        &self,
        http: &AuthCentreHttp,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, AuthCentreError> {
        let mut request = self.client.exchange_code(AuthorizationCode::new(code.to_string()));
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
        }
        let response = request.request_async(http).await.map_err(token_error)?;
        Ok(tokens(&response, None))
    }

    /// A new access token for a refresh token (spec §7 step 6).
    pub async fn refresh(
        &self,
        http: &AuthCentreHttp,
        refresh_token: &str,
    ) -> Result<Tokens, AuthCentreError> {
        let response = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
            .request_async(http)
            .await
            .map_err(token_error)?;
        // Some auth centres rotate the refresh token, others keep it.
        Ok(tokens(&response, Some(refresh_token)))
    }

    pub async fn user_info(
        &self,
        http: &AuthCentreHttp,
        access_token: &str,
    ) -> Result<UserInfo, AuthCentreError> {
        let answer = http
            .get(&format!("{}/api/v1/oauth2/userinfo", self.domain))
            .bearer_auth(access_token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| AuthCentreError::Unreachable(e.to_string()))?;
        if !answer.status.is_success() {
            return Err(AuthCentreError::Refused(format!("userinfo answered {}", answer.status)));
        }
        answer.json::<UserInfo>().map_err(|_| {
            AuthCentreError::Unreachable("userinfo is not the expected JSON".to_string())
        })
    }

    /// Where the browser goes to end its auth-centre session.
    pub fn logout_url(domain: &str, redirect_url: &str) -> String {
        let target: String = form_urlencoded::byte_serialize(redirect_url.as_bytes()).collect();
        format!("{}/api/v1/logout?redirect_url={target}", domain.trim_end_matches('/'))
    }
}

fn token_error<E: std::error::Error + 'static>(
    err: oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> AuthCentreError {
    match err {
        oauth2::RequestTokenError::ServerResponse(r) => {
            AuthCentreError::Refused(r.error().to_string())
        }
        other => AuthCentreError::Unreachable(other.to_string()),
    }
}

fn tokens(response: &oauth2::basic::BasicTokenResponse, kept_refresh: Option<&str>) -> Tokens {
    Tokens {
        access_token: response.access_token().secret().to_string(),
        refresh_token: response
            .refresh_token()
            .map(|t| t.secret().to_string())
            .or_else(|| kept_refresh.map(str::to_string)),
        expires_in_secs: response.expires_in().map_or(7200, |d| d.as_secs()),
    }
}
