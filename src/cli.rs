//! The command line: `serve` (default), `migrate`, `keygen`, `hash-password`,
//! `reconcile`, `operator`, `sim`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use secrecy::ExposeSecret;

use crate::error::Error;
use crate::settings::{Settings, Sources};
use crate::startup::Application;
use crate::store::Db;
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(name = "koogate", version, about = "Huawei Cloud KooGallery gateway for SaaS vendors")]
pub struct Cli {
    /// Settings file (default: ./koogate.toml, or $KOOGATE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations (unless disabled) and serve. The default.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Make the RSA-3072 key pair for applicationSync client secrets: the
    /// private PEM goes to FILE (mode 0600), the public key body to stdout
    /// for the seller console.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Read a password on stdin (first line), print its argon2id hash for
    /// admin.password_hash.
    HashPassword,
    /// Ask the marketplace again about every live instance's orders and
    /// report what differs (drift); changes no instance.
    Reconcile,
    /// Operator accounts of the admin site.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Play the marketplace against a koogate: signed calls, a scripted
    /// tenant story, a local auth centre.
    #[command(subcommand)]
    Sim(crate::sim::SimCommand),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Make an operator account and print its one-time password (it signs
    /// in once; the account then has to choose its own password).
    Add {
        name: String,
        #[arg(long, value_parser = ["viewer", "operator", "admin"])]
        role: String,
    },
}

pub async fn run() -> Result<(), Error> {
    let mut cli = Cli::parse();
    match cli.command.take() {
        Some(Command::Keygen { out }) => return keygen(&out),
        Some(Command::HashPassword) => return hash_password(),
        Some(Command::Sim(command)) => {
            let _log = telemetry::init("pretty");
            return crate::sim::run(command).await;
        }
        other => cli.command = other,
    }
    let sources = Sources { file: cli.config.clone(), read_env: true, overrides: Vec::new() };
    let (settings, unknown) = Settings::load(&sources)?;
    let _log = telemetry::init(&settings.log.format);
    for name in unknown {
        tracing::warn!(variable = %name, "unknown KOOGATE__ setting ignored");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.map_err(|e| Error::Internal(e.to_string()))
        }
        Command::Migrate => {
            let db = Db::connect_for_command(settings.database.url.expose_secret(), 2).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Reconcile => reconcile(&settings).await,
        Command::Operator(OperatorCommand::Add { name, role }) => {
            add_operator(&settings, &name, &role).await
        }
        Command::Keygen { .. } | Command::HashPassword | Command::Sim(_) => Ok(()),
    }
}

fn keygen(out: &std::path::Path) -> Result<(), Error> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 3072)
        .map_err(|e| Error::Internal(format!("key generation failed: {e}")))?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Internal(format!("cannot encode the key: {e}")))?;
    let public_der = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| Error::Internal(format!("cannot encode the public key: {e}")))?;
    crate::vault::write_private_file(out, private_pem.as_str())?;
    use base64::Engine;
    println!("{}", base64::engine::general_purpose::STANDARD.encode(public_der.as_bytes()));
    Ok(())
}

/// `koogate hash-password`: the first line of stdin, without its line end,
/// hashed with argon2id. The password is never echoed.
fn hash_password() -> Result<(), Error> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Config(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Error::Config("no password on stdin".to_string()));
    }
    println!("{}", crate::sso::local::hash_password(password)?);
    Ok(())
}

/// `koogate operator add NAME --role ROLE`: the account, its one-time
/// password on stdout (nowhere else).
async fn add_operator(settings: &Settings, name: &str, role: &str) -> Result<(), Error> {
    use crate::admin::roles::{self, NotAdded, Role};
    let role = Role::parse(role)
        .ok_or_else(|| Error::Config("--role must be viewer, operator or admin".to_string()))?;
    // Migrations are `serve`'s and `migrate`'s: this may run beside a
    // serving koogate.
    let db = Db::connect_for_command(settings.database.url.expose_secret(), 2).await?;
    // Beside a busy koogate on SQLite the write may wait past the lock
    // timeout, or find the database locked: try again for a while before
    // giving up (the account is made once or not at all).
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let added = loop {
        match roles::add(&db, &settings.admin.username, name, role, "command line").await {
            Err(Error::InProgress | Error::Storage(_)) if std::time::Instant::now() < give_up => {
                let pause = 200 + rand::random::<u64>() % 600;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            other => break other?,
        }
    };
    match added {
        Ok(password) => {
            println!(
                "operator '{name}' ({}) made; one-time password: {password}\n\
                 It signs in once at /admin/login; the operator then chooses their own.",
                role.as_str()
            );
            Ok(())
        }
        Err(NotAdded::Taken) => Err(Error::Config(format!("an operator named '{name}' exists"))),
        Err(NotAdded::BadName) => Err(Error::Config(
            "NAME: 1 to 64 letters, digits, dots, dashes, underscores or @".to_string(),
        )),
    }
}

/// `koogate reconcile`: one walk now, progress on a terminal, a summary at
/// the end.
async fn reconcile(settings: &Settings) -> Result<(), Error> {
    use std::io::{IsTerminal, Write};
    let api = crate::open_api::client::OpenApi::from_settings(&settings.open_api, None)
        .map_err(|e| Error::Internal(format!("cannot build the Open API client: {e}")))?
        .ok_or_else(|| {
            Error::Config(
                "open_api.access_key_id and open_api.secret_access_key are not set".to_string(),
            )
        })?;
    let db = Db::connect_for_command(settings.database.url.expose_secret(), 2).await?;
    let outbox = crate::outbox::Outbox::from_settings(settings)?;
    let terminal = std::io::stderr().is_terminal();
    let summary = crate::open_api::reconcile::run(&db, &api, &outbox, |done, total| {
        if terminal {
            let width = 30usize;
            let filled = if total == 0 { width } else { (done as usize * width) / total as usize };
            eprint!("\r[{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(width - filled));
            let _ = std::io::stderr().flush();
        }
    })
    .await?;
    if terminal {
        eprintln!();
    }
    println!(
        "reconciled {} of {} live instances: {} with drift, {} new findings, {} not answered, {} refused",
        summary.checked,
        summary.instances,
        summary.with_drift,
        summary.new_findings,
        summary.unanswered,
        summary.refused
    );
    Ok(())
}
