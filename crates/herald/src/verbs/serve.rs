//! `herald serve`: the HTTP APIs until SIGINT or SIGTERM.

use herald_merchandising::Merchandiser;
use herald_messages::delivery::Dispatcher;
use herald_server::{AppState, launch_with_tcp_listener};
use herald_store_sqlite::Access;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub async fn run(dir: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let store = super::open(dir, Access::ReadWrite)?;
    serve(store, dir, listen).await
}

pub async fn serve(
    store: Arc<herald_store_sqlite::SqliteStore>,
    dir: &Path,
    listen: SocketAddr,
) -> anyhow::Result<()> {
    let file = crate::config::load_file(dir)?;
    let delivery = crate::config::delivery(&file)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("could not listen on {listen}: {e}; pick another address with --listen")
    })?;
    // Installed before announcing the address: a SIGTERM that follows the announcement at once
    // must stop the server cleanly, not kill it with the default action.
    let shutdown = shutdown_signal()?;
    eprintln!(
        "herald serving on http://{} (Ctrl-C to stop)",
        listener.local_addr()?
    );
    let channels: Vec<&str> = delivery.lanes.keys().map(|c| c.as_str()).collect();
    if channels.is_empty() {
        eprintln!("no channel is configured (HERALD_SMTP_URL, ...): messages stay in the outbox");
    } else {
        eprintln!("delivering on: {}", channels.join(", "));
    }
    let mut state = AppState::new(store.clone());
    state.zone = super::journeys::default_zone()?;
    state.public_url = delivery.sender.public_url.clone();
    state.twilio_auth_token = delivery.twilio_auth_token.clone();
    if !delivery.lanes.is_empty() {
        let shop = Merchandiser::new(store.clone(), state.recommender.clone());
        state.dispatcher = Some(Arc::new(
            Dispatcher::new(store, delivery.lanes, delivery.sender, delivery.policy)
                .await?
                .with_merchandise(Arc::new(shop)),
        ));
    }
    launch_with_tcp_listener(state, listener, shutdown).await?;
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        let hint = |e| anyhow::anyhow!("cannot listen for signals: {e}");
        (
            signal(SignalKind::interrupt()).map_err(hint)?,
            signal(SignalKind::terminate()).map_err(hint)?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}
