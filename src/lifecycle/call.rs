//! An authenticated lifecycle call: its fields parsed into a command, the
//! call described for the event log, the command run. The handlers come
//! here after authentication; an operator's replay comes here directly.

use super::request::{self, Command};
use super::service::{self, Ctx};
use crate::error::Error;
use crate::inbound::Call;
use crate::marketplace::appinfo::{self, EncryptType};
use crate::marketplace::fields::Fields;
use crate::marketplace::result::Answer;

/// What an authenticated V2 call does.
pub async fn run_v2(ctx: &Ctx<'_>, body: &[u8], call: &mut Call) -> Result<Answer, Error> {
    let fields = Fields::from_json(body)?;
    call.activity = fields.activity()?;
    call.test_flag = fields.test_flag()?;
    let command = request::parse_v2(&fields, &call.activity)?;
    describe(call, &command);
    service::execute(ctx, call, &command).await
}

/// What an authenticated V1 call does.
pub async fn run_v1(
    ctx: &Ctx<'_>,
    params: &[(String, String)],
    call: &mut Call,
) -> Result<Answer, Error> {
    let fields = Fields::from_params(params);
    let activity = fields.activity()?;
    call.activity.clone_from(&activity);
    call.test_flag = fields.test_flag()?;
    let key =
        ctx.access_key.ok_or(Error::Unauthenticated("no access key is configured"))?.to_string();
    // V1 contact fields: AES-256 as the official demo uses, AES-128 as a
    // fallback (research §2.4).
    let decrypt = move |value: &str| {
        appinfo::decrypt(&key, EncryptType::Aes256, value)
            .or_else(|_| appinfo::decrypt(&key, EncryptType::Aes128, value))
            .ok()
    };
    let command = request::parse_v1(&fields, &activity, &decrypt)?;
    describe(call, &command);
    service::execute(ctx, call, &command).await
}

fn describe(call: &mut Call, command: &Command) {
    call.instance_id = command.instance_id().map(str::to_string);
    call.order_id = command.order_id().map(str::to_string);
    if let Command::NewInstance(new) = command {
        call.test_flag = new.test_flag;
    }
}
