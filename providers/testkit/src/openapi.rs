//! An OpenAPI 3 description turned into operations with compiled schemas.
//!
//! OpenAPI 3.0 schemas are a dialect of JSON Schema draft 4/5; two of its
//! differences matter for validation and are translated before compiling:
//! `nullable: true` becomes a `"null"` alternative of `type`, and `$ref`s
//! point into `#/components/...`, so each compiled schema carries the
//! document's `components` beside it for the references to resolve.
//! Formats (`ipv4`, `hostname`, ...) are checked: the real services check
//! them too.

use serde_json::{Map, Value};

/// Where a parameter is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// In the path.
    Path,
    /// In the query string.
    Query,
    /// In a header.
    Header,
    /// In a cookie.
    Cookie,
}

/// One parameter of an operation.
pub struct Param {
    /// Its name.
    pub name: String,
    /// Where it is carried.
    pub location: ParamIn,
    /// Whether a request must carry it.
    pub required: bool,
    /// The JSON type the value is coerced to before validation (query and
    /// path values arrive as text): `number`, `integer`, `boolean` or
    /// `string`.
    pub json_type: String,
    /// Its compiled schema, if the description gives one.
    pub validator: Option<jsonschema::Validator>,
}

/// The JSON request body of an operation.
pub struct Body {
    /// Whether a request must carry a body.
    pub required: bool,
    /// `None` when the description gives no JSON schema (any body goes).
    pub validator: Option<jsonschema::Validator>,
}

/// One path segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text that must match exactly.
    Literal(String),
    /// A path parameter, by name.
    Param(String),
}

/// One operation (method + path template).
pub struct Operation {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template, e.g. `/zones/{zone_id}`.
    pub template: String,
    /// The template, split at `/`.
    pub segments: Vec<Segment>,
    /// Its parameters (path, query, header, cookie).
    pub params: Vec<Param>,
    /// `None` when the operation takes no request body.
    pub body: Option<Body>,
}

/// A whole description, ready to validate requests.
pub struct OpenApi {
    /// Every operation of the description.
    pub operations: Vec<Operation>,
    /// Stripped from request paths before matching (the path part of the
    /// server URL, e.g. `/client/v4`).
    pub base_path: String,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl OpenApi {
    /// Compiles every operation of `doc`. `base_path` is the prefix the
    /// fake serves the API under.
    pub fn new(doc: &Value, base_path: &str) -> Result<OpenApi, String> {
        let mut doc = doc.clone();
        translate_nullable(&mut doc);
        let components = doc.get("components").cloned().unwrap_or(Value::Null);
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the description has no `paths`")?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            let shared_params = item.get("parameters").and_then(Value::as_array);
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let mut params = Vec::new();
                let declared = shared_params.into_iter().flatten().chain(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                );
                for p in declared {
                    let p = resolve(&doc, p)?;
                    params.push(compile_param(&doc, &components, p, template)?);
                }
                let body = match op.get("requestBody") {
                    None => None,
                    Some(rb) => {
                        let rb = resolve(&doc, rb)?;
                        let schema = rb.pointer("/content/application~1json/schema");
                        Some(Body {
                            required: rb.get("required").and_then(Value::as_bool).unwrap_or(false),
                            validator: schema
                                .map(|s| compile(&components, s))
                                .transpose()
                                .map_err(|e| {
                                    format!("{} {template} body: {e}", method.to_uppercase())
                                })?,
                        })
                    }
                };
                operations.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments: segments(template),
                    params,
                    body,
                });
            }
        }
        Ok(OpenApi {
            operations,
            base_path: base_path.trim_end_matches('/').to_string(),
        })
    }
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

/// Follows a local `$ref` (`#/components/parameters/x`) to its target.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> Result<&'a Value, String> {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .ok_or_else(|| format!("only local references are supported, not {r}"))?;
            let target = doc
                .pointer(pointer)
                .ok_or_else(|| format!("unresolvable reference {r}"))?;
            resolve(doc, target)
        }
        None => Ok(v),
    }
}

fn compile_param(
    doc: &Value,
    components: &Value,
    p: &Value,
    template: &str,
) -> Result<Param, String> {
    let name = p
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{template}: a parameter without a name"))?;
    let location = match p.get("in").and_then(Value::as_str) {
        Some("path") => ParamIn::Path,
        Some("query") => ParamIn::Query,
        Some("header") => ParamIn::Header,
        Some("cookie") => ParamIn::Cookie,
        other => return Err(format!("{template}: parameter {name} is in {other:?}")),
    };
    let schema = p.get("schema");
    let json_type = match schema {
        Some(s) => resolve(doc, s)?
            .get("type")
            .and_then(|t| match t {
                Value::String(s) => Some(s.clone()),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                    .map(str::to_string),
                _ => None,
            })
            .unwrap_or_else(|| "string".to_string()),
        None => "string".to_string(),
    };
    Ok(Param {
        name: name.to_string(),
        location,
        required: location == ParamIn::Path
            || p.get("required").and_then(Value::as_bool).unwrap_or(false),
        json_type,
        validator: schema
            .map(|s| compile(components, s))
            .transpose()
            .map_err(|e| format!("{template} parameter {name}: {e}"))?,
    })
}

/// Compiles `schema` with the document's components beside it, so that
/// `#/components/...` references resolve.
fn compile(components: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = Map::new();
    root.insert("allOf".into(), Value::Array(vec![schema.clone()]));
    root.insert("components".into(), components.clone());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .map_err(|e| e.to_string())
}

/// `nullable: true` (OpenAPI 3.0) → `type: [T, "null"]` (JSON Schema).
fn translate_nullable(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable").and_then(Value::as_bool) == Some(true) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = map.get_mut("enum") {
                    if !e.contains(&Value::Null) {
                        e.push(Value::Null);
                    }
                }
            }
            for (_, child) in map.iter_mut() {
                translate_nullable(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(translate_nullable),
        _ => {}
    }
}
