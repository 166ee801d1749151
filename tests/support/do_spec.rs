//! DigitalOcean's OpenAPI spec (the subset in `tests/data/`) as a judge: every request the
//! client sends and every answer the stand-in serves is checked against the operation it
//! belongs to (found by method and path template): its query and path parameters, its
//! request body, its status and response body, its declared headers.
//!
//! OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`; `nullable: true` is
//! rewritten into the draft's own `null` type before compiling, and examples (which are
//! not schemas) are dropped so the validator never reads them as such.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/digitalocean-openapi.subset.json"
);

pub struct Spec {
    /// The spec as published (its examples serve as the stand-in's templates).
    pub raw: Value,
    /// Schemas made draft-4 JSON Schema.
    schemas: Value,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The operation a request is for.
#[derive(Debug, Clone)]
pub struct Operation {
    pub template: String,
    pub method: String,
    /// JSON pointer to the operation object.
    pub pointer: String,
    pub path_params: Vec<(String, String)>,
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let raw: Value = serde_json::from_str(
            &std::fs::read_to_string(SPEC_PATH).expect("the spec is in tests/data"),
        )
        .expect("the spec is JSON");
        let mut schemas = raw.clone();
        to_json_schema(&mut schemas, false);
        Spec {
            raw,
            schemas,
            compiled: Mutex::new(HashMap::new()),
        }
    })
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// `nullable` into draft 4; examples and code samples out (they are data, not schemas).
fn to_json_schema(value: &mut Value, in_properties: bool) {
    match value {
        Value::Object(map) => {
            if !in_properties {
                for key in ["example", "examples", "x-codeSamples"] {
                    map.remove(key);
                }
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_in_properties = !in_properties && key == "properties";
                to_json_schema(map.get_mut(&key).expect("listed"), child_in_properties);
            }
            if !in_properties && map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| to_json_schema(v, false)),
        _ => {}
    }
}

impl Spec {
    /// The value at a JSON pointer, following `$ref`s; returns the final pointer too.
    pub fn resolve(&self, pointer: &str) -> (String, &Value) {
        let mut pointer = pointer.to_string();
        loop {
            let value = self
                .raw
                .pointer(&pointer)
                .unwrap_or_else(|| panic!("{pointer} is in the spec"));
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    pointer = r
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("external $ref {r}"))
                        .to_string()
                }
                None => return (pointer, value),
            }
        }
    }

    /// The operation of `method` on `path` (`/v2/droplets/42`), by path template.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.raw["paths"].as_object()?;
        let mut best: Option<(usize, Operation)> = None;
        for (template, item) in paths {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() || item.get(&method).is_none() {
                continue;
            }
            let mut params = Vec::new();
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    params.push((t[1..t.len() - 1].to_string(), percent_decode(s)));
                    !s.is_empty()
                } else {
                    literal += 1;
                    t == s
                }
            });
            if fits && best.as_ref().is_none_or(|(l, _)| literal > *l) {
                best = Some((
                    literal,
                    Operation {
                        template: template.clone(),
                        method: method.clone(),
                        pointer: format!("/paths/{}/{method}", escape(template)),
                        path_params: params,
                    },
                ));
            }
        }
        best.map(|(_, op)| op)
    }

    fn validator(&self, pointer: &str) -> Arc<jsonschema::Validator> {
        let mut cache = self.compiled.lock().unwrap();
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                let mut root = self.schemas.clone();
                let object = root.as_object_mut().expect("the spec is an object");
                // The schema at `pointer`, with every `#/components/...` resolving in the
                // same document.
                // A pointer in a URI fragment: braces of path templates percent-encoded.
                let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                object.insert("allOf".into(), json!([{ "$ref": format!("#{fragment}") }]));
                Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft4)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("the schema at {pointer} compiles: {e}")),
                )
            })
            .clone()
    }

    /// Violations of the schema at `pointer` by `instance`.
    pub fn check(&self, pointer: &str, instance: &Value) -> Vec<String> {
        self.validator(pointer)
            .iter_errors(instance)
            .map(|e| format!("{e} at {} (schema {pointer})", e.instance_path()))
            .collect()
    }

    /// The parameters of an operation (its own and its path's), resolved: name, `in`,
    /// required, pointer to its schema.
    fn parameters(&self, op: &Operation) -> Vec<(String, String, bool, String)> {
        let mut out = Vec::new();
        let path_pointer = format!("/paths/{}", escape(&op.template));
        for owner in [path_pointer, op.pointer.clone()] {
            let Some(Value::Array(list)) = self.raw.pointer(&format!("{owner}/parameters")) else {
                continue;
            };
            for i in 0..list.len() {
                let (pointer, param) = self.resolve(&format!("{owner}/parameters/{i}"));
                out.push((
                    param["name"].as_str().unwrap_or_default().to_string(),
                    param["in"].as_str().unwrap_or_default().to_string(),
                    param["required"].as_bool().unwrap_or(false),
                    format!("{pointer}/schema"),
                ));
            }
        }
        out
    }

    /// A parameter's text as the JSON value its schema's type says it is.
    fn typed(&self, schema_pointer: &str, text: &str) -> Value {
        let (_, schema) = self.resolve(schema_pointer);
        match schema["type"].as_str() {
            Some("integer") => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.into())),
            Some("number") => text
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.into())),
            Some("boolean") => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(text.into()),
            },
            _ => Value::String(text.into()),
        }
    }

    /// Everything wrong with a request.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        authorization: Option<&str>,
        body: &[u8],
    ) -> Vec<String> {
        let what = format!("request {method} {path}");
        let Some(op) = self.operation(method, path) else {
            return vec![format!("{what}: no such operation in the spec")];
        };
        let mut errors = Vec::new();
        if !authorization.is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7) {
            errors.push(format!("{what}: no `Authorization: Bearer` (bearer_auth)"));
        }
        let params = self.parameters(&op);
        for (name, value) in query {
            match params.iter().find(|(n, i, _, _)| n == name && i == "query") {
                Some((_, _, _, schema)) => errors.extend(
                    self.check(schema, &self.typed(schema, value))
                        .into_iter()
                        .map(|e| format!("{what}: query {name}={value}: {e}")),
                ),
                None => errors.push(format!("{what}: query parameter {name} is not documented")),
            }
        }
        for (name, value) in &op.path_params {
            if let Some((_, _, _, schema)) =
                params.iter().find(|(n, i, _, _)| n == name && i == "path")
            {
                errors.extend(
                    self.check(schema, &self.typed(schema, value))
                        .into_iter()
                        .map(|e| format!("{what}: path {name}={value}: {e}")),
                );
            } else {
                errors.push(format!("{what}: path parameter {name} is not documented"));
            }
        }
        for (name, _, required, _) in params.iter().filter(|p| p.1 == "query" && p.2) {
            if *required && !query.iter().any(|(n, _)| n == name) {
                errors.push(format!("{what}: required query parameter {name} missing"));
            }
        }
        let body_pointer = self
            .raw
            .pointer(&format!("{}/requestBody", op.pointer))
            .map(|_| self.resolve(&format!("{}/requestBody", op.pointer)));
        match (body_pointer, body.is_empty()) {
            (None, true) => {}
            (None, false) => errors.push(format!("{what}: a body the operation does not take")),
            (Some((pointer, request_body)), empty) => {
                if empty {
                    if request_body["required"].as_bool().unwrap_or(false) {
                        errors.push(format!("{what}: the required body is missing"));
                    }
                } else {
                    match serde_json::from_slice::<Value>(body) {
                        Ok(json) => errors.extend(
                            self.check(
                                &format!("{pointer}/content/application~1json/schema"),
                                &json,
                            )
                            .into_iter()
                            .map(|e| format!("{what}: body: {e}")),
                        ),
                        Err(e) => errors.push(format!("{what}: the body is not JSON: {e}")),
                    }
                }
            }
        }
        errors
    }

    /// Everything wrong with an answer to a request of `method` on `path`.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Vec<String> {
        let what = format!("response {status} to {method} {path}");
        let Some(op) = self.operation(method, path) else {
            return vec![format!("{what}: no such operation in the spec")];
        };
        let responses = format!("{}/responses", op.pointer);
        let key = if self.raw.pointer(&format!("{responses}/{status}")).is_some() {
            status.to_string()
        } else if self.raw.pointer(&format!("{responses}/default")).is_some() {
            "default".to_string()
        } else {
            return vec![format!("{what}: status not documented")];
        };
        let (pointer, response) = self.resolve(&format!("{responses}/{key}"));
        let mut errors = Vec::new();
        if let Some(declared) = response["headers"].as_object() {
            for name in declared.keys() {
                if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(name)) {
                    errors.push(format!("{what}: declared header {name} missing"));
                }
            }
        }
        match response.pointer("/content/application~1json/schema") {
            Some(_) => match serde_json::from_slice::<Value>(body) {
                Ok(json) => errors.extend(
                    self.check(
                        &format!("{pointer}/content/application~1json/schema"),
                        &json,
                    )
                    .into_iter()
                    .map(|e| format!("{what}: {e}")),
                ),
                Err(e) => errors.push(format!("{what}: the body is not JSON: {e}")),
            },
            None if body.is_empty() => {}
            None => errors.push(format!("{what}: a body where the spec has none")),
        }
        errors
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
