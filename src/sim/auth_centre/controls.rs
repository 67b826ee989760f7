//! The knobs of a running stand-in and what it saw (the tests' side).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Calls, Centre, Params};

/// The knobs of a running auth centre and what it saw.
#[derive(Clone)]
pub struct Controls {
    centre: Arc<Centre>,
}

impl Controls {
    pub(super) fn new(centre: Arc<Centre>) -> Controls {
        Controls { centre }
    }

    /// Adds an account: its userinfo answer (camelCase), with `userName`
    /// and, when the callback should name it, `tenant`.
    pub fn add_account(&self, account: Value) {
        if let Some(user_name) = account["userName"].as_str() {
            self.centre.memory().accounts.insert(user_name.to_string(), account.clone());
        }
    }

    /// The account that signs in at every authorize from now on.
    pub fn signs_in(&self, user_name: &str) {
        self.centre.memory().next_user = Some(user_name.to_string());
    }

    /// From now on the token endpoint refuses every code (`invalid_grant`).
    pub fn refuse_codes(&self) {
        self.centre.memory().refuse_codes = true;
    }

    /// From now on every refresh token is refused (`invalid_grant`).
    pub fn refuse_refresh(&self) {
        self.centre.memory().refuse_refresh = true;
    }

    /// CAS: from now on a ticket stays valid after it was validated, as a
    /// careless server would keep it.
    pub fn keep_tickets(&self) {
        self.centre.memory().tickets_reusable = true;
    }

    /// CAS: from now on `serviceValidate` answers JSON (else XML, unless
    /// `format=JSON` is asked for).
    pub fn answer_cas_in_json(&self) {
        self.centre.memory().cas_json = true;
    }

    /// Tokens handed out from now on live this many seconds.
    pub fn tokens_live(&self, seconds: u64) {
        self.centre.memory().token_lifetime = Some(Duration::from_secs(seconds));
    }

    /// How many refresh-token grants it answered.
    pub fn refreshes(&self) -> usize {
        self.centre.memory().refreshes
    }

    pub fn calls(&self) -> Calls {
        self.centre.memory().calls
    }

    /// The parameters of the latest authorize (or CAS login) request.
    pub fn last_authorize(&self) -> Option<Params> {
        self.centre.memory().last_authorize.clone()
    }

    /// The form of the latest token request.
    pub fn last_token_request(&self) -> Option<Params> {
        self.centre.memory().last_token_request.clone()
    }

    /// The query of the latest logout visit.
    pub fn last_logout(&self) -> Option<Params> {
        self.centre.memory().last_logout.clone()
    }

    /// The headers of the latest userinfo request (lower-case names).
    pub fn last_userinfo_headers(&self) -> Option<Params> {
        self.centre.memory().last_userinfo_headers.clone()
    }
}
