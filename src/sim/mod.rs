//! `koogate sim`: plays the marketplace against any koogate (or other ISV
//! endpoint): signed lifecycle and Kit calls, a scripted tenant story, and
//! a local tenant auth centre to click through sign-in.

pub mod auth_centre;
pub mod client;
pub mod open_api;
pub mod story;

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use crate::error::Error;
use client::{Marketplace, Version};

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Send one call, signed as the marketplace signs it, and print the
    /// answer and whether its Body-Sign verified.
    Send {
        #[command(flatten)]
        target: Target,
        /// A Kit call name (tenantSync, applicationSync, authSync,
        /// singleOrgSync, allOrgSync); without it, a lifecycle call.
        #[arg(long)]
        kit: Option<String>,
        /// The JSON body, or @FILE.
        body: String,
    },
    /// Run a tenant's life against a running koogate: purchase, bind
    /// tenant, app credentials, departments, grant users, freeze,
    /// unfreeze, release.
    Story {
        #[command(flatten)]
        target: Target,
        /// The ISV public key (PEM) matching koogate's
        /// marketplace.rsa_private_key_file; client secrets are sealed with it.
        #[arg(long)]
        isv_public_key: PathBuf,
        /// The tenant's auth centre (domainName), e.g. a `sim auth-centre`.
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        domain: String,
        #[arg(long, default_value = "sim-client")]
        client_id: String,
        #[arg(long, env = "KOOGATE_SIM_CLIENT_SECRET", default_value = "sim-secret")]
        client_secret: String,
        /// Users to grant (repeat the flag).
        #[arg(long = "user", default_values_t = vec!["alice".to_string(), "bob".to_string()])]
        users: Vec<String>,
        /// Stop once the tenant is set up (no freeze, unfreeze, release),
        /// so you can sign in.
        #[arg(long)]
        keep: bool,
    },
    /// Serve a tenant auth centre for local sign-in, in one of the
    /// sign-in dialects.
    AuthCentre {
        #[arg(long, default_value = "127.0.0.1:9000")]
        bind: String,
        #[arg(long, default_value = "sim-client")]
        client_id: String,
        #[arg(long, env = "KOOGATE_SIM_CLIENT_SECRET", default_value = "sim-secret")]
        client_secret: String,
        /// The tenant id the callback names (the story prints it).
        #[arg(long)]
        tenant: String,
        /// Sign this account in without showing the form (load tests).
        #[arg(long)]
        auto_user: Option<String>,
        /// The dialect it speaks (set the tenant's sign-in to match).
        #[arg(long, value_enum, default_value = "koogallery")]
        dialect: auth_centre::SimDialect,
    },
    /// Serve the marketplace's seller Open API (order/query, usage push)
    /// checking APIG signatures as the marketplace does.
    OpenApi {
        #[arg(long, default_value = "127.0.0.1:9100")]
        bind: String,
        /// The AK koogate signs with (open_api.access_key_id).
        #[arg(long, env = "KOOGATE_SIM_OPEN_API_AK", default_value = "sim-ak")]
        access_key_id: String,
        /// The SK (open_api.secret_access_key).
        #[arg(
            long,
            env = "KOOGATE_SIM_OPEN_API_SK",
            hide_env_values = true,
            default_value = "sim-sk"
        )]
        secret_access_key: String,
        /// The KooGallery key signing usage bodies (marketplace.access_key).
        #[arg(long, env = "KOOGATE_SIM_ACCESS_KEY", hide_env_values = true)]
        key: String,
        /// Calls per second before answering 406 MKT.0250 (0: no limit).
        #[arg(long, default_value_t = 0)]
        rate_limit: u32,
    },
}

/// Where calls go and how they are signed.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The marketplace address of the koogate: `{public_url}{marketplace.path}`.
    #[arg(long, default_value = "http://127.0.0.1:8080/koogallery")]
    url: String,
    /// The lifecycle access key (marketplace.access_key).
    #[arg(long, env = "KOOGATE_SIM_ACCESS_KEY", hide_env_values = true)]
    key: String,
    /// The Kit access key (marketplace.kit_access_key); default: --key.
    #[arg(long, env = "KOOGATE_SIM_KIT_ACCESS_KEY", hide_env_values = true)]
    kit_key: Option<String>,
    #[arg(long, value_enum, default_value = "v2")]
    version: Version,
}

impl Target {
    fn marketplace(&self) -> Result<Marketplace, Error> {
        Marketplace::new(&self.url, &self.key, self.kit_key.as_deref().unwrap_or(&self.key))
    }
}

pub async fn run(command: SimCommand) -> Result<(), Error> {
    let mut out = std::io::stdout();
    match command {
        SimCommand::Send { target, kit, body } => {
            let text = match body.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("cannot read {path}: {e}")))?,
                None => body,
            };
            let body: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::invalid(format!("the body is not JSON: {e}")))?;
            let marketplace = target.marketplace()?;
            let reply = match &kit {
                Some(call) => marketplace.kit(target.version, call, &body).await?,
                None => marketplace.lifecycle(target.version, &body).await?,
            };
            let sign = match reply.body_sign_ok {
                Some(true) => "verified",
                Some(false) => "WRONG",
                None => "missing",
            };
            let _ = writeln!(out, "HTTP {}  Body-Sign {sign}", reply.status);
            let _ =
                writeln!(out, "{}", serde_json::to_string_pretty(&reply.json).unwrap_or_default());
            Ok(())
        }
        SimCommand::Story {
            target,
            isv_public_key,
            domain,
            client_id,
            client_secret,
            users,
            keep,
        } => {
            let pem = std::fs::read_to_string(&isv_public_key).map_err(|e| {
                Error::Config(format!("cannot read {}: {e}", isv_public_key.display()))
            })?;
            let story = story::Story {
                version: target.version,
                domain_name: domain,
                client_id,
                client_secret,
                isv_public_key_pem: pem,
                users,
                keep,
            };
            let made = story.run(&target.marketplace()?, &mut out).await?;
            let _ = writeln!(
                out,
                "instance {}  tenant {}  app {}",
                made.instance_id, made.tenant_id, made.app_id
            );
            Ok(())
        }
        SimCommand::AuthCentre { bind, client_id, client_secret, tenant, auto_user, dialect } => {
            let listener = std::net::TcpListener::bind(&bind)
                .map_err(|e| Error::Config(format!("cannot listen on {bind}: {e}")))?;
            let config = auth_centre::Config {
                client_id,
                client_secret,
                tenant_id: tenant,
                auto_user,
                dialect,
            };
            let _ = writeln!(out, "simulated auth centre ({dialect:?}) on http://{bind}");
            let _ = writeln!(
                out,
                "(koogate reaches an auth centre on a local address only with KOOGATE__SSO__ALLOW_PRIVATE_AUTH_CENTRES=true)"
            );
            auth_centre::serve(listener, config)?
                .await
                .map_err(|e| Error::Internal(format!("the auth centre stopped: {e}")))
        }
        SimCommand::OpenApi { bind, access_key_id, secret_access_key, key, rate_limit } => {
            let listener = std::net::TcpListener::bind(&bind)
                .map_err(|e| Error::Config(format!("cannot listen on {bind}: {e}")))?;
            let config = open_api::Config {
                access_key_id,
                secret_access_key,
                koogallery_key: key,
                rate_limit,
            };
            let _ = writeln!(out, "simulated seller Open API on http://{bind}");
            open_api::serve(listener, config)?
                .await
                .map_err(|e| Error::Internal(format!("the Open API sim stopped: {e}")))
        }
    }
}
