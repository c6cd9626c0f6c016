//! `POST /webhooks/workos`: WorkOS pushes events here. A fast path only: the same events also
//! arrive (in order) through the stream, so a delivery is verified, deduplicated by event id and
//! applied through the very same code as the stream's.

use std::time::{Duration, SystemTime};

use poem::web::Data;
use poem_openapi::{
    param::Header,
    payload::{Binary, Json},
    Object, OpenApi, Tags,
};
use qubital_plugin::{
    problem::types::{INVALID_SIGNATURE, MALFORMED_EVENT},
    AppContext, ExposeSecret, Problem, SecretString,
};
use sqlx::PgPool;

use crate::{
    apply::{self, Outcome, Source},
    metrics,
    objects::Event,
    EventsyncSettings,
};

#[derive(Tags)]
enum WebhookTag {
    /// Deliveries from vendors, authenticated by their signatures.
    Webhooks,
}

/// What the delivery did.
#[derive(Object)]
struct Delivery {
    /// `applied`, `stale` (the mirror already had this or newer), `skipped` (an event type the
    /// mirror does not follow) or `duplicate` (this event id was already processed).
    outcome: String,
}

#[derive(Default)]
pub struct WebhookApi;

#[OpenApi(tag = "WebhookTag::Webhooks")]
impl WebhookApi {
    /// Receive a WorkOS webhook
    ///
    /// Receive a WorkOS event.
    ///
    /// Authenticated by the `WorkOS-Signature` header (`t=<ms>, v1=<HMAC-SHA256 of "t.body">`
    /// with `WORKOS_WEBHOOK_SECRET`); a missing, malformed, wrong or stale signature is `401`.
    #[oai(
        path = "/webhooks/workos",
        method = "post",
        operation_id = "receive-workos-webhook"
    )]
    async fn receive(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "WorkOS-Signature")] signature: Header<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> Result<Json<Delivery>, Problem> {
        let settings = ctx.get::<EventsyncSettings>();
        let Some(secret) = qubital_plugin::secret::present_secret(&settings.webhook_secret) else {
            return Err(Problem::integration_disabled("WorkOS webhooks"));
        };
        verify(
            secret,
            settings.webhook_tolerance(),
            signature.0.as_deref(),
            &body.0,
        )?;
        let event = parse(&body.0)?;
        let outcome = apply(ctx.db(), &event).await?;
        metrics::count_webhook("accepted");
        metrics::record(&event.event, outcome);
        Ok(Json(Delivery {
            outcome: outcome.map(Outcome::as_str).unwrap_or("duplicate").to_owned(),
        }))
    }
}

/// Checks the `WorkOS-Signature` header against the exact bytes received; a missing,
/// malformed, wrong or stale one is counted, logged and answered 401.
fn verify(
    secret: &SecretString,
    tolerance: Duration,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), Problem> {
    let verified = header
        .ok_or(platform_workos::webhook::SignatureError::Malformed)
        .and_then(|header| {
            platform_workos::webhook::verify(
                secret.expose_secret().as_bytes(),
                header,
                body,
                tolerance,
                SystemTime::now(),
            )
        });
    verified.map_err(|error| {
        metrics::count_webhook("rejected");
        tracing::warn!(%error, "WorkOS webhook rejected");
        Problem::new(&INVALID_SIGNATURE)
    })
}

/// The event delivered; a signed body that is not an event is a 400.
fn parse(body: &[u8]) -> Result<Event, Problem> {
    serde_json::from_slice(body).map_err(|_| Problem::new(&MALFORMED_EVENT))
}

/// Applies the event in its own transaction; `None` for a duplicate.
async fn apply(db: &PgPool, event: &Event) -> Result<Option<Outcome>, Problem> {
    let mut tx = db.begin().await?;
    let outcome = apply::apply_event(&mut tx, event, Source::Webhook).await?;
    tx.commit().await?;
    Ok(outcome)
}
