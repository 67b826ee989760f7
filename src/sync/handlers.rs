//! HTTP handlers of the Kit channel (spec §3.2, §3.3, §6): authenticate,
//! validate, run, answer signed with the first Kit key.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::call;
use crate::error::Error;
use crate::inbound::{self, Call, Channel, ReplayInput};
use crate::marketplace::result::Answer;
use crate::marketplace::{signature, timestamp};
use crate::state::AppState;

/// `POST {path}/produceAPI/v2/{call}`: `x-sign`, `x-timestamp`, `x-nonce`.
pub async fn kit_v2(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let mut call = Call::new(Channel::KitV2);
    let result = v2(&state, &req, &path, payload, &mut call).await;
    inbound::respond(&state.db, &state.refused, &call, result, state.kit_access_keys.first()).await
}

async fn v2(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    payload: web::Payload,
    call: &mut Call,
) -> Result<Answer, Error> {
    call.activity = call::known_call(name)?;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // Whatever can be checked without the body is checked before it is
    // read: a call that cannot authenticate costs no body read or HMAC.
    call.request = inbound::unread_body_record(inbound::announced_size(req));
    let (Some(presented), Some(ts), Some(nonce)) =
        (header("x-sign"), header("x-timestamp"), header("x-nonce"))
    else {
        return Err(Error::Unauthenticated("x-sign, x-timestamp and x-nonce are required"));
    };
    inbound::precheck_v2(&state.settings.marketplace, &state.kit_access_keys, ts)?;
    if !signature::kit_v2_signature_shaped(presented) {
        return Err(Error::Unauthenticated("x-sign is not 64 hex digits"));
    }
    let turn = inbound::large_body_turn(&state.large_bodies, req).await;
    let body =
        inbound::read_body(req, payload, state.settings.marketplace.max_kit_body_bytes).await?;
    // Kept in full only once the call has authenticated.
    call.request = inbound::refused_body(&body);
    let credentials = inbound::V2Credentials { signature: presented, timestamp: ts, nonce };
    // An HMAC over up to 8 MiB is CPU work: on the blocking pool, so a
    // flood of large forged bodies does not hold the request workers.
    let (keys, bytes) = (state.kit_access_keys.clone(), body.clone());
    let (n, t, p) = (nonce.to_string(), ts.to_string(), presented.to_string());
    let good =
        blocking(move || signature::verify_kit_v2(&keys, &n, &t, &bytes, &p).is_some()).await?;
    drop(turn);
    let verify = |_: &[String]| good;
    call.nonce = inbound::authenticate_v2(
        &state.kv,
        &state.settings.marketplace,
        &state.kit_access_keys,
        "kit",
        credentials,
        verify,
    )
    .await?;
    call.request = inbound::redact_body(&body);
    call.replay_sealed = Some(ReplayInput::body(name, &body).seal(&state.vault)?);
    call::run(&state.sync(), &body, call).await
}

/// `POST {path}/produceAPI/{call}`: `authToken` over the body's top-level
/// fields, `timeStamp` in Beijing time.
pub async fn kit_v1(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let mut call = Call::new(Channel::KitV1);
    let result = v1(&state, &req, &path, payload, &mut call).await;
    inbound::respond(&state.db, &state.refused, &call, result, state.kit_access_keys.first()).await
}

async fn v1(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    payload: web::Payload,
    call: &mut Call,
) -> Result<Answer, Error> {
    call.activity = call::known_call(name)?;
    call.request = inbound::unread_body_record(inbound::announced_size(req));
    let Some(token) = req.headers().get("authToken").and_then(|v| v.to_str().ok()) else {
        return Err(Error::Unauthenticated("authToken is required"));
    };
    if state.kit_access_keys.is_empty() {
        return Err(Error::Unauthenticated("no Kit access key is configured"));
    }
    let turn = inbound::large_body_turn(&state.large_bodies, req).await;
    let body =
        inbound::read_body(req, payload, state.settings.marketplace.max_kit_body_bytes).await?;
    // Kept in full only once the call has authenticated.
    call.request = inbound::refused_body(&body);
    // V1 signs the body's top-level fields: parsing up to 8 MiB and the
    // HMAC over them are CPU work, on the blocking pool (as V2's HMAC), so
    // a flood of large forged V1 bodies does not hold the request workers.
    let bytes = body.clone();
    let params = blocking(move || signature::kit_v1_params(&bytes))
        .await?
        .map_err(|_| Error::invalid("the body is not a JSON object"))?;
    let Some((_, ts)) = params.iter().find(|(k, _)| k == "timeStamp") else {
        return Err(Error::Unauthenticated("timeStamp is required"));
    };
    // Kit bodies carry Beijing time (UTC+8), spec §3.3.
    timestamp::check_v1(ts, 8, Utc::now(), state.settings.marketplace.v1_timestamp_tolerance_secs)?;
    let ts = ts.clone();
    let (keys, token) = (state.kit_access_keys.clone(), token.to_string());
    if !blocking(move || signature::verify_v1(&keys, &params, &token).is_some()).await? {
        return Err(Error::Unauthenticated("authToken does not verify"));
    }
    drop(turn);
    call.v1_sent_at = timestamp::parse_v1(&ts, 8).map(|t| t.timestamp_millis());
    call.request = inbound::redact_body(&body);
    call.replay_sealed = Some(ReplayInput::body(name, &body).seal(&state.vault)?);
    call::run(&state.sync(), &body, call).await
}

/// Runs a signature check (or the parse it needs) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::Internal("the signature check did not finish".to_string()))
}
