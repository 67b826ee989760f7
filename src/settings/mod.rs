//! Typed settings: built-in defaults, then `koogate.toml` (or `--config`),
//! then `KOOGATE__SECTION__KEY` environment variables; any secret may come
//! from a file named by `…_FILE`. The keys are a published contract
//! (ARCHITECTURE §3): change them only on purpose.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::error::Error;

mod sections;

pub use sections::*;

/// Every setting koogate knows, as `section.key`. Used to warn about
/// misspelt environment variables and to resolve `…_FILE` secrets.
const KNOWN_KEYS: &[&str] = &[
    "server.bind",
    "server.public_url",
    "server.trusted_proxies",
    "server.body_timeout_secs",
    "database.url",
    "database.migrate_on_start",
    "database.max_connections",
    "redis.url",
    "marketplace.path",
    "marketplace.access_key",
    "marketplace.kit_access_key",
    "marketplace.rsa_private_key_file",
    "marketplace.timestamp_tolerance_secs",
    "marketplace.v1_timestamp_tolerance_secs",
    "marketplace.encrypt_type",
    "marketplace.max_kit_body_bytes",
    "provisioning.front_end_url",
    "provisioning.admin_url",
    "provisioning.local_accounts",
    "provisioning.max_instances",
    "security.master_key",
    "sso.mode",
    "sso.unified_login_url",
    "sso.session_ttl_secs",
    "sso.idle_ttl_secs",
    "sso.cookie_secure",
    "sso.after_login_path",
    "sso.dialect",
    "sso.orgid_url",
    "sso.allow_private_auth_centres",
    "upstream.url",
    "upstream.webhook_url",
    "upstream.webhook_secret",
    "upstream.api_token",
    "admin.username",
    "admin.password_hash",
    "admin.api_token",
    "log.format",
    "ui.default_language",
    "ui.vendor_name",
    "ui.support_contact",
    "ui.logo_url",
    "ui.time_zone",
    "events.retention_days",
    "events.refused_retention_days",
    "metrics.token",
    // Undocumented: the outbox's clock, shortened by tests.
    "outbox.retry_base_ms",
    "outbox.retry_cap_ms",
    "outbox.give_up_after_ms",
    "outbox.lease_ms",
    "outbox.timeout_ms",
    "outbox.poll_ms",
    "open_api.site",
    "open_api.base_url",
    "open_api.access_key_id",
    "open_api.secret_access_key",
    "open_api.max_requests_per_sec",
    "open_api.reconcile_interval_secs",
    // Undocumented: the Open API client's clock, shortened by tests.
    "open_api.timeout_ms",
    "open_api.retry_base_ms",
    "open_api.poll_ms",
];

/// The settings whose values are secrets: they may be given as `key_file`
/// (a path) instead, and never appear in `Debug` output.
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "redis.url",
    "marketplace.access_key",
    "marketplace.kit_access_key",
    "security.master_key",
    "upstream.webhook_secret",
    "upstream.api_token",
    "admin.password_hash",
    "admin.api_token",
    "open_api.access_key_id",
    "open_api.secret_access_key",
    "metrics.token",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub marketplace: MarketplaceSettings,
    pub provisioning: ProvisioningSettings,
    pub security: SecuritySettings,
    pub sso: SsoSettings,
    pub upstream: UpstreamSettings,
    pub admin: AdminSettings,
    pub log: LogSettings,
    pub ui: UiSettings,
    pub events: EventsSettings,
    pub metrics: MetricsSettings,
    /// Undocumented, not a contract: tests shorten the outbox's clock.
    #[serde(default)]
    pub outbox: OutboxTuning,
    pub open_api: OpenApiSettings,
}

/// Where settings come from. `serve` reads the environment; tests pass
/// overrides and leave the environment alone so parallel tests cannot
/// disturb each other.
#[derive(Debug, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub read_env: bool,
    pub overrides: Vec<(String, String)>,
}

impl Settings {
    /// Builds the settings from defaults, the file, the environment and
    /// overrides, in that order. Returns the names of unknown `KOOGATE__*`
    /// variables beside them so the caller can warn once logging is up.
    pub fn load(sources: &Sources) -> Result<(Settings, Vec<String>), Error> {
        let mut builder = config::Config::builder();
        for (key, value) in DEFAULTS {
            builder =
                builder.set_default(*key, *value).map_err(|e| Error::Config(e.to_string()))?;
        }
        let file = sources.file.clone().or_else(|| sources.read_env.then(default_file).flatten());
        if let Some(path) = &file {
            builder = builder.add_source(config::File::from(path.as_path()).required(true));
        }
        let mut unknown = Vec::new();
        if sources.read_env {
            builder = builder.add_source(
                config::Environment::with_prefix("KOOGATE").prefix_separator("__").separator("__"),
            );
            for (name, value) in std::env::vars() {
                let Some(key) = env_key(&name) else { continue };
                if let Some(secret_key) = key.strip_suffix("_file") {
                    if SECRET_KEYS.contains(&secret_key) {
                        let content = read_secret_file(Path::new(&value), secret_key)?;
                        builder = builder
                            .set_override(secret_key, content)
                            .map_err(|e| Error::Config(e.to_string()))?;
                        continue;
                    }
                }
                if !KNOWN_KEYS.contains(&key.as_str()) && name != "KOOGATE_CONFIG" {
                    unknown.push(name);
                }
            }
        }
        for (key, value) in &sources.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| Error::Config(e.to_string()))?;
        }
        let raw = builder.build().map_err(|e| Error::Config(e.to_string()))?;
        // `key_file` entries in the TOML file name secret files too.
        let mut resolved = config::Config::builder().add_source(raw.clone());
        for key in SECRET_KEYS {
            if let Ok(path) = raw.get_string(&format!("{key}_file")) {
                if !path.is_empty() {
                    let content = read_secret_file(Path::new(&path), key)?;
                    resolved = resolved
                        .set_override(*key, content)
                        .map_err(|e| Error::Config(e.to_string()))?;
                }
            }
        }
        let mut settings: Settings = resolved
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| Error::Config(e.to_string()))?;
        settings.fill_derived_defaults();
        settings.validate()?;
        Ok((settings, unknown))
    }

    /// Defaults that depend on other settings.
    fn fill_derived_defaults(&mut self) {
        if self.marketplace.kit_access_key.expose_secret().is_empty() {
            self.marketplace.kit_access_key = self.marketplace.access_key.clone();
        }
        if self.provisioning.front_end_url.is_empty() {
            self.provisioning.front_end_url = format!(
                "{}/sso/login?instance={{instanceId}}",
                self.server.public_url.trim_end_matches('/')
            );
        }
        if self.sso.cookie_secure.is_none() {
            self.sso.cookie_secure = Some(!self.server.public_url.starts_with("http://"));
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if !self.marketplace.path.starts_with('/') {
            return Err(Error::Config("marketplace.path must start with '/'".to_string()));
        }
        if !matches!(self.marketplace.encrypt_type.as_str(), "1" | "2") {
            return Err(Error::Config(
                "marketplace.encrypt_type must be 1 (AES-256) or 2 (AES-128)".to_string(),
            ));
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            return Err(Error::Config("log.format must be pretty or json".to_string()));
        }
        if crate::ui::Lang::parse(&self.ui.default_language).is_none() {
            return Err(Error::Config("ui.default_language must be zh-CN or en".to_string()));
        }
        if crate::ui::time::zone(&self.ui.time_zone).is_none() {
            return Err(Error::Config(
                "ui.time_zone must be an IANA time zone name such as Asia/Shanghai or UTC"
                    .to_string(),
            ));
        }
        if !matches!(self.sso.mode.as_str(), "authorize" | "unified") {
            return Err(Error::Config("sso.mode must be authorize or unified".to_string()));
        }
        if !self.sso.orgid_url.is_empty()
            && crate::sso::dialects::parse_choice("orgid", Some(&self.sso.orgid_url)).is_err()
        {
            return Err(Error::Config(
                "sso.orgid_url must be an absolute http or https URL".to_string(),
            ));
        }
        if !self.upstream.webhook_url.is_empty()
            && self.upstream.webhook_secret.expose_secret().is_empty()
        {
            return Err(Error::Config(
                "upstream.webhook_secret is required when upstream.webhook_url is set".to_string(),
            ));
        }
        if self.outbox.timeout_ms.saturating_mul(2) > self.outbox.lease_ms {
            // A lease shorter than the attempt would let a second relay
            // deliver while the first is still waiting for its answer.
            return Err(Error::Config(
                "outbox.lease_ms must be at least twice outbox.timeout_ms".to_string(),
            ));
        }
        self.validate_open_api()
    }

    fn validate_open_api(&self) -> Result<(), Error> {
        let open_api = &self.open_api;
        let ak = open_api.access_key_id.expose_secret().is_empty();
        let sk = open_api.secret_access_key.expose_secret().is_empty();
        if ak != sk {
            return Err(Error::Config(
                "open_api.access_key_id and open_api.secret_access_key go together".to_string(),
            ));
        }
        if open_api.max_requests_per_sec == 0 {
            return Err(Error::Config(
                "open_api.max_requests_per_sec must be at least 1".to_string(),
            ));
        }
        let base = open_api.base_url.trim();
        if !base.is_empty() && reqwest::Url::parse(base).is_err() {
            return Err(Error::Config("open_api.base_url is not a URL".to_string()));
        }
        Ok(())
    }

    /// The lifecycle access keys, first one signs answers.
    pub fn access_keys(&self) -> Vec<String> {
        split_keys(self.marketplace.access_key.expose_secret())
    }

    /// The Kit (sync) access keys, first one signs answers.
    pub fn kit_access_keys(&self) -> Vec<String> {
        split_keys(self.marketplace.kit_access_key.expose_secret())
    }

    pub fn is_postgres(&self) -> bool {
        self.database.url.expose_secret().starts_with("postgres")
    }
}

const DEFAULTS: &[(&str, &str)] = &[
    ("server.bind", "127.0.0.1:8080"),
    ("server.public_url", "http://127.0.0.1:8080"),
    ("server.trusted_proxies", ""),
    ("server.body_timeout_secs", "30"),
    ("database.url", "sqlite://koogate.db?mode=rwc"),
    ("database.migrate_on_start", "true"),
    ("database.max_connections", "16"),
    ("redis.url", ""),
    ("marketplace.path", "/koogallery"),
    ("marketplace.access_key", ""),
    ("marketplace.kit_access_key", ""),
    ("marketplace.rsa_private_key_file", ""),
    ("marketplace.timestamp_tolerance_secs", "60"),
    ("marketplace.v1_timestamp_tolerance_secs", "300"),
    ("marketplace.encrypt_type", "1"),
    ("marketplace.max_kit_body_bytes", "8388608"),
    ("provisioning.front_end_url", ""),
    ("provisioning.admin_url", ""),
    ("provisioning.local_accounts", "false"),
    ("provisioning.max_instances", "0"),
    ("security.master_key", ""),
    ("sso.mode", "authorize"),
    (
        "sso.unified_login_url",
        "https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={appId}",
    ),
    ("sso.session_ttl_secs", "28800"),
    ("sso.idle_ttl_secs", "1800"),
    ("sso.after_login_path", "/"),
    ("sso.dialect", "auto"),
    ("sso.orgid_url", ""),
    ("sso.allow_private_auth_centres", "false"),
    ("upstream.url", ""),
    ("upstream.webhook_url", ""),
    ("upstream.webhook_secret", ""),
    ("upstream.api_token", ""),
    ("admin.username", "admin"),
    ("admin.password_hash", ""),
    ("admin.api_token", ""),
    ("log.format", "pretty"),
    ("ui.default_language", "zh-CN"),
    ("ui.vendor_name", ""),
    ("ui.support_contact", ""),
    ("ui.logo_url", ""),
    ("ui.time_zone", "Asia/Shanghai"),
    ("open_api.site", "cn"),
    ("open_api.base_url", ""),
    ("open_api.access_key_id", ""),
    ("open_api.secret_access_key", ""),
    ("open_api.max_requests_per_sec", "10"),
    ("open_api.reconcile_interval_secs", "86400"),
    ("events.retention_days", "400"),
    ("events.refused_retention_days", "7"),
    ("metrics.token", ""),
];

fn default_file() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("KOOGATE_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from("koogate.toml");
    local.exists().then_some(local)
}

/// `KOOGATE__MARKETPLACE__ACCESS_KEY` -> `marketplace.access_key`.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("KOOGATE__")?;
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

fn read_secret_file(path: &Path, key: &str) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::Config(format!("cannot read the file for {key}: {e}")))
}

fn split_keys(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests;
