//! The Events API (and the list endpoints a full backfill needs), for the eventsync follower.
//!
//! Objects are handed over as the JSON WorkOS sends, so that a backfilled object and an event's
//! `data` go through the same parsing on the caller's side.

use std::time::Duration;

use workos::{
    enums::{PaginationOrder, UserManagementOrganizationMembershipStatuses as Statuses},
    events::ListEventsParams,
    organization_membership::ListOrganizationMembershipsParams,
    organizations::ListOrganizationsParams,
    user_management::ListUsersParams,
};

use crate::{Workos, WorkosError};

/// One event of the stream.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    /// `organization.updated`, `user.deleted`, …
    pub event: String,
    /// RFC 3339.
    pub created_at: String,
    pub data: serde_json::Value,
}

/// A page of the stream, oldest first.
#[derive(Clone, Debug)]
pub struct EventPage {
    pub events: Vec<Event>,
}

/// Why reading the stream failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// 429: wait this long (when WorkOS said) before asking again.
    #[error("WorkOS rate-limited the request")]
    RateLimited(Option<Duration>),
    /// The cursor or range was refused (for example older than the 30 days WorkOS keeps
    /// events): the follower must reconcile from the list endpoints.
    #[error("WorkOS refused the stream position: {0}")]
    PositionRejected(String),
    #[error(transparent)]
    Other(#[from] WorkosError),
}

impl From<workos::Error> for EventsError {
    fn from(error: workos::Error) -> Self {
        match error.api() {
            Some(api) if api.status == 429 => EventsError::RateLimited(api.retry_after),
            Some(api) if matches!(api.status, 400 | 404 | 422) => {
                EventsError::PositionRejected(api.message.clone())
            }
            _ => EventsError::Other(error.into()),
        }
    }
}

fn to_json<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl Workos {
    /// Events of `types` after the event `after` (or, without it, from `range_start`), oldest
    /// first.
    pub async fn list_events(
        &self,
        types: &[&str],
        after: Option<&str>,
        range_start: Option<&str>,
        limit: u32,
    ) -> Result<EventPage, EventsError> {
        let mut params = ListEventsParams::new(types.iter().map(|t| t.to_string()).collect());
        params.after = after.map(str::to_owned);
        params.range_start = if after.is_none() {
            range_start.map(str::to_owned)
        } else {
            None
        };
        params.limit = Some(i64::from(limit.clamp(1, 100)));
        params.order = Some(PaginationOrder::Asc);
        let page = self.client()?.events().list_events(params).await?;
        let events = page
            .data
            .into_iter()
            .map(|e| Event {
                id: e.id,
                event: e.event,
                created_at: e.created_at,
                data: to_json(e.data),
            })
            .collect();
        Ok(EventPage { events })
    }

    /// Every organization, as WorkOS JSON objects.
    pub async fn list_all_organizations(&self) -> Result<Vec<serde_json::Value>, EventsError> {
        let client = self.client()?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let params = ListOrganizationsParams {
                after,
                limit: Some(100),
                order: Some(PaginationOrder::Asc),
                ..Default::default()
            };
            let page = client.organizations().list_organizations(params).await?;
            all.extend(page.data.into_iter().map(to_json));
            after = page.list_metadata.after;
            if after.is_none() {
                return Ok(all);
            }
        }
    }

    /// Every user, as WorkOS JSON objects.
    pub async fn list_all_users(&self) -> Result<Vec<serde_json::Value>, EventsError> {
        let client = self.client()?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let params = ListUsersParams {
                after,
                limit: Some(100),
                order: Some(PaginationOrder::Asc),
                ..Default::default()
            };
            let page = client.user_management().list_users(params).await?;
            all.extend(page.data.into_iter().map(to_json));
            after = page.list_metadata.after;
            if after.is_none() {
                return Ok(all);
            }
        }
    }

    /// Every membership (any status) of organization `organization_id`.
    pub async fn list_all_memberships(
        &self,
        organization_id: &str,
    ) -> Result<Vec<serde_json::Value>, EventsError> {
        let client = self.client()?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let params = ListOrganizationMembershipsParams {
                organization_id: Some(organization_id.to_owned()),
                // WorkOS lists only active memberships unless asked; the mirror keeps them all.
                statuses: Some(vec![Statuses::Active, Statuses::Inactive, Statuses::Pending]),
                after,
                limit: Some(100),
                order: Some(PaginationOrder::Asc),
                ..Default::default()
            };
            let page = client
                .organization_membership()
                .list_organization_memberships(params)
                .await?;
            all.extend(page.data.into_iter().map(to_json));
            after = page.list_metadata.after;
            if after.is_none() {
                return Ok(all);
            }
        }
    }
}
