//! The wire contract, stated once for every operation: what poem-openapi generates is completed
//! here so that the published spec says exactly what the server enforces and sends, and the
//! request guard enforces exactly what the spec says.
//!
//! The rules (documented for clients in `docs/api-conventions.md`):
//! - **Requests**: an object accepts only the properties it lists (`additionalProperties:
//!   false`); an optional property may be omitted or `null`; every value has the JSON type its
//!   schema names (a number is not a string). [`RequestGuard`] checks this before any handler
//!   runs, from the same processed spec, and answers `422 validation` with the location.
//! - **Responses**: every property is always present; one that may have no value is `null`
//!   (`nullable: true`), never omitted.
//! - **Problems**: every operation documents the statuses the host can answer for it (request
//!   surface, authentication, outages); its own statuses come from its `operation_errors!` list.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use qubital_plugin::{problem::types, FieldError, ProblemType};
use serde_json::{json, Map, Value};

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Completes a generated spec with the rules above.
pub fn complete(mut spec: Value) -> Value {
    let requests = reachable(&spec, Direction::Request);
    let responses = reachable(&spec, Direction::Response);
    let schemas = spec["components"]["schemas"]
        .as_object_mut()
        .expect("the spec has component schemas");
    for (name, schema) in schemas.iter_mut() {
        let (request, response) = (requests.contains(name), responses.contains(name));
        if schema["type"] != "object" || schema.get("properties").is_none() {
            continue;
        }
        if request {
            schema["additionalProperties"] = Value::Bool(false);
        }
        nullable_optionals(schema, response);
    }
    integer_bounds(&mut spec);
    json_bodies(&mut spec);
    let secured_ops: Vec<(String, String)> = operations(&spec)
        .filter(|(_, _, op)| op.get("security").is_some())
        .map(|(path, method, _)| (path, method))
        .collect();
    let paths = spec["paths"].as_object_mut().expect("the spec has paths");
    for (path, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().expect("a path item").iter_mut() {
            let secured = secured_ops.iter().any(|(p, m)| p == path && m == method);
            document_host_problems(operation, method == "post", secured);
        }
    }
    spec
}

/// The name of the request schema of an operation that takes no parameters in its body.
pub const NO_PARAMETERS: &str = "NoParameters";

/// Every `POST` without a request body takes the empty JSON object (`{}`, or an empty body)
/// with `Content-Type: application/json`: a request with the session cookie must declare JSON
/// (the cross-site check, `web::cross_site`), so the spec says so, and clients send it.
fn json_bodies(spec: &mut Value) {
    let mut added = false;
    let paths = spec["paths"].as_object_mut().expect("the spec has paths");
    for item in paths.values_mut() {
        let Some(post) = item.get_mut("post") else {
            continue;
        };
        if post.get("requestBody").is_none() {
            post["requestBody"] = json!({
                "description": "No parameters: `{}` (an empty body is accepted too).",
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("{SCHEMA_PREFIX}{NO_PARAMETERS}") } } }
            });
            added = true;
        }
    }
    if added {
        spec["components"]["schemas"][NO_PARAMETERS] = json!({
            "type": "object",
            "description": "No parameters.",
            "properties": {},
            "additionalProperties": false
        });
    }
}

/// Every integer states the range its format (`int32`, `uint64`...) holds: the server cannot
/// read a number outside it (poem-openapi refuses it), so a client must not send one.
fn integer_bounds(spec: &mut Value) {
    let mut stack: Vec<&mut Value> = vec![spec];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                let range = match map.get("format").and_then(Value::as_str) {
                    Some(format) if map.get("type") == Some(&json!("integer")) => format_range(format),
                    _ => None,
                };
                if let Some((min, max)) = range {
                    map.entry("minimum").or_insert(min);
                    map.entry("maximum").or_insert(max);
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

fn format_range(format: &str) -> Option<(Value, Value)> {
    Some(match format {
        "int8" => (json!(i8::MIN), json!(i8::MAX)),
        "int16" => (json!(i16::MIN), json!(i16::MAX)),
        "int32" => (json!(i32::MIN), json!(i32::MAX)),
        "int64" => (json!(i64::MIN), json!(i64::MAX)),
        "uint8" => (json!(0), json!(u8::MAX)),
        "uint16" => (json!(0), json!(u16::MAX)),
        "uint32" => (json!(0), json!(u32::MAX)),
        "uint64" => (json!(0), json!(u64::MAX)),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Request,
    Response,
}

/// Every `(path, method, operation)` of the spec.
fn operations(spec: &Value) -> impl Iterator<Item = (String, String, &Value)> {
    spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, op)| (path.clone(), method.clone(), op))
        })
}

/// Names of the component schemas reachable from request bodies (or from responses).
fn reachable(spec: &Value, direction: Direction) -> BTreeSet<String> {
    let mut roots = Vec::new();
    for (_, _, op) in operations(spec) {
        match direction {
            Direction::Request => roots.extend(
                op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, m)| &m["schema"]),
            ),
            Direction::Response => {
                for response in op["responses"].as_object().into_iter().flatten().map(|(_, r)| r) {
                    roots.extend(
                        response["content"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(_, m)| &m["schema"]),
                    );
                }
            }
        }
    }
    let schemas = &spec["components"]["schemas"];
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&Value> = roots;
    while let Some(schema) = stack.pop() {
        for name in refs(schema) {
            if seen.insert(name.clone()) {
                stack.push(&schemas[name.as_str()]);
            }
        }
    }
    seen
}

/// The component names a schema refers to directly (through properties, items, allOf…).
fn refs(schema: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![schema];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    if let Some(name) = target.strip_prefix(SCHEMA_PREFIX) {
                        names.push(name.to_owned());
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    names
}

/// Optional properties become `nullable` (a `null` is accepted in requests and sent in
/// responses). In a response schema every property is also `required`: present, maybe `null`.
fn nullable_optionals(schema: &mut Value, response: bool) {
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let properties = schema["properties"].as_object_mut().expect("checked above");
    let names: Vec<String> = properties.keys().cloned().collect();
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        make_nullable(property);
    }
    if response {
        schema["required"] = Value::Array(names.into_iter().map(Value::String).collect());
    }
}

fn make_nullable(property: &mut Value) {
    let Some(map) = property.as_object_mut() else {
        return;
    };
    if let Some(target) = map.remove("$ref") {
        // OpenAPI 3.0 ignores siblings of `$ref`: wrap it.
        map.insert("allOf".into(), json!([{ "$ref": target }]));
    }
    map.insert("nullable".into(), Value::Bool(true));
}

/// Adds the problem responses the host answers for every operation, each status with the
/// problem types behind it, unless the operation documents that status itself.
fn document_host_problems(operation: &mut Value, post: bool, secured: bool) {
    let mut host: Vec<&ProblemType> = vec![&types::INTERNAL];
    if post {
        host.extend([
            &types::DATABASE_UNAVAILABLE,
            &types::MALFORMED_JSON,
            &types::UNREADABLE_BODY,
            &types::INVALID_CONTRACT_VERSION,
            &types::PAYLOAD_TOO_LARGE,
            &types::UNSUPPORTED_MEDIA_TYPE,
            &types::VALIDATION,
            &types::CLIENT_OUTDATED,
        ]);
    }
    if secured {
        host.extend([
            &types::UNAUTHORIZED,
            &types::SESSION_ENDED,
            &types::CROSS_SITE_REQUEST,
        ]);
    }
    let mut by_status: BTreeMap<u16, Vec<&ProblemType>> = BTreeMap::new();
    for ty in host {
        by_status.entry(ty.status).or_default().push(ty);
    }
    let responses = operation["responses"]
        .as_object_mut()
        .expect("an operation has responses");
    for (status, kinds) in by_status {
        let key = status.to_string();
        let text: Vec<String> = kinds
            .iter()
            .map(|t| format!("`{}`: {}", t.slug, t.title))
            .collect();
        match responses.get_mut(&key) {
            Some(existing)
                if existing["content"]
                    .get(qubital_plugin::problem::CONTENT_TYPE)
                    .is_some() =>
            {
                let description = existing["description"].as_str().unwrap_or_default().to_owned();
                existing["description"] = Value::String(format!("{description}; {}", text.join("; ")));
            }
            Some(_) => {}
            None => {
                responses.insert(
                    key,
                    json!({
                        "description": text.join("; "),
                        "content": { (qubital_plugin::problem::CONTENT_TYPE): { "schema": { "$ref": format!("{SCHEMA_PREFIX}Problem") } } }
                    }),
                );
            }
        }
    }
}

/// Checks request bodies against the processed spec before routing: JSON types, unknown
/// properties, array sizes (before any per-item work). Finer rules (lengths, patterns,
/// formats, enums) are the operation's own poem-openapi validators, on the same schema.
pub struct RequestGuard {
    schemas: Map<String, Value>,
    exact: HashMap<(String, String), Value>,
    templated: Vec<(Vec<Segment>, String, Value)>,
    /// Every path template with its methods (upper case, comma-separated), for `Allow`.
    methods: Vec<(Vec<Segment>, String)>,
    /// The operations whose body is not JSON (webhooks: signed bytes).
    not_json: Vec<(Vec<Segment>, String)>,
}

enum Segment {
    Literal(String),
    Parameter,
}

fn segments(path: &str) -> Vec<Segment> {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

fn matches(segments: &[Segment], parts: &[&str]) -> bool {
    segments.len() == parts.len()
        && segments.iter().zip(parts).all(|(segment, part)| match segment {
            Segment::Literal(literal) => literal == part,
            Segment::Parameter => !part.is_empty(),
        })
}

impl RequestGuard {
    pub fn new(spec: &Value) -> Self {
        let schemas = spec["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut exact = HashMap::new();
        let mut templated = Vec::new();
        let mut methods: Vec<(Vec<Segment>, String)> = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let mut names: Vec<String> = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_uppercase())
                .collect();
            names.sort();
            methods.push((segments(path), names.join(", ")));
        }
        let not_json = operations(spec)
            .filter(|(_, _, op)| {
                op["requestBody"]["content"]
                    .as_object()
                    .is_some_and(|content| !content.keys().any(|media| media.starts_with("application/json")))
            })
            .map(|(path, method, _)| (segments(&path), method.to_uppercase()))
            .collect();
        for (path, method, op) in operations(spec) {
            // Only operations that parse JSON: a webhook takes its body as signed bytes.
            let Some(schema) = op["requestBody"]["content"]
                .as_object()
                .and_then(|content| {
                    content
                        .iter()
                        .find(|(media, _)| media.starts_with("application/json"))
                })
                .map(|(_, media)| media["schema"].clone())
            else {
                continue;
            };
            if path.contains('{') {
                templated.push((segments(&path), method.to_uppercase(), schema));
            } else {
                exact.insert((path, method.to_uppercase()), schema);
            }
        }
        Self {
            schemas,
            exact,
            templated,
            methods,
            not_json,
        }
    }

    /// Whether `method path` takes a body that is not JSON (a webhook's signed bytes).
    pub fn takes_other_than_json(&self, method: &str, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        self.not_json
            .iter()
            .any(|(segments, m)| m == method && matches(segments, &parts))
    }

    /// The methods the spec has for `path` (`"POST"`, `"GET"`), if it has the path.
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        self.methods
            .iter()
            .find(|(segments, _)| matches(segments, &parts))
            .map(|(_, methods)| methods.clone())
    }

    /// The request schema of `method path`, if the operation takes a JSON body.
    fn schema(&self, method: &str, path: &str) -> Option<&Value> {
        if let Some(schema) = self.exact.get(&(path.to_owned(), method.to_owned())) {
            return Some(schema);
        }
        let parts: Vec<&str> = path.split('/').collect();
        self.templated
            .iter()
            .find(|(segments, m, _)| m == method && matches(segments, &parts))
            .map(|(_, _, schema)| schema)
    }

    /// The problems of `body` for `method path` (empty when it fits, or when the operation has
    /// no JSON body).
    pub fn check(&self, method: &str, path: &str, body: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(schema) = self.schema(method, path) {
            self.walk(schema, body, "body".to_owned(), &mut errors, 0);
        }
        errors
    }

    fn walk(
        &self,
        schema: &Value,
        value: &Value,
        location: String,
        errors: &mut Vec<FieldError>,
        depth: usize,
    ) {
        const MAX_ERRORS: usize = 20;
        if errors.len() >= MAX_ERRORS || depth > 32 {
            return;
        }
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema["nullable"] != true {
                errors.push(FieldError::new(location, "must not be null"));
            }
            return;
        }
        if let Some(inner) = schema["allOf"].as_array().filter(|all| all.len() == 1) {
            return self.walk(&inner[0], value, location, errors, depth + 1);
        }
        let ty = schema["type"].as_str().unwrap_or_default();
        let fits = match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !fits {
            errors.push(FieldError::new(location, format!("must be a JSON {ty}")));
            return;
        }
        match value {
            Value::Array(items) => {
                if let Some(max) = schema["maxItems"].as_u64() {
                    if items.len() as u64 > max {
                        errors.push(FieldError::new(
                            location,
                            format!("must have at most {max} items"),
                        ));
                        return;
                    }
                }
                for (index, item) in items.iter().enumerate() {
                    self.walk(
                        &schema["items"],
                        item,
                        format!("{location}[{index}]"),
                        errors,
                        depth + 1,
                    );
                }
            }
            Value::Object(fields) if ty == "object" => {
                let properties = schema["properties"].as_object();
                for (name, field) in fields {
                    match properties.and_then(|p| p.get(name)) {
                        Some(property) => {
                            self.walk(property, field, format!("{location}.{name}"), errors, depth + 1)
                        }
                        None if schema["additionalProperties"] == false => {
                            errors.push(FieldError::new(
                                format!("{location}.{name}"),
                                "is not a known field",
                            ));
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
        {
            Some(name) => self.schemas.get(name).unwrap_or(&Value::Null),
            None => schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "paths": {
                "/things/{id}/update": {"post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Update"}}}},
                    "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}},
                    "security": [{"cookieAuth": []}]
                }},
                "/things/{id}/get": {"post": {
                    "responses": {"200": {"description": ""}},
                    "security": [{"cookieAuth": []}]
                }}
            },
            "components": {"schemas": {
                "Update": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                    "note": {"type": "string"},
                    "limit": {"type": "integer", "format": "uint32"}
                }},
                "Thing": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "string"}, "owner": {"$ref": "#/components/schemas/Owner"}
                }},
                "Owner": {"type": "object", "properties": {"name": {"type": "string"}}}
            }}
        })
    }

    #[test]
    fn requests_are_closed_and_bounded_optional_fields_nullable_responses_always_present() {
        let spec = complete(spec());
        let schemas = &spec["components"]["schemas"];
        assert_eq!(schemas["Update"]["additionalProperties"], false);
        assert_eq!(schemas["Update"]["properties"]["note"]["nullable"], true);
        assert!(schemas["Update"]["properties"]["name"].get("nullable").is_none());
        assert!(schemas["Thing"].get("additionalProperties").is_none());
        assert_eq!(schemas["Thing"]["required"], json!(["id", "owner"]));
        assert_eq!(
            schemas["Thing"]["properties"]["owner"]["allOf"][0]["$ref"],
            "#/components/schemas/Owner"
        );
        assert_eq!(schemas["Thing"]["properties"]["owner"]["nullable"], true);
        let responses = &spec["paths"]["/things/{id}/update"]["post"]["responses"];
        let limit = &schemas["Update"]["properties"]["limit"];
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(0), &json!(u32::MAX))
        );
        let get = &spec["paths"]["/things/{id}/get"]["post"]["requestBody"];
        assert_eq!(get["required"], true);
        assert_eq!(
            get["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/NoParameters"
        );
        assert_eq!(schemas["NoParameters"]["additionalProperties"], false);
        for status in ["400", "401", "403", "413", "415", "422", "500", "503"] {
            assert!(
                responses[status]["content"]["application/problem+json"].is_object(),
                "{status}"
            );
        }
    }

    #[test]
    fn the_guard_refuses_wrong_types_unknown_fields_and_long_arrays_with_locations() {
        let guard = RequestGuard::new(&complete(spec()));
        let check = |body: Value| guard.check("POST", "/things/42/update", &body);
        assert!(check(json!({"name": "a", "tags": ["x"], "note": null})).is_empty());
        let errors = check(json!({"name": 5, "extra": true, "tags": ["x", "y", "z"]}));
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.location.as_str(), e.message.as_str()))
            .collect();
        assert!(
            found.contains(&("body.name", "must be a JSON string")),
            "{found:?}"
        );
        assert!(
            found.contains(&("body.extra", "is not a known field")),
            "{found:?}"
        );
        assert!(
            found.contains(&("body.tags", "must have at most 2 items")),
            "{found:?}"
        );
        assert_eq!(check(json!({"name": null}))[0].message, "must not be null");
        assert!(guard
            .check("POST", "/things/42/other", &json!({"x": 1}))
            .is_empty());
        assert_eq!(
            guard.allowed_methods("/things/42/update").as_deref(),
            Some("POST")
        );
        assert_eq!(guard.allowed_methods("/nothing"), None);
        assert!(!guard.takes_other_than_json("POST", "/things/42/update"));
    }
}
