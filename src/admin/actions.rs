//! What an operator can do from the admin site: replay a recorded call,
//! freeze or unfreeze an instance. Each is a POST with the session's CSRF
//! token, runs through the same domain code as the marketplace's calls,
//! and is recorded as an event.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::Operator;
use super::render::PageResult;
use super::roles::Role;
use crate::error::Error;
use crate::inbound::{self, Call, Channel, ReplayInput};
use crate::marketplace::result::Answer;
use crate::state::AppState;
use crate::store;
use crate::{lifecycle, sync};

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    /// Why (freeze and unfreeze ask for it).
    #[serde(default)]
    reason: String,
}

/// A reason is at most this long.
const MAX_REASON_CHARS: usize = 500;

/// `GET /admin/instances/{id}/freeze` (and `/unfreeze`): the confirmation
/// page, naming the tenant and how many users will be signed out, asking
/// why.
pub async fn confirm(
    state: web::Data<AppState>,
    operator: Operator,
    req: actix_web::HttpRequest,
    path: web::Path<(String, String)>,
) -> PageResult {
    operator.require(Role::Operator)?;
    let (instance_id, action) = path.into_inner();
    if action != "freeze" && action != "unfreeze" {
        return Err(Error::NotFound.into());
    }
    let conn = &state.db.conn;
    let instance = store::instances::find(conn, &instance_id).await?.ok_or(Error::NotFound)?;
    let tenant_id = instance.tenant_id.clone().unwrap_or_default();
    let tenant_name = match store::tenants::find(conn, &tenant_id).await? {
        Some(tenant) => tenant.name,
        None => String::new(),
    };
    let deps = crate::sso::Deps::of(&state);
    let signed_out = crate::sso::open_sessions::list(&deps, Some(&tenant_id), None).await?.len();
    let view = serde_json::json!({
        "action": action,
        "instanceId": instance_id,
        "tenantId": tenant_id,
        "tenantName": tenant_name,
        "signedOut": signed_out,
    });
    let viewer = super::viewer::Viewer::Operator(operator, req);
    super::render::render(&state, &viewer, "admin/confirm.html", &view)
}

/// `POST /admin/events/{id}/replay`: runs the recorded call again; 303 to
/// the new event.
pub async fn replay(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<i64>,
    form: web::Form<ActionForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(Role::Operator)?;
    let id = path.into_inner();
    let (new_id, answer) = replay_event(&state, id).await?;
    tracing::info!(username = %operator.username, event_id = id, replay_id = new_id, result_code = answer.result_code, "operator replayed a call");
    Ok(see_other(&format!("/admin/events/{new_id}?replayed=1")))
}

/// Runs a recorded call again through the code its channel runs after
/// authentication, recorded as a new event with `replay_of`. Returns the
/// new event's id and the answer.
///
/// # Security
/// The signature, timestamp and nonce checks are skipped: the call already
/// passed them when it was recorded (only authenticated calls keep a
/// replay input), and this path is reachable only from a signed-in
/// operator's form. Idempotency makes a replay of an applied call change
/// nothing.
pub async fn replay_event(state: &AppState, id: i64) -> Result<(i64, Answer), Error> {
    let original = store::events::find(&state.db.conn, id).await?.ok_or(Error::NotFound)?;
    let channel = Channel::parse(&original.channel)
        .filter(|c| *c != Channel::Operator)
        .ok_or_else(|| Error::invalid("an operator's action cannot be replayed"))?;
    let Some(sealed) = original.replay_sealed else {
        return Err(Error::invalid(
            "this call cannot be replayed: its input was not kept (it was refused before it \
             authenticated, or recorded before replays existed)",
        ));
    };
    let input = ReplayInput::open(&state.vault, &sealed)?;
    let mut call = Call::new(channel);
    call.replay_of = Some(id);
    call.replay_sealed = Some(sealed);
    let result = match channel {
        Channel::LifecycleV2 => {
            let body = input.raw_body()?;
            call.request = inbound::redact_body(&body);
            lifecycle::call::run_v2(&state.lifecycle(), &body, &mut call).await
        }
        Channel::LifecycleV1 => {
            call.request = inbound::redact_params(&input.params);
            lifecycle::call::run_v1(&state.lifecycle(), &input.params, &mut call).await
        }
        Channel::KitV2 | Channel::KitV1 => {
            let body = input.raw_body()?;
            call.request = inbound::redact_body(&body);
            call.activity = sync::call::known_call(&input.call)?;
            sync::call::run(&state.sync(), &body, &mut call).await
        }
        Channel::Operator => Err(Error::invalid("an operator's action cannot be replayed")),
    };
    let answer = inbound::settle(&state.db, &state.refused, &call, result).await;
    let replayed = store::events::latest_replay_of(&state.db.conn, id)
        .await?
        .ok_or_else(|| Error::Internal("the replay was not recorded".to_string()))?;
    Ok((replayed.id, answer))
}

/// `POST /admin/instances/{id}/freeze`
pub async fn freeze(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> PageResult {
    set_status(&state, &operator, &path.into_inner(), &form, true).await
}

/// `POST /admin/instances/{id}/unfreeze`
pub async fn unfreeze(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> PageResult {
    set_status(&state, &operator, &path.into_inner(), &form, false).await
}

async fn set_status(
    state: &AppState,
    operator: &Operator,
    instance_id: &str,
    form: &ActionForm,
    freeze_it: bool,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(Role::Operator)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(Error::invalid("Say why, in at most 500 characters.").into());
    }
    let before =
        store::instances::find(&state.db.conn, instance_id).await?.ok_or(Error::NotFound)?;
    let activity = if freeze_it { "freeze" } else { "unfreeze" };
    let mut call = Call::new(Channel::Operator);
    call.activity = activity.to_string();
    call.instance_id = Some(before.instance_id.clone());
    call.tenant_id = before.tenant_id.clone();
    call.order_id = Some(before.order_id.clone());
    call.test_flag = before.test_flag;
    call.request =
        json!({"operator": operator.username, "action": activity, "instanceId": instance_id, "reason": reason})
            .to_string();
    let result = lifecycle::service::operator_set_status(
        &state.db,
        &state.outbox,
        &call,
        instance_id,
        freeze_it,
    )
    .await;
    let answer = inbound::settle(&state.db, &state.refused, &call, result).await;
    if answer.result_code != "000000" {
        return Err(Error::invalid(format!("not done: {}", answer.result_msg)).into());
    }
    let after =
        store::instances::find(&state.db.conn, instance_id).await?.ok_or(Error::NotFound)?;
    let unchanged = store::instances::status(&before)? == store::instances::status(&after)?;
    let done = match (unchanged, freeze_it) {
        (true, _) => "unchanged",
        (false, true) => "frozen",
        (false, false) => "unfrozen",
    };
    tracing::info!(username = %operator.username, instance_id, action = activity, done, reason, "operator changed an instance");
    let back = match &after.tenant_id {
        Some(tenant) => format!(
            "/admin/tenants/{}?done={done}",
            form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
        ),
        None => format!(
            "/admin/instances?order={}",
            form_urlencoded::byte_serialize(after.order_id.as_bytes()).collect::<String>()
        ),
    };
    Ok(see_other(&back))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}
