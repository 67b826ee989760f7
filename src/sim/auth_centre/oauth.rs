//! The OAuth2 endpoints: the KooGallery auth centre's under
//! `/api/v1/oauth2`, OrgID's under `/orgid/openapi/v1/oauth2` (its token
//! errors also carry `error_code`/`error_msg`, its userinfo wants
//! `X-OrgID-Authorization` and answers in snake_case).

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::{bound, issue_tokens, random, s256, sign_in_form, Centre, Grant, Params, SimDialect};
use super::{Config, CODE_LIFETIME};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/authorize", web::get().to(authorize_form));
    cfg.route("/authorize", web::post().to(authorize));
    cfg.route("/token", web::post().to(token));
    cfg.route("/userinfo", web::get().to(userinfo));
}

fn oauth_error(dialect: SimDialect, status: u16, error: &str, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut body = json!({"error": error, "error_description": description});
    if dialect == SimDialect::OrgId {
        body["error_code"] = json!(format!("OrgID.{}", status.as_u16()));
        body["error_msg"] = json!(description);
    }
    HttpResponse::build(status).json(body)
}

/// `GET authorize`: the request checked, then the sign-in form (or, with
/// a chosen account, straight back with a code).
async fn authorize_form(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    let next_user = {
        let mut memory = centre.memory();
        memory.calls.authorize += 1;
        memory.last_authorize = Some(query.clone());
        memory.next_user.clone()
    };
    if let Err(why) = check_authorize(&centre.config, &query) {
        return HttpResponse::BadRequest().body(why);
    }
    match next_user {
        Some(user_name) => issue_code(&centre, &query, user_name),
        None => sign_in_form(&centre, &query),
    }
}

/// `POST authorize`: the form's account signs in.
async fn authorize(centre: web::Data<Centre>, form: web::Form<Params>) -> HttpResponse {
    let mut form = form.into_inner();
    {
        let mut memory = centre.memory();
        memory.calls.authorize += 1;
        memory.last_authorize = Some(form.clone());
    }
    if let Err(why) = check_authorize(&centre.config, &form) {
        return HttpResponse::BadRequest().body(why);
    }
    let Some(user_name) = form.remove("login_user").filter(|u| !u.trim().is_empty()) else {
        return HttpResponse::BadRequest().body("an account name is needed");
    };
    issue_code(&centre, &form, user_name.trim().to_string())
}

fn check_authorize(config: &Config, query: &Params) -> Result<(), &'static str> {
    if query.get("response_type").map(String::as_str) != Some("code") {
        return Err("unsupported response_type");
    }
    if query.get("client_id") != Some(&config.client_id) {
        return Err("unknown client_id");
    }
    if !query.contains_key("redirect_uri") {
        return Err("redirect_uri missing");
    }
    Ok(())
}

fn issue_code(centre: &Centre, query: &Params, user_name: String) -> HttpResponse {
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    let code = random("code-");
    let tenant_id = {
        let mut memory = centre.memory();
        let tenant_id = memory
            .accounts
            .get(&user_name)
            .and_then(|account| account["tenant"].as_str())
            .unwrap_or(&centre.config.tenant_id)
            .to_string();
        bound(&mut memory.codes, |g| g.issued);
        memory.codes.insert(
            code.clone(),
            Grant {
                user_name,
                redirect_uri: redirect_uri.clone(),
                code_challenge: query.get("code_challenge").cloned(),
                nonce: query.get("nonce").cloned(),
                issued: Instant::now(),
            },
        );
        tenant_id
    };
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("code", &code);
    back.append_pair("tenant", &tenant_id);
    if let Some(state) = query.get("state") {
        back.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{redirect_uri}{separator}{}", back.finish())))
        .finish()
}

/// Whether a token request may redeem this grant: in time, the
/// redirect_uri of the authorize request, and the PKCE verifier.
fn redeemable(grant: &Grant, form: &Params) -> bool {
    let pkce_ok = match &grant.code_challenge {
        Some(challenge) => form.get("code_verifier").is_some_and(|v| s256(v) == *challenge),
        None => true,
    };
    grant.issued.elapsed() < CODE_LIFETIME
        && form.get("redirect_uri") == Some(&grant.redirect_uri)
        && pkce_ok
}

/// `POST token`: form body, client_secret_post; authorization_code (with
/// PKCE when the authorize request had a challenge) or refresh_token.
async fn token(
    centre: web::Data<Centre>,
    request: HttpRequest,
    form: web::Form<Params>,
) -> HttpResponse {
    let form = form.into_inner();
    let config = &centre.config;
    let dialect = config.dialect;
    let mut memory = centre.memory();
    memory.calls.token += 1;
    memory.last_token_request = Some(form.clone());
    let client_ok = form.get("client_id") == Some(&config.client_id)
        && form.get("client_secret").is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(s.as_bytes(), config.client_secret.as_bytes()))
        });
    if !client_ok {
        return oauth_error(dialect, 401, "invalid_client", "Bad client credentials");
    }
    let mut nonce = None;
    let user_name = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            // A code is gone once presented, whatever the outcome.
            let grant = form.get("code").and_then(|code| memory.codes.remove(code));
            match grant {
                Some(g) if !memory.refuse_codes && redeemable(&g, &form) => {
                    nonce = g.nonce;
                    g.user_name
                }
                _ => {
                    return oauth_error(dialect, 400, "invalid_grant", "Invalid authorization code")
                }
            }
        }
        Some("refresh_token") => {
            let known = form
                .get("refresh_token")
                .and_then(|t| memory.refresh_tokens.get(t))
                .filter(|issued| Instant::now() < issued.until)
                .map(|issued| issued.user_name.clone());
            match known {
                Some(user_name) if !memory.refuse_refresh => {
                    memory.refreshes += 1;
                    user_name
                }
                _ => return oauth_error(dialect, 400, "invalid_grant", "Invalid refresh token"),
            }
        }
        _ => return oauth_error(dialect, 400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let account = centre.account(&memory, &user_name);
    let (access_token, refresh_token, lifetime) = issue_tokens(&mut memory, user_name);
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": "get_user_info",
        "refresh_token": refresh_token,
    });
    if dialect == SimDialect::Oidc
        && form.get("grant_type").is_some_and(|g| g == "authorization_code")
    {
        let issuer = super::oidc::issuer(&request);
        match super::oidc::id_token(&centre, &account, &issuer, nonce.as_deref()) {
            Ok(id_token) => answer["id_token"] = json!(id_token),
            Err(err) => return HttpResponse::InternalServerError().body(err.to_string()),
        }
    }
    HttpResponse::Ok().json(answer)
}

/// `GET userinfo`: the account signed in, for `Authorization: Bearer …`
/// (KooGallery) or `X-OrgID-Authorization: Bearer …` (OrgID, in
/// snake_case).
async fn userinfo(centre: web::Data<Centre>, request: HttpRequest) -> HttpResponse {
    let dialect = centre.config.dialect;
    let header_name = match dialect {
        SimDialect::OrgId => "x-orgid-authorization",
        _ => "authorization",
    };
    let bearer = request
        .headers()
        .get(header_name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mut memory = centre.memory();
    memory.calls.userinfo += 1;
    memory.last_userinfo_headers = Some(
        request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
    );
    let user_name = bearer
        .and_then(|token| memory.access_tokens.get(token))
        .filter(|issued| Instant::now() < issued.until)
        .map(|issued| issued.user_name.clone());
    let Some(user_name) = user_name else {
        return oauth_error(
            dialect,
            401,
            "unauthorized",
            "Full authentication is required to access this resource",
        );
    };
    let account = centre.account(&memory, &user_name);
    match dialect {
        SimDialect::OrgId => HttpResponse::Ok().json(snake_case(&account)),
        _ => HttpResponse::Ok().json(account),
    }
}

/// An account as OrgID spells it: `userName` → `user_name`, and the
/// tenant's name beside its id.
pub(super) fn snake_case(account: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(fields) = account {
        for (name, value) in fields {
            let mut snake = String::with_capacity(name.len() + 4);
            for c in name.chars() {
                if c.is_ascii_uppercase() {
                    snake.push('_');
                    snake.push(c.to_ascii_lowercase());
                } else {
                    snake.push(c);
                }
            }
            out.insert(snake, value.clone());
        }
    }
    if let Some(tenant) = out.get("tenant").cloned() {
        out.entry("tenant_name").or_insert(tenant);
    }
    Value::Object(out)
}

/// `GET logout?redirect_url=…`: back to `redirect_url`.
pub(super) async fn logout(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    {
        let mut memory = centre.memory();
        memory.calls.logout += 1;
        memory.last_logout = Some(query.clone());
    }
    match query.get("redirect_url") {
        Some(target) => {
            HttpResponse::Found().insert_header((header::LOCATION, target.as_str())).finish()
        }
        None => HttpResponse::Ok().body("signed out of the simulated auth centre"),
    }
}
