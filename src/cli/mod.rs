//! The command line: `vouchsafe [serve]`, `migrate`, `keys …`.
//!
//! Output meant for scripts (a new key's secret) goes alone to stdout; everything for a person
//! goes to stderr.

mod demo;
mod operator;
pub mod report_table;

use std::{fmt::Write as _, io::Write as _};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    app,
    config::{DatabaseUrl, Settings, SqliteTarget, SECRET_SETTINGS},
    domain::access::Scopes,
    service,
    signing::REFRESH_EVERY,
    store::{signing_keys, StoreError},
};

/// vouchsafe: personalized single-use vouchers (CRM generation, checkout redemption, reports).
#[derive(Parser, Debug)]
#[command(name = "vouchsafe", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Whether the database was chosen (`DATABASE_URL` or `--database-url`) rather than left at
    /// its default: `demo` uses a database of its own unless one was chosen.
    #[arg(skip)]
    pub database_url_given: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP service (the default); migrates the database first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import customers from an NDJSON file (one object per line, as POST /v1/customers/import).
    Import {
        /// The file; `-` reads standard input.
        file: std::path::PathBuf,
    },
    /// Issue a campaign's vouchers now: one per consented customer of its segment without one.
    Generate {
        /// The campaign's id.
        campaign_id: i32,
    },
    /// Print a campaign's budget and A/B report.
    Report {
        /// The campaign's id.
        campaign_id: i32,
    },
    /// Fill a fresh ./vouchsafe-demo.db (or the given, empty, database) with a realistic demo
    /// campaign, print its report, then serve it.
    Demo {
        /// How many customers to make.
        #[arg(long, default_value_t = 20_000)]
        size: usize,
        /// Print the report and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Write a campaign's vouchers to stdout.
    Export {
        /// The campaign's id.
        campaign_id: i32,
        /// csv, ndjson or json.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key; prints its secret alone on stdout (shown only once).
    Create {
        /// Who uses the key, e.g. checkout-eu.
        #[arg(long)]
        name: String,
        /// Comma-separated: crm, checkout, reports, admin.
        #[arg(long)]
        scopes: Scopes,
    },
    /// List API keys (never their secrets).
    List,
    /// Revoke an API key by id; running services stop accepting it within seconds.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
    /// Add a code-signing key; new codes use it, codes of older keys keep verifying.
    RotateSigning,
    /// Retire a code-signing key: codes signed with it no longer verify.
    RetireSigning {
        /// The signing key's id (1-255), as `keys list-signing` shows it.
        id: u8,
    },
    /// List code-signing keys (ids, dates and whether sealed; never secrets).
    ListSigning,
    /// Seal every plain code-signing secret with VOUCHSAFE_MASTER_KEY (running it again is harmless).
    SealSigning,
}

impl Cli {
    /// Parses the command line as `Cli::parse` does, except that a wrong value of a setting that
    /// may hold a secret is reported without the value (clap echoes values in its errors).
    pub fn parse_args() -> Cli {
        use clap::{parser::ValueSource, CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches().unwrap_or_else(|e| without_secret_value(e).exit());
        let mut cli =
            Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
        cli.database_url_given = std::iter::successors(Some(&matches), |m| m.subcommand().map(|(_, m)| m))
            .any(|m| {
                matches!(
                    m.value_source("database_url"),
                    Some(ValueSource::EnvVariable | ValueSource::CommandLine)
                )
            });
        cli
    }
}

/// A clap error about a secret setting's value, rewritten to name the setting and why, but
/// not the value, not even in part; other errors as they are.
fn without_secret_value(e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let (Some(ContextValue::String(arg)), Some(_)) =
        (e.get(ContextKind::InvalidArg), e.get(ContextKind::InvalidValue))
    else {
        return e;
    };
    let flag = arg.split_whitespace().next().unwrap_or_default();
    let Some((flag, env)) = SECRET_SETTINGS.iter().find(|(f, _)| *f == flag) else {
        return e;
    };
    let why = std::error::Error::source(&e).map_or_else(|| "not a valid value".to_owned(), |s| s.to_string());
    clap::Error::raw(
        e.kind(),
        format!("invalid {env} (or {flag}); the value is not shown as it may hold a secret: {why}"),
    )
    .format(&mut <Cli as clap::CommandFactory>::command())
}

impl Command {
    /// Whether the command writes to the database (`Some(true)`), only reads it (`Some(false)`),
    /// or says itself which database it uses (`None`: `serve` in its banner, `demo`).
    fn writes(&self) -> Option<bool> {
        match self {
            Command::Serve | Command::Demo { .. } => None,
            Command::Keys(KeysCommand::List | KeysCommand::ListSigning)
            | Command::Report { .. }
            | Command::Export { .. } => Some(false),
            Command::Migrate | Command::Keys(_) | Command::Import { .. } | Command::Generate { .. } => {
                Some(true)
            }
        }
    }
}

/// Says on stderr which database a command uses: always when it writes, and for a reading
/// command when its SQLite file does not exist yet (the command is about to create an empty
/// one), so that a shell with another `DATABASE_URL`, or none, is noticed at once.
fn say_database(settings: &Settings, writes: bool) {
    let new = match &settings.database_url {
        DatabaseUrl::Sqlite(SqliteTarget::File(p)) => {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
            !p.exists() && dir.is_none_or(|d| d.is_dir())
        }
        _ => false,
    };
    if new {
        eprintln!(
            "database: {} (new: no such file, so it starts empty; set DATABASE_URL to use another)",
            settings.database_url.describe()
        );
    } else if writes {
        eprintln!("database: {}", settings.database_url.describe());
    }
}

/// Writes `text` to stdout. A reader that stopped reading (`| head`) ends the output quietly,
/// as it does for other command-line tools: a closed pipe is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).or_else(unless_pipe_closed)
}

/// A failed write to stdout: an error, unless the reader closed the pipe.
fn unless_pipe_closed(e: std::io::Error) -> anyhow::Result<()> {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe => Ok(()),
        _ => Err(e).context("cannot write to stdout"),
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    let command = cli.command.unwrap_or(Command::Serve);
    if let Some(writes) = command.writes() {
        say_database(&settings, writes);
    }
    match command {
        Command::Serve => app::serve(&settings).await,
        Command::Migrate => {
            let db = app::open_store(&settings)?;
            let applied = app::migrate(&db, &settings).await?;
            if applied.is_empty() {
                eprintln!("up to date");
            } else {
                for version in &applied {
                    eprintln!("applied {version}");
                }
                eprintln!("{} migration(s) applied", applied.len());
            }
            Ok(())
        }
        Command::Keys(cmd) => keys(&settings, cmd).await,
        Command::Import { file } => operator::import(&settings, &file).await,
        Command::Generate { campaign_id } => operator::generate(&settings, campaign_id).await,
        Command::Export { campaign_id, format } => operator::export(&settings, campaign_id, &format).await,
        Command::Report { campaign_id } => {
            let db = app::open_store(&settings)?;
            app::migrate(&db, &settings).await?;
            let report = crate::service::reporting::report(&db, campaign_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no campaign with id {campaign_id}"))?;
            write_stdout(&report_table::render_report_table(&report))
        }
        Command::Demo { size, no_serve } => demo::run(settings, cli.database_url_given, size, no_serve).await,
    }
}

async fn keys(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<()> {
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    match cmd {
        KeysCommand::Create { name, scopes } => {
            let name = crate::domain::access::parse_key_name(&name).map_err(anyhow::Error::msg)?;
            let (key, secret) = service::keys::create(&db, name, scopes).await?;
            eprintln!(
                "created key {} ({}) with scopes {}; its secret is printed once, below:",
                key.id, key.name, key.scopes
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            let keys = service::keys::list(&db, None, i64::MAX).await?;
            if keys.is_empty() {
                eprintln!("no API keys; create one with: vouchsafe keys create --name NAME --scopes admin");
                return Ok(());
            }
            let name_w = keys.iter().map(|k| k.name.chars().count()).max().unwrap_or(4).max(4);
            let scope_w = keys.iter().map(|k| k.scopes.to_string().len()).max().unwrap_or(6).max(6);
            let mut out = String::new();
            writeln!(
                out,
                "{:<12}  {:<name_w$}  {:<scope_w$}  {:<20}  STATUS",
                "ID", "NAME", "SCOPES", "CREATED"
            )?;
            for k in keys {
                let status = match k.revoked_at {
                    Some(t) => format!("revoked {}", t.format("%Y-%m-%d %H:%M")),
                    None => "active".into(),
                };
                writeln!(
                    out,
                    "{:<12}  {:<name_w$}  {:<scope_w$}  {:<20}  {status}",
                    k.id,
                    k.name,
                    k.scopes.to_string(),
                    k.created_at.format("%Y-%m-%d %H:%M:%S")
                )?;
            }
            write_stdout(&out)?;
        }
        KeysCommand::Revoke { id } => {
            let key = service::keys::revoke(&db, id.clone())
                .await
                .map_err(|e| match e {
                    service::ServiceError::NotFound(_) => anyhow::anyhow!("no API key with id {id}"),
                    other => anyhow::Error::new(other),
                })
                .context("cannot revoke key")?;
            eprintln!("revoked key {} ({})", key.id, key.name);
        }
        KeysCommand::RotateSigning => {
            let master = settings.master_key.clone();
            let id =
                db.run(move |c| signing_keys::rotate(c, master.as_ref())).await.context("cannot rotate")?;
            eprintln!(
                "signing key {id} created; running services sign new codes with it within {} s, \
                 and codes of older keys keep verifying until those keys are retired",
                REFRESH_EVERY.as_secs()
            );
            println!("{id}");
        }
        KeysCommand::RetireSigning { id } => {
            db.run(move |c| signing_keys::retire(c, id))
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no signing key with id {id}"),
                    other => anyhow::Error::new(other),
                })
                .context("cannot retire signing key")?;
            eprintln!(
                "signing key {id} retired; its codes stop verifying within {} s",
                REFRESH_EVERY.as_secs()
            );
        }
        KeysCommand::ListSigning => {
            let master = settings.master_key.clone();
            let keys = db.run(signing_keys::list).await?;
            let current = keys.iter().filter(|k| k.retired_at.is_none()).map(|k| k.id).max();
            let stored = |k: &signing_keys::StoredKey| match (k.is_sealed(), &master) {
                (false, _) => "plain",
                (true, Some(m)) if k.open(Some(m)).is_err() => "sealed (not by this master key)",
                (true, _) => "sealed",
            };
            let stored_w = keys.iter().map(|k| stored(k).len()).max().unwrap_or(6).max(6);
            let mut out = String::new();
            writeln!(out, "{:<4}  {:<20}  {:<stored_w$}  STATUS", "ID", "CREATED", "SECRET")?;
            for k in &keys {
                let status = match k.retired_at {
                    Some(t) => format!("retired {}", t.format("%Y-%m-%d %H:%M")),
                    None if Some(k.id) == current => "current (signs new codes)".into(),
                    None => "active (verifies)".into(),
                };
                writeln!(
                    out,
                    "{:<4}  {:<20}  {:<stored_w$}  {status}",
                    k.id,
                    k.created_at.format("%Y-%m-%d %H:%M:%S"),
                    stored(k)
                )?;
            }
            write_stdout(&out)?;
        }
        KeysCommand::SealSigning => {
            let master = settings.master_key.clone().context(
                "cannot seal signing keys: set VOUCHSAFE_MASTER_KEY (or --master-key) to the key to seal them with",
            )?;
            let (sealed, already) = db
                .run(move |c| signing_keys::seal_plain(c, &master))
                .await
                .context("cannot seal signing keys")?;
            eprintln!(
                "sealed {sealed} signing key(s), {already} already were; from now on every instance \
                 needs this VOUCHSAFE_MASTER_KEY to start (running ones keep their keys until restarted)"
            );
        }
    }
    Ok(())
}
