//! The `portcullis` command line. Every command other than `serve` works on the database
//! directly, whether or not a server is running, and prints JSON records on stdout.

mod clients;
mod users;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::Settings;
use crate::error::Error;
use crate::protocol::time;
use crate::service;
use crate::storage::Db;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "A small, fast, self-hosted OAuth 2.0 and OpenID Connect provider",
    after_help = "Settings come from --config FILE (TOML) and PORTCULLIS_* environment variables,\n\
                  e.g. PORTCULLIS_DATABASE_URL=postgres://user@host/db. See README.md."
)]
pub struct Cli {
    /// TOML settings file; PORTCULLIS_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP until interrupted.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage end-user accounts.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage OAuth clients (relying parties and machine clients).
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage issued tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage the keys that sign ID tokens and JWT access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys (never their private parts).
    List,
    /// Promote the next key to current, retire the current one, and publish a new next
    /// key. Relying parties already have the promoted key from the JWKS.
    Rotate {
        /// Algorithm of the new next key: RS256 (default: that of the key being
        /// promoted), ES256 or EdDSA.
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
    /// Revoke a compromised signing key at once: it leaves the JWKS and is no longer
    /// accepted in id_token_hint, on every node; its private part is erased, so
    /// relying parties and resource servers stop verifying what it signed once they
    /// fetch the JWKS again. A revoked current key is replaced by the next one.
    Revoke {
        /// The key's kid, as `keys list` shows it (a kid may begin with "-").
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Re-seal the stored secrets (cookie key, private signing keys) under a new master
    /// key. With a key file, the new key replaces it; with PORTCULLIS_MASTER_KEY, the new
    /// key is printed once, to be set on every node. Restart running servers afterwards.
    RotateMaster,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Delete tokens that expired or were revoked before a moment (default: now), and
    /// authorization codes and sign-in requests that expired before it.
    Flush {
        /// RFC 3339 timestamp, e.g. 2026-01-31T00:00:00Z.
        #[arg(long, value_name = "RFC3339")]
        before: Option<String>,
    },
}

/// Parses the arguments, runs the command and turns its outcome into an exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let result = match cli.command {
        Command::Serve => return serve(settings),
        Command::Migrate => {
            crate::telemetry::init("warn");
            migrate(&settings)
        }
        command => {
            // A flush of millions of rows takes a while: show its progress.
            let filter = if matches!(command, Command::Tokens(_)) {
                "info"
            } else {
                "warn"
            };
            crate::telemetry::init(filter);
            open(&settings).and_then(|db| match command {
                Command::Users(c) => users::run(&db, c),
                Command::Clients(c) => clients::run(&db, c),
                Command::Tokens(TokensCommand::Flush { before }) => flush(&db, before.as_deref()),
                Command::Keys(c) => keys(&settings, &db, c),
                Command::Serve | Command::Migrate => Ok(()),
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&message(&e)),
    }
}

fn serve(settings: Settings) -> ExitCode {
    crate::telemetry::init("info");
    let system = actix_web::rt::System::new();
    let outcome = system.block_on(async move {
        let bind = settings.bind.clone();
        let issuer = settings.issuer.clone();
        let database = crate::storage::Backend::from_url(settings.database_url.expose_str())
            .0
            .name();
        let app = crate::startup::Application::build(settings).await?;
        tracing::info!(%bind, %issuer, database, "portcullis is serving");
        app.run_until_stopped().await?;
        anyhow::Ok(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("{e:#}")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// What a person at the terminal should read for an error.
fn message(e: &Error) -> String {
    match e {
        Error::Unavailable(cause) => format!("the database is unavailable: {cause:#}"),
        Error::Internal(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}

/// Opens the database and brings its schema up to date, so that commands work on a
/// fresh database too.
fn open(settings: &Settings) -> Result<Db, Error> {
    let db = Db::connect(settings.database_url.expose_str(), 2)?;
    db.migrate()?;
    Ok(db)
}

fn migrate(settings: &Settings) -> Result<(), Error> {
    let db = Db::connect(settings.database_url.expose_str(), 1)?;
    let applied = db.migrate()?;
    print_json(&serde_json::json!({ "applied": applied }))
}

fn flush(db: &Db, before: Option<&str>) -> Result<(), Error> {
    let before = match before {
        Some(text) => time::parse_rfc3339(text)?,
        None => time::now(),
    };
    print_json(&service::tokens::flush(db, before)?)
}

fn keys(settings: &Settings, db: &Db, command: KeysCommand) -> Result<(), Error> {
    use crate::protocol::keys::Algorithm;
    use crate::service::{keys, master_key};
    if let KeysCommand::RotateMaster = command {
        return print_json(&master_key::rotate(settings, db)?);
    }
    master_key::unlock(settings, db)?;
    match command {
        KeysCommand::RotateMaster => Ok(()),
        KeysCommand::List => {
            keys::ensure(db, time::now())?;
            print_json(&keys::list(db)?)
        }
        KeysCommand::Rotate { alg } => {
            let alg = alg
                .map(|a| {
                    Algorithm::parse(&a).ok_or_else(|| {
                        Error::InvalidRequest(format!("--alg {a:?} is not RS256, ES256 or EdDSA"))
                    })
                })
                .transpose()?;
            keys::ensure(db, time::now())?;
            keys::rotate(db, alg, time::now())?;
            print_json(&keys::list(db)?)
        }
        KeysCommand::Revoke { kid } => {
            keys::ensure(db, time::now())?;
            let was = keys::revoke(db, &kid, time::now())?;
            if was == crate::protocol::keys::KeyState::Revoked {
                eprintln!("{kid} was already revoked");
            } else if was == crate::protocol::keys::KeyState::Current {
                eprintln!(
                    "revoked {kid} (was current); it is out of the JWKS now, and nodes stop \
                     signing with it within {} seconds",
                    keys::SIGNER_CACHE.as_secs()
                );
            } else {
                eprintln!("revoked {kid} (was {was}); it is out of the JWKS now");
            }
            print_json(&keys::list(db)?)
        }
    }
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(Error::internal)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(Error::internal)
}

/// Reads a password from the first line of standard input.
fn read_password_stdin() -> Result<String, Error> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::InvalidRequest(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Error::InvalidRequest("no password on stdin".into()));
    }
    Ok(password)
}
