//! `koogate sim auth-centre`: a tenant auth centre in one of the sign-in
//! dialects (protocol §7): the KooGallery auth centre (authorize, token,
//! userinfo, logout), OpenID Connect (the same plus discovery and an ID
//! token), Huawei OrgID (the same under `/orgid/openapi/v1/
//! oauth2/`, userinfo with `X-OrgID-Authorization` in snake_case, and its
//! CAS ticket validation) or the aPaaS CAS 3.0 server (login and
//! `p3/serviceValidate`, XML or JSON), so sign-in can be clicked through
//! on a laptop before the marketplace exists. The black-box tests run
//! this same stand-in in-process (see [`embed`]).
//!
//! It checks what a real one checks: the client credentials, the exact
//! redirect_uri or service, single-use codes and tickets, and the PKCE
//! verifier. Who signs in is chosen on a small form (any account name),
//! or fixed with `auto_user` (load tests) or [`Controls::signs_in`]
//! (tests). Refresh tokens stay valid after use, as Spring's
//! authorization server keeps them.

mod cas;
mod controls;
mod oauth;
mod oidc;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use controls::Controls;

use crate::error::Error;

/// Codes and tickets must be redeemed within this; tokens live for
/// `TOKEN_LIFETIME` unless [`Controls::tokens_live`] says otherwise.
const CODE_LIFETIME: Duration = Duration::from_secs(120);
const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// Past this many live codes or tokens the oldest half is forgotten.
const MAX_ENTRIES: usize = 100_000;

/// The dialect the stand-in speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimDialect {
    /// The KooGallery auth centre: `/api/v1/oauth2/*`.
    #[value(name = "koogallery")]
    KooGallery,
    /// OpenID Connect: the KooGallery endpoints plus discovery, keys and
    /// an ID token.
    Oidc,
    /// Huawei OrgID: `/orgid/openapi/v1/oauth2/*` and its CAS.
    #[value(name = "orgid")]
    OrgId,
    /// The aPaaS CAS 3.0 server: `/api/v1/cas/*`.
    Cas,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    /// The tenant id the callback names (`tenant=`) for an account that
    /// names no tenant of its own.
    pub tenant_id: String,
    /// Who signs in without a form (load tests); `None` shows the form.
    pub auto_user: Option<String>,
    pub dialect: SimDialect,
}

/// The query or form parameters of one request.
pub type Params = HashMap<String, String>;

/// How many times each endpoint was called.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub authorize: usize,
    pub token: usize,
    pub userinfo: usize,
    pub logout: usize,
    /// CAS `serviceValidate`.
    pub validate: usize,
}

/// A code (or ticket) waiting to be redeemed once.
struct Grant {
    user_name: String,
    /// The redirect_uri of the authorize request, or the CAS service.
    redirect_uri: String,
    code_challenge: Option<String>,
    /// OIDC: the authorize request's nonce, for the ID token.
    nonce: Option<String>,
    issued: Instant,
}

/// A token's owner and the moment it stops being valid.
struct Issued {
    user_name: String,
    until: Instant,
}

#[derive(Default)]
struct Memory {
    codes: HashMap<String, Grant>,
    tickets: HashMap<String, Grant>,
    access_tokens: HashMap<String, Issued>,
    refresh_tokens: HashMap<String, Issued>,
    /// userName → the userinfo answer (camelCase); others get a made-up one.
    accounts: HashMap<String, Value>,
    /// Who signs in at the next authorize without a form.
    next_user: Option<String>,
    refuse_codes: bool,
    refuse_refresh: bool,
    /// CAS: a ticket stays valid after validation (a careless server).
    tickets_reusable: bool,
    /// CAS: answer JSON even when XML was not asked against.
    cas_json: bool,
    token_lifetime: Option<Duration>,
    refreshes: usize,
    calls: Calls,
    last_authorize: Option<Params>,
    last_token_request: Option<Params>,
    last_logout: Option<Params>,
    last_userinfo_headers: Option<Params>,
}

struct Centre {
    config: Config,
    memory: Mutex<Memory>,
}

impl Centre {
    /// The memory; a panic elsewhere leaves it usable (each change is one
    /// insert or remove, never half done).
    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account's userinfo answer (camelCase), made up for a name it
    /// does not know.
    fn account(&self, memory: &Memory, user_name: &str) -> Value {
        memory.accounts.get(user_name).cloned().unwrap_or_else(|| {
            json!({
                "id": format!("id-{user_name}"),
                "userName": user_name,
                "name": user_name,
                "email": format!("{user_name}@example.com"),
                "role": "user",
                "tenant": self.config.tenant_id,
            })
        })
    }
}

/// Starts the auth centre on `listener`; runs until the process ends.
pub fn serve(listener: TcpListener, config: Config) -> Result<actix_web::dev::Server, Error> {
    let (_, server) = start(listener, config, false)?;
    Ok(server)
}

/// Starts the auth centre inside a program that has its own runtime and
/// signal handling (the tests): one worker, and [`Controls`] to choose
/// who signs in, inject refusals and see what it was sent.
pub fn embed(
    listener: TcpListener,
    config: Config,
) -> Result<(Controls, actix_web::dev::Server), Error> {
    start(listener, config, true)
}

fn start(
    listener: TcpListener,
    config: Config,
    embedded: bool,
) -> Result<(Controls, actix_web::dev::Server), Error> {
    if config.dialect == SimDialect::Oidc {
        oidc::prepare()?;
    }
    let memory = Memory { next_user: config.auto_user.clone(), ..Memory::default() };
    let dialect = config.dialect;
    let centre = Arc::new(Centre { config, memory: Mutex::new(memory) });
    let data = web::Data::from(centre.clone());
    let mut server = HttpServer::new(move || {
        let app = App::new().app_data(data.clone());
        match dialect {
            SimDialect::KooGallery => app
                .service(web::scope("/api/v1/oauth2").configure(oauth::routes))
                .route("/api/v1/logout", web::get().to(oauth::logout)),
            SimDialect::Oidc => app
                .configure(oidc::routes)
                .service(web::scope("/api/v1/oauth2").configure(oauth::routes))
                .route("/api/v1/logout", web::get().to(oauth::logout)),
            SimDialect::OrgId => app
                .service(web::scope("/orgid/openapi/v1/oauth2").configure(oauth::routes))
                .route("/orgid/openapi/v1/cas/p3/serviceValidate", web::get().to(cas::validate))
                .route("/api/v1/cas/login", web::get().to(cas::login_form))
                .route("/api/v1/cas/login", web::post().to(cas::login)),
            SimDialect::Cas => app
                .route("/api/v1/cas/login", web::get().to(cas::login_form))
                .route("/api/v1/cas/login", web::post().to(cas::login))
                .route("/api/v1/cas/p3/serviceValidate", web::get().to(cas::validate))
                .route("/api/v1/logout", web::get().to(oauth::logout)),
        }
    });
    if embedded {
        server = server.workers(1).disable_signals();
    }
    let server = server
        .listen(listener)
        .map_err(|e| Error::Internal(format!("cannot serve the auth centre: {e}")))?
        .run();
    Ok((Controls::new(centre), server))
}

fn random(prefix: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 32))
}

/// BASE64URL-NOPAD(SHA256(verifier)): the S256 code challenge (RFC 7636).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Forgets the oldest half of a map that grew past `MAX_ENTRIES`.
fn bound<V>(map: &mut HashMap<String, V>, age: impl Fn(&V) -> Instant) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut ages: Vec<Instant> = map.values().map(&age).collect();
    ages.sort();
    let cut = ages[ages.len() / 2];
    map.retain(|_, v| age(v) > cut);
}

/// The sign-in form, posting `fields` back with the account name.
fn sign_in_form(centre: &Centre, fields: &Params) -> HttpResponse {
    let hidden: String = fields
        .iter()
        .map(|(k, v)| {
            format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v))
        })
        .collect();
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Auth centre (simulated)</title></head><body>\
         <h1>Sign in to tenant {}</h1>\
         <p>This is koogate's simulated auth centre: any account name signs in.</p>\
         <form method=\"post\">{hidden}\
         <label>Account name <input name=\"login_user\" required autofocus></label> \
         <button>Sign in</button></form></body></html>",
        escape(&centre.config.tenant_id)
    ))
}

/// Issues a token pair for `user_name`, remembered.
fn issue_tokens(memory: &mut Memory, user_name: String) -> (String, String, Duration) {
    let lifetime = memory.token_lifetime.unwrap_or(TOKEN_LIFETIME);
    let access_token = random("at-");
    let refresh_token = random("rt-");
    bound(&mut memory.access_tokens, |t| t.until);
    bound(&mut memory.refresh_tokens, |t| t.until);
    let access = Issued { user_name: user_name.clone(), until: Instant::now() + lifetime };
    memory.access_tokens.insert(access_token.clone(), access);
    // A refresh token outlives the access tokens it renews.
    let refresh = Issued { user_name, until: Instant::now() + TOKEN_LIFETIME.max(lifetime) };
    memory.refresh_tokens.insert(refresh_token.clone(), refresh);
    (access_token, refresh_token, lifetime)
}
