//! A TCP proxy a test can cut and restore, to play "the database went away".

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct TcpProxy {
    pub addr: SocketAddr,
    /// `true` while the link is cut.
    cut: watch::Sender<bool>,
    _task: Arc<tokio::task::JoinHandle<()>>,
}

impl TcpProxy {
    /// Forwards connections made to [`TcpProxy::addr`] to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (cut, cut_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *cut_rx.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self {
            addr,
            cut,
            _task: Arc::new(task),
        }
    }

    /// Closes every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}
