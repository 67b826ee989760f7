//! An authenticated Kit call: its fields parsed into a command, the call
//! described for the event log, the command run. The handlers come here
//! after authentication; an operator's replay comes here directly.

use super::request::{self, SyncCommand, CALLS};
use super::service::{self, Ctx};
use crate::error::Error;
use crate::inbound::Call;
use crate::marketplace::fields::Fields;
use crate::marketplace::result::Answer;

/// The Kit call a path names, or `000002`.
pub fn known_call(name: &str) -> Result<String, Error> {
    CALLS
        .iter()
        .find(|c| **c == name)
        .map(|c| c.to_string())
        .ok_or_else(|| Error::invalid("unknown sync call"))
}

/// What an authenticated Kit call does (`call.activity` names it).
pub async fn run(ctx: &Ctx<'_>, body: &[u8], call: &mut Call) -> Result<Answer, Error> {
    let fields = Fields::from_json(body)?;
    call.tenant_id = fields.optional_id("tenantId").ok().flatten();
    call.instance_id = fields.optional_id("instanceId").ok().flatten();
    call.test_flag = fields.test_flag().unwrap_or(false);
    let command: SyncCommand = request::parse(&call.activity, &fields)?;
    service::execute(ctx, call, &command).await
}
