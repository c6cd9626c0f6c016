//! **API boundary**: who is in each space's conference now (`space_occupants`). The conference
//! service reports joins and leaves to the recordings feature (LiveKit webhooks and its
//! reconcile job), which writes them through these functions; the organizations feature asks
//! where a removed member still is; spaces reads them into `Space.occupantUserIds` (with the
//! space itself, in its store).
//!
//! The table is this feature's because "who is in this space" is a property of the space, and
//! spaces cannot depend on recordings (recordings depends on spaces).
//!
//! LiveKit does not promise the order of its reports, so every write carries the time of the
//! event and changes nothing when the row already holds newer news. At the same second a leave
//! beats a join (it happened after it).
//!
//! A conference room is reported with its organization's public id ([`ConferenceRoom`],
//! [`present_by_organization`]): the usage metrics are labelled with it, and reading it with
//! the room saves the webhook a query per event.

pub use crate::store::occupancy::{
    emptied, joined, keep_only, left, present, present_by_organization, quiet_rooms, room,
    spaces_occupied_by, ConferenceRoom,
};
