//! One click before a sign-in koogate cannot tie to this browser takes
//! effect (unified mode, whose callback carries no state), and the tokens
//! that tie koogate's own forms (this confirmation, sign-out) to the
//! browser that was shown them.
//!
//! # Security
//! Login CSRF: anyone can obtain a code for their own account at the
//! marketplace and send a victim's browser to `/sso/callback` with it.
//! Such a callback opens a session but does not hand it over: the page
//! shows whose account it is and the session's id waits in a
//! `SameSite=Strict` cookie, taken into use only by a POST carrying a
//! token derived from that cookie (which a cross-site page can neither
//! read nor compute). It is skipped only when this browser started the
//! sign-in at koogate (its login cookie) and would not replace a session
//! of another account; a session of another account is never replaced
//! without the click.

use super::refusal::{BadAnswer, Refusal};
use super::session::{self, Current};
use super::{token_hash, Deps};
use entity::session as session_row;

/// How long a sign-in waits for its confirmation.
pub const CONFIRM_TTL_SECS: i64 = 600;

/// What the form of a koogate page is for: each has its own tokens.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    ConfirmSignIn,
    SignOut,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::ConfirmSignIn => "confirm-sign-in",
            Purpose::SignOut => "sign-out",
        }
    }
}

/// The token a page's form carries for the browser holding `cookie`.
pub fn form_token(purpose: Purpose, cookie: &str) -> String {
    token_hash(&format!("{}:{cookie}", purpose.label()))
}

/// Whether `token` is the one [`form_token`] gives for `cookie`.
pub fn token_matches(purpose: Purpose, cookie: &str, token: &str) -> bool {
    let expected = form_token(purpose, cookie);
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), token.as_bytes()).into()
}

/// Whether a request's `Origin` is `public_url`'s own.
pub fn same_origin(origin: Option<&str>, public_url: &str) -> bool {
    let Ok(ours) = reqwest::Url::parse(public_url) else { return false };
    origin.is_some_and(|o| o == ours.origin().ascii_serialization())
}

/// A sign-in that waits for its click: whose it is, as the page says.
pub struct Pending {
    pub name: String,
    pub user_name: String,
    pub organisation: String,
    /// This browser is signed in with another account now.
    pub replaces: bool,
}

/// Whether a sign-in without state needs the click: unless this browser
/// started it at koogate, and always when it would replace a session of
/// another account. `signed_in_as` is (tenant, user) of the browser's
/// live session.
pub fn needed(
    started_here: bool,
    signed_in_as: Option<(&str, &str)>,
    tenant_id: &str,
    user_name: &str,
) -> Option<bool> {
    let replaces = signed_in_as.is_some_and(|(t, u)| t != tenant_id || u != user_name);
    (replaces || !started_here).then_some(replaces)
}

/// (tenant, user) of the live session the cookie names, if any.
pub async fn signed_in_as(
    deps: &Deps<'_>,
    session_cookie: Option<&str>,
) -> Result<Option<(String, String)>, Refusal> {
    Ok(match session::current(deps, session_cookie).await? {
        Current::Live(s) => Some((s.tenant_id, s.user_name)),
        _ => None,
    })
}

/// The click: the waiting session (the confirmation cookie names it),
/// if the form's token is this browser's and it is still good.
pub async fn accept(
    deps: &Deps<'_>,
    confirm_cookie: Option<&str>,
    token: &str,
) -> Result<(String, session_row::Model), Refusal> {
    let not_this_browser = Refusal::BadAnswer(BadAnswer::NotThisBrowser);
    let Some(session_id) = confirm_cookie.filter(|c| !c.is_empty()) else {
        return Err(not_this_browser);
    };
    if !token_matches(Purpose::ConfirmSignIn, session_id, token) {
        return Err(Refusal::BadAnswer(BadAnswer::NotFromThisSite));
    }
    match session::current(deps, Some(session_id)).await? {
        Current::Live(waiting) => Ok((session_id.to_string(), *waiting)),
        Current::Ended(reason) => Err(Refusal::for_ended_session(&reason)),
        Current::Anonymous => Err(Refusal::BadAnswer(BadAnswer::NotThisBrowserOrLate)),
    }
}

/// "Cancel": the waiting session ends unused.
pub async fn decline(deps: &Deps<'_>, confirm_cookie: Option<&str>, token: &str) {
    let Some(session_id) = confirm_cookie.filter(|c| !c.is_empty()) else { return };
    if token_matches(Purpose::ConfirmSignIn, session_id, token) {
        if let Err(err) = session::end(deps, session_id).await {
            tracing::warn!(error = ?err, "a declined sign-in's session could not be ended");
        }
    }
}
