//! The problem types of the calendar operations (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/calendar/{provider}/callback`: the state is unknown, expired, used, or was started by
    /// another member or in another browser.
    pub CALENDAR_CONNECT_INVALID = (400, "calendar-connect-invalid", "This calendar connection attempt is unknown, expired or from another browser; start again");
    /// `/calendar/{provider}/callback`: the provider refused the code or the member did not grant
    /// calendar access.
    pub CALENDAR_ACCESS_REFUSED = (409, "calendar-access-refused", "The calendar provider did not grant access to the calendar");
    /// `/calendar/events/create`: the caller has no calendar connected in this organization.
    pub CALENDAR_NOT_CONNECTED = (409, "calendar-not-connected", "Connect a calendar first");
    /// The provider refused the connection's grant (revoked or expired): connect again.
    pub CALENDAR_CONNECTION_BROKEN = (409, "calendar-connection-broken", "The calendar connection no longer works; connect the calendar again");
    /// `/calendar/events/{id}/update|delete`: only the organizer changes an event.
    pub CALENDAR_NOT_ORGANIZER = (403, "calendar-not-organizer", "Only the event's organizer can change it");
}
