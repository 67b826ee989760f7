//! What each sync call does, in one transaction with the event that
//! records it. Adds and deletes are idempotent: a repeat, or a delete of
//! something absent, changes nothing and answers success (spec §6).
//!
//! The calls are split by what they copy: the enterprise and its app
//! credentials ([`super::tenants`]), users and their authorisations
//! ([`super::users`]), departments ([`super::departments`]).

use chrono::{DateTime, Utc};
use rsa::RsaPrivateKey;

use super::request::{AppSync, SyncCommand};
use super::{departments, tenants, users, Flag};
use crate::error::Error;
use crate::inbound::{self, Call, Effects};
use crate::marketplace::client_secret::decrypt_client_secret_off_worker;
use crate::marketplace::result::Answer;
use crate::outbox::Outbox;
use crate::store::{self, Db};
use crate::vault::Vault;

/// What the sync calls use, and nothing more.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub outbox: &'a Outbox,
    pub vault: &'a Vault,
    /// Opens applicationSync client secrets; `None` when not configured.
    pub rsa_key: Option<&'a RsaPrivateKey>,
    /// The call's clock: the times written on the rows it changes.
    pub now: DateTime<Utc>,
}

/// Runs a sync command and records its event, all in one transaction.
#[tracing::instrument(name = "sync", skip_all, fields(activity = %call.activity, tenant_id = %command.common().tenant_id))]
pub async fn execute(ctx: &Ctx<'_>, call: &Call, command: &SyncCommand) -> Result<Answer, Error> {
    // The secret is opened before the transaction: RSA work should not
    // hold the writer.
    let client_secret = match command {
        SyncCommand::App(app) if app.flag != Flag::Delete => {
            Some(open_client_secret(ctx.rsa_key, app).await?)
        }
        _ => None,
    };
    let tx = inbound::begin(ctx.db, call).await?;
    let conn = &tx.txn;
    store::lock_tenant(conn, &command.common().tenant_id).await?;
    if let Some(subject) = v1_ordered_subject(command) {
        if inbound::is_stale_v1(conn, call, &subject).await? {
            let answer = Answer::success();
            inbound::commit_call(tx, ctx.outbox, call, &answer, Effects::stale()).await?;
            return Ok(answer);
        }
    }
    let mut fx = Effects::default();
    let e = &mut fx.events;
    let now = ctx.now;
    fx.detail = match command {
        SyncCommand::Tenant(t) => tenants::tenant_sync(conn, now, t, e).await?,
        SyncCommand::App(a) => tenants::app_sync(ctx, conn, a, client_secret, e).await?,
        SyncCommand::Auth(a) => users::auth_sync(ctx, conn, a, e).await?,
        SyncCommand::SingleOrg(o) => departments::single_org_sync(conn, now, o, e).await?,
        SyncCommand::AllOrg(o) => departments::all_org_sync(conn, now, o, e).await?,
    };
    let answer = Answer::success();
    inbound::commit_call(tx, ctx.outbox, call, &answer, fx).await?;
    Ok(answer)
}

/// What a Kit V1 call's `timeStamp` orders: the enterprise itself and each
/// of its app credentials, whose adds and deletes a replay could undo.
/// User and department calls carry their own `currentSyncTime` ordering.
fn v1_ordered_subject(command: &SyncCommand) -> Option<String> {
    match command {
        SyncCommand::Tenant(t) => Some(format!("tenant:{}", t.common.tenant_id)),
        SyncCommand::App(a) => Some(format!("app:{}:{}", a.common.tenant_id, a.app_id)),
        SyncCommand::Auth(_) | SyncCommand::SingleOrg(_) | SyncCommand::AllOrg(_) => None,
    }
}

/// Decrypts the RSA-OAEP client secret (spec §4); any failure is `000101`.
async fn open_client_secret(
    rsa_key: Option<&RsaPrivateKey>,
    app: &AppSync,
) -> Result<String, Error> {
    let key = rsa_key.ok_or(Error::AppSecret("no RSA private key is configured"))?;
    let sealed = app.client_secret.as_deref().unwrap_or_default();
    decrypt_client_secret_off_worker(key, sealed)
        .await
        .map_err(|e| Error::Internal(format!("the clientSecret task failed: {e}")))?
        .map_err(|_| Error::AppSecret("clientSecret does not decrypt with our key"))
}
