//! `GET /language?set=zh-CN|en&next=/path`: the language link every page
//! shows. The choice is kept in a cookie for a year, then the browser
//! goes back where it was (a path on this site only).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{Lang, LANG_COOKIE};
use crate::error::Error;
use crate::sso::cookies::{cookie_secure, local_path};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct LanguageQuery {
    set: Option<String>,
    next: Option<String>,
}

pub async fn choose(
    state: web::Data<AppState>,
    query: web::Query<LanguageQuery>,
) -> Result<HttpResponse, Error> {
    let lang = query
        .set
        .as_deref()
        .and_then(Lang::parse)
        .ok_or_else(|| Error::invalid("set must be zh-CN or en"))?;
    let back = local_path(query.next.as_deref()).unwrap_or_else(|| "/".to_string());
    // Not HttpOnly-worthy (no secret), but nothing needs to read it.
    let cookie = Cookie::build(LANG_COOKIE, lang.tag())
        .path("/")
        .http_only(true)
        .secure(cookie_secure(&state))
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}
