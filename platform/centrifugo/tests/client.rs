//! The client against the fake Centrifugo (and, for what the fake cannot be, against small
//! hand-written servers): what is sent, what comes back, and how every failure is classified.

use std::time::{Duration, Instant};

use clap::Parser;
use platform_centrifugo::{
    fake::{Failure, FakeCentrifugo, API_KEY},
    ApiError, Centrifugo, CentrifugoError, CentrifugoSettings, Publication, PublishResult,
};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

fn client_with_key(fake: &FakeCentrifugo, key: &str) -> Centrifugo {
    Centrifugo::new(fake.url(), key, Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn publish_sends_centrifugos_request_and_reads_the_stream_position() {
    let fake = FakeCentrifugo::start().await;
    let client = fake.client();

    let first = client
        .publish("chat:1", json!({"text": "hello"}), None)
        .await
        .unwrap();
    let second = client
        .publish("chat:1", json!({"text": "again"}), Some("m-2"))
        .await
        .unwrap();
    let other = client.publish("chat:2", json!(42), None).await.unwrap();

    assert_eq!(first.offset, Some(1));
    assert_eq!(second.offset, Some(2));
    assert_eq!(other.offset, Some(1));
    assert!(first.epoch.is_some());
    assert_eq!(first.epoch, second.epoch, "one stream per channel");

    // What went over the wire is Centrifugo's PublishRequest.
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].method, "publish");
    assert_eq!(
        calls[0].body,
        json!({"channel": "chat:1", "data": {"text": "hello"}})
    );
    assert_eq!(
        calls[1].body,
        json!({"channel": "chat:1", "data": {"text": "again"}, "idempotency_key": "m-2"})
    );

    let on_one = fake.publications_on("chat:1");
    assert_eq!(
        on_one.iter().map(|p| p.data.clone()).collect::<Vec<_>>(),
        [json!({"text": "hello"}), json!({"text": "again"})]
    );
    assert_eq!(on_one[1].idempotency_key.as_deref(), Some("m-2"));
    assert_eq!(fake.publications().len(), 3);
    assert_eq!(fake.call_count("publish"), 3);
}

#[tokio::test]
async fn publications_without_history_have_no_position() {
    let fake = FakeCentrifugo::start().await;
    let client = fake.client();
    let typing = Publication::new("chat:1", json!({"typing": true})).skipping_history();
    assert_eq!(
        client.publish_publication(&typing).await.unwrap(),
        PublishResult::default()
    );
    assert_eq!(fake.calls()[0].body["skip_history"], json!(true));
    assert!(fake.publications()[0].skip_history);

    fake.set_history(false);
    let result = client.publish("chat:1", json!(1), None).await.unwrap();
    assert_eq!(result, PublishResult::default());
    assert_eq!(fake.publications().len(), 2);
}

#[tokio::test]
async fn a_batch_is_one_ordered_request_with_one_result_per_publication() {
    let fake = FakeCentrifugo::start().await;
    fake.set_namespaces(&["chat"]);
    let client = fake.client();

    let results = client
        .publish_batch(&[
            Publication::new("chat:a", json!({"n": 1})),
            Publication::new("nowhere:b", json!({"n": 2})),
            Publication::new("chat:a", json!({"n": 3})).with_idempotency_key("k3"),
            Publication::new("chat:c", json!({"n": 4})),
        ])
        .await
        .unwrap();

    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().offset, Some(1));
    let refused = results[1].as_ref().unwrap_err();
    assert_eq!(refused.code, ApiError::UNKNOWN_CHANNEL);
    assert_eq!(refused.message, "unknown channel");
    assert!(!refused.is_temporary());
    assert_eq!(results[2].as_ref().unwrap().offset, Some(2));
    assert_eq!(results[3].as_ref().unwrap().offset, Some(1));

    // One request, sequential, in Centrifugo's command format.
    assert_eq!(fake.call_count("batch"), 1);
    let body = &fake.calls()[0].body;
    assert_eq!(body["parallel"], json!(false));
    assert_eq!(
        body["commands"][2],
        json!({"publish": {"channel": "chat:a", "data": {"n": 3}, "idempotency_key": "k3"}})
    );
    // The accepted ones, in order; the refused one is not published.
    let published: Vec<_> = fake.publications().into_iter().map(|p| p.data).collect();
    assert_eq!(published, [json!({"n": 1}), json!({"n": 3}), json!({"n": 4})]);

    // An empty batch sends nothing.
    assert!(client.publish_batch(&[]).await.unwrap().is_empty());
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_batch_failing_as_a_whole_is_one_error() {
    let fake = FakeCentrifugo::start().await;
    let client = fake.client();
    let batch = [Publication::new("chat:a", json!(1))];

    fake.fail_next(1, Failure::unavailable());
    let error = client.publish_batch(&batch).await.unwrap_err();
    assert!(matches!(error, CentrifugoError::Status { status: 503, .. }));
    assert!(error.is_retryable());

    // A temporary Centrifugo error reaches every command: each result says so.
    fake.fail_next(1, Failure::internal());
    let results = client.publish_batch(&batch).await.unwrap();
    assert!(results[0].as_ref().unwrap_err().is_temporary());
    assert!(fake.publications().is_empty());

    let results = client.publish_batch(&batch).await.unwrap();
    assert!(results[0].is_ok());
    assert_eq!(fake.publications().len(), 1);
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_published_once_and_answers_the_first_result() {
    let fake = FakeCentrifugo::start().await;
    let client = fake.client();

    let first = client
        .publish("chat:1", json!({"text": "hi"}), Some("message-7"))
        .await
        .unwrap();
    // A retry (the first answer was lost, say), even with other data.
    let retry = client
        .publish("chat:1", json!({"text": "changed"}), Some("message-7"))
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(fake.publications().len(), 1);
    assert_eq!(fake.publications()[0].data, json!({"text": "hi"}));
    assert_eq!(fake.call_count("publish"), 2, "both reached Centrifugo");

    // The key acts per channel; another key is another publication.
    let elsewhere = client
        .publish("chat:2", json!({"text": "hi"}), Some("message-7"))
        .await
        .unwrap();
    assert_eq!(elsewhere.offset, Some(1));
    let next = client
        .publish("chat:1", json!({"text": "next"}), Some("message-8"))
        .await
        .unwrap();
    assert_eq!(next.offset, Some(2));
    assert_eq!(fake.publications().len(), 3);

    // Within a batch too: the duplicate's reply repeats the first result.
    let results = client
        .publish_batch(&[
            Publication::new("chat:1", json!("dup")).with_idempotency_key("message-7"),
            Publication::new("chat:1", json!("new")).with_idempotency_key("message-9"),
            Publication::new("chat:1", json!("dup again")).with_idempotency_key("message-9"),
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &first);
    assert_eq!(results[1].as_ref().unwrap().offset, Some(3));
    assert_eq!(results[2], results[1]);
    assert_eq!(fake.publications_on("chat:1").len(), 3);
}

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_the_window() {
    let fake = FakeCentrifugo::start().await;
    fake.set_idempotency_window(Duration::from_millis(200));
    let client = fake.client();
    client.publish("chat:1", json!(1), Some("k")).await.unwrap();
    client.publish("chat:1", json!(1), Some("k")).await.unwrap();
    assert_eq!(fake.publications().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = client.publish("chat:1", json!(1), Some("k")).await.unwrap();
    assert_eq!(later.offset, Some(2));
    assert_eq!(fake.publications().len(), 2);
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_not_retryable() {
    let fake = FakeCentrifugo::start().await;
    let client = client_with_key(&fake, "not-the-key");
    for error in [
        client.publish("chat:1", json!(1), None).await.unwrap_err(),
        client
            .publish_batch(&[Publication::new("chat:1", json!(1))])
            .await
            .unwrap_err(),
        client.info().await.unwrap_err(),
    ] {
        assert!(
            matches!(error, CentrifugoError::Unauthorized { status: 401 }),
            "{error:?}"
        );
        assert!(!error.is_retryable());
    }
    assert!(fake.publications().is_empty());
    assert_eq!(fake.calls().len(), 3);
    // The right key, sent as the header Centrifugo reads.
    client_with_key(&fake, API_KEY).info().await.unwrap();
}

#[tokio::test]
async fn centrifugo_errors_in_a_200_are_api_errors() {
    let fake = FakeCentrifugo::start().await;
    fake.set_namespaces(&["chat"]);
    let client = fake.client();

    let unknown = client.publish("nope:1", json!(1), None).await.unwrap_err();
    assert_eq!(unknown.code(), Some(ApiError::UNKNOWN_CHANNEL));
    assert!(!unknown.is_retryable());

    let bad = client.publish("", json!(1), None).await.unwrap_err();
    assert_eq!(bad.code(), Some(ApiError::BAD_REQUEST));
    assert!(!bad.is_retryable());

    fake.fail_next(1, Failure::too_many_requests());
    let limited = client.publish("chat:1", json!(1), None).await.unwrap_err();
    assert_eq!(limited.code(), Some(ApiError::TOO_MANY_REQUESTS));
    assert!(limited.is_retryable());

    fake.fail_next(1, Failure::internal());
    let internal = client.info().await.unwrap_err();
    assert_eq!(internal.code(), Some(ApiError::INTERNAL));
    assert!(internal.is_retryable());

    assert!(fake.publications().is_empty());
}

#[tokio::test]
async fn a_down_centrifugo_is_a_retryable_error_until_it_is_back() {
    let fake = FakeCentrifugo::start().await;
    let client = fake.client();

    fake.set_down(true);
    for _ in 0..2 {
        let error = client.publish("chat:1", json!(1), Some("k")).await.unwrap_err();
        assert!(
            matches!(&error, CentrifugoError::Status { status: 503, .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }
    assert!(client.info().await.unwrap_err().is_retryable());
    assert!(fake.publications().is_empty());

    fake.set_down(false);
    client.publish("chat:1", json!(1), Some("k")).await.unwrap();
    assert_eq!(fake.publications().len(), 1);
    assert_eq!(fake.call_count("publish"), 3);

    // Scripted failures: exactly the next N calls.
    fake.fail_next(2, Failure::Status(502));
    assert!(client.info().await.unwrap_err().is_retryable());
    assert!(client.info().await.unwrap_err().is_retryable());
    let info = client.info().await.unwrap();
    assert_eq!(info.nodes.len(), 1);
    assert_eq!(info.nodes[0].name, "fake-centrifugo");
    assert_eq!(info.nodes[0].num_channels, 1);
}

#[tokio::test]
async fn an_unreachable_centrifugo_is_a_retryable_error() {
    // A port nobody listens on any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Centrifugo::new(&format!("http://{addr}"), "k", Duration::from_secs(5)).unwrap();
    let error = client.publish("chat:1", json!(1), None).await.unwrap_err();
    assert!(matches!(error, CentrifugoError::Unreachable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections, reads, and never writes a byte.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let client = Centrifugo::new(&format!("http://{addr}"), "k", timeout).unwrap();
    let started = Instant::now();
    let error = client.publish("chat:1", json!(1), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(error, CentrifugoError::Timeout(t) if t == timeout),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    server.abort();

    // The same against the fake answering late.
    let fake = FakeCentrifugo::start().await;
    fake.set_delay(Duration::from_secs(2));
    let client = Centrifugo::new(fake.url(), API_KEY, timeout).unwrap();
    let error = client.info().await.unwrap_err();
    assert!(matches!(error, CentrifugoError::Timeout(_)), "{error:?}");
}

/// A server giving every request the same answer, for answers the fake never gives; it counts
/// the requests it got.
async fn canned(
    status: &str,
    headers: &str,
    body: &str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{atomic::AtomicUsize, atomic::Ordering, Arc};
    let response = format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = [0u8; 8192];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}"), hits)
}

const JSON: &str = "content-type: application/json\r\n";

#[tokio::test]
async fn redirects_are_not_followed_so_the_key_stays_home() {
    use std::sync::atomic::Ordering;
    let (elsewhere, elsewhere_hits) = canned("200 OK", JSON, r#"{"result":{}}"#).await;
    let location = format!("location: {elsewhere}/api/publish\r\n");
    let (url, hits) = canned("307 Temporary Redirect", &location, "").await;
    let client = Centrifugo::new(&url, "secret", Duration::from_secs(5)).unwrap();
    let error = client.publish("chat:1", json!(1), None).await.unwrap_err();
    assert!(
        matches!(error, CentrifugoError::Status { status: 307, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn transport_error_mode_answers_read_as_the_same_api_errors() {
    // Centrifugo with `http_api.error_mode = "transport"`.
    let (url, _) = canned(
        "404 Not Found",
        JSON,
        r#"{"code":102,"message":"unknown channel"}"#,
    )
    .await;
    let client = Centrifugo::new(&url, "k", Duration::from_secs(5)).unwrap();
    let error = client.publish("x:1", json!(1), None).await.unwrap_err();
    assert_eq!(error.code(), Some(ApiError::UNKNOWN_CHANNEL), "{error:?}");
    assert!(!error.is_retryable());

    // Something else at the URL: a success that is not Centrifugo's JSON.
    let (url, _) = canned("200 OK", "content-type: text/html\r\n", "<html>").await;
    let client = Centrifugo::new(&url, "k", Duration::from_secs(5)).unwrap();
    let error = client.info().await.unwrap_err();
    assert!(matches!(error, CentrifugoError::InvalidResponse(_)), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_disabled_client_says_so_for_every_call() {
    let client = Centrifugo::disabled();
    assert!(!client.is_enabled());
    assert!(matches!(
        client.publish("chat:1", json!(1), None).await,
        Err(CentrifugoError::Disabled)
    ));
    assert!(matches!(
        client.publish_batch(&[]).await,
        Err(CentrifugoError::Disabled)
    ));
    assert!(matches!(client.info().await, Err(CentrifugoError::Disabled)));
    assert!(!CentrifugoError::Disabled.is_retryable());
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    centrifugo: CentrifugoSettings,
}

#[tokio::test]
async fn settings_come_from_flags_and_name_what_is_missing() {
    let fake = FakeCentrifugo::start().await;
    let cli = Cli::try_parse_from(std::iter::once("qubital".to_owned()).chain(fake.args())).unwrap();
    let settings = cli.centrifugo;
    assert_eq!(settings.timeout_secs, 5);
    assert_eq!(settings.missing(), None);
    Centrifugo::from_settings(&settings)
        .unwrap()
        .publish("chat:1", json!(1), None)
        .await
        .unwrap();
    assert_eq!(fake.publications().len(), 1);

    // The key never shows in Debug output.
    let debug = format!("{settings:?} {:?}", fake.client());
    assert!(!debug.contains(API_KEY), "{debug}");
    assert!(debug.contains(fake.url()), "{debug}");

    assert_eq!(
        CentrifugoSettings::default().missing(),
        Some("CENTRIFUGO_API_URL")
    );
    let no_key = CentrifugoSettings {
        api_key: Some("  ".into()),
        ..fake.settings()
    };
    assert_eq!(no_key.missing(), Some("CENTRIFUGO_API_KEY"));
    let error = Centrifugo::from_settings(&no_key).unwrap_err().to_string();
    assert!(error.contains("CENTRIFUGO_API_KEY"), "{error}");
    let bad_url = CentrifugoSettings {
        api_url: Some("centrifugo:8000".into()),
        ..fake.settings()
    };
    assert!(Centrifugo::from_settings(&bad_url).is_err());

    let timeout = Cli::try_parse_from(["qubital", "--centrifugo-timeout-secs", "12"]).unwrap();
    assert_eq!(timeout.centrifugo.timeout_secs, 12);
    assert!(Cli::try_parse_from(["qubital", "--centrifugo-timeout-secs", "0"]).is_err());
}
