//! `cargo xtask fakes`: the local fakes of every vendor (WorkOS, LiveKit, S3, Centrifugo, Google
//! Calendar, from the platform crates' `fake` features) on free loopback ports, and the
//! environment that points `qubital serve --dev` at them, so that no operation of the served
//! app answers `503 integration-disabled`. Runs until interrupted (SIGINT/SIGTERM).
//!
//! The environment is printed as `NAME=value` lines on stdout and, with `--env-file`, written to
//! that file once every fake listens (written whole, then renamed: a script can wait for it).
//! The keys are the fakes' own, none of which looks like a production credential, so the
//! development-mode guard accepts them. `.ci/schemathesis.sh` is the user.

use std::path::PathBuf;

use anyhow::Context;
use platform_calendar::fake::FakeGoogle;
use platform_centrifugo::fake::FakeCentrifugo;
use platform_livekit::fake::FakeLiveKit;
use platform_storage::fake::LocalS3;
use platform_workos::fake::FakeWorkos;

const S3_ACCESS_KEY_ID: &str = "xtask-fakes-access-key";
const S3_SECRET_ACCESS_KEY: &str = "xtask-fakes-secret-access-key";
const S3_BUCKET: &str = "recordings";
/// Avatars and logos: a bucket of their own, publicly readable as an uploads bucket must be.
const UPLOADS_BUCKET: &str = "uploads";

#[derive(clap::Args)]
pub struct Options {
    /// Also write the `NAME=value` lines to this file (atomically, once every fake listens).
    #[arg(long)]
    env_file: Option<PathBuf>,
}

/// Every running fake; dropping it stops them.
struct Fakes {
    workos: FakeWorkos,
    livekit: FakeLiveKit,
    s3: LocalS3,
    centrifugo: FakeCentrifugo,
    google: FakeGoogle,
}

impl Fakes {
    async fn start() -> Self {
        let s3 = LocalS3::start(S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY).await;
        s3.create_bucket(S3_BUCKET);
        s3.create_bucket(UPLOADS_BUCKET);
        s3.allow_public_read(UPLOADS_BUCKET);
        Self {
            workos: FakeWorkos::start().await,
            livekit: FakeLiveKit::start().await,
            s3,
            centrifugo: FakeCentrifugo::start().await,
            google: FakeGoogle::start().await,
        }
    }

    /// The environment of an app talking to these fakes: each fake's own flags (`--workos-api-url`
    /// is `WORKOS_API_URL`), the bucket, and the shared secrets of the webhooks and internal
    /// endpoints that are disabled without one.
    fn environment(&self) -> Vec<(String, String)> {
        let mut flags = self.workos.args();
        flags.extend(self.livekit.args());
        flags.extend(self.centrifugo.args());
        flags.extend(self.google.args());
        let mut env: Vec<(String, String)> = flags
            .chunks(2)
            .map(|pair| (flag_to_env(&pair[0]), pair[1].clone()))
            .collect();
        let fixed = [
            // Where WorkOS sends the browser back after sign-in (the web app's callback).
            ("WORKOS_REDIRECT_URI", "http://127.0.0.1:3000/callback"),
            (
                "WORKOS_WEBHOOK_SECRET",
                "xtask-fakes-workos-webhook-secret-0123456789",
            ),
            ("RECORDINGS_S3_BUCKET", S3_BUCKET),
            ("RECORDINGS_S3_ACCESS_KEY_ID", S3_ACCESS_KEY_ID),
            ("RECORDINGS_S3_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY),
            (
                "RECORDINGS_RECONCILE_TOKEN",
                "xtask-fakes-reconcile-token-0123456789abcdef",
            ),
            (
                "CENTRIFUGO_PROXY_TOKEN",
                "xtask-fakes-centrifugo-proxy-token-0123456789",
            ),
            ("CALENDAR_JOIN_URL_BASE", "http://127.0.0.1:3000/spaces/"),
            ("UPLOADS_S3_BUCKET", UPLOADS_BUCKET),
            ("UPLOADS_S3_ACCESS_KEY_ID", S3_ACCESS_KEY_ID),
            ("UPLOADS_S3_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY),
        ];
        env.extend(fixed.map(|(name, value)| (name.to_owned(), value.to_owned())));
        env.push(("RECORDINGS_S3_ENDPOINT".into(), self.s3.endpoint()));
        env.push(("UPLOADS_S3_ENDPOINT".into(), self.s3.endpoint()));
        env.push((
            "UPLOADS_PUBLIC_BASE_URL".into(),
            self.s3.public_base_url(UPLOADS_BUCKET),
        ));
        env
    }
}

/// `--workos-api-url` → `WORKOS_API_URL` (every vendor flag's `env` is its long name so).
fn flag_to_env(flag: &str) -> String {
    flag.trim_start_matches("--").replace('-', "_").to_uppercase()
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let fakes = Fakes::start().await;
        let lines: String = fakes
            .environment()
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        print!("{lines}");
        if let Some(path) = &options.env_file {
            let partial = path.with_extension("partial");
            std::fs::write(&partial, &lines).with_context(|| format!("writing {}", partial.display()))?;
            std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!("fakes running; interrupt to stop");
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        drop(fakes);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::flag_to_env;

    #[test]
    fn a_flag_names_its_environment_variable() {
        assert_eq!(flag_to_env("--google-oauth-token-url"), "GOOGLE_OAUTH_TOKEN_URL");
    }
}
