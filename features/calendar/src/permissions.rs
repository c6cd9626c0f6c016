//! The permissions of the calendar operations (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// See the organization's calendar events.
    pub VIEW_CALENDAR = ("ViewCalendar", Member);
    /// Connect and disconnect one's own calendar provider account.
    pub CONNECT_CALENDAR = ("ConnectCalendar", Member);
    /// Schedule events of spaces on one's connected calendar (only the organizer changes or
    /// deletes them).
    pub SCHEDULE_EVENTS = ("ScheduleEvents", Member);
}
