//! Which sign-in dialect a tenant speaks: chosen per tenant by an operator
//! (`PUT /admin/api/tenants/{tenantId}/sign-in`, the tenant page), else
//! `sso.dialect`; `auto` detects KooGallery or OpenID Connect as before.

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::settings::SsoSettings;
use crate::store;
use entity::{tenant, tenant_sign_in};

/// The sign-in dialects koogate speaks (spec §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignInDialect {
    /// OpenID Connect when the tenant's domain serves discovery, else
    /// KooGallery.
    Auto,
    /// The KooGallery auth centre's OAuth2.
    #[serde(rename = "koogallery")]
    KooGallery,
    /// OpenID Connect, discovered at the tenant's base URL.
    Oidc,
    /// Huawei OrgID's OAuth2.
    #[serde(rename = "orgid")]
    OrgId,
    /// CAS 3.0, as the aPaaS workbench starts it.
    Cas,
}

impl SignInDialect {
    pub const ALL: [SignInDialect; 5] = [
        SignInDialect::Auto,
        SignInDialect::KooGallery,
        SignInDialect::Oidc,
        SignInDialect::OrgId,
        SignInDialect::Cas,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignInDialect::Auto => "auto",
            SignInDialect::KooGallery => "koogallery",
            SignInDialect::Oidc => "oidc",
            SignInDialect::OrgId => "orgid",
            SignInDialect::Cas => "cas",
        }
    }

    pub fn parse(value: &str) -> Option<SignInDialect> {
        SignInDialect::ALL.into_iter().find(|d| d.as_str() == value)
    }
}

/// A tenant's sign-in as configured: its dialect and, when set, the base
/// URL of its auth centre (else its `domainName`, or for OrgID
/// `sso.orgid_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub dialect: SignInDialect,
    pub base_url: Option<String>,
    /// Whether an operator chose it for this tenant (rather than the
    /// site's `sso.dialect`).
    pub per_tenant: bool,
}

impl Choice {
    /// Where the tenant's auth centre answers for this choice.
    pub fn base(&self, settings: &SsoSettings, tenant: &tenant::Model) -> String {
        let orgid = match self.dialect {
            SignInDialect::OrgId => Some(settings.orgid_url.as_str()).filter(|u| !u.is_empty()),
            _ => None,
        };
        let base = self.base_url.as_deref().or(orgid).unwrap_or(&tenant.domain_name);
        base.trim_end_matches('/').to_string()
    }
}

/// The tenant's choice, or the site's.
pub async fn of_tenant(
    conn: &impl ConnectionTrait,
    settings: &SsoSettings,
    tenant_id: &str,
) -> Result<Choice, Error> {
    let site = || Choice { dialect: settings.dialect, base_url: None, per_tenant: false };
    let Some(row) = store::tenant_sign_ins::find(conn, tenant_id).await? else {
        return Ok(site());
    };
    match SignInDialect::parse(&row.dialect) {
        Some(dialect) => Ok(Choice { dialect, base_url: row.base_url, per_tenant: true }),
        None => Err(Error::Internal(format!(
            "tenant {tenant_id} has an unknown sign-in dialect stored: {}",
            row.dialect
        ))),
    }
}

/// Checks an operator's choice: a known dialect, and a base URL (when
/// given) that is an absolute http(s) URL without query or fragment.
/// Nothing is written when it is refused.
pub fn parse_choice(dialect: &str, base_url: Option<&str>) -> Result<Choice, Error> {
    let dialect = SignInDialect::parse(dialect.trim()).ok_or_else(|| {
        Error::invalid("dialect must be auto, koogallery, oidc, orgid or cas".to_string())
    })?;
    let base_url = base_url.map(str::trim).filter(|u| !u.is_empty());
    if let Some(url) = base_url {
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| Error::invalid("baseUrl must be an absolute http or https URL"))?;
        let usable = matches!(parsed.scheme(), "http" | "https")
            && parsed.host_str().is_some()
            && parsed.query().is_none()
            && parsed.fragment().is_none()
            && parsed.username().is_empty()
            && parsed.password().is_none();
        if !usable {
            return Err(Error::invalid(
                "baseUrl must be an absolute http or https URL without credentials, query or fragment",
            ));
        }
    }
    Ok(Choice {
        dialect,
        base_url: base_url.map(|u| u.trim_end_matches('/').to_string()),
        per_tenant: true,
    })
}

/// Stores an operator's choice for a tenant.
pub async fn set(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    choice: &Choice,
) -> Result<(), Error> {
    store::tenant_sign_ins::set(
        conn,
        tenant_sign_in::Model {
            tenant_id: tenant_id.to_string(),
            dialect: choice.dialect.as_str().to_string(),
            base_url: choice.base_url.clone(),
            updated_at: Utc::now().timestamp_millis(),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_reads_back_as_itself() {
        for dialect in SignInDialect::ALL {
            assert_eq!(SignInDialect::parse(dialect.as_str()), Some(dialect));
            let json = serde_json::to_string(&dialect).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", dialect.as_str()));
        }
        assert_eq!(SignInDialect::parse("saml"), None);
    }

    #[test]
    fn a_base_url_must_be_a_plain_web_address() {
        assert!(parse_choice("cas", Some("https://apaas.example.com/")).is_ok());
        assert_eq!(
            parse_choice("cas", Some("https://apaas.example.com/")).ok().and_then(|c| c.base_url),
            Some("https://apaas.example.com".to_string())
        );
        for bad in
            ["ftp://x.example", "not a url", "https://u:p@x.example", "https://x.example/?a=1"]
        {
            assert!(parse_choice("cas", Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_choice("saml", None).is_err());
    }
}
