//! The provider-neutral event model: what the calendar feature stores and compares, whatever
//! provider an event came from. Providers translate their wire format to and from these types;
//! none of them names a vendor.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Whether an event takes place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventStatus {
    Confirmed,
    Tentative,
    /// Deleted or cancelled. An incremental sync reports deletions this way, often with nothing
    /// but the id filled in: the caller removes its copy.
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

/// When an event starts or ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventTime {
    /// An all-day event's day. As in iCalendar, an all-day event's end is the day *after* its
    /// last day (a one-day event on the 3rd ends on the 4th).
    Date(NaiveDate),
    /// An instant with the offset it was written in (RFC 3339), and the IANA time-zone name
    /// (`Europe/Paris`) the event lives in. The zone matters for recurring events: a weekly
    /// 09:00 meeting stays at 09:00 local time across a daylight-saving change, which an offset
    /// alone cannot say. Providers require it on the start and end of recurring events.
    DateTime {
        at: DateTime<FixedOffset>,
        time_zone: Option<String>,
    },
}

impl EventTime {
    /// An instant in an IANA time zone.
    pub fn at(at: DateTime<FixedOffset>, time_zone: impl Into<String>) -> Self {
        EventTime::DateTime {
            at,
            time_zone: Some(time_zone.into()),
        }
    }

    /// An all-day event's day.
    pub fn date(date: NaiveDate) -> Self {
        EventTime::Date(date)
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }
}

/// An attendee's answer to an invitation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResponseStatus {
    /// Not answered yet.
    #[default]
    NeedsAction,
    Declined,
    Tentative,
    Accepted,
}

impl ResponseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseStatus::NeedsAction => "needsAction",
            ResponseStatus::Declined => "declined",
            ResponseStatus::Tentative => "tentative",
            ResponseStatus::Accepted => "accepted",
        }
    }
}

/// Someone invited to an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attendee {
    pub email: String,
    pub display_name: Option<String>,
    pub response_status: ResponseStatus,
    /// Whether this attendee organizes the event. Read-only: set by the provider.
    pub organizer: bool,
    /// Whether this attendee is the owner of the calendar the event was read from (their own
    /// answer is the one that calendar shows). Read-only: set by the provider.
    pub is_self: bool,
    /// An optional attendee.
    pub optional: bool,
}

impl Attendee {
    /// An attendee to invite: not answered yet, required.
    pub fn invite(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            ..Self::default()
        }
    }
}

/// An event as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's id, unique within the calendar.
    pub id: String,
    pub status: EventStatus,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    /// Absent only on cancelled events reported by an incremental sync.
    pub start: Option<EventTime>,
    /// Absent only on cancelled events reported by an incremental sync.
    pub end: Option<EventTime>,
    /// `RRULE:`, `EXRULE:`, `RDATE:` and `EXDATE:` lines (RFC 5545) of a recurring event; empty
    /// for a single event or an instance.
    pub recurrence: Vec<String>,
    /// For a changed or cancelled instance of a recurring event: the recurring event's id.
    pub recurring_event_id: Option<String>,
    /// For a changed or cancelled instance: the start it would have had per the recurrence,
    /// which identifies the instance.
    pub original_start: Option<EventTime>,
    pub attendees: Vec<Attendee>,
    pub organizer_email: Option<String>,
    /// Key/value pairs only the connecting application sees (never shown to attendees): the
    /// calendar feature tags the events it creates here so it recognises them when they come
    /// back through a sync.
    pub private_properties: BTreeMap<String, String>,
    /// When the provider last changed the event. Absent only on cancelled events reported by an
    /// incremental sync.
    pub updated: Option<DateTime<Utc>>,
    /// A link that opens the event in the provider's web UI.
    pub html_link: Option<String>,
}

impl ProviderEvent {
    pub fn is_cancelled(&self) -> bool {
        self.status == EventStatus::Cancelled
    }

    /// The value of one private property.
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.private_properties.get(key).map(String::as_str)
    }

    /// An attendee by email, compared case-insensitively as mail addresses are.
    pub fn attendee(&self, email: &str) -> Option<&Attendee> {
        self.attendees
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(email))
    }
}

/// A new event to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// An id chosen by the caller, or `None` to let the provider choose. Choosing it makes a
    /// creation safe to retry: a second attempt after a lost answer fails with
    /// [`CalendarError::AlreadyExists`](crate::CalendarError::AlreadyExists) instead of
    /// creating a duplicate. Google wants 5 to 1024 characters of lowercase base32hex
    /// (`a`-`v`, `0`-`9`); see [`event_id_from_bytes`].
    pub id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: EventTime,
    pub end: EventTime,
    pub recurrence: Vec<String>,
    /// Who to invite. Only `email`, `display_name`, `optional` and `response_status` are sent;
    /// the rest is the provider's to say.
    pub attendees: Vec<Attendee>,
    pub private_properties: BTreeMap<String, String>,
}

impl NewEvent {
    /// An event with a title and times and nothing else.
    pub fn new(summary: impl Into<String>, start: EventTime, end: EventTime) -> Self {
        Self {
            id: None,
            summary: Some(summary.into()),
            description: None,
            location: None,
            start,
            end,
            recurrence: Vec::new(),
            attendees: Vec::new(),
            private_properties: BTreeMap::new(),
        }
    }
}

/// A partial update: `None` leaves a field as it is. Text fields are cleared with an empty
/// string. `attendees` and `recurrence` replace the whole list; `private_properties` are merged
/// key by key into the existing ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventPatch {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<EventTime>,
    pub end: Option<EventTime>,
    pub status: Option<EventStatus>,
    pub recurrence: Option<Vec<String>>,
    pub attendees: Option<Vec<Attendee>>,
    pub private_properties: BTreeMap<String, String>,
}

/// Whom the provider notifies (by email) of a creation, change or deletion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendUpdates {
    /// Every attendee.
    #[default]
    All,
    /// Only attendees who do not use the provider's own calendar.
    ExternalOnly,
    /// Nobody.
    None,
}

impl SendUpdates {
    /// The value of Google's `sendUpdates` parameter (the same words as iCalendar tools use).
    pub fn as_str(self) -> &'static str {
        match self {
            SendUpdates::All => "all",
            SendUpdates::ExternalOnly => "externalOnly",
            SendUpdates::None => "none",
        }
    }
}

/// An event id every provider accepts, derived from arbitrary bytes (for instance a UUID of
/// the feature's own row): lowercase base32hex (RFC 4648 §7, no padding), the alphabet Google
/// restricts client-chosen ids to.
pub fn event_id_from_bytes(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_base32hex() {
        // RFC 4648 §10 test vectors, base32hex, lowercased and unpadded.
        assert_eq!(event_id_from_bytes(b""), "");
        assert_eq!(event_id_from_bytes(b"f"), "co");
        assert_eq!(event_id_from_bytes(b"fo"), "cpng");
        assert_eq!(event_id_from_bytes(b"foo"), "cpnmu");
        assert_eq!(event_id_from_bytes(b"foob"), "cpnmuog");
        assert_eq!(event_id_from_bytes(b"fooba"), "cpnmuoj1");
        assert_eq!(event_id_from_bytes(b"foobar"), "cpnmuoj1e8");
        let id = event_id_from_bytes(&[0xff; 16]);
        assert_eq!(id.len(), 26);
        assert!(id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')));
    }
}
