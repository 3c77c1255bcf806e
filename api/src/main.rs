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
        Command::Openapi => {
            // The spec does not depend on data; an in-memory database gives a real state to describe.
            let store = entities::Store::connect("sqlite::memory:").await?;
            println!(
                "{}",
                api::app::openapi_json(Arc::new(api::AppState::new(
                    store,
                    entities::taxonomy::Taxonomy::builtin()
                )))
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
