//! `POST /webhooks/workos`: WorkOS pushes events here. A fast path only: the same events also
//! arrive (in order) through the stream, so a delivery is verified, deduplicated by event id and
//! applied through the very same code as the stream's.

use std::time::SystemTime;

use poem::web::Data;
use poem_openapi::{
    param::Header,
    payload::{Binary, Json},
    Object, OpenApi, Tags,
};
use qubital_plugin::{AppContext, ExposeSecret, Problem};

use crate::{
    apply::{self, Source},
    metrics::{metrics, WebhookLabels},
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
        let verified = signature
            .0
            .as_deref()
            .ok_or(platform_workos::webhook::SignatureError::Malformed)
            .and_then(|header| {
                platform_workos::webhook::verify(
                    secret.expose_secret().as_bytes(),
                    header,
                    &body.0,
                    settings.webhook_tolerance(),
                    SystemTime::now(),
                )
            });
        if let Err(error) = verified {
            metrics()
                .webhooks
                .get_or_create(&WebhookLabels {
                    result: "rejected".into(),
                })
                .inc();
            tracing::warn!(%error, "WorkOS webhook rejected");
            return Err(Problem::new(&qubital_plugin::problem::types::INVALID_SIGNATURE));
        }
        let event: Event = serde_json::from_slice(&body.0)
            .map_err(|_| Problem::new(&qubital_plugin::problem::types::MALFORMED_EVENT))?;
        let mut tx = ctx.db().begin().await?;
        let outcome = apply::apply_event(&mut tx, &event, Source::Webhook).await?;
        tx.commit().await?;
        metrics()
            .webhooks
            .get_or_create(&WebhookLabels {
                result: "accepted".into(),
            })
            .inc();
        crate::metrics::record(&event.event, outcome);
        Ok(Json(Delivery {
            outcome: outcome.map(|o| o.as_str()).unwrap_or("duplicate").to_owned(),
        }))
    }
}
