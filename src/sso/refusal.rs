//! Why a person was not let in, said once: each refusal's status, code,
//! title and text live here, and so does its rendering, as a page from
//! `templates/refusal.html` for browsers or as the JSON of every error
//! answer (`crate::error`) for other clients. Vendor-neutral: the texts
//! say what happened, never how.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use minijinja::context;

use crate::error::{self, Challenge, Error};
use crate::ui::{catalogue, Lang, Pages};

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
    /// A form post that no page of this site produced (no token of
    /// this browser, no same-origin `Origin`).
    NotFromThisSite,
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

    /// Its messages' key in the catalogues (`refusal.<key>.title` and
    /// `refusal.<key>.message`, see `locales/`).
    pub fn key(&self) -> &'static str {
        match self {
            Refusal::UnknownOrganisation => "unknown_organisation",
            Refusal::UnknownSubscription => "unknown_subscription",
            Refusal::Suspended(Holder::Organisation) => "suspended_organisation",
            Refusal::Suspended(Holder::Subscription) => "suspended_subscription",
            Refusal::Ended(Holder::Organisation) => "ended_organisation",
            Refusal::Ended(Holder::Subscription) => "ended_subscription",
            Refusal::NotReady => "not_ready",
            Refusal::NotGranted => "not_granted",
            Refusal::Withdrawn => "withdrawn",
            Refusal::BadAnswer(BadAnswer::Incomplete) => "incomplete",
            Refusal::BadAnswer(BadAnswer::OtherSignIn) => "other_sign_in",
            Refusal::BadAnswer(BadAnswer::NotThisBrowser) => "not_this_browser",
            Refusal::BadAnswer(BadAnswer::AlreadyUsed) => "already_used",
            Refusal::BadAnswer(BadAnswer::NotThisBrowserOrLate) => "not_this_browser_or_late",
            Refusal::BadAnswer(BadAnswer::WrongIssuer) => "wrong_issuer",
            Refusal::BadAnswer(BadAnswer::NotFromThisSite) => "not_from_this_site",
            Refusal::ProviderChanged => "provider_changed",
            Refusal::ProviderMisconfigured => "provider_misconfigured",
            Refusal::ProviderUnreachable => "provider_unreachable",
            Refusal::NotAccepted => "not_accepted",
            Refusal::TryAgain => "try_again",
        }
    }

    /// The title in `lang`.
    pub fn title(&self, lang: Lang) -> String {
        catalogue::text(lang, &format!("refusal.{}.title", self.key()))
    }

    /// What happened, in `lang` (the JSON answer says it in English).
    pub fn message(&self, lang: Lang) -> String {
        catalogue::text(lang, &format!("refusal.{}.message", self.key()))
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

    /// The refusal as a page in the browser's language, with the
    /// vendor's branding and a reference an operator can search the log
    /// for (the reference is logged here, with the refusal's code).
    pub fn page(&self, pages: &Pages, req: &HttpRequest) -> HttpResponse {
        self.page_with_reference(pages, req, &reference())
    }

    /// [`Refusal::page`] showing `reference` (the one the sign-in record
    /// keeps, see `super::sign_ins`).
    pub fn page_with_reference(
        &self,
        pages: &Pages,
        req: &HttpRequest,
        reference: &str,
    ) -> HttpResponse {
        let lang = pages.lang(req);
        tracing::warn!(
            reference = %reference,
            refusal = self.key(),
            code = self.code(),
            status = self.status().as_u16(),
            path = req.path(),
            "a person was refused"
        );
        let (title, message, retry_url) = (self.title(lang), self.message(lang), self.retry_url());
        let ask_organisation = matches!(self, Refusal::UnknownOrganisation);
        let view = context! { title, message, retry_url, reference, ask_organisation };
        let body = pages.render(req, "refusal.html", view).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the refusal page does not render");
            self.title(lang)
        });
        error::answer(self.status(), Challenge::SignIn("/sso/login"))
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }

    /// The refusal as JSON (`crate::error::ErrorBody`).
    pub fn json(&self) -> HttpResponse {
        let message = self.message(Lang::En);
        error::json(self.status(), Challenge::SignIn("/sso/login"), self.code(), &message)
    }

    /// A page for a browser, JSON for any other client.
    pub fn answer(&self, pages: &Pages, req: &HttpRequest) -> HttpResponse {
        if wants_html(req) {
            self.page(pages, req)
        } else {
            self.json()
        }
    }
}

/// A short reference for one refusal: easy to read out on the phone
/// (no 0/O, 1/I), unique enough to find one log line of a day.
pub fn reference() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let code: String = (0..8).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{}-{}", &code[..4], &code[4..])
}

/// Whether the client asked for a page (a browser's `Accept`).
pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_refusal() -> Vec<Refusal> {
        let mut all = vec![
            Refusal::UnknownOrganisation,
            Refusal::UnknownSubscription,
            Refusal::NotReady,
            Refusal::NotGranted,
            Refusal::Withdrawn,
            Refusal::ProviderMisconfigured,
            Refusal::ProviderUnreachable,
            Refusal::NotAccepted,
            Refusal::ProviderChanged,
            Refusal::TryAgain,
        ];
        for holder in [Holder::Organisation, Holder::Subscription] {
            all.push(Refusal::Suspended(holder));
            all.push(Refusal::Ended(holder));
        }
        for bad in [
            BadAnswer::Incomplete,
            BadAnswer::OtherSignIn,
            BadAnswer::NotThisBrowser,
            BadAnswer::AlreadyUsed,
            BadAnswer::NotThisBrowserOrLate,
            BadAnswer::WrongIssuer,
            BadAnswer::NotFromThisSite,
        ] {
            all.push(Refusal::BadAnswer(bad));
        }
        all
    }

    /// Every refusal has its title and text in both languages, and the
    /// texts differ between them (nothing left untranslated).
    #[test]
    fn every_refusal_speaks_both_languages() {
        for refusal in every_refusal() {
            for part in ["title", "message"] {
                let key = format!("refusal.{}.{part}", refusal.key());
                let zh = catalogue::lookup(Lang::ZhCn, &key);
                let en = catalogue::lookup(Lang::En, &key);
                assert!(zh.is_some() && en.is_some(), "{key}");
                assert_ne!(zh, en, "{key} is the same in both");
            }
        }
    }

    #[test]
    fn references_are_short_and_unambiguous() {
        let seen: std::collections::HashSet<String> = (0..200).map(|_| reference()).collect();
        assert_eq!(seen.len(), 200, "no repeats in 200");
        for r in seen {
            assert_eq!(r.len(), 9, "{r}");
            assert!(!r.contains(['0', 'O', '1', 'I']), "{r}");
        }
    }
}
