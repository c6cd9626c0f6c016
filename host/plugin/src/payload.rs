//! [`DirectJson`]: a JSON response written straight from `serde::Serialize`, for the large
//! answers (lists) where poem-openapi's `Json` spends most of its time.
//!
//! poem-openapi's `Json<T>` answers with `T::to_json()`: a `serde_json::Value` tree (a map with
//! an owned key per field, a `String` per value) that is then serialised and dropped. For a page
//! of twenty list items that tree is a quarter of the request's CPU, most of it in `malloc`/`free`
//! (docs/performance.md). `DirectJson<T>` keeps poem-openapi's schema for `T` (the OpenAPI
//! document is unchanged) and writes the body with `T`'s `serde::Serialize` instead.
//!
//! The two must agree byte for byte in meaning: the type derives both `poem_openapi::Object` and
//! `serde::Serialize` with the same renames, timestamps go through [`rfc3339`] (poem-openapi's
//! form, `+00:00`, not chrono's serde form, `Z`), and a `None` is `null` as poem-openapi writes
//! it. **Every debug build checks it**: [`DirectJson`] compares its serde output with
//! `to_json()` on each response and panics on a difference, so any API test that receives such
//! a response proves the two equal for the values it saw.

use chrono::{DateTime, Utc};
use poem::{http::header, IntoResponse, Response};
use poem_openapi::{
    payload::{Json, Payload},
    registry::{MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
    ApiResponse,
};
use serde::{Serialize, Serializer};

/// A `200` JSON answer whose schema is `T`'s poem-openapi schema and whose body is `T`'s serde
/// serialisation (see the module docs for why and how the two are kept equal).
#[derive(Debug, Clone)]
pub struct DirectJson<T>(pub T);

// What the document says is poem-openapi's own `Json<T>`'s, delegated to: the schema, the
// content type and the response entry cannot drift from the `Json` they stand in for.
impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = Json::<T>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        Json::<T>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        Json::<T>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as Payload>::register(registry);
    }
}

impl<T: Type + ToJSON + Serialize + Send> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        let body = match serde_json::to_vec(&self.0) {
            Ok(body) => body,
            Err(error) => {
                // Only a `Serialize` impl that fails by itself (a map with non-string keys, say)
                // can get here; none of ours does.
                tracing::error!(%error, "a response did not serialise");
                return poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        #[cfg(debug_assertions)]
        assert_same_as_to_json(&self.0, &body);
        Response::builder()
            .header(header::CONTENT_TYPE, Self::CONTENT_TYPE)
            .body(body)
    }
}

impl<T: Type + ToJSON + Serialize + Send> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as ApiResponse>::register(registry);
    }
}

/// Panics when `body` (serde's) means something else than `value.to_json()` (poem-openapi's,
/// which the schema describes).
#[cfg(debug_assertions)]
fn assert_same_as_to_json<T: ToJSON>(value: &T, body: &[u8]) {
    let direct: serde_json::Value = serde_json::from_slice(body).expect("serde_json wrote invalid JSON");
    let documented = value.to_json().unwrap_or_default();
    assert_eq!(
        direct,
        documented,
        "DirectJson<{}>: the serde output differs from poem-openapi's to_json()",
        std::any::type_name::<T>()
    );
}

/// `#[serde(serialize_with = "qubital_plugin::payload::rfc3339")]` for a `DateTime<Utc>`: the
/// form poem-openapi writes (`2026-12-07T17:26:05.782531+00:00`).
pub fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339())
}

/// [`rfc3339`] for an `Option<DateTime<Utc>>` (`None` is `null`).
pub fn rfc3339_opt<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;

    use super::*;

    #[derive(Object, Serialize)]
    #[oai(rename_all = "camelCase")]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        display_name: Option<String>,
        #[serde(serialize_with = "rfc3339")]
        created_at: DateTime<Utc>,
        #[serde(serialize_with = "rfc3339_opt")]
        ended_at: Option<DateTime<Utc>>,
    }

    #[derive(Object, Serialize)]
    #[oai(rename_all = "camelCase")]
    struct Drifted {
        // serde's own form for the timestamp: `Z`, not poem-openapi's `+00:00`.
        created_at: DateTime<Utc>,
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_765_000_000, 123_000_000).unwrap()
    }

    async fn body_of(response: Response) -> serde_json::Value {
        serde_json::from_slice(&response.into_body().into_vec().await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn the_body_is_what_poem_openapi_would_have_written() {
        for ended_at in [None, Some(at())] {
            let sample = Sample {
                display_name: None,
                created_at: at(),
                ended_at,
            };
            let documented = sample.to_json().unwrap();
            let response = DirectJson(sample).into_response();
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/json; charset=utf-8"
            );
            assert_eq!(body_of(response).await, documented);
        }
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "differs from poem-openapi's to_json()")]
    fn a_serde_form_that_drifts_from_the_schema_fails_in_debug_builds() {
        DirectJson(Drifted { created_at: at() }).into_response();
    }
}
