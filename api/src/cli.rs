//! The `brobygger` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use entities::directory::Role;
use uuid::Uuid;

use crate::app::Config;

#[derive(Parser, Debug)]
#[command(name = "brobygger", version, about = "Open resource directory and referral service")]
pub struct Cli {
    /// Where the SQLite database and the search index live.
    #[arg(long, env = "BROBYGGER_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL; default: a SQLite file in the data dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Server secret keying the referrals' family_ref hashes; default: `<data dir>/secret.key`, made once.
    #[arg(long, env = "BROBYGGER_SECRET", global = true, hide_env_values = true)]
    pub secret: Option<String>,
    /// Origins (`https://app.example.org`, comma-separated) whose browser apps may call every endpoint; the
    /// public directory answers any origin.
    #[arg(long, env = "BROBYGGER_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// API requests a minute per API key, or per client address for anonymous callers; 0: unlimited.
    #[arg(long, env = "BROBYGGER_RATE_LIMIT", default_value_t = 600, global = true)]
    pub rate_limit: u32,
    /// Let webhooks go to loopback, private and link-local addresses (development, tests); off in production.
    #[arg(long, env = "BROBYGGER_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,
    /// SMTP server for notification mails: `smtp://host:port` (add `?tls=required` for STARTTLS) or
    /// `smtps://user:password@host`; default: mails are written as `.eml` files into `<data dir>/outbox/`.
    #[arg(long, env = "BROBYGGER_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of notification mails.
    #[arg(long, env = "BROBYGGER_MAIL_FROM", default_value = crate::mail::DEFAULT_MAIL_FROM, global = true)]
    pub mail_from: String,
    /// The address people open Brobygger at, for the links in mails.
    #[arg(long, env = "BROBYGGER_PUBLIC_URL", default_value = crate::mail::DEFAULT_PUBLIC_URL, global = true)]
    pub public_url: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (the default command).
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the people who log in to the web app (caseworkers, partners, admins).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Import Open Referral HSDS 3.0 JSON files (upsert by id). A `.json` file is all or nothing; an
    /// `.ndjson`/`.jsonl` file (one document per line) is imported in batches with progress, each batch all
    /// or nothing, so an interrupted import can simply be run again.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write deterministic synthetic HSDS data for all of Denmark as NDJSON (one organization per line).
    Generate {
        #[arg(long)]
        services: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Revise the description of this percentage of the services (spread evenly; ids and everything
        /// else as without it): a file to measure a re-import where some services changed.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
        change_percent: u64,
        /// Output file; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rebuild the search index from the database, with progress. Safe to interrupt: the old index stays
    /// until the new one is committed, and `serve` catches up at start.
    Reindex,
    /// Print the OpenAPI document.
    Openapi,
    /// Remove message and family_ref hash from referrals closed longer ago than `--older-than`, and delete family
    /// plans unchanged for that long (with their goals, follow-ups and links).
    Purge {
        /// `24months`, `730days` (also `24m`, `730d`).
        #[arg(long, value_parser = parse_age)]
        older_than: Age,
    },
}

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    #[arg(long, env = "BROBYGGER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: Option<SocketAddr>,
    /// Do not load the Aarhus demo data into an empty database.
    #[arg(long)]
    pub no_seed: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; the secret is printed alone on the last line.
    Create {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The organization a partner key belongs to.
        #[arg(long)]
        organization: Option<Uuid>,
        #[arg(long)]
        label: Option<String>,
    },
    /// List keys: id, role, organization, label, created, revoked (never the secrets).
    List,
    /// Revoke a key: it answers 401 from the next request on, on every server.
    Revoke { id: Uuid },
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a person; a one-time password is printed alone on the last line (or give one on stdin).
    Create {
        #[arg(long)]
        email: String,
        /// caseworker, partner or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The organization a partner acts for.
        #[arg(long)]
        organization: Option<Uuid>,
        #[arg(long)]
        name: Option<String>,
        /// Caseworkers of one team see each other's referrals.
        #[arg(long)]
        team: Option<String>,
        /// Read the password from standard input (first line) instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List people: e-mail, role, organization, team, status.
    List,
    /// Disable a person: they can no longer log in and their sessions end.
    Disable { email: String },
}

/// An age given as a number of months or days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    Months(u32),
    Days(u32),
}

impl Age {
    /// The moment this long before `now`.
    pub fn before(self, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Age::Months(n) => now.checked_sub_months(chrono::Months::new(n)),
            Age::Days(n) => now.checked_sub_signed(chrono::Duration::days(i64::from(n))),
        }
    }
}

/// Parses `24months`, `24m`, `730days`, `730d`.
pub fn parse_age(text: &str) -> Result<Age, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u32 = number
        .parse()
        .map_err(|_| format!("expected a number of months or days, e.g. 24months, not `{text}`"))?;
    match unit.trim() {
        "months" | "month" | "m" => Ok(Age::Months(number)),
        "days" | "day" | "d" => Ok(Age::Days(number)),
        _ => Err(format!("expected e.g. 24months or 730days, not `{text}`")),
    }
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("expected one of {}", Role::expected()))
}

impl Cli {
    pub fn config(&self, seed: bool) -> Config {
        Config {
            database_url: self
                .database_url
                .clone()
                .unwrap_or_else(|| crate::default_database_url(&self.data_dir)),
            data_dir: self.data_dir.clone(),
            seed,
            secret: self.secret.clone(),
            http: crate::app::HttpSettings {
                cors_origins: self
                    .cors_origins
                    .iter()
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
                rate_limit_per_minute: std::num::NonZeroU32::new(self.rate_limit),
            },
            webhooks: crate::webhook_worker::WebhookSettings {
                allow_private_targets: self.webhook_allow_private,
                ..Default::default()
            },
            mail: crate::mail::MailSettings {
                smtp_url: self.smtp_url.clone().filter(|url| !url.trim().is_empty()),
                from: self.mail_from.clone(),
                public_url: self.public_url.clone(),
                background: true,
            },
        }
    }
}
