//! Why a person was not let in, said once: each refusal's status, code,
//! title and text live here, and so does its rendering, as a page from
//! `templates/refusal.html` for browsers or as the JSON of every error
//! answer (`crate::error`) for other clients. Vendor-neutral: the texts
//! say what happened, never how.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::{context, Environment};

use crate::error::{self, Challenge, Error};

/// Whose access a refusal speaks of: the tenant's (marketplace sign-in)
/// or one subscription's local account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Organisation,
    Subscription,
}

/// Why a sign-in callback is not accepted (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadAnswer {
    Incomplete,
    OtherSignIn,
    NotThisBrowser,
    AlreadyUsed,
    NotThisBrowserOrLate,
    /// An OpenID answer naming another issuer (RFC 9207).
    WrongIssuer,
}

/// Every way sign-in or the gate turns a person away.
#[derive(Debug)]
pub enum Refusal {
    /// The link names no organisation we know.
    UnknownOrganisation,
    /// The link names no subscription with a local account.
    UnknownSubscription,
    /// Access is suspended (frozen).
    Suspended(Holder),
    /// The subscription has ended (released).
    Ended(Holder),
    /// The tenant has no app credentials yet.
    NotReady,
    /// The user has no grant, or is disabled.
    NotGranted,
    /// An open session whose user's access changed or was withdrawn.
    Withdrawn,
    /// The callback is not one this browser may use.
    BadAnswer(BadAnswer),
    /// The tenant's OpenID provider names another issuer.
    ProviderMisconfigured,
    /// The tenant's OpenID provider cannot be used now.
    ProviderUnreachable,
    /// The auth centre did not accept the sign-in.
    NotAccepted,
    /// The tenant stopped serving OpenID Connect during the sign-in.
    ProviderChanged,
    /// A fault of ours: the person may simply try again.
    TryAgain,
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Refusal {
        tracing::error!(error = ?err, "sign-in failed");
        Refusal::TryAgain
    }
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownOrganisation | Refusal::UnknownSubscription => StatusCode::NOT_FOUND,
            Refusal::Suspended(_)
            | Refusal::NotReady
            | Refusal::NotGranted
            | Refusal::Withdrawn => StatusCode::FORBIDDEN,
            Refusal::Ended(_) => StatusCode::GONE,
            Refusal::BadAnswer(_) => StatusCode::BAD_REQUEST,
            Refusal::ProviderMisconfigured
            | Refusal::ProviderUnreachable
            | Refusal::NotAccepted
            | Refusal::ProviderChanged => StatusCode::BAD_GATEWAY,
            Refusal::TryAgain => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` code of its JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownOrganisation | Refusal::UnknownSubscription => "not_found",
            Refusal::Suspended(_) => "frozen",
            Refusal::Ended(_) => "released",
            Refusal::NotReady => "not_ready",
            Refusal::NotGranted | Refusal::Withdrawn => "revoked",
            Refusal::BadAnswer(_) => "invalid_request",
            Refusal::ProviderMisconfigured
            | Refusal::ProviderUnreachable
            | Refusal::NotAccepted
            | Refusal::ProviderChanged => "bad_gateway",
            Refusal::TryAgain => "unavailable",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Refusal::UnknownOrganisation => "Unknown organisation",
            Refusal::UnknownSubscription => "Unknown subscription",
            Refusal::Suspended(_) => "Access suspended",
            Refusal::Ended(_) => "Subscription ended",
            Refusal::NotReady => "Not ready yet",
            Refusal::NotGranted | Refusal::Withdrawn => "No access",
            Refusal::BadAnswer(_) => "Sign-in link not valid",
            Refusal::ProviderMisconfigured | Refusal::ProviderUnreachable => {
                "Sign-in not available"
            }
            Refusal::NotAccepted | Refusal::ProviderChanged => "Sign-in did not complete",
            Refusal::TryAgain => "Please try again",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::UnknownOrganisation => "This sign-in link names no organisation we know.",
            Refusal::UnknownSubscription => {
                "This sign-in link names no subscription with a local account."
            }
            Refusal::Suspended(Holder::Organisation) => {
                "Your organisation's subscription is suspended. Please contact its administrator."
            }
            Refusal::Suspended(Holder::Subscription) => "This subscription is suspended.",
            Refusal::Ended(Holder::Organisation) => "Your organisation's subscription has ended.",
            Refusal::Ended(Holder::Subscription) => "This subscription has ended.",
            Refusal::NotReady => {
                "Sign-in for your organisation is not set up yet. Please try again later."
            }
            Refusal::NotGranted => {
                "Your account has not been given access to this application. Please ask your organisation's administrator."
            }
            Refusal::Withdrawn => {
                "Your access to this application changed or was withdrawn. Please sign in again."
            }
            Refusal::BadAnswer(BadAnswer::Incomplete) => {
                "This sign-in answer is incomplete. Please start again."
            }
            Refusal::BadAnswer(BadAnswer::OtherSignIn) => {
                "This sign-in answer belongs to another sign-in. Please start again."
            }
            Refusal::BadAnswer(BadAnswer::NotThisBrowser) => {
                "This sign-in was not started in this browser. Please start again."
            }
            Refusal::BadAnswer(BadAnswer::AlreadyUsed) => {
                "This sign-in link was already used or is not ours. Please start again."
            }
            Refusal::BadAnswer(BadAnswer::NotThisBrowserOrLate) => {
                "This sign-in was not started in this browser, or took too long. Please start again."
            }
            Refusal::BadAnswer(BadAnswer::WrongIssuer) => {
                "This sign-in answer did not come from your organisation's sign-in service. Please start again."
            }
            Refusal::ProviderChanged => {
                "Your organisation's sign-in service changed during this sign-in. Please start again."
            }
            Refusal::ProviderMisconfigured => {
                "Your organisation's sign-in service is not set up as expected. Please contact its administrator."
            }
            Refusal::ProviderUnreachable => {
                "Your organisation's sign-in service cannot be reached. Please try again later."
            }
            Refusal::NotAccepted => {
                "Your organisation's sign-in service did not accept this sign-in. Please try again."
            }
            Refusal::TryAgain => "Sign-in is briefly unavailable. Please try again in a moment.",
        }
    }

    /// Why an open session ended, from its revocation's reason.
    pub fn for_ended_session(reason: &crate::access::RevocationReason) -> Refusal {
        use crate::access::RevocationReason;
        match reason {
            RevocationReason::Frozen => Refusal::Suspended(Holder::Organisation),
            RevocationReason::Released => Refusal::Ended(Holder::Organisation),
            RevocationReason::Revoked => Refusal::Withdrawn,
        }
    }

    /// How a sign-in ended, for `koogate_logins_total`.
    pub fn outcome(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::BAD_GATEWAY => "auth_centre_failed",
            s if s.is_server_error() => "error",
            _ => "refused",
        }
    }

    /// A session that ended offers to sign in again.
    fn retry_url(&self) -> Option<&'static str> {
        match self {
            Refusal::Suspended(Holder::Organisation)
            | Refusal::Ended(Holder::Organisation)
            | Refusal::Withdrawn => Some("/sso/login"),
            _ => None,
        }
    }

    /// The refusal as a page.
    pub fn page(&self, pages: &Environment<'static>) -> HttpResponse {
        let (title, message, retry_url) = (self.title(), self.message(), self.retry_url());
        let body = pages
            .get_template("refusal.html")
            .and_then(|t| t.render(context! { title, message, retry_url }))
            .unwrap_or_else(|_| title.to_string());
        error::answer(self.status(), Challenge::SignIn("/sso/login"))
            .content_type("text/html; charset=utf-8")
            .body(body)
    }

    /// The refusal as JSON (`crate::error::ErrorBody`).
    pub fn json(&self) -> HttpResponse {
        error::json(self.status(), Challenge::SignIn("/sso/login"), self.code(), self.message())
    }

    /// A page for a browser, JSON for any other client.
    pub fn answer(&self, pages: &Environment<'static>, req: &HttpRequest) -> HttpResponse {
        if wants_html(req) {
            self.page(pages)
        } else {
            self.json()
        }
    }
}

/// Whether the client asked for a page (a browser's `Accept`).
pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}
