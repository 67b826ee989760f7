//! What each lifecycle command does, inside one transaction with the event
//! that records it. Idempotency comes from the orders' unique key; a
//! concurrent delivery that loses the race is run again and then finds the
//! winner's order.
//!
//! The commands are split by concept: a purchase and what the marketplace
//! is told about an instance ([`super::purchase`]), and the changes to a
//! live instance ([`super::changes`]).

use chrono::{DateTime, Utc};

use super::request::Command;
use super::{changes, purchase, FreezeReason};
use crate::error::Error;
use crate::inbound::{self, Call, Effects};
use crate::marketplace::result::Answer;
use crate::outbox::Outbox;
use crate::settings::ProvisioningSettings;
use crate::store::Db;
use crate::vault::Vault;

/// What the lifecycle commands use, and nothing more.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub outbox: &'a Outbox,
    pub vault: &'a Vault,
    pub provisioning: &'a ProvisioningSettings,
    /// The first lifecycle key: it encrypts appInfo credentials and opens
    /// V1 contact fields. `None` when no key is configured.
    pub access_key: Option<&'a str>,
    /// `marketplace.encrypt_type`, checked when appInfo is encrypted.
    pub encrypt_type: &'a str,
    /// The Open API is configured: queue each order's details for fetching.
    pub fetch_orders: bool,
    /// The call's clock: order and instance times, "is this expiry ahead".
    pub now: DateTime<Utc>,
}

/// Runs a command and records its event, all in one transaction (a new
/// purchase on PostgreSQL: in one statement, see `purchase::new_instance_at_once`).
#[tracing::instrument(name = "lifecycle", skip_all, fields(activity = %call.activity))]
pub async fn execute(ctx: &Ctx<'_>, call: &Call, command: &Command) -> Result<Answer, Error> {
    if let Command::NewInstance(new) = command {
        let fetch = if ctx.fetch_orders { crate::open_api::fetch::queued(command) } else { None };
        if let Some(answer) = purchase::new_instance_at_once(ctx, call, new, fetch).await? {
            return Ok(answer);
        }
    }
    let tx = inbound::begin(ctx.db, call).await?;
    let conn = &tx.txn;
    if let Some(subject) = v1_ordered_subject(command) {
        if inbound::is_stale_v1(conn, call, &subject).await? {
            let answer = Answer::success();
            inbound::commit_call(tx, ctx.outbox, call, &answer, Effects::stale()).await?;
            return Ok(answer);
        }
    }
    let mut fx = Effects::default();
    let answer = match command {
        Command::NewInstance(new) => purchase::new_instance(ctx, conn, new, &mut fx).await?,
        Command::Query { instance_ids } => purchase::query(ctx, conn, instance_ids).await?,
        Command::Refresh(refresh) => changes::refresh(conn, ctx.now, refresh, &mut fx).await?,
        Command::Freeze { instance_id, reason } => {
            changes::freeze(conn, instance_id, *reason, &mut fx).await?
        }
        Command::Unfreeze { instance_id } => changes::unfreeze(conn, instance_id, &mut fx).await?,
        Command::Upgrade(upgrade) => changes::upgrade(conn, ctx.now, upgrade, &mut fx).await?,
        Command::ChangeCheck { instance_id } => {
            changes::live_instance(conn, instance_id).await?;
            Answer::success()
        }
        Command::Release { instance_id } => changes::release(conn, instance_id, &mut fx).await?,
    };
    // Order details are fetched later, from a queue written with the call.
    if ctx.fetch_orders {
        crate::open_api::fetch::queue(conn, command).await?;
    }
    inbound::commit_call(tx, ctx.outbox, call, &answer, fx).await?;
    Ok(answer)
}

/// The instance whose V1 state changes are ordered by `timeStamp`: every
/// change to a live instance. A purchase is keyed by its order and a query
/// changes nothing.
fn v1_ordered_subject(command: &Command) -> Option<String> {
    match command {
        Command::NewInstance(_) | Command::Query { .. } | Command::ChangeCheck { .. } => None,
        Command::Refresh(_)
        | Command::Freeze { .. }
        | Command::Unfreeze { .. }
        | Command::Upgrade(_)
        | Command::Release { .. } => command.instance_id().map(|id| format!("instance:{id}")),
    }
}

/// An operator's freeze (`freeze` true) or unfreeze from the admin site.
/// The same state change as the marketplace's, so the same sessions end;
/// its transition says `operator` and its event is the `call` of channel
/// `operator`.
#[tracing::instrument(name = "operator_set_status", skip_all, fields(instance_id = %instance_id, freeze_it = freeze_it))]
pub async fn operator_set_status(
    db: &Db,
    outbox: &Outbox,
    call: &Call,
    instance_id: &str,
    freeze_it: bool,
) -> Result<Answer, Error> {
    let tx = inbound::begin(db, call).await?;
    let conn = &tx.txn;
    let mut fx = Effects::default();
    let answer = if freeze_it {
        changes::freeze(conn, instance_id, FreezeReason::Operator, &mut fx).await?
    } else {
        changes::unfreeze(conn, instance_id, &mut fx).await?
    };
    for change in &mut fx.transitions {
        change.cause = "operator".to_string();
    }
    inbound::commit_call(tx, outbox, call, &answer, fx).await?;
    Ok(answer)
}
