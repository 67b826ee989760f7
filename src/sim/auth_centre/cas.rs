//! CAS 3.0: `login?service=…` back to the service with a ticket, and
//! `p3/serviceValidate` answering XML (JSON with `format=JSON`), as the
//! aPaaS workbench's server does; on the OrgID host, JSON with both
//! members present and a `token` for its userinfo instead of the tenant
//! and role.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::CODE_LIFETIME;
use super::{bound, escape, issue_tokens, random, sign_in_form, Centre, Grant, Params, SimDialect};

/// `GET login?service=…`: the sign-in form, or straight back with a
/// ticket for the chosen account.
pub(super) async fn login_form(
    centre: web::Data<Centre>,
    query: web::Query<Params>,
) -> HttpResponse {
    let query = query.into_inner();
    let next_user = {
        let mut memory = centre.memory();
        memory.calls.authorize += 1;
        memory.last_authorize = Some(query.clone());
        memory.next_user.clone()
    };
    let Some(service) = query.get("service").filter(|s| !s.is_empty()) else {
        return HttpResponse::BadRequest().body("service missing");
    };
    match next_user {
        Some(user_name) => issue_ticket(&centre, service, user_name),
        None => sign_in_form(&centre, &query),
    }
}

/// `POST login`: the form's account signs in.
pub(super) async fn login(centre: web::Data<Centre>, form: web::Form<Params>) -> HttpResponse {
    let form = form.into_inner();
    let (Some(service), Some(user_name)) = (
        form.get("service").filter(|s| !s.is_empty()),
        form.get("login_user").map(|u| u.trim()).filter(|u| !u.is_empty()),
    ) else {
        return HttpResponse::BadRequest().body("a service and an account name are needed");
    };
    issue_ticket(&centre, service, user_name.to_string())
}

fn issue_ticket(centre: &Centre, service: &str, user_name: String) -> HttpResponse {
    let ticket = random("ST-");
    {
        let mut memory = centre.memory();
        bound(&mut memory.tickets, |g| g.issued);
        let grant = Grant {
            user_name,
            redirect_uri: service.to_string(),
            code_challenge: None,
            nonce: None,
            issued: Instant::now(),
        };
        memory.tickets.insert(ticket.clone(), grant);
    }
    let separator = if service.contains('?') { '&' } else { '?' };
    let ticket_pair: String =
        form_urlencoded::Serializer::new(String::new()).append_pair("ticket", &ticket).finish();
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{service}{separator}{ticket_pair}")))
        .finish()
}

/// `GET p3/serviceValidate?service&ticket[&format=JSON]`.
pub(super) async fn validate(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    let orgid = centre.config.dialect == SimDialect::OrgId;
    let mut memory = centre.memory();
    memory.calls.validate += 1;
    let json = orgid
        || memory.cas_json
        || query.get("format").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let presented = query.get("ticket").cloned().unwrap_or_default();
    let grant = if memory.tickets_reusable {
        memory
            .tickets
            .get(&presented)
            .map(|g| (g.user_name.clone(), g.redirect_uri.clone(), g.issued))
    } else {
        memory.tickets.remove(&presented).map(|g| (g.user_name, g.redirect_uri, g.issued))
    };
    let failure = |code: &str, text: &str| answer_failure(json, orgid, code, text);
    let Some((user_name, service, issued)) = grant else {
        return failure("INVALID_TICKET", &format!("Ticket {presented} not recognized"));
    };
    if issued.elapsed() >= CODE_LIFETIME {
        return failure("INVALID_TICKET", "Ticket expired");
    }
    if query.get("service") != Some(&service) {
        return failure("INVALID_SERVICE", "Ticket was issued for another service");
    }
    let account = centre.account(&memory, &user_name);
    let mut attributes = serde_json::Map::new();
    if orgid {
        let (access_token, _, _) = issue_tokens(&mut memory, user_name.clone());
        attributes.insert("token".to_string(), json!(access_token));
        attributes.insert("user_name".to_string(), json!(user_name));
    } else {
        for name in ["userName", "name", "email", "role", "organizationCode", "tenant"] {
            if let Some(value) = account.get(name).filter(|v| !v.is_null()) {
                attributes.insert(name.to_string(), value.clone());
            }
        }
    }
    if json {
        let mut body = json!({"serviceResponse": {"authenticationSuccess": {
            "user": user_name, "attributes": attributes}}});
        if orgid {
            body["serviceResponse"]["authenticationFailure"] = Value::Null;
        }
        return HttpResponse::Ok().json(body);
    }
    let attributes: String = attributes
        .iter()
        .map(|(name, value)| {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            format!("<cas:{name}>{}</cas:{name}>", escape(&text))
        })
        .collect();
    xml(format!(
        "<cas:authenticationSuccess><cas:user>{}</cas:user><cas:attributes>\
         <cas:isFromNewLogin>true</cas:isFromNewLogin>{attributes}</cas:attributes>\
         </cas:authenticationSuccess>",
        escape(&user_name)
    ))
}

fn answer_failure(json: bool, orgid: bool, code: &str, text: &str) -> HttpResponse {
    if json {
        let mut body = json!({"serviceResponse": {"authenticationFailure": {
            "code": code, "description": text}}});
        if orgid {
            body["serviceResponse"]["authenticationSuccess"] = Value::Null;
        }
        return HttpResponse::Ok().json(body);
    }
    xml(format!(
        "<cas:authenticationFailure code=\"{}\">{}</cas:authenticationFailure>",
        escape(code),
        escape(text)
    ))
}

fn xml(inner: String) -> HttpResponse {
    HttpResponse::Ok().content_type("application/xml; charset=utf-8").body(format!(
        "<cas:serviceResponse xmlns:cas=\"http://www.yale.edu/tp/cas\">{inner}</cas:serviceResponse>"
    ))
}
