//! Who is looking at an admin page: an operator in a browser, or a program
//! with the admin API token under `/admin/api/`. The pages' handlers serve
//! both, so the API shows exactly what the pages show.

use std::future::{ready, Future};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::auth::Operator;
use crate::error::Error;
use crate::state::AppState;

pub enum Viewer {
    /// With the request, for the page's language and its switch link.
    Operator(Operator, HttpRequest),
    Api,
}

/// # Security
/// Under `/admin/api/` only the bearer token opens (an operator's cookie
/// does not: the API answers programs); elsewhere only an operator's live
/// session does.
impl FromRequest for Viewer {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.path().starts_with("/admin/api/") {
            let allowed = req.app_data::<web::Data<AppState>>().is_some_and(|state| {
                crate::bearer::presented(
                    req,
                    secrecy::ExposeSecret::expose_secret(&state.settings.admin.api_token),
                )
            });
            return Box::pin(ready(if allowed {
                Ok(Viewer::Api)
            } else {
                Err(Error::Unauthenticated("a valid admin bearer token is required").into())
            }));
        }
        let operator = Operator::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { Ok(Viewer::Operator(operator.await?, req)) })
    }
}
