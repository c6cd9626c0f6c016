//! `POST /webhooks/livekit`: LiveKit reports egress progress, participants and tracks here.
//! Verified with `livekit-api`'s `WebhookReceiver` (the `Authorization` JWT signed with
//! `LIVEKIT_API_SECRET`, `iss` = `LIVEKIT_API_KEY`, whose `sha256` claim is the body's),
//! deduplicated by event id in the same transaction as its effects; the usage counters move
//! after that transaction commits, so a redelivery is never counted twice.

use chrono::{DateTime, Utc};
use platform_livekit::{
    webhook::{ConferenceEvent, Delivery, WebhookRejected},
    LiveKit, TrackSource,
};
use poem::web::Data;
use poem_openapi::{
    param::Header,
    payload::{Binary, Json},
    Object, OpenApi, Tags,
};
use qubital_plugin::{problem::types, AppContext, Problem};
use qubital_spaces::occupancy::{self, ConferenceRoom};

use crate::{
    conference,
    egress::{self, Changed},
    metrics, store,
};

#[derive(Tags)]
enum WebhookTag {
    /// Deliveries from vendors, authenticated by their signatures.
    Webhooks,
}

/// What the delivery did.
#[derive(Object)]
struct ConferenceDelivery {
    /// `applied` (a recording changed, or a participant, track or room event of a space was
    /// taken into account), `ignored` (nothing to change: an event this backend does not
    /// follow, an unknown recording or room, or news older than what is stored) or `duplicate`
    /// (this event id was already processed).
    outcome: String,
}

/// `401 invalid-signature`, counted as a rejected delivery.
fn invalid_signature() -> Problem {
    metrics::webhook_rejected("signature");
    Problem::new(&types::INVALID_SIGNATURE)
}

#[derive(Default)]
pub(crate) struct LiveKitWebhookApi;

#[OpenApi(tag = "WebhookTag::Webhooks")]
impl LiveKitWebhookApi {
    /// Receive a LiveKit webhook
    ///
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
        let delivery = verify(ctx.get::<LiveKit>(), authorization.0, &body.0)?;
        let (room, effect) = record(&ctx, &delivery).await?;
        let org_id = room
            .as_ref()
            .map_or(metrics::UNKNOWN_ORG, |room| room.org_public_id.as_str());
        metrics::webhook_received(org_id, &delivery.name);
        let outcome = count(effect, org_id, &delivery.name);
        Ok(Json(ConferenceDelivery {
            outcome: outcome.to_owned(),
        }))
    }
}

/// The delivery, if LiveKit signed it: `503` without LiveKit, `401 invalid-signature` for a
/// missing, foreign or tampered signature, `400 malformed-event` for a signed body that is not
/// an event (refusals are counted).
fn verify(livekit: &LiveKit, authorization: Option<String>, body: &[u8]) -> Result<Delivery, Problem> {
    if !livekit.is_enabled() {
        return Err(Problem::integration_disabled("conference webhooks"));
    }
    let Some(authorization) = authorization.filter(|a| !a.trim().is_empty()) else {
        tracing::warn!("conference webhook without a signature");
        return Err(invalid_signature());
    };
    // A body that is not UTF-8 cannot be the signed JSON.
    let Ok(body) = std::str::from_utf8(body) else {
        return Err(invalid_signature());
    };
    livekit
        .verify_webhook(body, &authorization)
        .map_err(|rejected| match rejected {
            WebhookRejected::Disabled => Problem::integration_disabled("conference webhooks"),
            WebhookRejected::Signature(reason) => {
                tracing::warn!(%reason, "conference webhook rejected");
                invalid_signature()
            }
            WebhookRejected::Malformed(reason) => {
                tracing::warn!(%reason, "conference webhook body is not an event");
                metrics::webhook_rejected("malformed");
                Problem::new(&types::MALFORMED_EVENT)
            }
        })
}

/// In one transaction: the event id (a redelivery stops there) and the event's effects. Returns
/// the space whose room the event is about, if any, and what was done.
async fn record(ctx: &AppContext, delivery: &Delivery) -> Result<(Option<ConferenceRoom>, Effect), Problem> {
    let mut tx = ctx.db().begin().await?;
    let room = match delivery.event.room() {
        Some(room) => occupancy::room(&mut *tx, room).await?,
        None => None,
    };
    let effect = if store::conference::first_delivery(&mut tx, &delivery.id, &delivery.name).await? {
        apply(&mut tx, delivery, room.as_ref()).await?
    } else {
        Effect::Duplicate
    };
    tx.commit().await?;
    Ok((room, effect))
}

/// Counts what a committed delivery did, under `org_id`; returns its outcome on the wire.
fn count(effect: Effect, org_id: &str, event: &str) -> &'static str {
    match effect {
        Effect::Duplicate => "duplicate",
        Effect::Ignored => "ignored",
        Effect::Recording(changed) => {
            tracing::info!(%event, status = %changed.status, "recording updated");
            changed.count();
            "applied"
        }
        Effect::Joined => {
            metrics::participant_joined(org_id);
            "applied"
        }
        Effect::Left { seconds } => {
            metrics::participant_left(org_id, seconds);
            "applied"
        }
        Effect::Published(source) => {
            metrics::track_published(org_id, source);
            "applied"
        }
        Effect::RoomClosed => "applied",
    }
}

/// What a first delivery did (counted once its transaction has committed).
enum Effect {
    Duplicate,
    Ignored,
    Recording(Changed),
    Joined,
    Left { seconds: f64 },
    Published(Option<TrackSource>),
    RoomClosed,
}

/// Applies a first delivery inside its transaction. Participant and room events count only for
/// rooms that are spaces of an organization (`room`).
async fn apply(
    conn: &mut sqlx::PgConnection,
    delivery: &Delivery,
    room: Option<&ConferenceRoom>,
) -> Result<Effect, sqlx::Error> {
    let at = DateTime::from_timestamp(delivery.created_at, 0)
        .filter(|_| delivery.created_at > 0)
        .unwrap_or_else(Utc::now);
    Ok(match (&delivery.event, room) {
        (ConferenceEvent::Egress(egress), _) => match egress::apply(conn, egress).await? {
            Some(changed) => Effect::Recording(changed),
            None => Effect::Ignored,
        },
        (ConferenceEvent::ParticipantJoined { participant, .. }, Some(room)) => {
            conference::joined(conn, room, participant, at).await?;
            Effect::Joined
        }
        (ConferenceEvent::ParticipantLeft { participant, .. }, Some(room)) => Effect::Left {
            seconds: conference::left(conn, room, participant, at).await?,
        },
        (ConferenceEvent::TrackPublished { source, .. }, Some(_)) => Effect::Published(*source),
        (ConferenceEvent::RoomFinished { .. }, Some(room)) => {
            occupancy::emptied(conn, room, at).await?;
            Effect::RoomClosed
        }
        _ => Effect::Ignored,
    })
}
