//! `herald serve`: the HTTP APIs until SIGINT or SIGTERM.

use herald_server::{AppState, launch_with_tcp_listener};
use herald_store_sqlite::Access;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub async fn run(dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let store = super::open(dir, Access::ReadWrite)?;
    serve(store, listen).await
}

pub async fn serve(
    store: Arc<herald_store_sqlite::SqliteStore>,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("could not listen on {listen}: {e}; pick another address with --listen")
    })?;
    eprintln!(
        "herald serving on http://{} (Ctrl-C to stop)",
        listener.local_addr()?
    );
    launch_with_tcp_listener(AppState::new(store), listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
