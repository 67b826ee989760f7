//! Who may do what in the admin site: named operator accounts with a role
//! (`viewer` reads; `operator` also freezes, replays, ends sessions and
//! redelivers; `admin` also manages operators). The account of
//! `admin.username` is always an admin.
//!
//! # Security
//! An account made by `koogate operator add` (or the operators page) gets
//! a one-time password: it signs in once, and until its holder has chosen
//! a new password every admin page sends them to `/admin/password`, so the
//! printed password never goes on opening anything else.

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

use crate::error::Error;
use crate::sso::password::hash_password_off_worker;
use crate::store::{self, Db};
use entity::operator;

/// A password an operator chooses has at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// An account as it may sign in: its role and hash.
pub struct Account {
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
}

/// The named account `username`, if it exists and is not disabled (the
/// settings' admin is not one: see `auth`).
pub async fn named_account(db: &Db, username: &str) -> Result<Option<Account>, Error> {
    let Some(row) = store::operators::find(&db.conn, username).await? else { return Ok(None) };
    if row.disabled {
        return Ok(None);
    }
    // An unknown stored word reads as the least a role may do.
    let role = Role::parse(&row.role).unwrap_or(Role::Viewer);
    Ok(Some(Account {
        role,
        password_hash: row.password_hash,
        must_change_password: row.must_change_password,
    }))
}

/// Why an account cannot be made.
#[derive(Debug)]
pub enum NotAdded {
    /// The name is taken (or is `admin.username`).
    Taken,
    /// Not 1 to 64 letters, digits, `.`, `-`, `_` or `@`.
    BadName,
}

/// Makes an account with a fresh one-time password, which it returns
/// (shown once, stored only as its argon2id hash).
pub async fn add(
    db: &Db,
    settings_admin: &str,
    username: &str,
    role: Role,
    by: &str,
) -> Result<Result<String, NotAdded>, Error> {
    let name_ok = !username.is_empty()
        && username.len() <= 64
        && username.chars().all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c));
    if !name_ok {
        return Ok(Err(NotAdded::BadName));
    }
    if username == settings_admin {
        return Ok(Err(NotAdded::Taken));
    }
    let password = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let password_hash = hash_password_off_worker(&password).await?;
    let tx = db.begin_write().await?;
    let added = store::operators::insert(
        &tx.txn,
        operator::Model {
            username: username.to_string(),
            role: role.as_str().to_string(),
            password_hash,
            must_change_password: true,
            disabled: false,
            created_by: by.to_string(),
            created_at: Utc::now().timestamp_millis(),
        },
    )
    .await?;
    tx.commit().await?;
    if !added {
        return Ok(Err(NotAdded::Taken));
    }
    tracing::info!(username, role = role.as_str(), by, "operator account made");
    Ok(Ok(password))
}

/// Sets a named account's own new password (no longer one-time).
pub async fn change_password(db: &Db, username: &str, password: &str) -> Result<(), Error> {
    let hash = hash_password_off_worker(password).await?;
    let tx = db.begin_write().await?;
    store::operators::set_password(&tx.txn, username, &hash).await?;
    tx.commit().await?;
    tracing::info!(username, "operator chose a new password");
    Ok(())
}
