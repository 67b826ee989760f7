//! HTTP handlers of the lifecycle channel: authenticate, validate, run,
//! answer signed. Every call, good or bad, leaves an event.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::call;
use crate::error::Error;
use crate::inbound::{self, Call, Channel, ReplayInput};
use crate::marketplace::fields::Fields;
use crate::marketplace::result::Answer;
use crate::marketplace::{signature, timestamp};
use crate::state::AppState;

/// `POST {path}`: lifecycle V2 (spec §3.1, §5).
pub async fn lifecycle_v2(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let mut call = Call::new(Channel::LifecycleV2);
    let result = v2(&state, &req, payload, &mut call).await;
    inbound::respond(&state.db, &state.refused, &call, result, state.access_keys.first()).await
}

async fn v2(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    call: &mut Call,
) -> Result<Answer, Error> {
    let query = query_pairs(req);
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if let Some(ts) = param("timestamp") {
        inbound::precheck_v2(&state.settings.marketplace, &state.access_keys, ts)?;
    }
    let body = inbound::read_body(req, payload, inbound::LIFECYCLE_MAX_BODY).await?;
    // Kept in full only once the call has authenticated.
    call.request = inbound::refused_body(&body);
    let (Some(presented), Some(ts), Some(nonce)) =
        (param("signature"), param("timestamp"), param("nonce"))
    else {
        return Err(Error::Unauthenticated("signature, timestamp and nonce are required"));
    };
    let credentials = inbound::V2Credentials { signature: presented, timestamp: ts, nonce };
    let verify = |keys: &[String]| {
        signature::verify_lifecycle_v2(keys, nonce, ts, &body, presented).is_some()
    };
    call.nonce = inbound::authenticate_v2(
        &state.kv,
        &state.settings.marketplace,
        &state.access_keys,
        "lifecycle",
        credentials,
        verify,
    )
    .await?;
    call.request = inbound::redact_body(&body);
    call.replay_sealed = Some(ReplayInput::body("", &body).seal(&state.vault)?);
    call::run_v2(&state.lifecycle(), &body, call).await
}

/// `GET {path}`: lifecycle V1 (spec §3.3, §5).
pub async fn lifecycle_v1(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let mut call = Call::new(Channel::LifecycleV1);
    let result = v1(&state, &req, &mut call).await;
    inbound::respond(&state.db, &state.refused, &call, result, state.access_keys.first()).await
}

async fn v1(state: &AppState, req: &HttpRequest, call: &mut Call) -> Result<Answer, Error> {
    let params = query_pairs(req);
    call.request = inbound::redact_params(&params);
    let fields = Fields::from_params(&params);
    call.activity = fields.optional("activity", 32).ok().flatten().unwrap_or_default();
    let Some(token) = fields.optional("authToken", 128)? else {
        return Err(Error::Unauthenticated("authToken is required"));
    };
    let Some(ts) = fields.optional("timeStamp", 20)? else {
        return Err(Error::Unauthenticated("timeStamp is required"));
    };
    if state.access_keys.is_empty() {
        return Err(Error::Unauthenticated("no access key is configured"));
    }
    timestamp::check_v1(
        &ts,
        0,
        Utc::now(),
        state.settings.marketplace.v1_timestamp_tolerance_secs,
    )?;
    let verified = signature::verify_v1(&state.access_keys, &params, &token).is_some()
        // A `+` the sender forgot to percent-encode arrives as a space.
        || (token.contains(' ') && signature::verify_v1(&state.access_keys, &params, &token.replace(' ', "+")).is_some());
    if !verified {
        return Err(Error::Unauthenticated("authToken does not verify"));
    }
    call.v1_sent_at = timestamp::parse_v1(&ts, 0).map(|t| t.timestamp_millis());
    call.replay_sealed = Some(ReplayInput::params(&params).seal(&state.vault)?);
    call::run_v1(&state.lifecycle(), &params, call).await
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
