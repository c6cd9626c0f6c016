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
use regex::Regex;
use serde_json::{json, Map, Value};

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// How the guard's message for a value outside an `enum` starts.
const ONE_OF: &str = "must be one of:";

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
        // Authentication may refresh the session with WorkOS (docs/identity.md, "Refresh").
        host.extend([
            &types::UNAUTHORIZED,
            &types::SESSION_ENDED,
            &types::SESSION_BUSY,
            &types::CROSS_SITE_REQUEST,
            &types::INTEGRATION_DISABLED,
            &types::INTEGRATION_UNAVAILABLE,
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

/// Checks request bodies against the processed spec before routing: every keyword the schema
/// states (types, unknown properties, `required`, `enum`, lengths, patterns, ranges, array
/// sizes before any per-item work, `oneOf` forms), with the location of each problem.
pub struct RequestGuard {
    schemas: Map<String, Value>,
    /// Operations without a path parameter, by method, then path (looked up without allocating).
    exact: HashMap<String, HashMap<String, JsonOperation>>,
    templated: Vec<(Vec<Segment>, String, JsonOperation)>,
    /// Every path template with its methods (upper case, comma-separated), for `Allow`.
    methods: Vec<(Vec<Segment>, String)>,
    /// The operations whose body is not JSON (webhooks: signed bytes).
    not_json: Vec<(Vec<Segment>, String)>,
    /// Every `pattern` of the spec, compiled once.
    patterns: HashMap<String, Regex>,
}

/// An operation that takes a JSON body.
struct JsonOperation {
    schema: Value,
    /// It needs the session cookie (`cookieAuth` in its `security`).
    needs_session: bool,
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
            let operation = JsonOperation {
                schema,
                needs_session: op["security"]
                    .as_array()
                    .is_some_and(|schemes| schemes.iter().any(|s| s.get("cookieAuth").is_some())),
            };
            if path.contains('{') {
                templated.push((segments(&path), method.to_uppercase(), operation));
            } else {
                exact
                    .entry(method.to_uppercase())
                    .or_insert_with(HashMap::new)
                    .insert(path, operation);
            }
        }
        Self {
            patterns: patterns(spec),
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
    fn operation(&self, method: &str, path: &str) -> Option<&JsonOperation> {
        if let Some(operation) = self.exact.get(method).and_then(|paths| paths.get(path)) {
            return Some(operation);
        }
        let parts: Vec<&str> = path.split('/').collect();
        self.templated
            .iter()
            .find(|(segments, m, _)| m == method && matches(segments, &parts))
            .map(|(_, _, operation)| operation)
    }

    /// The problems of `body` for `method path`: empty when it fits, when the operation takes no
    /// JSON body, and when it needs the session cookie but the request has none
    /// (`session_cookie` false): such a request is answered 401 whatever its body says
    /// (authentication comes first).
    pub fn check(&self, method: &str, path: &str, body: &Value, session_cookie: bool) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match self.operation(method, path) {
            Some(operation) if session_cookie || !operation.needs_session => {
                self.walk(&operation.schema, body, "body".to_owned(), &mut errors, 0)
            }
            _ => {}
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
        if schema.as_object().is_some_and(|s| s.is_empty()) {
            return; // `{}`: any JSON value (a vendor's own request passed through whole)
        }
        if value.is_null() {
            if schema["nullable"] != true {
                errors.push(FieldError::new(location, "must not be null"));
            }
            return;
        }
        if let Some(inner) = schema["allOf"].as_array().filter(|all| all.len() == 1) {
            return self.walk(&inner[0], value, location, errors, depth + 1);
        }
        if let Some(forms) = schema["oneOf"].as_array() {
            return self.walk_forms(forms, true, value, location, errors, depth);
        }
        if let Some(forms) = schema["anyOf"].as_array() {
            return self.walk_forms(forms, false, value, location, errors, depth);
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                    .collect();
                errors.push(FieldError::new(
                    location,
                    format!("{ONE_OF} {}", names.join(", ")),
                ));
                return;
            }
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
            Value::String(text) => self.check_string(schema, text, location, errors),
            Value::Number(number) => {
                let number = number.as_f64().unwrap_or_default();
                if let Some(min) = schema["minimum"].as_f64().filter(|min| number < *min) {
                    errors.push(FieldError::new(location, format!("must be at least {min}")));
                } else if let Some(max) = schema["maximum"].as_f64().filter(|max| number > *max) {
                    errors.push(FieldError::new(location, format!("must be at most {max}")));
                }
            }
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
                if let Some(min) = schema["minItems"]
                    .as_u64()
                    .filter(|min| (items.len() as u64) < *min)
                {
                    errors.push(FieldError::new(
                        location,
                        format!("must have at least {min} items"),
                    ));
                    return;
                }
                if schema["uniqueItems"] == true {
                    let mut seen = std::collections::HashSet::with_capacity(items.len());
                    if !items.iter().all(|item| seen.insert(item.to_string())) {
                        errors.push(FieldError::new(location, "must not list an item twice"));
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
                for name in schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !fields.contains_key(name) {
                        errors.push(FieldError::new(format!("{location}.{name}"), "is required"));
                    }
                }
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

    /// A body of several forms fits exactly one of them (`oneOf`) or at least one (`anyOf`).
    /// When it fits none, the errors reported are those of the form it came closest to: the
    /// fewest errors, not counting a form whose fixed values (`"client": "web"`) it does not
    /// even have.
    fn walk_forms(
        &self,
        forms: &[Value],
        exactly_one: bool,
        value: &Value,
        location: String,
        errors: &mut Vec<FieldError>,
        depth: usize,
    ) {
        let mut closest: Option<(usize, Vec<FieldError>)> = None;
        let mut fitting = 0;
        for form in forms {
            let mut found = Vec::new();
            self.walk(form, value, location.clone(), &mut found, depth + 1);
            if found.is_empty() {
                fitting += 1;
                continue;
            }
            let other_form = found.iter().filter(|e| e.message.starts_with(ONE_OF)).count();
            let distance = other_form * 1000 + found.len();
            if closest.as_ref().is_none_or(|(best, _)| distance < *best) {
                closest = Some((distance, found));
            }
        }
        match (fitting, closest) {
            (1, _) => {}
            (2.., _) if !exactly_one => {}
            (0, Some((_, found))) => errors.extend(found),
            _ => errors.push(FieldError::new(
                location,
                "fits more than one of its forms; see the schema",
            )),
        }
    }

    /// `minLength` and `maxLength` count characters (as JSON Schema does), `pattern` must match.
    fn check_string(&self, schema: &Value, text: &str, location: String, errors: &mut Vec<FieldError>) {
        let length = text.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|min| length < *min) {
            let message = if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            };
            errors.push(FieldError::new(location, message));
        } else if let Some(max) = schema["maxLength"].as_u64().filter(|max| length > *max) {
            errors.push(FieldError::new(
                location,
                format!("must be at most {max} characters"),
            ));
        } else if let Some(pattern) = schema["pattern"].as_str() {
            if self
                .patterns
                .get(pattern)
                .is_some_and(|regex| !regex.is_match(text))
            {
                errors.push(FieldError::new(
                    location,
                    format!("must match the pattern {pattern}"),
                ));
            }
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

/// Every `pattern` in `spec`, compiled. A pattern the `regex` crate cannot compile is a bug in
/// the code that declared it, found at boot (and by the spec tests), not on a request.
fn patterns(spec: &Value) -> HashMap<String, Regex> {
    let mut compiled = HashMap::new();
    let mut stack = vec![spec];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
                    let regex = Regex::new(pattern).unwrap_or_else(|error| {
                        panic!("the spec's pattern {pattern} does not compile: {error}")
                    });
                    compiled.insert(pattern.to_owned(), regex);
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    compiled
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
                    "zone": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
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
        let check = |body: Value| guard.check("POST", "/things/42/update", &body, true);
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
        // Without the session cookie a cookie operation is left to authentication (a 401).
        assert!(guard
            .check("POST", "/things/42/update", &json!({"name": 5}), false)
            .is_empty());
        assert!(guard
            .check("POST", "/things/42/other", &json!({"x": 1}), true)
            .is_empty());
        assert_eq!(
            guard.allowed_methods("/things/42/update").as_deref(),
            Some("POST")
        );
        assert_eq!(guard.allowed_methods("/nothing"), None);
        assert!(!guard.takes_other_than_json("POST", "/things/42/update"));
    }

    #[test]
    fn the_guard_holds_strings_to_their_lengths_in_characters_and_their_pattern() {
        let guard = RequestGuard::new(&complete(spec()));
        let zone = |zone: &str| {
            guard
                .check(
                    "POST",
                    "/things/42/update",
                    &json!({"name": "a", "zone": zone}),
                    true,
                )
                .into_iter()
                .map(|e| (e.location, e.message))
                .collect::<Vec<_>>()
        };
        assert!(zone("abc").is_empty());
        assert!(
            zone("éé").len() == 1,
            "two characters of four bytes fit maxLength 4 but not the pattern"
        );
        assert_eq!(
            zone("a"),
            vec![("body.zone".to_owned(), "must be at least 2 characters".to_owned())]
        );
        assert_eq!(zone("abcde")[0].1, "must be at most 4 characters");
        assert_eq!(zone("AB")[0].1, "must match the pattern ^[a-z]+$");
        let limit = |limit: Value| {
            guard.check(
                "POST",
                "/things/42/update",
                &json!({"name": "a", "limit": limit}),
                true,
            )
        };
        assert!(limit(json!(7)).is_empty());
        assert_eq!(limit(json!(-1))[0].message, "must be at least 0");
        assert_eq!(
            limit(json!(u64::from(u32::MAX) + 1))[0].message,
            format!("must be at most {}", u32::MAX)
        );
    }

    #[test]
    fn the_guard_names_missing_fields_values_outside_an_enum_and_the_closest_form() {
        let spec = json!({
            "paths": {"/start": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Start"}}}},
                "responses": {"200": {"description": ""}}
            }}},
            "components": {"schemas": {
                "Start": {"oneOf": [
                    {"$ref": "#/components/schemas/Web"},
                    {"$ref": "#/components/schemas/Desktop"}
                ]},
                "Web": {"type": "object", "required": ["client"], "properties": {
                    "client": {"type": "string", "enum": ["web"]}
                }},
                "Desktop": {"type": "object", "required": ["client", "challenge"], "properties": {
                    "client": {"type": "string", "enum": ["desktop"]},
                    "challenge": {"type": "string"}
                }}
            }}
        });
        let guard = RequestGuard::new(&complete(spec));
        let check = |body: Value| {
            guard
                .check("POST", "/start", &body, true)
                .into_iter()
                .map(|e| (e.location, e.message))
                .collect::<Vec<_>>()
        };
        assert!(check(json!({"client": "web"})).is_empty());
        assert!(check(json!({"client": "desktop", "challenge": "x"})).is_empty());
        let error = |location: &str, message: &str| vec![(location.to_owned(), message.to_owned())];
        assert_eq!(
            check(json!({"client": "desktop"})),
            error("body.challenge", "is required")
        );
        assert_eq!(
            check(json!({"client": "web", "challenge": "x"})),
            error("body.challenge", "is not a known field")
        );
        assert_eq!(check(json!({"client": "tv"})).len(), 1);
        assert!(check(json!({"client": "tv"}))[0].1.starts_with("must be one of:"));
    }
}
