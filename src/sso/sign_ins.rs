//! The sign-in record: every attempt that ends in a session or a refusal
//! (`/sso/login`, `/sso/callback` in both modes, `/sso/local`) leaves one
//! row: when, which organisation and user as far as known, the dialect,
//! how it ended, the refusal and the reference its page showed. Operators
//! search it in the admin site to answer "why can't alice sign in?".
//!
//! Recording is best effort: the person's answer never waits on it, and a
//! failed write is logged. A flood of forged callbacks is capped per
//! second, and housekeeping keeps [`RETENTION_DAYS`].

use serde::Serialize;

use super::refusal::Refusal;
use crate::store::{self, Db};
use entity::sign_in;

/// How long attempts are kept.
pub const RETENTION_DAYS: i64 = 90;

/// Attempts recorded per second per process at most (successes always).
const REFUSED_PER_SEC: u32 = 100;

/// How the person was to be signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Koogallery,
    Oidc,
    Orgid,
    Cas,
    /// A subscription's local account (`/sso/local`).
    Local,
    /// Refused before the dialect was known.
    Unknown,
}

impl Dialect {
    pub const ALL: [Dialect; 6] = [
        Dialect::Koogallery,
        Dialect::Oidc,
        Dialect::Orgid,
        Dialect::Cas,
        Dialect::Local,
        Dialect::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Koogallery => "koogallery",
            Dialect::Oidc => "oidc",
            Dialect::Orgid => "orgid",
            Dialect::Cas => "cas",
            Dialect::Local => "local",
            Dialect::Unknown => "unknown",
        }
    }

    fn parse_lenient(value: &str) -> Dialect {
        Dialect::ALL.into_iter().find(|d| d.as_str() == value).unwrap_or(Dialect::Unknown)
    }
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    SignedIn,
    /// Turned away: no grant, suspended, ended, unknown organisation.
    Refused,
    /// A callback this browser may not use (forged, reused, late).
    BadRequest,
    /// The auth centre refused or could not be reached.
    AuthCentreFailed,
    /// A local account's user name or password was wrong.
    WrongCredentials,
    /// Too many wrong passwords for a local account.
    Locked,
    /// A fault of ours.
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::SignedIn,
        Outcome::Refused,
        Outcome::BadRequest,
        Outcome::AuthCentreFailed,
        Outcome::WrongCredentials,
        Outcome::Locked,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::SignedIn => "signed_in",
            Outcome::Refused => "refused",
            Outcome::BadRequest => "bad_request",
            Outcome::AuthCentreFailed => "auth_centre_failed",
            Outcome::WrongCredentials => "wrong_credentials",
            Outcome::Locked => "locked",
            Outcome::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == value)
    }

    /// How a refusal ends an attempt (also `koogate_logins_total`'s label).
    pub fn of(refusal: &Refusal) -> Outcome {
        match refusal.outcome() {
            "bad_request" => Outcome::BadRequest,
            "auth_centre_failed" => Outcome::AuthCentreFailed,
            "error" => Outcome::Error,
            _ => Outcome::Refused,
        }
    }
}

/// What a sign-in learnt about itself on the way, whatever its end.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    pub user_name: Option<String>,
    pub dialect: Option<Dialect>,
}

/// One attempt, as the record keeps it.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub seen: Seen,
    pub outcome: Outcome,
    pub refusal: Option<&'a Refusal>,
    /// The reference the refusal page shows.
    pub reference: Option<&'a str>,
}

/// Where this application records its sign-in attempts, with its own
/// cap on unsuccessful ones (not a static: two applications in one
/// process, as the tests run them, each have theirs).
#[derive(Clone)]
pub struct SignInLog {
    db: Db,
    cap: std::sync::Arc<crate::write_cap::PerSecond>,
}

impl SignInLog {
    pub fn new(db: Db) -> SignInLog {
        SignInLog {
            db,
            cap: std::sync::Arc::new(crate::write_cap::PerSecond::new(REFUSED_PER_SEC)),
        }
    }

    /// Records a sign-in that opened a session.
    pub async fn signed_in(&self, seen: Seen) {
        let attempt = Attempt { seen, outcome: Outcome::SignedIn, refusal: None, reference: None };
        self.record(attempt).await;
    }

    /// Records a sign-in turned away with a refusal page; the reference
    /// that page is to show (and the record keeps).
    pub async fn refused(&self, seen: Seen, refusal: &Refusal) -> String {
        let reference = super::refusal::reference();
        let outcome = Outcome::of(refusal);
        self.record(Attempt { seen, outcome, refusal: Some(refusal), reference: Some(&reference) })
            .await;
        reference
    }

    /// Records a local sign-in declined on its own form (no refusal page).
    pub async fn declined(&self, seen: Seen, outcome: Outcome) {
        self.record(Attempt { seen, outcome, refusal: None, reference: None }).await;
    }

    /// Successes always; unsuccessful attempts up to the cap a second.
    async fn record(&self, attempt: Attempt<'_>) {
        let now_secs = chrono::Utc::now().timestamp();
        if attempt.outcome != Outcome::SignedIn && !self.cap.allow(now_secs) {
            tracing::debug!("sign-in attempt not recorded: over the rate");
            return;
        }
        record(&self.db, attempt).await;
    }
}

/// Writes one attempt (best effort: a failure is logged, never shown).
async fn record(db: &Db, attempt: Attempt<'_>) {
    let now = chrono::Utc::now();
    // Whatever a link or a form carried, bounded to the columns' sizes.
    let clip = |value: Option<String>, max: usize| {
        value.filter(|v| !v.is_empty()).map(|v| v.chars().take(max).collect::<String>())
    };
    let row = sign_in::Model {
        id: 0,
        at: now.timestamp_millis(),
        tenant_id: clip(attempt.seen.tenant_id, 64),
        instance_id: clip(attempt.seen.instance_id, 64),
        user_name: clip(attempt.seen.user_name, 128),
        dialect: attempt.seen.dialect.unwrap_or(Dialect::Unknown).as_str().to_string(),
        outcome: attempt.outcome.as_str().to_string(),
        refusal: attempt.refusal.map(|r| r.key().to_string()),
        reference: attempt.reference.map(str::to_string),
    };
    let written = async {
        let tx = db.begin_write().await?;
        store::sign_ins::insert(&tx.txn, row).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = written {
        tracing::warn!(error = ?err, "a sign-in attempt could not be recorded");
    }
}

/// One recorded attempt, as the admin site and API show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    pub user_name: Option<String>,
    pub dialect: Dialect,
    pub outcome: Outcome,
    /// The refusal's key, e.g. `not_granted` (see the catalogues' `refusal.*`).
    pub refusal: Option<String>,
    /// The reference the person's refusal page showed.
    pub reference: Option<String>,
}

impl From<sign_in::Model> for SignInView {
    fn from(row: sign_in::Model) -> SignInView {
        SignInView {
            id: row.id,
            at: chrono::DateTime::<chrono::Utc>::from_timestamp_millis(row.at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            tenant_id: row.tenant_id,
            instance_id: row.instance_id,
            user_name: row.user_name,
            dialect: Dialect::parse_lenient(&row.dialect),
            outcome: Outcome::parse(&row.outcome).unwrap_or(Outcome::Error),
            refusal: row.refusal,
            reference: row.reference,
        }
    }
}

/// Forgets attempts older than [`RETENTION_DAYS`], in bounded batches
/// (housekeeping); how many went.
pub async fn purge_old(db: &Db) -> Result<u64, crate::error::Error> {
    const BATCH: u64 = 1000;
    let before = (chrono::Utc::now() - chrono::Duration::days(RETENTION_DAYS)).timestamp_millis();
    let mut purged = 0;
    for _ in 0..20 {
        let tx = db.begin_write().await?;
        let gone = store::sign_ins::purge_batch(&tx.txn, before, BATCH).await?;
        tx.commit().await?;
        purged += gone;
        if gone < BATCH {
            break;
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{catalogue, Lang};

    /// The admin site names every outcome and dialect in both languages.
    #[test]
    fn every_outcome_and_dialect_has_words_in_both_languages() {
        let keys = Outcome::ALL
            .iter()
            .map(|o| format!("sign_in_outcome.{}", o.as_str()))
            .chain(Dialect::ALL.iter().map(|d| format!("sign_in_dialect.{}", d.as_str())));
        for key in keys {
            for lang in Lang::ALL {
                assert!(catalogue::lookup(lang, &key).is_some(), "{key} in {}", lang.tag());
            }
        }
    }

    #[test]
    fn outcomes_read_back_as_written() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("maybe"), None);
    }
}
