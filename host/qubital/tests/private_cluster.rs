//! The private cluster of `--dev` without `DATABASE_URL` is shared: `serve --dev` and
//! a worker role run side by side on it, and the first to exit does not stop the database
//! under the other; the last one does.

use qubital::database::EmbeddedPostgres;
use sqlx::{Connection, PgConnection};

async fn answers(url: &str) -> bool {
    PgConnection::connect(url).await.is_ok()
}

#[tokio::test]
async fn the_last_process_to_leave_stops_the_shared_private_cluster() {
    let dir = std::env::temp_dir().join(format!("qubital-shared-{}", uuid::Uuid::new_v4().simple()));

    let mut first = EmbeddedPostgres::start(dir.clone())
        .await
        .expect("the cluster starts");
    let second = EmbeddedPostgres::start(dir.clone())
        .await
        .expect("the second attaches");
    assert_eq!(
        first.port(),
        second.port(),
        "the second process reuses the running cluster"
    );
    let url = second.url("postgres");

    first.stop();
    assert!(
        answers(&url).await,
        "the first to leave stopped the cluster under the second"
    );

    // A process that died without leaving (its file is there, unlocked) keeps nothing alive.
    std::fs::write(dir.join("attached").join("999999-dead"), b"").unwrap();
    drop(second);
    assert!(
        !answers(&url).await,
        "the last process to leave must stop the cluster"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("attached")).unwrap().count(),
        0,
        "every attachment is gone, the dead one included"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
