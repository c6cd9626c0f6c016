//! The JSON of Centrifugo's subscribe proxy, so a feature can serve the endpoint without knowing
//! Centrifugo's wire format.
//!
//! When a client subscribes to a channel of a namespace with `subscribe_proxy_enabled`,
//! Centrifugo POSTs a [`SubscribeRequest`] to the configured endpoint and acts on the
//! [`SubscribeResponse`]: `{"result": {}}` lets the client in, `{"error": {"code": 403, …}}`
//! refuses it (the client SDK then stays unsubscribed and does not retry).
//!
//! Things the endpoint must know, from Centrifugo's documentation:
//! - Centrifugo does not call the proxy for a subscription made with a subscription token, nor
//!   for a user-limited channel (`user:#42`): those carry their own access control.
//! - `user` is whatever the connection authenticated as (the connection token's `sub`); it is
//!   the only identity to trust. `data` comes from the client and proves nothing.
//! - Any answer other than HTTP 200 (the backend cannot decide: database down) reaches the
//!   client as error `100` internal, which is temporary: the SDK subscribes again later. So a
//!   failure to decide must be a 5xx, never a refusal, which is final.
//! - Refusal codes must be in `[400, 1999]`: lower codes are Centrifugo's own.
//!
//! The endpoint is a route of the feature, protected like Centrifugo's other calls into the
//! backend (a network policy or a static header set in Centrifugo's proxy configuration); this
//! crate has no route.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What Centrifugo sends: who subscribes to what, over which connection.
///
/// Every field has a default because Centrifugo leaves empty values out (an anonymous
/// connection has no `user`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SubscribeRequest {
    /// Centrifugo's id of the connection (one per socket, not per user).
    #[serde(default)]
    pub client: String,
    /// `websocket`, `sse`, `http_stream`…
    #[serde(default)]
    pub transport: String,
    /// `json` or `protobuf`.
    #[serde(default)]
    pub protocol: String,
    /// `json` or `binary`.
    #[serde(default)]
    pub encoding: String,
    /// The authenticated user id (empty for an anonymous connection).
    #[serde(default)]
    pub user: String,
    /// The channel the client asks for.
    #[serde(default)]
    pub channel: String,
    /// Data the client attached to its subscribe request, if any (untrusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The same in base64, when Centrifugo's proxy uses binary encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64data: Option<String>,
    /// The connection's meta (from its token), when the proxy includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// What the endpoint answers, always with HTTP 200: `{"result": {…}}` or `{"error": {…}}`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum SubscribeResponse {
    /// Let the client in.
    #[serde(rename = "result")]
    Allow(SubscribeResult),
    /// Refuse the subscription; the client receives the error.
    #[serde(rename = "error")]
    Refuse(ProxyError),
}

impl SubscribeResponse {
    /// `{"result": {}}`.
    pub fn allow() -> Self {
        SubscribeResponse::Allow(SubscribeResult::default())
    }

    /// `{"error": {"code": 403, "message": "permission denied"}}`, Centrifugo's documented
    /// refusal.
    pub fn permission_denied() -> Self {
        Self::refuse(403, "permission denied")
    }

    /// A refusal with a custom code, which must be in `[400, 1999]` (lower codes are
    /// Centrifugo's; a code out of range is a programming error).
    pub fn refuse(code: u32, message: impl Into<String>) -> Self {
        debug_assert!(
            (400..=1999).contains(&code),
            "subscribe proxy error codes must be in [400, 1999], not {code}"
        );
        SubscribeResponse::Refuse(ProxyError {
            code,
            message: message.into(),
            temporary: false,
        })
    }

    pub fn is_allowed(&self) -> bool {
        matches!(self, SubscribeResponse::Allow(_))
    }
}

/// The optional extras of an allowed subscription; all empty is `{}`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SubscribeResult {
    /// Channel-specific information about the subscriber, shown in presence and join/leave
    /// events and attached to the client's own publications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
    /// Data sent to the client in its subscribe reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Unix seconds at which the subscription expires (Centrifugo then asks the sub-refresh
    /// proxy, or unsubscribes). `None`: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<i64>,
}

/// An error answered to Centrifugo, forwarded to the client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProxyError {
    pub code: u32,
    #[serde(default)]
    pub message: String,
    /// Whether the client SDK should try again later (resubscribe) instead of giving up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_request_centrifugo_documents() {
        let request: SubscribeRequest = serde_json::from_value(json!({
            "client": "9336a229-2400-4ebc-8c50-0a643d22e8a0",
            "transport": "websocket",
            "protocol": "json",
            "encoding": "json",
            "user": "56",
            "channel": "chat:index"
        }))
        .unwrap();
        assert_eq!(request.user, "56");
        assert_eq!(request.channel, "chat:index");
        assert_eq!(request.transport, "websocket");
        assert_eq!(request.data, None);
        // Optional parts, and an anonymous connection without `user`.
        let request: SubscribeRequest = serde_json::from_value(json!({
            "client": "c", "transport": "websocket", "protocol": "json", "encoding": "json",
            "channel": "chat:1", "data": {"since": 3}, "meta": {"org": "o1"}
        }))
        .unwrap();
        assert_eq!(request.user, "");
        assert_eq!(request.data, Some(json!({"since": 3})));
        assert_eq!(request.meta, Some(json!({"org": "o1"})));
    }

    #[test]
    fn writes_the_answers_centrifugo_expects() {
        assert_eq!(
            serde_json::to_value(SubscribeResponse::allow()).unwrap(),
            json!({"result": {}})
        );
        assert_eq!(
            serde_json::to_value(SubscribeResponse::permission_denied()).unwrap(),
            json!({"error": {"code": 403, "message": "permission denied"}})
        );
        let with_info = SubscribeResponse::Allow(SubscribeResult {
            info: Some(json!({"name": "Ada"})),
            expire_at: Some(1_700_000_000),
            ..SubscribeResult::default()
        });
        assert_eq!(
            serde_json::to_value(&with_info).unwrap(),
            json!({"result": {"info": {"name": "Ada"}, "expire_at": 1_700_000_000}})
        );
        // And back, for tests that play Centrifugo.
        let parsed: SubscribeResponse =
            serde_json::from_str(r#"{"error": {"code": 1000, "message": "no", "temporary": true}}"#).unwrap();
        assert!(!parsed.is_allowed());
        assert_eq!(
            parsed,
            SubscribeResponse::Refuse(ProxyError {
                code: 1000,
                message: "no".into(),
                temporary: true
            })
        );
        assert!(serde_json::from_str::<SubscribeResponse>(r#"{"result": {}}"#)
            .unwrap()
            .is_allowed());
    }
}
