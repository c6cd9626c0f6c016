//! `qubital check` as an operator runs it: the real binary, its settings pointed at the vendors'
//! local fakes (and at a wrong key, an unreachable host, a database with pending migrations).

use std::process::Output;

use platform_livekit::fake::FakeLiveKit;
use platform_storage::fake::LocalS3;
use platform_workos::fake::FakeWorkos;

const S3_KEY: &str = "AKIDCHECK";
const S3_SECRET: &str = "check-secret-access-key";

struct Fakes {
    workos: FakeWorkos,
    livekit: FakeLiveKit,
    s3: LocalS3,
}

impl Fakes {
    async fn start() -> Self {
        let s3 = LocalS3::start(S3_KEY, S3_SECRET).await;
        s3.create_bucket("archive");
        s3.create_bucket("images");
        Self {
            workos: FakeWorkos::start().await,
            livekit: FakeLiveKit::start().await,
            s3,
        }
    }

    /// Every vendor setting, pointed at the fakes.
    fn args(&self) -> Vec<String> {
        let mut args = self.workos.args();
        args.extend(self.livekit.args());
        args.extend(self.s3_args("archive"));
        args.extend(self.uploads_args("images"));
        args
    }

    fn uploads_args(&self, bucket: &str) -> Vec<String> {
        [
            "--uploads-s3-bucket",
            bucket,
            "--uploads-s3-endpoint",
            &self.s3.endpoint(),
            "--uploads-s3-access-key-id",
            S3_KEY,
            "--uploads-s3-secret-access-key",
            S3_SECRET,
            "--uploads-public-base-url",
            &self.s3.public_base_url(bucket),
        ]
        .map(String::from)
        .to_vec()
    }

    fn s3_args(&self, bucket: &str) -> Vec<String> {
        [
            "--recordings-s3-bucket",
            bucket,
            "--recordings-s3-endpoint",
            &self.s3.endpoint(),
            "--recordings-s3-access-key-id",
            S3_KEY,
            "--recordings-s3-secret-access-key",
            S3_SECRET,
        ]
        .map(String::from)
        .to_vec()
    }
}

/// Runs `qubital check --dev <args>` against `database_url`; its exit success and its lines.
async fn check(database_url: &str, args: &[String]) -> (bool, Vec<String>) {
    let Output { status, stdout, .. } = tokio::process::Command::new(env!("CARGO_BIN_EXE_qubital"))
        .arg("check")
        .arg("--dev")
        .args(["--timeout-secs", "2"])
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "off")
        .output()
        .await
        .expect("run qubital check");
    let lines = String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (status.success(), lines)
}

/// The line about `dependency`, e.g. `workos     ok: listed 1 organization(s) (auth)`.
fn line<'a>(lines: &'a [String], dependency: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.split_whitespace().next() == Some(dependency))
        .unwrap_or_else(|| panic!("no line for {dependency} in {lines:#?}"))
}

fn status<'a>(lines: &'a [String], dependency: &str) -> &'a str {
    line(lines, dependency)
        .split_whitespace()
        .nth(1)
        .expect("a status")
        .trim_end_matches(':')
}

fn replace(args: &mut [String], flag: &str, value: &str) {
    let at = args.iter().position(|a| a == flag).expect("the flag is set") + 1;
    args[at] = value.to_owned();
}

fn closed_port_url(scheme: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("{scheme}://127.0.0.1:{port}")
}

#[tokio::test]
async fn every_configured_dependency_answers_and_the_check_passes() {
    let fakes = Fakes::start().await;
    let db = qubital_testkit::fresh_database().await;
    fakes.workos.create_organization("Acme");

    let (passed, lines) = check(&db.url, &fakes.args()).await;

    assert!(passed, "{lines:#?}");
    for dependency in ["database", "workos", "livekit", "storage", "uploads-storage"] {
        assert_eq!(status(&lines, dependency), "ok", "{lines:#?}");
    }
    assert!(
        line(&lines, "workos").contains("listed 1 organization"),
        "{lines:#?}"
    );
    assert!(line(&lines, "storage").contains("bucket archive"), "{lines:#?}");
}

#[tokio::test]
async fn unconfigured_vendors_are_disabled_not_failed() {
    let db = qubital_testkit::fresh_database().await;

    let (passed, lines) = check(&db.url, &[]).await;

    assert!(passed, "{lines:#?}");
    assert_eq!(status(&lines, "database"), "ok");
    for dependency in ["workos", "livekit", "storage", "uploads-storage"] {
        assert_eq!(status(&lines, dependency), "disabled", "{lines:#?}");
    }
}

#[tokio::test]
async fn a_wrong_key_fails_the_check_and_says_which_dependency() {
    let fakes = Fakes::start().await;
    let db = qubital_testkit::fresh_database().await;
    let mut args = fakes.args();
    replace(&mut args, "--workos-api-key", "sk_test_wrong");
    replace(
        &mut args,
        "--livekit-api-secret",
        "a-wrong-livekit-secret-that-is-long-enough",
    );
    replace(
        &mut args,
        "--recordings-s3-secret-access-key",
        "wrong-secret-access-key",
    );

    let (passed, lines) = check(&db.url, &args).await;

    assert!(!passed, "a refused key must fail the check: {lines:#?}");
    for dependency in ["workos", "livekit", "storage"] {
        assert_eq!(status(&lines, dependency), "failed", "{lines:#?}");
    }
    assert_eq!(status(&lines, "database"), "ok");
    let output = lines.join("\n");
    assert!(
        !output.contains("wrong-secret-access-key"),
        "a secret was printed: {output}"
    );
}

#[tokio::test]
async fn an_unreachable_host_or_a_missing_bucket_fails_the_check() {
    let fakes = Fakes::start().await;
    let db = qubital_testkit::fresh_database().await;
    let mut args = fakes.args();
    replace(&mut args, "--workos-api-url", &closed_port_url("http"));
    replace(&mut args, "--livekit-url", &closed_port_url("ws"));
    replace(&mut args, "--recordings-s3-bucket", "no-such-bucket");

    let (passed, lines) = check(&db.url, &args).await;

    assert!(!passed, "{lines:#?}");
    for dependency in ["workos", "livekit", "storage"] {
        assert_eq!(status(&lines, dependency), "failed", "{lines:#?}");
    }
    assert!(line(&lines, "storage").contains("does not exist"), "{lines:#?}");
}

#[tokio::test]
async fn an_unreachable_database_or_pending_migrations_fail_the_check() {
    let unreachable = format!("{}/qubital", closed_port_url("postgres"));
    let (passed, lines) = check(&unreachable, &[]).await;
    assert!(!passed, "{lines:#?}");
    assert!(
        line(&lines, "database").contains("failed: unreachable"),
        "{lines:#?}"
    );

    let empty = qubital_testkit::empty_database().await;
    let (passed, lines) = check(&empty.url, &[]).await;
    assert!(!passed, "{lines:#?}");
    assert!(
        line(&lines, "database").contains("migrations are pending"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn an_unknown_role_is_refused_with_the_roles_of_the_build() {
    let db = qubital_testkit::fresh_database().await;
    let (passed, _) = check(&db.url, &["--role".into(), "nope".into()]).await;
    assert!(!passed);
}
