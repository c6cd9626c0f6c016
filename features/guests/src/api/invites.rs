//! Guest invitations: make one, list them, revoke one (moderators and up).

use chrono::{DateTime, Utc};
use platform_livekit::LiveKit;
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Enum, Object, OpenApi, Union};
use qubital_auth::{
    directory::{self, IdsAt},
    AuthState,
};
use qubital_plugin::{auth::CookieAuth, problem::types, wire, AppContext, FieldError, Page, Problem};
use uuid::Uuid;

use super::{conference_identity, AdmitBy, GuestInvite, GuestsTag};
use crate::{
    invite_token,
    permissions::{ADMIT_GUESTS, INVITE_GUESTS},
    settings::GuestState,
    store::{self, NewInvite},
};

const MIN_DURATION_SECONDS: u32 = 60;
const MAX_DURATION_SECONDS: u32 = 7 * 24 * 3600;
const MAX_ADMITTERS: usize = 20;

qubital_plugin::operation_errors! {
    /// What `/guests/invite` answers besides the host's problems.
    pub CreateInviteErrors = [types::FORBIDDEN, types::NOT_FOUND];
    /// What `/guests/invites/list` answers besides the host's problems.
    pub ListInvitesErrors = [types::FORBIDDEN];
    /// What `/guests/invites/{id}/revoke` answers besides the host's problems.
    pub RevokeInviteErrors = [types::FORBIDDEN, types::NOT_FOUND];
}

/// A new invitation whose guests any member admits (`admitBy: anyone`), or only the members
/// it names (`admitBy: named`, with `admitterIds`).
#[derive(Debug, Union)]
#[oai(one_of)]
enum CreateGuestInviteRequest {
    Anyone(InviteAdmittedByAnyone),
    Named(InviteAdmittedByNamed),
}

/// `anyone`: every member of the organization (role `member` and up) may admit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum AnyoneAdmits {
    Anyone,
}

/// `named`: only the members listed in `admitterIds` may admit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum NamedAdmit {
    Named,
}

// No `deny_unknown_fields` on the forms (poem-openapi refuses it with `flatten`): the host's
// request guard refuses unknown fields first (`additionalProperties: false`).
/// An invitation any member may admit guests of.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct InviteAdmittedByAnyone {
    admit_by: AnyoneAdmits,
    /// Empty if sent.
    #[oai(validator(max_items = 0))]
    admitter_ids: Option<Vec<wire::IdText>>,
    #[oai(flatten)]
    invite: InviteTerms,
}

/// An invitation only the named members may admit guests of.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct InviteAdmittedByNamed {
    admit_by: NamedAdmit,
    /// 1..20 user ids of members of the organization (role `member` and up) who may admit.
    #[oai(validator(min_items = 1, max_items = 20))]
    admitter_ids: Vec<wire::IdText>,
    #[oai(flatten)]
    invite: InviteTerms,
}

/// What every invitation says.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct InviteTerms {
    /// The space of the caller's organization the guests may join (that one only).
    space_id: Uuid,
    /// How long the invitation (and any conference access it leads to) lasts: 60 s to 7 days.
    #[oai(validator(minimum(value = "60"), maximum(value = "604800")))]
    duration_seconds: u32,
}

impl CreateGuestInviteRequest {
    /// Who admits, the admitters' ids as sent, and the terms.
    fn into_parts(self) -> (AdmitBy, Vec<wire::IdText>, InviteTerms) {
        match self {
            CreateGuestInviteRequest::Anyone(form) => (AdmitBy::Anyone, Vec::new(), form.invite),
            CreateGuestInviteRequest::Named(form) => (AdmitBy::Named, form.admitter_ids, form.invite),
        }
    }
}

/// A new invitation: send `inviteUrl` to the guest. Its token is not shown again.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CreatedGuestInvite {
    id: Uuid,
    /// The join page with the space and the invitation's opaque token.
    invite_url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ListGuestInvitesRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default, validator(maximum(value = "100000")))]
    offset: u32,
    /// Only the invitations of this space.
    space_id: Option<Uuid>,
}

#[derive(Default)]
pub(crate) struct GuestInvitesApi;

#[OpenApi(tag = "GuestsTag::Guests")]
impl GuestInvitesApi {
    /// Invite guests into a space
    ///
    /// Makes an invitation into one space of the caller's organization, valid for
    /// `durationSeconds`, and returns its URL (carrying an opaque, encrypted token). Whoever
    /// opens it may knock (`/guests/join`) and waits until a member the invitation allows
    /// admits them. Permission: `InviteGuests`. `404 not-found` for a space of another
    /// organization; `422 validation` for admitters who are not members.
    #[oai(
        path = "/guests/invite",
        method = "post",
        operation_id = "create-guest-invite"
    )]
    async fn invite(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<CreateGuestInviteRequest>,
    ) -> Result<Json<CreatedGuestInvite>, CreateInviteErrors> {
        let caller = &auth.0;
        caller.require(&INVITE_GUESTS)?;
        let (admit_by, admitter_ids, body) = body.0.into_parts();
        let admitters = admitters(&admitter_ids)?;
        let duration = body
            .duration_seconds
            .clamp(MIN_DURATION_SECONDS, MAX_DURATION_SECONDS);

        let mut tx = ctx.db().begin().await?;
        let space = qubital_spaces::find_in_organization(&mut *tx, caller.organization_id, body.space_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        check_admitters(&mut tx, caller.organization_id, &admitters).await?;
        let invite = store::insert_invite(
            &mut *tx,
            &NewInvite {
                id: Uuid::new_v4(),
                org_id: caller.organization_id,
                room_id: space.internal_id,
                space_id: space.id,
                created_by: caller.user_id,
                admit_by: admit_by.as_str(),
                admitter_ids: &admitters,
                duration_seconds: i64::from(duration),
            },
        )
        .await?;
        let audit = qubital_audit::AuditEvent::by(caller, qubital_audit::Action::GuestInvited, req)
            .target(qubital_audit::Target::new("guest_invite", invite.id))
            .target(qubital_audit::Target::new("space", space.id));
        qubital_audit::record(&mut tx, audit).await?;
        tx.commit().await?;

        let token = invite_token::seal(ctx.get::<AuthState>().sealer(), invite.id);
        let join_url = &ctx.get::<GuestState>().join_url;
        tracing::info!(invite_id = %invite.id, space_id = %space.id, "guest invitation made");
        Ok(Json(CreatedGuestInvite {
            id: invite.id,
            invite_url: format!("{join_url}?space={}&invite={token}", space.id),
            expires_at: invite.expires_at,
        }))
    }

    /// List guest invitations
    ///
    /// The invitations of the caller's organization (optionally of one space), newest first,
    /// active, expired and revoked. Permission: `InviteGuests`.
    #[oai(
        path = "/guests/invites/list",
        method = "post",
        operation_id = "list-guest-invites"
    )]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListGuestInvitesRequest>,
    ) -> Result<Json<Page<GuestInvite>>, ListInvitesErrors> {
        let caller = &auth.0;
        caller.require(&INVITE_GUESTS)?;
        let body = body.0;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_invites(
            &mut conn,
            caller.organization_id,
            body.space_id,
            i64::from(body.limit),
            i64::from(body.offset),
        )
        .await?;
        let data = rows.into_iter().map(GuestInvite::from).collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// Revoke a guest invitation
    ///
    /// From now on its token is refused, its waiting guests can no longer be admitted, and its
    /// admitted guests get no new conference token and are disconnected from the space's
    /// conference. Revoking a revoked invitation changes nothing. Permission: `InviteGuests`.
    /// `404 not-found` for an invitation of another organization.
    #[oai(
        path = "/guests/invites/:id/revoke",
        method = "post",
        operation_id = "revoke-guest-invite"
    )]
    async fn revoke(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Json<GuestInvite>, RevokeInviteErrors> {
        let caller = &auth.0;
        caller.require(&INVITE_GUESTS)?;
        let mut tx = ctx.db().begin().await?;
        let (invite, newly) = store::revoke_invite(&mut tx, caller.organization_id, id.0)
            .await?
            .ok_or_else(Problem::not_found)?;
        if newly {
            let audit = qubital_audit::AuditEvent::by(caller, qubital_audit::Action::GuestInviteRevoked, req)
                .target(qubital_audit::Target::new("guest_invite", invite.id))
                .target(qubital_audit::Target::new("space", invite.space_id));
            qubital_audit::record(&mut tx, audit).await?;
        }
        tx.commit().await?;
        if newly {
            tracing::info!(invite_id = %invite.id, "guest invitation revoked");
            disconnect_admitted(&ctx, invite.id, invite.space_id).await;
        }
        Ok(Json(GuestInvite::from(invite)))
    }
}

/// The distinct admitter user ids of a request (the schema bounds how many, by `admitBy`).
fn admitters(ids: &[wire::IdText]) -> Result<Vec<i64>, Problem> {
    const LOCATION: &str = "body.admitterIds";
    if ids.len() > MAX_ADMITTERS {
        return Err(Problem::invalid_field(
            LOCATION,
            format!("at most {MAX_ADMITTERS}"),
        ));
    }
    let mut errors = Vec::new();
    let parsed = wire::distinct_ids(LOCATION, ids, &mut errors);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(Problem::validation(errors))
    }
}

/// `404 not-found` for an admitter who is not a member of the organization; `422` for each
/// member whose role may not admit guests.
async fn check_admitters(
    conn: &mut sqlx::PgConnection,
    org_id: i64,
    admitters: &[i64],
) -> Result<(), Problem> {
    const LOCATION: &str = "body.admitterIds";
    let roles = directory::require_members(conn, org_id, IdsAt::Each(LOCATION), admitters).await?;
    let errors: Vec<FieldError> = roles
        .iter()
        .enumerate()
        .filter(|(_, role)| !role.can(&ADMIT_GUESTS))
        .map(|(i, _)| {
            FieldError::new(
                format!("{LOCATION}[{i}]"),
                "a member whose role may not admit guests",
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// Disconnects the admitted guests of a revoked invitation from the space's conference: best
/// effort, in the background (LiveKit being slow or down must not fail the revocation; their
/// tokens are refused anyway when they ask again). Nothing to do without a configured conference.
async fn disconnect_admitted(ctx: &AppContext, invite_id: Uuid, space_id: Uuid) {
    let Some(livekit) = ctx.try_get::<LiveKit>().filter(|l| l.is_enabled()).cloned() else {
        return;
    };
    let guests = match store::admitted_guests(ctx.db(), invite_id).await {
        Ok(guests) => guests,
        Err(error) => {
            tracing::warn!(%error, %invite_id, "could not read the admitted guests of a revoked invitation");
            return;
        }
    };
    if guests.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let room = space_id.to_string();
        for guest in guests {
            if let Err(error) = livekit
                .remove_participant(&room, &conference_identity(guest))
                .await
            {
                tracing::warn!(%error, guest_id = %guest, "could not disconnect a guest of a revoked invitation");
            }
        }
    });
}
