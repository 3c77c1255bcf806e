use std::sync::Arc;

use anyhow::Context;
use api::cli::{Cli, Command, KeysCommand, ServeArgs};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command.as_ref().unwrap_or(&Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let config = cli.config(!args.no_seed);
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
            let state = api::open(&config).await?;
            let addr = args.addr.unwrap_or_else(|| ([127, 0, 0, 1], 8080).into());
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!(%addr, docs = %format!("http://{addr}/docs"), "serving");
            api::serve(listener, state, shutdown_signal()).await?;
        }
        Command::Keys(KeysCommand::Create {
            role,
            organization,
            label,
        }) => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let state = api::open(&config).await?;
            let (id, secret) = state.store.create_key(*role, *organization, label.clone()).await?;
            println!("created {role} key {id}");
            println!("{secret}");
        }
        Command::Import { files } => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let state = api::open(&config).await?;
            for file in files {
                let started = std::time::Instant::now();
                let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
                let document: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
                match state.store.import_hsds(&document).await {
                    Ok(report) => {
                        for warning in &report.warnings {
                            eprintln!("warning: {}: {}: {}", file.display(), warning.path, warning.reason);
                        }
                        println!(
                            "{}: services {} created, {} updated, {} unchanged; organizations {} created; locations {} created ({} ms)",
                            file.display(),
                            report.services.created,
                            report.services.updated,
                            report.services.unchanged,
                            report.organizations.created,
                            report.locations.created,
                            started.elapsed().as_millis()
                        );
                    }
                    Err(entities::Error::Invalid(errors)) => {
                        for error in &errors {
                            eprintln!("{}: {}: {}", file.display(), error.path, error.reason);
                        }
                        anyhow::bail!(
                            "{} is invalid ({} errors); nothing was imported from it",
                            file.display(),
                            errors.len()
                        );
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            state.search.catch_up(&state.store).await?;
        }
        Command::Purge { older_than } => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let state = api::open(&config).await?;
            let cutoff = older_than
                .before(chrono::Utc::now())
                .context("--older-than reaches before the calendar")?;
            let purged = state.store.purge_closed_before(cutoff).await?;
            println!("purged {purged} referrals closed before {}", cutoff.to_rfc3339());
        }
        Command::Openapi => {
            // The spec does not depend on data; an in-memory database gives a real state to describe.
            let store = entities::Store::connect("sqlite::memory:").await?;
            let taxonomy = entities::taxonomy::Taxonomy::builtin();
            let index = indexer::SearchIndex::in_memory(api::indexing::need_terms(&taxonomy))?;
            println!(
                "{}",
                api::app::openapi_json(Arc::new(api::AppState::new(store, taxonomy, index)))
            );
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
