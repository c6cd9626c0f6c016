//! The listener and graceful shutdown.

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use poem::{
    endpoint::BoxEndpoint,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    Server,
};

pub struct Bound {
    acceptor: TcpAcceptor,
    pub local_addr: SocketAddr,
}

pub async fn bind(addr: SocketAddr) -> anyhow::Result<Bound> {
    let acceptor = TcpListener::bind(addr)
        .into_acceptor()
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local_addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("the listener has no socket address")?;
    Ok(Bound { acceptor, local_addr })
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests up to
/// `drain` to finish.
pub async fn run(
    bound: Bound,
    endpoint: BoxEndpoint<'static>,
    shutdown: impl Future<Output = ()> + Send,
    drain: Duration,
) -> anyhow::Result<()> {
    Server::new_with_acceptor(bound.acceptor)
        .run_with_graceful_shutdown(endpoint, shutdown, Some(drain))
        .await
        .context("the HTTP server failed")
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
