//! The command line: one binary whose subcommands are the Procfile's process types.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::{Config, ConfigError, DeployConfig};
pub mod deploy;
pub mod import_flask;
pub mod role;
pub mod seed;
pub mod serve;
pub mod worker;

#[derive(Parser, Debug)]
#[command(
    name = "ragtime",
    version,
    about = "Ragtime: a music-sharing social network",
    long_about = "Ragtime: a music-sharing social network.\n\n\
        Configuration comes from environment variables and an optional .env file; \
        RAGTIME_CONFIG picks development (default), testing, production or heroku. \
        See .env.example for every variable."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (the default): listens on $PORT, on 127.0.0.1 in development and on
    /// every interface in production and heroku; stops gracefully on SIGTERM.
    Serve,
    /// Run the deployment tasks (Heroku's release phase): apply pending migrations, upsert the
    /// roles, add missing self-follows, replace avatar keys that are the MD5 of an address.
    /// Needs only RAGTIME_CONFIG and DATABASE_URL. Idempotent; exits non-zero on failure.
    Deploy,
    /// Write notification mail and deliver queued mail until SIGTERM or Ctrl-C (the Procfile's
    /// `worker:` process). Optional: the web server does both too; run it to keep mail apart
    /// from the web dynos.
    Worker,
    /// Add fake users, follows, compositions and comments, for development and benchmarks.
    ///
    /// Every fake user is confirmed, follows themself, has the email <username>@example.com and
    /// the password "ragtime-seed".
    ///
    /// Deterministic: the same --seed and counts give the same usernames, titles, bodies and
    /// timestamps (all in the year before 2026-11-01).
    ///
    /// Only inserts, in one transaction: a taken username gets a numeric suffix, so running it
    /// again adds more. Development and testing migrate first; production and heroku need
    /// `ragtime deploy` first. Never seed a public site: the password is known.
    Seed(seed::SeedArgs),
    /// Give an existing account a role: `ragtime role ann@example.com Moderator`. The roles are
    /// User, Moderator and Administrator (any case); the change applies at the account's next
    /// request.
    Role {
        /// The account's email address (any case).
        email: String,
        /// User, Moderator or Administrator.
        role: String,
    },
    /// Move a Flask Ragtime site's data here: `ragtime import-flask --from $OLD_DATABASE_URL`.
    ///
    /// Reads the old database only; imports users (with their passwords), compositions (with
    /// their ids, so old links answer) and follows in one transaction; lists every row that had
    /// to be changed to fit, with the rule applied. A second run on the same data changes
    /// nothing. Needs `ragtime deploy` first.
    ImportFlask(import_flask::ImportFlaskArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Deploy = command {
        // The release phase reads only the database's settings (see `DeployConfig`).
        return match DeployConfig::from_env() {
            Ok(config) => with_runtime(|runtime| deploy(runtime, &config)),
            Err(e) => refused(e),
        };
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    with_runtime(|runtime| run_command(runtime, command, config))
}

/// A refused configuration: one line naming the variable, exit status 2.
fn refused(e: ConfigError) -> ExitCode {
    eprintln!("ragtime: {e}");
    ExitCode::from(2)
}

fn with_runtime(f: impl FnOnce(&tokio::runtime::Runtime) -> ExitCode) -> ExitCode {
    init_logging();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => f(&runtime),
        Err(e) => {
            eprintln!("ragtime: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn deploy(runtime: &tokio::runtime::Runtime, config: &DeployConfig) -> ExitCode {
    let url = config.database_url.expose_secret();
    match runtime.block_on(deploy::deploy_url(url)) {
        Ok(report) => {
            println!("deploy: done\n{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ragtime deploy: failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_command(runtime: &tokio::runtime::Runtime, command: Command, config: Config) -> ExitCode {
    match command {
        Command::Serve => match runtime.block_on(serve::serve(config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ragtime serve: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Worker => match runtime.block_on(worker::work(config)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ragtime worker: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Seed(args) => {
            match runtime.block_on(seed::run(&config, &seed::SeedOptions::from(&args))) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ragtime seed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Role { email, role } => {
            match runtime.block_on(role::set(&config, &email, &role)) {
                Ok(done) => {
                    println!("role: {done}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ragtime role: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::ImportFlask(args) => {
            let options = import_flask::Options::from(&args);
            match runtime.block_on(import_flask::run(&config, &options)) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ragtime import-flask: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Deploy => deploy(runtime, &DeployConfig::from(&config)),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}
