//! Huawei OrgID (spec §7): OAuth2 at `/orgid/openapi/v1/oauth2/*` on the
//! site's OrgID host, userinfo with `X-OrgID-Authorization: Bearer`, and
//! snake_case fields. Its answers are read here rather than by the
//! `oauth2` crate so that every field is accepted in both spellings
//! (snake_case and camelCase) and numbers also as strings.

use crate::outbound::AuthCentreHttp;
use oauth2::PkceCodeChallenge;
use serde::{Deserialize, Deserializer};

use crate::sso::auth_centre::{AuthCentreError, Tokens, UserInfo};

const PREFIX: &str = "/orgid/openapi/v1/oauth2";
/// What a token answer without `expires_in` is taken to last (spec §7).
const DEFAULT_LIFETIME_SECS: u64 = 7200;

/// The authorize address (code flow, `state`, S256 PKCE) and the verifier
/// to keep.
pub fn authorize_url(
    base: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "get_user_info")
        .append_pair("state", state)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    (
        format!("{}{PREFIX}/authorize?{query}", base.trim_end_matches('/')),
        verifier.secret().to_string(),
    )
}

/// One tenant's OrgID client.
pub struct OrgIdClient {
    base: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
}

/// A token answer, in either spelling.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(alias = "accessToken")]
    access_token: Option<String>,
    #[serde(alias = "refreshToken")]
    refresh_token: Option<String>,
    #[serde(default, alias = "expiresIn", deserialize_with = "number_or_string")]
    expires_in: Option<u64>,
    error: Option<String>,
    #[serde(alias = "errorCode")]
    error_code: Option<serde_json::Value>,
}

/// A number, or a string holding one (`"7200"`).
fn number_or_string<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(de)?;
    Ok(match value {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

impl OrgIdClient {
    pub fn new(
        base: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> OrgIdClient {
        OrgIdClient {
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            redirect_uri: redirect_uri.to_string(),
        }
    }

    /// Redeems a code (with the PKCE verifier when koogate started the
    /// sign-in); `access_type=offline` asks for a refresh token.
    pub async fn exchange(
        &self,
        http: &AuthCentreHttp,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, AuthCentreError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("redirect_uri", &self.redirect_uri),
            ("access_type", "offline"),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token(http, &form, None).await
    }

    /// A new access token for a refresh token.
    pub async fn refresh(
        &self,
        http: &AuthCentreHttp,
        refresh_token: &str,
    ) -> Result<Tokens, AuthCentreError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ];
        self.token(http, &form, Some(refresh_token)).await
    }

    async fn token(
        &self,
        http: &AuthCentreHttp,
        form: &[(&str, &str)],
        kept_refresh: Option<&str>,
    ) -> Result<Tokens, AuthCentreError> {
        let response = http
            .post(&format!("{}{PREFIX}/token", self.base))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| AuthCentreError::Unreachable(e.to_string()))?;
        let status = response.status;
        let answer: TokenAnswer = response.json().map_err(|_| {
            AuthCentreError::Unreachable(format!("the token endpoint answered {status}, not JSON"))
        })?;
        let refused =
            answer.error.clone().or_else(|| answer.error_code.as_ref().map(|c| c.to_string()));
        match (answer.access_token, refused) {
            (Some(access_token), None) if status.is_success() => Ok(Tokens {
                access_token,
                refresh_token: answer.refresh_token.or_else(|| kept_refresh.map(str::to_string)),
                expires_in_secs: answer.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS),
            }),
            (_, Some(why)) if status.is_client_error() || status.is_success() => {
                Err(AuthCentreError::Refused(why))
            }
            (_, why) => Err(AuthCentreError::Unreachable(format!(
                "the token endpoint answered {status} ({})",
                why.unwrap_or_default()
            ))),
        }
    }

    /// Who the access token belongs to.
    pub async fn user_info(
        &self,
        http: &AuthCentreHttp,
        access_token: &str,
    ) -> Result<UserInfo, AuthCentreError> {
        user_info(http, &self.base, access_token).await
    }
}

/// `GET {base}/orgid/openapi/v1/oauth2/userinfo` with the OrgID header
/// (CAS for an OrgID tenant reads it with the ticket's `token`).
pub async fn user_info(
    http: &AuthCentreHttp,
    base: &str,
    access_token: &str,
) -> Result<UserInfo, AuthCentreError> {
    let response = http
        .get(&format!("{}{PREFIX}/userinfo", base.trim_end_matches('/')))
        .header("X-OrgID-Authorization", &format!("Bearer {access_token}"))
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| AuthCentreError::Unreachable(e.to_string()))?;
    if !response.status.is_success() {
        return Err(AuthCentreError::Refused(format!("userinfo answered {}", response.status)));
    }
    response
        .json::<UserInfo>()
        .map_err(|_| AuthCentreError::Unreachable("userinfo is not the expected JSON".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_in_either_spelling() {
        let snake: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"a","refresh_token":"r","expires_in":"3600"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let camel: TokenAnswer =
            serde_json::from_str(r#"{"accessToken":"a","refreshToken":"r","expiresIn":3600}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        for answer in [snake, camel] {
            assert_eq!(answer.access_token.as_deref(), Some("a"));
            assert_eq!(answer.refresh_token.as_deref(), Some("r"));
            assert_eq!(answer.expires_in, Some(3600));
        }
    }

    #[test]
    fn userinfo_is_read_in_either_spelling() {
        for body in [
            r#"{"user_name":"u","organization_code":"D1","tenant":"t","tenant_name":"T"}"#,
            r#"{"userName":"u","organizationCode":"D1","tenant":"t"}"#,
        ] {
            let info: UserInfo = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(info.user_name, "u");
            assert_eq!(info.organization_code.as_deref(), Some("D1"));
            assert_eq!(info.tenant.as_deref(), Some("t"));
        }
    }
}
