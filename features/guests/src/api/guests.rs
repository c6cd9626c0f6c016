//! Guests: knocking with an invitation and polling the answer (the guest, without a session),
//! and the lobby (members): list, admit, deny.

use chrono::{DateTime, Utc};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};
use qubital_auth::{crypto, ratelimit, AuthState};
use qubital_plugin::{
    auth::{Caller, CookieAuth, Role},
    problem::types,
    request::ClientIp,
    wire, AppContext, Page, Problem,
};
use qubital_realtime::conference;
use uuid::Uuid;

use super::{conference_identity, require_live, AdmitBy, Guest, GuestStatus, GuestsTag};
use crate::{
    invite_token,
    permissions::ADMIT_GUESTS,
    problems::{
        GUEST_ADMITTER_NOT_ALLOWED, GUEST_INVITE_EXPIRED, GUEST_INVITE_INVALID, GUEST_INVITE_REVOKED,
        GUEST_INVITE_WRONG_SPACE, GUEST_NOT_WAITING,
    },
    settings::GuestState,
    store::{self, GuestRow, NewGuest},
};

const DISPLAY_NAME_MAX: usize = 64;
/// Bytes of entropy of a guest's secret.
const SECRET_BYTES: usize = 32;

qubital_plugin::operation_errors! {
    /// What `/guests/join` answers besides the host's problems.
    pub JoinErrors = [
        types::RATE_LIMITED,
        GUEST_INVITE_INVALID,
        GUEST_INVITE_WRONG_SPACE,
        GUEST_INVITE_EXPIRED,
        GUEST_INVITE_REVOKED,
    ];
    /// What `/guests/{guestId}/status` answers besides the host's problems.
    pub StatusErrors = [
        types::NOT_FOUND,
        GUEST_INVITE_EXPIRED,
        GUEST_INVITE_REVOKED,
        types::INTEGRATION_DISABLED,
    ];
    /// What `/guests/{guestId}/admit` and `/guests/{guestId}/deny` answer besides the host's
    /// problems.
    pub DecideErrors = [
        types::FORBIDDEN,
        types::NOT_FOUND,
        GUEST_ADMITTER_NOT_ALLOWED,
        GUEST_NOT_WAITING,
        GUEST_INVITE_EXPIRED,
        GUEST_INVITE_REVOKED,
    ];
    /// What `/guests/list` answers besides the host's problems.
    pub ListGuestsErrors = [types::FORBIDDEN];
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct JoinRequest {
    /// The space of the invitation URL (`space`).
    space_id: Uuid,
    /// The invitation's token (`invite` in its URL).
    #[oai(validator(min_length = 1, max_length = 256, pattern = "^[A-Za-z0-9_-]+$"))]
    invite_token: String,
    /// The name the others will see: 1..64 characters (trimmed), no control characters.
    display_name: wire::Name<DISPLAY_NAME_MAX>,
}

/// A guest in the lobby. Keep `guestSecret`: it is what asks for the answer.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct JoinedGuest {
    guest_id: Uuid,
    /// Proves the guest on `/guests/{guestId}/status` (shown once).
    guest_secret: String,
    /// Always `waiting`.
    status: GuestStatus,
    /// The invitation's expiry: the guest's access ends then at the latest.
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct GuestStatusRequest {
    /// The secret `/guests/join` returned.
    #[oai(validator(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$"))]
    guest_secret: String,
}

/// Joins the live audio/video conference of the invitation's space, as a guest.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct GuestConference {
    token: String,
    /// The conference server to connect to with `token`.
    url: String,
    /// No later than the invitation's expiry.
    expires_at: DateTime<Utc>,
}

/// The answer to a waiting guest.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct GuestStatusResponse {
    guest_id: Uuid,
    status: GuestStatus,
    /// With `admitted`: a fresh conference token for the invitation's space (only that one);
    /// null otherwise.
    conference: Option<GuestConference>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ListGuestsRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default, validator(maximum(value = "100000")))]
    offset: u32,
    /// Only the guests of this space.
    space_id: Option<Uuid>,
    /// Only guests in this status (null or absent: every status).
    status: Option<GuestStatus>,
}

#[derive(Default)]
pub(crate) struct GuestsApi;

#[OpenApi(tag = "GuestsTag::Guests")]
impl GuestsApi {
    /// Knock with a guest invitation
    ///
    /// The guest's first step, without a session: the space and token of the invitation URL
    /// and a display name put the guest in the space's lobby (`waiting`). Poll
    /// `/guests/{guestId}/status` with the returned secret for the answer. Permission: none
    /// (public). Rate-limited per IP and per invitation (`429 rate-limited`).
    /// `404 guest-invite-invalid` when the token does not open or its invitation is gone;
    /// `403 guest-invite-wrong-space` when it is for another space; `410 guest-invite-expired`,
    /// `410 guest-invite-revoked`.
    #[oai(path = "/guests/join", method = "post", operation_id = "join-as-guest")]
    async fn join(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<JoinRequest>,
    ) -> Result<Json<JoinedGuest>, JoinErrors> {
        let state = ctx.get::<GuestState>();
        if let Some(ClientIp(ip)) = req.data::<ClientIp>() {
            ratelimit::limit(
                &ctx,
                &format!("guest-join-ip:{ip}"),
                state.join_per_ip,
                "Too many guest joins from this address; try again in a minute.",
            )
            .await?;
        }
        let body = body.0;
        let display_name = display_name(&body.display_name)?;
        let invite_id = invite_token::open(ctx.get::<AuthState>().sealer(), &body.invite_token)
            .ok_or_else(|| Problem::new(&GUEST_INVITE_INVALID))?;
        ratelimit::limit(
            &ctx,
            &format!("guest-join-invite:{invite_id}"),
            state.join_per_invite,
            "Too many guests are joining with this invitation; try again in a minute.",
        )
        .await?;
        let invite = store::find_invite(ctx.db(), invite_id)
            .await?
            .ok_or_else(|| Problem::new(&GUEST_INVITE_INVALID))?;
        if invite.space_id != body.space_id {
            return Err(Problem::new(&GUEST_INVITE_WRONG_SPACE).into());
        }
        require_live(invite.revoked_at, invite.expires_at)?;

        let secret = crypto::random_token(SECRET_BYTES);
        let mut conn = ctx.db().acquire().await?;
        let guest = store::insert_guest(
            &mut conn,
            &NewGuest {
                id: Uuid::new_v4(),
                invite: &invite,
                display_name: &display_name,
                secret_hash: &crypto::handle_hash(&secret),
            },
        )
        .await?;
        tracing::info!(guest_id = %guest.id, invite_id = %invite.id, "a guest knocked");
        Ok(Json(JoinedGuest {
            guest_id: guest.id,
            guest_secret: secret,
            status: GuestStatus::Waiting,
            expires_at: guest.expires_at,
        }))
    }

    /// Ask whether a guest was admitted
    ///
    /// The guest's poll, without a session (proved by the secret `/guests/join` returned):
    /// `waiting`, `denied`, or `admitted` with a conference token for the invitation's space
    /// only (camera, microphone and data; no recording, no room administration; expiring no
    /// later than the invitation). Permission: none (the guest's secret). `404 not-found` for an
    /// unknown guest or a wrong secret; `410 guest-invite-expired`, `410 guest-invite-revoked`;
    /// `503 integration-disabled` when the conference is not configured on this server.
    #[oai(
        path = "/guests/:guestId/status",
        method = "post",
        operation_id = "get-guest-status"
    )]
    async fn status(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "guestId")] guest_id: Path<Uuid>,
        body: Json<GuestStatusRequest>,
    ) -> Result<Json<GuestStatusResponse>, StatusErrors> {
        let guest = store::find_guest(ctx.db(), guest_id.0)
            .await?
            .filter(|guest| guest.secret_hash == crypto::handle_hash(&body.guest_secret))
            .ok_or_else(Problem::not_found)?;
        require_live(guest.revoked_at, guest.expires_at)?;
        let status = GuestStatus::from_row(&guest.status);
        let conference = match status {
            GuestStatus::Admitted => Some(conference_access(&ctx, &guest)?),
            GuestStatus::Waiting | GuestStatus::Denied => None,
        };
        Ok(Json(GuestStatusResponse {
            guest_id: guest.id,
            status,
            conference,
        }))
    }

    /// Admit a waiting guest
    ///
    /// Lets a guest into the conference of their invitation's space: their next status poll
    /// returns a conference token. Permission: `AdmitGuests`, and with an invitation that names
    /// its admitters, being one of them (`403 guest-admitter-not-allowed`). `404 not-found` for
    /// a guest of another organization; `409 guest-not-waiting` once decided;
    /// `410 guest-invite-expired`, `410 guest-invite-revoked`.
    #[oai(
        path = "/guests/:guestId/admit",
        method = "post",
        operation_id = "admit-guest"
    )]
    async fn admit(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(name = "guestId")] guest_id: Path<Uuid>,
    ) -> Result<Json<Guest>, DecideErrors> {
        Ok(Json(
            decide(&ctx, req, &auth.0, guest_id.0, GuestStatus::Admitted).await?,
        ))
    }

    /// Deny a waiting guest
    ///
    /// Refuses a guest: their status poll answers `denied`. Permission: `AdmitGuests`, and with
    /// an invitation that names its admitters, being one of them
    /// (`403 guest-admitter-not-allowed`). `404 not-found` for a guest of another organization;
    /// `409 guest-not-waiting` once decided; `410 guest-invite-expired`,
    /// `410 guest-invite-revoked`.
    #[oai(path = "/guests/:guestId/deny", method = "post", operation_id = "deny-guest")]
    async fn deny(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(name = "guestId")] guest_id: Path<Uuid>,
    ) -> Result<Json<Guest>, DecideErrors> {
        Ok(Json(
            decide(&ctx, req, &auth.0, guest_id.0, GuestStatus::Denied).await?,
        ))
    }

    /// List guests
    ///
    /// The guests of the organization's live invitations (optionally of one space, in one
    /// status), in the order they knocked: the lobby is `status: waiting`. Permission:
    /// `AdmitGuests`.
    #[oai(path = "/guests/list", method = "post", operation_id = "list-guests")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListGuestsRequest>,
    ) -> Result<Json<Page<Guest>>, ListGuestsErrors> {
        let caller = &auth.0;
        caller.require(&ADMIT_GUESTS)?;
        let body = body.0;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_guests(
            &mut conn,
            caller.organization_id,
            body.space_id,
            body.status.map(GuestStatus::as_str),
            i64::from(body.limit),
            i64::from(body.offset),
        )
        .await?;
        let data = rows.into_iter().map(Guest::from).collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }
}

/// The trimmed display name, or `422`.
fn display_name(name: &str) -> Result<String, Problem> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > DISPLAY_NAME_MAX || name.chars().any(char::is_control) {
        return Err(Problem::invalid_field(
            "body.displayName",
            format!("1..{DISPLAY_NAME_MAX} characters, no control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Admits or denies the guest `guest_id` of the caller's organization, once.
async fn decide(
    ctx: &AppContext,
    req: &Request,
    caller: &Caller,
    guest_id: Uuid,
    decision: GuestStatus,
) -> Result<Guest, Problem> {
    caller.require(&ADMIT_GUESTS)?;
    let mut tx = ctx.db().begin().await?;
    let guest = store::lock_guest(&mut tx, caller.organization_id, guest_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    require_live(guest.revoked_at, guest.expires_at)?;
    if AdmitBy::from_row(&guest.admit_by) == AdmitBy::Named && !guest.admitter_ids.contains(&caller.user_id) {
        return Err(Problem::new(&GUEST_ADMITTER_NOT_ALLOWED));
    }
    if GuestStatus::from_row(&guest.status) != GuestStatus::Waiting {
        return Err(Problem::new(&GUEST_NOT_WAITING));
    }
    let guest = store::decide(&mut tx, guest.id, decision.as_str(), caller.user_id).await?;
    let action = if decision == GuestStatus::Admitted {
        qubital_audit::Action::GuestAdmitted
    } else {
        qubital_audit::Action::GuestDenied
    };
    let audit = qubital_audit::AuditEvent::by(caller, action, req)
        .target(qubital_audit::Target::new("guest", guest.id))
        .target(qubital_audit::Target::new("guest_invite", guest.invite_id));
    qubital_audit::record(&mut tx, audit).await?;
    tx.commit().await?;
    tracing::info!(guest_id = %guest.id, decision = decision.as_str(), "a guest was decided on");
    Ok(Guest::from(guest))
}

/// An admitted guest's conference token: the invitation's space only, the guest role's grants
/// (no recording, no room administration, no metadata rewrite), `kind: guest` in the metadata,
/// expiring no later than the invitation.
fn conference_access(ctx: &AppContext, guest: &GuestRow) -> Result<GuestConference, Problem> {
    // A token needs whole seconds to live (see `conference::mint`): an invitation ending within
    // them has ended.
    if guest.expires_at.timestamp() - Utc::now().timestamp() < 2 {
        return Err(Problem::new(&GUEST_INVITE_EXPIRED));
    }
    let identity = conference_identity(guest.id);
    let metadata = serde_json::json!({
        "kind": "guest",
        "guestId": guest.id,
        "role": Role::Guest,
    })
    .to_string();
    let access = conference::mint(
        ctx,
        guest.space_id,
        conference::Participant {
            identity: &identity,
            name: &guest.display_name,
            metadata: &metadata,
            role: Role::Guest,
        },
        Some(guest.expires_at),
    )?;
    Ok(GuestConference {
        token: access.token,
        url: access.url,
        expires_at: access.expires_at,
    })
}
