//! A tenant's auth centre, in-process on port 0, in any sign-in dialect
//! the stand-in speaks: `koogate sim auth-centre` itself
//! (src/sim/auth_centre/), with the knobs the sign-in tests turn and what
//! it was sent.

use std::net::TcpListener;

use koogate::sim::auth_centre::{self as sim, Config, Controls};
use serde_json::{json, Value};

pub use koogate::sim::auth_centre::{s256, Calls, Params, SimDialect};

/// A running auth centre; its `base_url` is the tenant's `domainName`.
pub struct AuthCentre {
    pub base_url: String,
    pub dialect: SimDialect,
    pub client_id: String,
    pub client_secret: String,
    controls: Controls,
}

impl AuthCentre {
    /// Starts a KooGallery auth centre that knows one OAuth client and no
    /// account; nobody signs in until [`AuthCentre::signs_in`] chooses who.
    pub fn start(client_id: &str, client_secret: &str) -> AuthCentre {
        AuthCentre::speaking(SimDialect::KooGallery, client_id, client_secret)
    }

    /// As [`AuthCentre::start`], in `dialect`.
    pub fn speaking(dialect: SimDialect, client_id: &str, client_secret: &str) -> AuthCentre {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the auth centre");
        let port = listener.local_addr().expect("local address").port();
        let config = Config {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            tenant_id: String::new(),
            auto_user: None,
            dialect,
        };
        let (controls, server) = sim::embed(listener, config).expect("the auth centre serves");
        tokio::spawn(server);
        AuthCentre {
            base_url: format!("http://127.0.0.1:{port}"),
            dialect,
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            controls,
        }
    }

    /// Adds an account (a userinfo answer, see [`account`]).
    pub fn add_account(&self, account: Value) {
        assert!(account["userName"].is_string(), "an account has a userName: {account}");
        self.controls.add_account(account);
    }

    /// The account that signs in at every authorize from now on.
    pub fn signs_in(&self, user_name: &str) {
        self.controls.signs_in(user_name);
    }

    /// From now on the token endpoint refuses every code (`invalid_grant`).
    pub fn refuse_codes(&self) {
        self.controls.refuse_codes();
    }

    /// Tokens handed out from now on live this many seconds.
    pub fn tokens_live(&self, seconds: u64) {
        self.controls.tokens_live(seconds);
    }

    /// From now on every refresh token is refused (`invalid_grant`).
    pub fn refuse_refresh(&self) {
        self.controls.refuse_refresh();
    }

    /// CAS: from now on a ticket stays valid after validation.
    pub fn keep_tickets(&self) {
        self.controls.keep_tickets();
    }

    /// CAS: from now on `serviceValidate` answers JSON rather than XML.
    pub fn answer_cas_in_json(&self) {
        self.controls.answer_cas_in_json();
    }

    /// The headers of the latest userinfo request (lower-case names).
    pub fn last_userinfo_headers(&self) -> Params {
        self.controls.last_userinfo_headers().expect("a userinfo request")
    }

    /// How many refresh-token grants it answered.
    pub fn refreshes(&self) -> usize {
        self.controls.refreshes()
    }

    pub fn calls(&self) -> Calls {
        self.controls.calls()
    }

    /// The query of the latest authorize request.
    pub fn last_authorize(&self) -> Params {
        self.controls.last_authorize().expect("an authorize request")
    }

    /// The form of the latest token request.
    pub fn last_token_request(&self) -> Params {
        self.controls.last_token_request().expect("a token request")
    }

    /// The query of the latest logout visit.
    pub fn last_logout(&self) -> Params {
        self.controls.last_logout().expect("a logout visit")
    }
}

/// A userinfo answer as the auth centre gives it (research §6.2 step 5).
pub fn account(tenant_id: &str, user_name: &str, name: &str, role: &str, org_code: &str) -> Value {
    json!({
        "id": format!("id-{user_name}"),
        "userName": user_name,
        "name": name,
        "email": format!("{user_name}@example.com"),
        "mobile": "13800000000",
        "role": role,
        "organizationCode": org_code,
        "organizationName": format!("Department {org_code}"),
        "tenant": tenant_id,
    })
}
