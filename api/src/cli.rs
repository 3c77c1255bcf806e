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
    /// Print the OpenAPI document.
    Openapi,
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
        }
    }
}
