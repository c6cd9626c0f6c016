//! `POST /webhooks/livekit`: LiveKit reports egress progress here. Verified with `livekit-api`'s
//! `WebhookReceiver` (the `Authorization` JWT signed with `LIVEKIT_API_SECRET`, `iss` =
//! `LIVEKIT_API_KEY`, whose `sha256` claim is the body's), deduplicated by event id in the same
//! transaction as its effects.

use platform_livekit::{
    egress::{Egress, WebhookRejected},
    LiveKit,
};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    param::Header,
    payload::{Binary, Json},
    Object, OpenApi, Tags,
};
use qubital_plugin::{AppContext, Problem};

use crate::store;

#[derive(Tags)]
enum WebhookTag {
    /// Deliveries from vendors, authenticated by their signatures.
    Webhooks,
}

/// What the delivery did.
#[derive(Object)]
struct ConferenceDelivery {
    /// `applied` (a recording changed), `ignored` (nothing to change: an event this backend
    /// does not follow, an unknown recording, or news older than what is stored) or `duplicate`
    /// (this event id was already processed).
    outcome: String,
}

fn invalid_signature() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-signature",
        "The webhook signature is not valid",
    )
}

#[derive(Default)]
pub struct LiveKitWebhookApi;

#[OpenApi(tag = "WebhookTag::Webhooks")]
impl LiveKitWebhookApi {
    /// Receive a conference event.
    ///
    /// Authenticated by the `Authorization` header: a JWT signed with the conference API
    /// secret whose `sha256` claim is the base64 SHA-256 of the body. Missing, wrong or
    /// tampered → `401 invalid-signature`. A redelivered event changes nothing.
    #[oai(
        path = "/webhooks/livekit",
        method = "post",
        operation_id = "receive-livekit-webhook"
    )]
    async fn receive(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "Authorization")] authorization: Header<Option<String>>,
        body: Binary<Vec<u8>>,
    ) -> Result<Json<ConferenceDelivery>, Problem> {
        let livekit = ctx.get::<LiveKit>();
        if !livekit.is_enabled() {
            return Err(Problem::integration_disabled("conference webhooks"));
        }
        let Some(authorization) = authorization.0.filter(|a| !a.trim().is_empty()) else {
            tracing::warn!("conference webhook without a signature");
            return Err(invalid_signature());
        };
        // A body that is not UTF-8 cannot be the signed JSON.
        let Ok(body) = std::str::from_utf8(&body.0) else {
            return Err(invalid_signature());
        };
        let event = livekit
            .verify_webhook(body, &authorization)
            .map_err(|rejected| match rejected {
                WebhookRejected::Disabled => Problem::integration_disabled("conference webhooks"),
                WebhookRejected::Signature(reason) => {
                    tracing::warn!(%reason, "conference webhook rejected");
                    invalid_signature()
                }
                WebhookRejected::Malformed(reason) => {
                    tracing::warn!(%reason, "conference webhook body is not an event");
                    Problem::bad_request("malformed-event", "The webhook body is not a conference event")
                }
            })?;
        if event.id.is_empty() || event.event.is_empty() {
            return Err(Problem::bad_request(
                "malformed-event",
                "The webhook body is not a conference event",
            ));
        }

        let mut tx = ctx.db().begin().await?;
        let first = sqlx::query(
            "INSERT INTO livekit_webhook_events (event_id, event) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.event)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if !first {
            "duplicate"
        } else {
            match (event.event.as_str(), event.egress_info) {
                ("egress_started" | "egress_updated" | "egress_ended", Some(info)) => {
                    let egress = Egress::from(info);
                    if store::apply_egress(&mut tx, &egress).await? {
                        tracing::info!(recording_id = %egress.id, event = %event.event, "recording updated");
                        "applied"
                    } else {
                        "ignored"
                    }
                }
                _ => "ignored",
            }
        };
        tx.commit().await?;
        Ok(Json(ConferenceDelivery {
            outcome: outcome.to_owned(),
        }))
    }
}
