//! The settings' sections, one typed struct each, as `koogate.toml` and the
//! `KOOGATE__SECTION__KEY` variables spell them (ARCHITECTURE §3).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// How long the event log keeps calls; 0 keeps them for ever.
#[derive(Debug, Clone, Deserialize)]
pub struct EventsSettings {
    /// Calls that authenticated (and operators' actions).
    pub retention_days: u32,
    /// Calls refused before they authenticated (forged, stale, unsigned).
    pub refused_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    /// Peers whose `X-Forwarded-*` headers the gate believes.
    pub trusted_proxies: crate::gate::forwarded::TrustedProxies,
    /// The longest a request body to koogate's own routes may take.
    pub body_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub migrate_on_start: bool,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub url: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MarketplaceSettings {
    pub path: String,
    pub access_key: SecretString,
    pub kit_access_key: SecretString,
    pub rsa_private_key_file: String,
    pub timestamp_tolerance_secs: u64,
    pub v1_timestamp_tolerance_secs: u64,
    pub encrypt_type: String,
    pub max_kit_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProvisioningSettings {
    pub front_end_url: String,
    pub admin_url: String,
    pub local_accounts: bool,
    /// Live (not released) production instances allowed; 0 = no limit.
    /// Beyond it newInstance answers `000100`.
    pub max_instances: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    pub master_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SsoSettings {
    pub mode: String,
    pub unified_login_url: String,
    pub session_ttl_secs: u64,
    pub idle_ttl_secs: u64,
    pub cookie_secure: Option<bool>,
    pub after_login_path: String,
    /// Every tenant's sign-in dialect unless an operator chose another.
    pub dialect: crate::sso::dialects::SignInDialect,
    /// The OrgID host of the site: `orgid` tenants' base URL unless
    /// their own is set.
    pub orgid_url: String,
    /// Auth centres may live on loopback, private or link-local addresses
    /// (tests, `koogate sim`); off in a real deployment (see `outbound`).
    pub allow_private_auth_centres: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamSettings {
    pub url: String,
    pub webhook_url: String,
    pub webhook_secret: SecretString,
    pub api_token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    pub username: String,
    pub password_hash: SecretString,
    pub api_token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// When set, `/metrics` needs `Authorization: Bearer` with it.
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
}

/// What end-user pages speak and show (README "Pages and languages").
#[derive(Debug, Clone, Deserialize)]
pub struct UiSettings {
    /// `zh-CN` or `en`: when the browser states no language we speak.
    pub default_language: String,
    pub vendor_name: String,
    /// An e-mail address or a URL, shown on refusal pages.
    pub support_contact: String,
    pub logo_url: String,
    /// An IANA zone name: how the admin site shows times (APIs stay UTC).
    pub time_zone: String,
}

/// The outbox relay's clock (see `crate::outbox::relay`). The defaults are
/// the product's behaviour; these keys are deliberately left out of the
/// README so that tests can shorten them without making them a contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxTuning {
    /// First retry delay; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay.
    pub retry_cap_ms: u64,
    /// Retries stop this long after the event was created (or redelivered).
    pub give_up_after_ms: u64,
    /// How long a claimed event stays with the relay that claimed it.
    pub lease_ms: u64,
    /// One delivery attempt's HTTP timeout; must be well inside the lease.
    pub timeout_ms: u64,
    /// How often an idle relay looks for due events.
    pub poll_ms: u64,
}

impl Default for OutboxTuning {
    fn default() -> Self {
        OutboxTuning {
            retry_base_ms: 1_000,
            retry_cap_ms: 3_600_000,
            give_up_after_ms: 24 * 3_600_000,
            lease_ms: 30_000,
            timeout_ms: 5_000,
            poll_ms: 1_000,
        }
    }
}

/// Which marketplace site the seller Open API is called on (research
/// open-api-and-apig-signing.md §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Site {
    Cn,
    Intl,
    Eu,
}

/// The seller Open API (protocol §9). Without both keys koogate makes no
/// call to the marketplace and works as it always did.
#[derive(Debug, Clone, Deserialize)]
pub struct OpenApiSettings {
    pub site: Site,
    pub base_url: String,
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub max_requests_per_sec: u32,
    pub reconcile_interval_secs: u64,
    /// Undocumented, not a contract: one call's timeout.
    #[serde(default = "default_open_api_timeout_ms")]
    pub timeout_ms: u64,
    /// Undocumented, not a contract: first retry delay, doubling.
    #[serde(default = "default_open_api_retry_base_ms")]
    pub retry_base_ms: u64,
    /// Undocumented, not a contract: how often an idle fetcher looks for work.
    #[serde(default = "default_open_api_poll_ms")]
    pub poll_ms: u64,
}

fn default_open_api_timeout_ms() -> u64 {
    10_000
}

fn default_open_api_retry_base_ms() -> u64 {
    1_000
}

fn default_open_api_poll_ms() -> u64 {
    1_000
}

impl OpenApiSettings {
    /// Both keys given: the Open API is on.
    pub fn enabled(&self) -> bool {
        !self.access_key_id.expose_secret().is_empty()
            && !self.secret_access_key.expose_secret().is_empty()
    }

    /// The hosts to call, in order: `base_url` alone when set, else the
    /// site's host; China's has a documented fallback on `.cn`.
    pub fn base_urls(&self) -> Vec<String> {
        let base = self.base_url.trim().trim_end_matches('/');
        if !base.is_empty() {
            return vec![base.to_string()];
        }
        let hosts: &[&str] = match self.site {
            Site::Cn => &["https://mkt.myhuaweicloud.com", "https://mkt.myhuaweicloud.cn"],
            Site::Intl => &["https://mkt-intl.myhuaweicloud.com"],
            Site::Eu => &["https://mkt.myhuaweicloud.eu"],
        };
        hosts.iter().map(|h| h.to_string()).collect()
    }
}
