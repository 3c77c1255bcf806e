use std::sync::Arc;

use anyhow::Context;
use api::cli::{Cli, Command, KeysCommand, ServeArgs, UsersCommand};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
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
            let store = api::open_store(&config).await?;
            let (id, secret) = store.create_key(*role, *organization, label.clone()).await?;
            println!("created {role} key {id}");
            println!("{secret}");
        }
        Command::Keys(KeysCommand::List) => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let store = api::open_store(&config).await?;
            for key in store.list_keys(None).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.role,
                    key.organization_id.map(|o| o.to_string()).unwrap_or_else(|| "-".into()),
                    key.label.as_deref().unwrap_or("-"),
                    key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    key.revoked_at
                        .map(|at| format!("revoked {}", at.format("%Y-%m-%dT%H:%M:%SZ")))
                        .unwrap_or_else(|| "active".into()),
                );
            }
        }
        Command::Keys(KeysCommand::Revoke { id }) => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let store = api::open_store(&config).await?;
            let key = store.revoke_key(*id).await?;
            println!("revoked {} key {}", key.role, key.id);
        }
        Command::Users(command) => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let store = api::open_store(&config).await?;
            users(&store, command).await?;
        }
        Command::Import { files } => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let state = api::open_without_index_sync(&config).await?;
            for file in files {
                import_file(&state, file).await?;
            }
            let started = std::time::Instant::now();
            // After a large import the index is rebuilt: show that too (a bar appears only then).
            let total = state.store.count_services().await?;
            let mut progress = None;
            state
                .search
                .catch_up_reporting(&state.store, move |done| {
                    progress
                        .get_or_insert_with(|| api::progress::Progress::new("index", "services", Some(total)))
                        .set(done);
                })
                .await?;
            eprintln!(
                "search index: {} services ({} ms)",
                state.search.index.num_docs(),
                started.elapsed().as_millis()
            );
        }
        Command::Reindex => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let state = api::open_without_index_sync(&config).await?;
            let started = std::time::Instant::now();
            let total = state.store.count_services().await?;
            let progress = api::progress::Progress::new("reindex", "services", Some(total));
            let report = progress.clone();
            state.search.rebuild(&state.store, move |done| report.set(done)).await?;
            progress.finish();
            println!(
                "search index rebuilt: {} active services in {:.1} s",
                state.search.index.num_docs(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Generate {
            services,
            seed,
            change_percent,
            out,
        } => {
            let taxonomy = entities::taxonomy::Taxonomy::builtin();
            let gazetteer = indexer::gazetteer::Gazetteer::from_json(api::state::PLACES_JSON)?;
            let bar = api::progress::Progress::new("generate", "services", Some(*services));
            let progress = |n: u64| bar.set(n);
            let mut writer: Box<dyn std::io::Write> = match out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            api::generate::generate_changed(
                *services,
                *seed,
                *change_percent,
                &taxonomy,
                gazetteer.places(),
                &mut writer,
                progress,
            )?;
            bar.finish();
        }
        Command::Purge { older_than } => {
            let config = cli.config(false);
            std::fs::create_dir_all(&config.data_dir)?;
            let store = api::open_store(&config).await?;
            let cutoff = older_than
                .before(chrono::Utc::now())
                .context("--older-than reaches before the calendar")?;
            let purged = store.purge_closed_before(cutoff).await?;
            println!("purged {purged} referrals closed before {}", cutoff.to_rfc3339());
            let plans = store.purge_plans_before(cutoff).await?;
            println!("deleted {plans} family plans unchanged since {}", cutoff.to_rfc3339());
        }
        Command::Openapi => {
            // The spec does not depend on data; an in-memory database gives a real state to describe.
            let store = entities::Store::connect("sqlite::memory:").await?;
            let taxonomy = entities::taxonomy::Taxonomy::builtin();
            let index =
                indexer::SearchIndex::in_memory(api::indexing::need_terms(&taxonomy), &indexer::Vocabulary::default())?;
            println!(
                "{}",
                api::app::openapi_json(Arc::new(api::AppState::new(store, taxonomy, index)))
            );
        }
    }
    Ok(())
}

/// Imports one file: JSON whole, NDJSON in batches of lines with progress on stderr.
async fn import_file(state: &api::AppState, file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::BufRead;
    let started = std::time::Instant::now();
    let ndjson = matches!(file.extension().and_then(|e| e.to_str()), Some("ndjson" | "jsonl"));
    let mut totals = entities::hsds::ImportReport::default();
    let import = |document: serde_json::Value, first_line: usize| async move {
        match state.store.import_hsds(&document).await {
            Ok(report) => {
                for warning in &report.warnings {
                    eprintln!("warning: {}: {}: {}", file.display(), warning.path, warning.reason);
                }
                Ok(report)
            }
            Err(entities::Error::Invalid(errors)) => {
                for error in &errors {
                    eprintln!("{}: {}: {}", file.display(), error.path, error.reason);
                }
                let place = if ndjson {
                    format!(" in the batch from line {first_line}")
                } else {
                    String::new()
                };
                anyhow::bail!(
                    "{} is invalid{place} ({} errors); that batch was not imported",
                    file.display(),
                    errors.len()
                )
            }
            Err(other) => Err(other.into()),
        }
    };
    if ndjson {
        const BATCH_LINES: usize = 100;
        let open = || std::fs::File::open(file).with_context(|| format!("opening {}", file.display()));
        // Counting the lines first costs a read of the file, little next to importing it, and gives an ETA.
        let lines = count_lines(open()?).with_context(|| format!("reading {}", file.display()))?;
        let progress = api::progress::Progress::new(format!("import {}", file.display()), "lines", Some(lines));
        let reader = std::io::BufReader::new(open()?);
        let mut batch = Vec::with_capacity(BATCH_LINES);
        let mut first_line = 1;
        for (number, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            batch.push(
                serde_json::from_str::<serde_json::Value>(&line)
                    .with_context(|| format!("{} line {}", file.display(), number + 1))?,
            );
            if batch.len() == BATCH_LINES {
                totals.absorb(import(serde_json::Value::Array(std::mem::take(&mut batch)), first_line).await?);
                first_line = number + 2;
                let done = totals.services.created + totals.services.updated + totals.services.unchanged;
                progress.set_with(number as u64 + 1, format!("{done} services"));
            }
        }
        if !batch.is_empty() {
            totals.absorb(import(serde_json::Value::Array(batch), first_line).await?);
        }
        let done = totals.services.created + totals.services.updated + totals.services.unchanged;
        progress.set_with(lines, format!("{done} services"));
        progress.finish();
    } else {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
        totals.absorb(import(document, 1).await?);
    }
    println!(
        "{}: services {} created, {} updated, {} unchanged; organizations {} created; locations {} created ({} ms)",
        file.display(),
        totals.services.created,
        totals.services.updated,
        totals.services.unchanged,
        totals.organizations.created,
        totals.locations.created,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info,sqlx=warn`): as text, coloured only on a terminal,
/// or with `BROBYGGER_LOG_FORMAT=json` as one JSON object per line.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = std::env::var("BROBYGGER_LOG_FORMAT").unwrap_or_default();
    match format.trim().to_ascii_lowercase().as_str() {
        "json" => builder.json().with_ansi(false).init(),
        other => {
            builder.with_ansi(std::io::stderr().is_terminal()).init();
            if !matches!(other, "" | "text") {
                tracing::warn!(value = other, "BROBYGGER_LOG_FORMAT is `json` or `text`; logging text");
            }
        }
    }
}

/// Lines in `file` (a last line without a line feed counts too).
fn count_lines(file: std::fs::File) -> std::io::Result<u64> {
    use std::io::Read;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut buffer = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        lines += buffer[..read].iter().filter(|b| **b == b'\n').count() as u64;
        last = buffer[read - 1];
    }
    Ok(lines + u64::from(last != b'\n'))
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

async fn users(store: &entities::Store, command: &UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Create {
            email,
            role,
            organization,
            name,
            team,
            password_stdin,
        } => {
            let password = if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let (person, password) = store
                .create_person(entities::people::NewPerson {
                    email: email.clone(),
                    role: *role,
                    organization_id: *organization,
                    name: name.clone(),
                    team: team.clone(),
                    password: password.clone(),
                })
                .await?;
            println!("created {} {} ({})", person.role, person.email, person.id);
            if !*password_stdin {
                println!("one-time password (log in at /login):");
                println!("{password}");
            }
        }
        UsersCommand::List => {
            for person in store.list_people().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    person.id,
                    person.email,
                    person.role,
                    person
                        .organization_id
                        .map(|o| o.to_string())
                        .unwrap_or_else(|| "-".into()),
                    person.team.as_deref().unwrap_or("-"),
                    if person.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    },
                );
            }
        }
        UsersCommand::Disable { email } => {
            let person = store.disable_person(email).await?;
            println!("disabled {}", person.email);
        }
    }
    Ok(())
}
