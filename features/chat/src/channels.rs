//! The Centrifugo channels chat and presence publish into (namespaces configured in
//! Centrifugo; see `docs/chat-and-presence.md`).

use uuid::Uuid;

/// The channel of a conversation: every message, edit, deletion, reaction and typing signal.
/// Subscribed with chat's subscription token or through the subscribe proxy (members only).
pub fn conversation(id: Uuid) -> String {
    format!("chat:{id}")
}

/// A user's personal channel (subscribed by their connection token, `user:#<id>`): new
/// conversations and membership changes reach them there before they subscribe to the
/// conversation.
pub fn user(user_id: i64) -> String {
    format!("user:#{user_id}")
}

/// The status channel of a user in an organization (`status:<organization public id>:<user
/// id>`): presence publishes effective-status changes there; any member of the organization
/// may subscribe (through the subscribe proxy).
pub fn status(organization_public_id: &str, user_id: i64) -> String {
    format!("status:{organization_public_id}:{user_id}")
}

/// What a requested channel is, for the subscribe proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    Conversation(Uuid),
    Status { organization: &'a str, user_id: i64 },
    Other,
}

pub fn parse(channel: &str) -> Parsed<'_> {
    if let Some(id) = channel.strip_prefix("chat:") {
        return match Uuid::parse_str(id) {
            Ok(id) => Parsed::Conversation(id),
            Err(_) => Parsed::Other,
        };
    }
    if let Some(rest) = channel.strip_prefix("status:") {
        if let Some((organization, user)) = rest.rsplit_once(':') {
            if let Ok(user_id) = user.parse::<i64>() {
                if !organization.is_empty() && user_id > 0 {
                    return Parsed::Status {
                        organization,
                        user_id,
                    };
                }
            }
        }
    }
    Parsed::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip() {
        let id = Uuid::now_v7();
        assert_eq!(parse(&conversation(id)), Parsed::Conversation(id));
        assert_eq!(
            parse(&status("org_1", 42)),
            Parsed::Status {
                organization: "org_1",
                user_id: 42
            }
        );
        for other in [
            "chat:nope",
            "status:org",
            "status::4",
            "status:o:-1",
            "user:#4",
            "",
        ] {
            assert_eq!(parse(other), Parsed::Other, "{other}");
        }
    }
}
