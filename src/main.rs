//! The `agentgraph` command: parse the command line, set up tracing, run.

use agentgraph::{
    app::{self, Application},
    changes,
    config::{Cli, Command, Config},
    db::Db,
    graphql, observability,
};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config;
    let command = cli.command.unwrap_or(Command::Serve);
    if command != Command::ExportSchema {
        // Before anything is opened, bound or migrated.
        config.validate()?;
    }
    match command {
        Command::ExportSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            observability::init_tracing(config.log_format);
            let db = connect_without_caches(&config).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::SeedDemo => {
            observability::init_tracing(config.log_format);
            let db = connect_without_caches(&config).await?;
            db.migrate().await?;
            let report = app::load_demo_data(&db).await?;
            tracing::info!(?report, "demo data set loaded");
            Ok(())
        }
        Command::Serve => {
            observability::init_tracing(config.log_format);
            serve(config).await
        }
    }
}

async fn serve(config: agentgraph::config::Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let application = Application::build(config).await?;
    println!("agentgraph is serving GraphiQL at http://{address}/graphql");
    if let Some(token) = &application.dev_token {
        println!();
        println!("!! DEV MODE: no AGENTGRAPH_JWT_SECRET is set, so this process made up a random secret.");
        println!("!! Tokens die with the process. Do not run like this in production.");
        println!("!! Demo admin token (24 h); GraphiQL opens with it, other clients send:");
        println!("{{\"Authorization\": \"Bearer {token}\"}}");
        println!();
    }
    let reloading = app::reload_on_hangup(application.state.clone());
    app::serve(listener, application.state, app::shutdown_signal()).await?;
    if let Some(task) = reloading {
        task.abort();
    }
    Ok(())
}

/// The database for a one-off command: this process keeps no caches, so
/// its committed changes reach only other replicas (by `NOTIFY`).
async fn connect_without_caches(config: &Config) -> anyhow::Result<Db> {
    let (changes, _no_bus) = changes::channel();
    Ok(Db::connect(config.database_url.as_str(), &config.db, changes).await?)
}
