//! The application state: pools, keys, clients. Only `startup` builds it;
//! handlers reach it through `web::Data<AppState>` and hand domain
//! functions only the narrow context they use ([`AppState::lifecycle`],
//! [`AppState::sync`]), never the state itself.

use std::sync::Arc;

use chrono::Utc;

use crate::kv::Kv;
use crate::settings::Settings;
use crate::store::Db;
use crate::vault::Vault;

/// What every handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub kv: Kv,
    pub vault: Vault,
    /// Lifecycle keys, the first signs answers (spec §3).
    pub access_keys: Vec<String>,
    /// Kit keys, the first signs Kit answers.
    pub kit_access_keys: Vec<String>,
    /// Opens applicationSync client secrets (`marketplace.rsa_private_key_file`).
    pub rsa_key: Option<rsa::RsaPrivateKey>,
    /// The outbox's client (the vendor's webhook), pooled; never follows
    /// redirects.
    pub http: reqwest::Client,
    /// The client for tenants' auth centres: answers capped in size and
    /// time, no inside addresses (see [`crate::outbound`]).
    pub auth_centres: crate::outbound::AuthCentreHttp,
    /// Connects to `upstream.url`; each worker pools its own connections
    /// (see [`crate::gate::upstream::WorkerClient`]).
    pub upstream_connector: crate::gate::upstream::Connector,
    /// Turns for reading and checking large marketplace bodies (see
    /// [`crate::inbound::large_body_turn`]).
    pub large_bodies: tokio::sync::Semaphore,
    /// Signs the identity handed upstream.
    pub identity: crate::gate::identity::Keys,
    pub revocations: crate::access::revoke::Revocations,
    /// Which tenants sign in with OpenID Connect, and their providers.
    pub oidc: crate::sso::oidc::Discoveries,
    /// The user-facing page templates.
    pub pages: crate::ui::Pages,
    /// Events for the vendor's app (`upstream.webhook_url`); shared with
    /// this replica's relay.
    pub outbox: Arc<crate::outbox::Outbox>,
    /// The marketplace's seller Open API; `None` without AK/SK.
    pub open_api: Option<Arc<crate::open_api::client::OpenApi>>,
    /// Writes the records of calls refused before they authenticated, in
    /// batches (see [`crate::inbound::refused`]).
    pub refused: crate::inbound::RefusedLog,
    /// Records sign-in attempts (see [`crate::sso::sign_ins`]).
    pub sign_ins: crate::sso::sign_ins::SignInLog,
}

impl AppState {
    /// What a lifecycle call may use, on the clock of its start.
    pub fn lifecycle(&self) -> crate::lifecycle::Ctx<'_> {
        crate::lifecycle::Ctx {
            db: &self.db,
            outbox: &self.outbox,
            vault: &self.vault,
            provisioning: &self.settings.provisioning,
            access_key: self.access_keys.first().map(String::as_str),
            encrypt_type: &self.settings.marketplace.encrypt_type,
            fetch_orders: self.open_api.is_some(),
            now: Utc::now(),
        }
    }

    /// What a Kit call may use, on the clock of its start.
    pub fn sync(&self) -> crate::sync::Ctx<'_> {
        crate::sync::Ctx {
            db: &self.db,
            outbox: &self.outbox,
            vault: &self.vault,
            rsa_key: self.rsa_key.as_ref(),
            now: Utc::now(),
        }
    }
}
