//! The HTTP surface as a client sees it: problem+json for every error, request ids, the
//! contract-version gate, graceful drain, readiness, metrics, development-only operations.

use std::time::Duration;

use poem_openapi::{
    param::Path,
    payload::{Json, PlainText},
    Object, OpenApi,
};
use qubital_plugin::{Api, Feature, Problem};
use qubital_testkit::{problem, proxy::TcpProxy, spawn_app, TestApp};
use serde_json::json;

#[derive(Object, serde::Serialize)]
struct Echo {
    #[oai(validator(min_length = 1, max_length = 10))]
    name: String,
    count: u32,
}

#[derive(Default)]
struct TestApi;

#[OpenApi]
impl TestApi {
    #[oai(path = "/test/echo", method = "post")]
    async fn echo(&self, body: Json<Echo>) -> Json<Echo> {
        body
    }

    #[oai(path = "/test/slow", method = "post")]
    async fn slow(&self) -> PlainText<&'static str> {
        tokio::time::sleep(Duration::from_millis(500)).await;
        PlainText("finished")
    }

    #[oai(path = "/test/panic", method = "post")]
    async fn panic(&self) -> PlainText<&'static str> {
        panic!("secret internals: password=hunter2")
    }

    /// Counts rows: a database round trip, to observe outages.
    #[oai(path = "/test/count", method = "post")]
    async fn count(
        &self,
        ctx: poem::web::Data<&qubital_plugin::AppContext>,
    ) -> Result<PlainText<String>, Problem> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM qubital_migrations")
            .fetch_one(ctx.db())
            .await?;
        Ok(PlainText(n.to_string()))
    }

    #[oai(path = "/test/items/:id/get", method = "post")]
    async fn item(&self, id: Path<uuid::Uuid>) -> Result<PlainText<String>, Problem> {
        if id.0.is_nil() {
            Ok(PlainText("the nil item".into()))
        } else {
            Err(Problem::not_found())
        }
    }
}

#[derive(Default)]
struct DevOnlyApi;

#[OpenApi]
impl DevOnlyApi {
    #[oai(path = "/test/dev-only", method = "post")]
    async fn dev_only(&self) -> PlainText<&'static str> {
        PlainText("development")
    }
}

qubital_plugin::inventory::submit! {
    Feature::new("http-test").apis(&[Api::of::<TestApi>(), Api::of::<DevOnlyApi>().development_only()])
}

async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: &'static str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn errors_the_host_produces_are_problems_with_stable_types() {
    let app = TestApp::builder().arg("--max-body-bytes").arg("64").spawn().await;

    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (app.post("/no/such/operation", &json!({})).await, 404, "not-found"),
        (app.get("/test/echo").await, 405, "method-not-allowed"),
        (
            post_raw(&app, "/test/echo", "application/json", "{\"name\": ").await,
            400,
            "malformed-json",
        ),
        (
            post_raw(
                &app,
                "/test/echo",
                "application/json",
                "{\"name\": \"this one is far too long for the limit of the body\", \"count\": 1}",
            )
            .await,
            413,
            "payload-too-large",
        ),
        (
            app.post("/test/echo", &json!({"name": "", "count": 1})).await,
            422,
            "validation",
        ),
        (
            app.post("/test/echo", &json!({"name": "ok"})).await,
            422,
            "validation",
        ),
        (
            post_raw(&app, "/test/echo", "text/plain", "hello").await,
            415,
            "unsupported-media-type",
        ),
        (
            app.post("/test/items/not-a-uuid/get", &json!({})).await,
            422,
            "validation",
        ),
        (
            app.post("/test/items/0b7e6a52-5c1e-4c43-9b9e-6f2b0d1c8a11/get", &json!({}))
                .await,
            404,
            "not-found",
        ),
        (app.post("/test/panic", &json!({})).await, 500, "internal"),
    ];
    for (response, status, kind) in cases {
        assert_eq!(response.status().as_u16(), status);
        let body = problem(response).await;
        assert_eq!(
            body["type"],
            format!("https://qubital.app/errors/{kind}"),
            "{body}"
        );
        assert!(body["title"].is_string(), "{body}");
        assert!(body["instance"].as_str().unwrap().starts_with('/'), "{body}");
        if status == 422 {
            let errors = body["errors"]
                .as_array()
                .expect("validation problems list errors");
            assert!(
                !errors.is_empty() && errors[0]["location"].is_string() && errors[0]["message"].is_string()
            );
        }
        if status == 500 {
            assert!(
                !body.to_string().contains("hunter2"),
                "a panic leaked internals: {body}"
            );
        }
    }

    // And the happy path still works.
    let ok = app.post("/test/echo", &json!({"name": "ok", "count": 2})).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap(),
        json!({"name": "ok", "count": 2})
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_named_in_problems() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "client-chosen-42");

    let generated = app.post("/missing", &json!({})).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(problem(generated).await["requestId"], id);

    // Ids that could corrupt logs are replaced.
    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b\"c");
}

#[tokio::test]
async fn clients_older_than_the_minimum_contract_get_426() {
    let app = TestApp::builder()
        .arg("--min-client-contract")
        .arg("2.0.0")
        .spawn()
        .await;
    let send = |version: &'static str| {
        app.client
            .post(app.url("/test/echo"))
            .header("x-qubital-contract", version)
            .json(&json!({"name": "a", "count": 1}))
            .send()
    };
    let old = send("1.9.3").await.unwrap();
    assert_eq!(old.status(), 426);
    assert_eq!(
        problem(old).await["type"],
        "https://qubital.app/errors/client-outdated"
    );
    assert_eq!(send("2.0.0").await.unwrap().status(), 200);
    assert_eq!(send("2.4.1").await.unwrap().status(), 200);
    let garbage = send("not-a-version").await.unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(
        problem(garbage).await["type"],
        "https://qubital.app/errors/invalid-contract-version"
    );
    // No header: not gated (ops probes and tools do not send one).
    assert_eq!(
        app.post("/test/echo", &json!({"name": "a", "count": 1}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_and_then_refuses_new_ones() {
    let app = TestApp::builder()
        .arg("--shutdown-timeout-secs")
        .arg("10")
        .spawn()
        .await;
    let in_flight = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/test/slow"));
        async move { client.post(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    app.begin_shutdown();

    let response = in_flight.await.unwrap().expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    let url = app.url("/healthz");
    app.shutdown().await;
    assert!(
        reqwest::get(url).await.is_err(),
        "the server still accepts connections after shutdown"
    );
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let proxy = TcpProxy::start(qubital_testkit::database_server_addr()).await;
    let db = qubital_testkit::fresh_database().await;
    let proxied = db.url.replacen(
        &qubital_testkit::database_server_addr().port().to_string(),
        &proxy.addr.port().to_string(),
        1,
    );
    let app = TestApp::builder()
        .arg("--database-acquire-timeout-secs")
        .arg("1")
        .database_url(proxied)
        .database(db)
        .spawn()
        .await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    proxy.cut();
    let down = app.get("/readyz").await;
    assert_eq!(down.status(), 503);
    assert_eq!(
        problem(down).await["type"],
        "https://qubital.app/errors/not-ready"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "liveness must not depend on the database"
    );

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness did not come back with the database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An unreachable database is an outage the client may retry, not a bug: `503
/// database-unavailable` with `Retry-After`, never `500`.
#[tokio::test]
async fn a_database_outage_is_503_database_unavailable_with_retry_after() {
    let proxy = TcpProxy::start(qubital_testkit::database_server_addr()).await;
    let db = qubital_testkit::fresh_database().await;
    let proxied = db.url.replacen(
        &qubital_testkit::database_server_addr().port().to_string(),
        &proxy.addr.port().to_string(),
        1,
    );
    let app = TestApp::builder()
        .arg("--database-acquire-timeout-secs")
        .arg("1")
        .database_url(proxied)
        .database(db)
        .spawn()
        .await;
    assert_eq!(app.post("/test/count", &json!({})).await.status(), 200);

    proxy.cut();
    // Concurrent requests while it is down: every one is a 503 problem, none a 500.
    let empty = json!({});
    let answers = futures::future::join_all((0..8).map(|_| app.post("/test/count", &empty))).await;
    for answer in answers {
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.headers()["retry-after"], "2");
        let body = problem(answer).await;
        assert_eq!(
            body["type"], "https://qubital.app/errors/database-unavailable",
            "{body}"
        );
        assert!(!body.to_string().contains("pool"), "no internals: {body}");
    }
    proxy.restore();
}

/// The spec says what the server enforces: a number is not a string, unknown fields are
/// refused, both before any handler runs, with the field's location.
#[tokio::test]
async fn request_bodies_are_checked_against_the_published_schema() {
    let app = spawn_app().await;
    let ok = app.post("/test/echo", &json!({"name": "ada", "count": 1})).await;
    assert_eq!(ok.status(), 200);
    for (body, location) in [
        (json!({"name": 5, "count": 1}), "body.name"),
        (json!({"name": "ada", "count": "1"}), "body.count"),
        (json!({"name": "ada", "count": 1, "admin": true}), "body.admin"),
        (json!({"name": null, "count": 1}), "body.name"),
    ] {
        let answer = app.post("/test/echo", &body).await;
        assert_eq!(answer.status(), 422, "{body}");
        let problem = problem(answer).await;
        assert_eq!(problem["type"], "https://qubital.app/errors/validation");
        assert_eq!(problem["errors"][0]["location"], location, "{problem}");
    }
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let echo = &spec["components"]["schemas"]["Echo"];
    assert_eq!(echo["additionalProperties"], false);
}

#[tokio::test]
async fn readiness_is_503_while_migrations_are_pending() {
    static PENDING_MIGRATIONS: qubital_plugin::Migrator = sqlx::migrate!("tests/fixtures/migrations/alpha");
    // The app under test registers no migrations of its own, so mark one as expected by
    // comparing against a plan that has it: the database has none of them applied.
    let db = qubital_testkit::empty_database().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let feature: &'static Feature =
        Box::leak(Box::new(Feature::new("pending").migrations(&PENDING_MIGRATIONS)));
    let plan = qubital::migrator::plan(&[feature]).unwrap();
    assert!(!qubital::migrator::is_current(&pool, &plan).await.unwrap());
    qubital::migrator::run(&pool, &plan).await.unwrap();
    assert!(qubital::migrator::is_current(&pool, &plan).await.unwrap());
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = spawn_app().await;
    for id in [
        "0b7e6a52-5c1e-4c43-9b9e-6f2b0d1c8a11",
        "1b7e6a52-5c1e-4c43-9b9e-6f2b0d1c8a11",
    ] {
        assert_eq!(
            app.post(&format!("/test/items/{id}/get"), &json!({}))
                .await
                .status(),
            404
        );
    }
    // A method HTTP does not define is one series, whatever the client calls it.
    for made_up in ["BREW", "WHEN"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        reqwest::Client::new()
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    // `/metrics` is on the ops listener only.
    assert_eq!(app.get("/metrics").await.status(), 404);
    let metrics = app.ops_get("/metrics").await.text().await.unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("qubital_http_requests_total")
                && l.contains("/test/items/")
                && l.contains("status=\"404\"")
        })
        .unwrap_or_else(|| panic!("no request counter for the route template:\n{metrics}"));
    assert!(
        !line.contains("0b7e6a52"),
        "the route label must be the template, not the path: {line}"
    );
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 2.0, "{line}");
    assert!(metrics.contains("qubital_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
    assert!(
        !metrics.contains("BREW") && !metrics.contains("WHEN"),
        "{metrics}"
    );
}

#[tokio::test]
async fn development_only_operations_exist_only_in_development() {
    let dev = spawn_app().await;
    assert_eq!(dev.post("/test/dev-only", &json!({})).await.status(), 200);
    let dev_spec: serde_json::Value = dev.get("/openapi.json").await.json().await.unwrap();
    assert!(dev_spec["paths"].get("/test/dev-only").is_some());

    // The production surface, served without booting the features (which would want their
    // production secrets): routes and spec come from the registry alone.
    let ctx = qubital_plugin::AppContext::new(
        dev.db().clone(),
        qubital_plugin::Environment::Production,
        Default::default(),
    );
    let settings = qubital::http::HttpSettings {
        max_body_bytes: 1 << 20,
        min_client_contract: None,
        trusted_proxy_hops: 0,
        allowed_origins: vec![],
    };
    let bound = qubital::http::server::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = format!("http://{}", bound.local_addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(qubital::http::server::run(
        bound,
        qubital::http::app(ctx, settings),
        stop.clone().cancelled_owned(),
        Duration::from_secs(1),
    ));
    let client = reqwest::Client::new();
    let missing = client
        .post(format!("{base}/test/dev-only"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    problem(missing).await;
    let prod_spec: serde_json::Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(prod_spec["paths"].get("/test/dev-only").is_none());
    assert!(prod_spec["paths"].get("/test/echo").is_some());
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn ops_endpoints_and_docs_are_served() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz")
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap(),
        json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/readyz")
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap(),
        json!({"status": "ready"})
    );
    let served = app.get("/openapi.json").await.text().await.unwrap();
    let spec: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(spec["info"]["title"], "Qubital API");
    // Built on the first request (not at boot); the second answer is the same page.
    for _ in 0..2 {
        let docs = app.get("/docs").await;
        assert_eq!(docs.status(), 200);
        assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
        let html = docs.text().await.unwrap();
        assert!(
            html.contains("<html") && html.contains(&served),
            "the docs UI embeds the completed spec, as /openapi.json serves it"
        );
    }
}
