//! `/sso/login`, `/sso/callback`, `/sso/cas`, `/sso/me`, `/sso/logout` (ARCHITECTURE §4):
//! read the request, call [`super::flow`] or [`super::session`], render.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::confirm::{self, Purpose, CONFIRM_TTL_SECS};
use super::cookies::{self, cookie_secure, removal};
use super::flow::{self, Answer, Finished, Started, Wanted, LOGIN_TTL_SECS};
use super::pages;
use super::refusal::{BadAnswer, Refusal};
use super::session::{self, Current};
use super::sign_ins::Seen;
use super::{
    confirm_cookie_name, login_cookie_name, session_cookie_name, tenant_cookie_name, Deps,
};
use crate::error::Error;
use crate::state::AppState;
use crate::store;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    tenant: Option<String>,
    instance: Option<String>,
    next: Option<String>,
    /// The organisation's code, as a person typed it on the sign-in page.
    org: Option<String>,
}

/// `GET /sso/login?tenant=T|instance=I[&next=/p]`: to the tenant's auth
/// centre (see [`flow::start`]).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    let secure = cookie_secure(&state);
    let remembered = req.cookie(tenant_cookie_name(secure));
    let held = req.cookie(login_cookie_name(secure));
    let mut tenant = query.tenant.clone();
    if let Some(code) = query.org.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        match store::tenants::by_code(&state.db.conn, code).await {
            Ok(Some(tenant_id)) => tenant = Some(tenant_id),
            Ok(None) => {
                return pages::organisation(&state, &req, Some(code), query.next.as_deref())
            }
            Err(err) => return Refusal::from(err).page(&state.pages, &req),
        }
    }
    // Nothing names the organisation: ask, rather than refuse.
    if tenant.is_none() && query.instance.is_none() && remembered.is_none() {
        return pages::organisation(&state, &req, None, query.next.as_deref());
    }
    let wanted = Wanted {
        tenant: tenant.as_deref(),
        instance: query.instance.as_deref(),
        remembered: remembered.as_ref().map(|c| c.value()),
        next: query.next.as_deref(),
        held: held.as_ref().map(|c| c.value()),
    };
    match flow::start(&Deps::of(&state), wanted).await {
        Ok(Started::Unified { url, login_cookie } | Started::Authorize { url, login_cookie }) => {
            HttpResponse::Found()
                .insert_header((header::LOCATION, url))
                .cookie(cookies::login(secure, login_cookie, LOGIN_TTL_SECS))
                .finish()
        }
        Err(refusal) => {
            let seen = Seen {
                tenant_id: tenant.or_else(|| remembered.map(|c| c.value().to_string())),
                instance_id: query.instance.clone(),
                ..Seen::default()
            };
            let reference = state.sign_ins.refused(seen, &refusal).await;
            refusal.page_with_reference(&state.pages, &req, &reference)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    tenant: Option<String>,
    state: Option<String>,
    /// RFC 9207: the issuer an OpenID provider says answers.
    iss: Option<String>,
}

/// `GET /sso/callback?code&tenant&state`: see [`flow::finish`].
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let secure = cookie_secure(&state);
    let binding = req.cookie(login_cookie_name(secure));
    let session_cookie = req.cookie(session_cookie_name(secure));
    let answer = Answer {
        code: query.code.as_deref(),
        ticket: None,
        tenant: query.tenant.as_deref(),
        state: query.state.as_deref(),
        iss: query.iss.as_deref(),
        binding: binding.as_ref().map(|c| c.value()),
        session: session_cookie.as_ref().map(|c| c.value()),
    };
    finish(&state, &req, answer).await
}

#[derive(Debug, Deserialize)]
pub struct CasQuery {
    ticket: Option<String>,
    tenant: Option<String>,
    state: Option<String>,
}

/// `GET /sso/cas?ticket=ST-…&tenant=T[&state=S]`: a CAS sign-in, as the
/// aPaaS workbench (or koogate's own `/sso/login`) started it; see
/// [`flow::finish`].
pub async fn cas(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CasQuery>,
) -> HttpResponse {
    let secure = cookie_secure(&state);
    let binding = req.cookie(login_cookie_name(secure));
    let session_cookie = req.cookie(session_cookie_name(secure));
    let answer = Answer {
        code: None,
        ticket: query.ticket.as_deref(),
        tenant: query.tenant.as_deref(),
        state: query.state.as_deref(),
        iss: None,
        binding: binding.as_ref().map(|c| c.value()),
        session: session_cookie.as_ref().map(|c| c.value()),
    };
    finish(&state, &req, answer).await
}

/// The session, the confirmation page (a sign-in nothing ties to this
/// browser) or the refusal page for an answer. A sign-in that finished
/// leaves the login cookie; others started in this browser (another tab)
/// stay in it.
async fn finish(state: &AppState, req: &HttpRequest, answer: Answer<'_>) -> HttpResponse {
    let secure = cookie_secure(state);
    let mut seen = Seen::default();
    let finished = flow::finish(&Deps::of(state), answer, &mut seen).await;
    match finished {
        Ok(Finished { confirm: Some(pending), session_id, .. }) => {
            crate::prometheus::login("awaiting_confirmation");
            let token = confirm::form_token(Purpose::ConfirmSignIn, &session_id);
            let mut page = pages::confirm_sign_in(state, req, &pending, &token);
            let _ = page.add_cookie(&cookies::confirm(secure, session_id, CONFIRM_TTL_SECS));
            page
        }
        Ok(finished) => {
            crate::prometheus::login("signed_in");
            state.sign_ins.signed_in(seen).await;
            let mut found = HttpResponse::Found();
            found
                .insert_header((header::LOCATION, finished.next_path))
                .cookie(cookies::session(secure, finished.session_id))
                .cookie(cookies::tenant(secure, finished.tenant_id));
            if let Some(login_cookie) = finished.login_cookie {
                found.cookie(cookies::login(secure, login_cookie, LOGIN_TTL_SECS));
            }
            found.finish()
        }
        Err(refusal) => {
            crate::prometheus::login(refusal.outcome());
            let reference = state.sign_ins.refused(seen, &refusal).await;
            refusal.page_with_reference(&state.pages, req, &reference)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    choice: String,
}

/// `POST /sso/confirm`: the click on the confirmation page; see
/// [`confirm`].
pub async fn confirm_sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ConfirmForm>,
) -> HttpResponse {
    let secure = cookie_secure(&state);
    let deps = Deps::of(&state);
    let waiting = req.cookie(confirm_cookie_name(secure));
    let waiting = waiting.as_ref().map(|c| c.value());
    let back = state.settings.sso.after_login_path.clone();
    let mut response = if form.choice == "cancel" {
        confirm::decline(&deps, waiting, &form.csrf_token).await;
        HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish()
    } else {
        match confirm::accept(&deps, waiting, &form.csrf_token).await {
            Ok((session_id, session)) => {
                if let Some(old) = req.cookie(session_cookie_name(secure)) {
                    if old.value() != session_id {
                        if let Err(err) = session::end(&deps, old.value()).await {
                            tracing::warn!(error = ?err, "the replaced session could not be ended");
                        }
                    }
                }
                crate::prometheus::login("signed_in");
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, back))
                    .cookie(cookies::session(secure, session_id))
                    .cookie(cookies::tenant(secure, session.tenant_id))
                    .finish()
            }
            Err(refusal) => refusal.page(&state.pages, &req),
        }
    };
    let _ = response.add_removal_cookie(&removal(confirm_cookie_name(secure)));
    response
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    tenant_id: String,
    instance_id: Option<String>,
    user_name: String,
    name: String,
    role: String,
    org_code: Option<String>,
    email: Option<String>,
}

/// `GET /sso/me`: who is signed in, or 401.
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let cookie = req.cookie(session_cookie_name(cookie_secure(&state)));
    let current = session::current(&Deps::of(&state), cookie.as_ref().map(|c| c.value())).await?;
    let Current::Live(session) = current else {
        return Err(Error::NotSignedIn);
    };
    let email = match &session.email_sealed {
        Some(sealed) => Some(state.vault.open(sealed)?),
        None => None,
    };
    Ok(HttpResponse::Ok().json(Me {
        tenant_id: session.tenant_id,
        instance_id: session.instance_id,
        user_name: session.user_name,
        name: session.name,
        role: session.role,
        org_code: session.org_code,
        email,
    }))
}

/// `GET /sso/logout`: asks "sign out?" with a button, so that a link or
/// an image on another site cannot sign anyone out.
pub async fn logout_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let cookie = req.cookie(session_cookie_name(cookie_secure(&state)));
    let token =
        cookie.map(|c| confirm::form_token(Purpose::SignOut, c.value())).unwrap_or_default();
    pages::sign_out(&state, &req, &token)
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /sso/logout`: ends the session here, then at the auth centre.
/// Only from a page of this site: the sign-out page's token, or a
/// same-origin `Origin` (any form of the vendor's app on this origin).
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Option<web::Form<SignOutForm>>,
) -> Result<HttpResponse, Error> {
    let secure = cookie_secure(&state);
    let deps = Deps::of(&state);
    if let Some(cookie) = req.cookie(session_cookie_name(secure)) {
        let token = form.as_ref().map(|f| f.csrf_token.as_str()).unwrap_or_default();
        let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok());
        let from_here = confirm::token_matches(Purpose::SignOut, cookie.value(), token)
            || confirm::same_origin(origin, &state.settings.server.public_url);
        if !from_here {
            return Ok(Refusal::BadAnswer(BadAnswer::NotFromThisSite).page(&state.pages, &req));
        }
    }
    let back = format!(
        "{}{}",
        state.settings.server.public_url.trim_end_matches('/'),
        state.settings.sso.after_login_path
    );
    let mut location = back.clone();
    if let Some(cookie) = req.cookie(session_cookie_name(secure)) {
        if let Some(ended) = session::end(&deps, cookie.value()).await? {
            if let Some(tenant) = store::tenants::find(&state.db.conn, &ended.tenant_id).await? {
                location =
                    super::dialects::logout_url(&deps, &tenant, &ended.app_id, &back).await?;
            }
        }
    }
    let mut response = HttpResponse::Found().insert_header((header::LOCATION, location)).finish();
    let _ = response.add_removal_cookie(&removal(session_cookie_name(secure)));
    Ok(response)
}
