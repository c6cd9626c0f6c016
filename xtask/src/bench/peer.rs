//! `xtask bench-peer <kind>` (hidden): a process the bench runs beside the server, started from
//! the same release build of xtask so it never shares the load generator's runtime. It prints
//! its base URL on the first line of stdout, then serves until killed.
//!
//! - `poem`: the HTTP ceiling, a bare poem-openapi service with one `GET /healthz` answering
//!   `{"status":"ok"}` like the server's, on a default multi-threaded Tokio runtime (as the
//!   server's), with no middleware.
//! - `centrifugo`: platform-centrifugo's fake server API, which the chat relay publishes to.

use std::io::Write;

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    Route, Server,
};
use poem_openapi::{payload::Json, Object, OpenApi, OpenApiService};

#[derive(clap::Args)]
pub struct PeerOptions {
    #[arg(value_enum)]
    kind: PeerKind,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum PeerKind {
    Poem,
    Centrifugo,
}

#[derive(Object)]
struct Status {
    status: String,
}

struct Ceiling;

#[OpenApi]
impl Ceiling {
    /// Liveness probe
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status { status: "ok".into() })
    }
}

pub fn run(options: PeerOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match options.kind {
            PeerKind::Poem => {
                let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
                let addr = acceptor.local_addr()[0]
                    .as_socket_addr()
                    .copied()
                    .ok_or_else(|| anyhow::anyhow!("no socket address"))?;
                announce(&format!("http://{addr}"))?;
                let app = Route::new().nest("/", OpenApiService::new(Ceiling, "ceiling", "1.0"));
                Server::new_with_acceptor(acceptor).run(app).await?;
            }
            PeerKind::Centrifugo => {
                let fake = platform_centrifugo::fake::FakeCentrifugo::start().await;
                announce(fake.url())?;
                std::future::pending::<()>().await;
            }
        }
        Ok(())
    })
}

fn announce(url: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{url}")?;
    stdout.flush()?;
    Ok(())
}
