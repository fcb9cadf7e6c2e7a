//! Checking requests against a Google API discovery document
//! (`shared/specs/google/*.json`), the format Google publishes its REST
//! APIs in: `resources` → `methods` with an HTTP method, a path template
//! relative to the service root, typed `parameters` (path or query) and a
//! `request` schema; per-method required body fields are listed in each
//! property's `annotations.required`.
//!
//! A request is matched by method and path (more literal segments win, so
//! `users/{userKey}/aliases` is not taken for `users/{userKey}`); query
//! parameters must be the method's or the API's global ones, typed and in
//! range; the JSON body must fit the schema — no unknown fields (Google
//! answers 400 "Unknown name" to them), the right JSON types, and the
//! fields the method requires present.
//!
//! Each method also lists the OAuth `scopes` any one of which authorises
//! it ([`Discovery::scopes`]): a fake refuses a token holding none of them,
//! as Google's front end does.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use crate::validate::Violation;

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
struct Method {
    id: String,
    http_method: String,
    segments: Vec<Segment>,
    params: Map<String, Value>,
    request: Option<String>,
    scopes: Vec<String>,
}

/// One discovery document, ready to check requests.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The URL path every method path is relative to, e.g. `/`.
    base_path: String,
    methods: Vec<Method>,
    global_params: Map<String, Value>,
    schemas: Map<String, Value>,
}

/// The method a valid request matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryMatch {
    /// The discovery method id, e.g. `directory.users.insert`.
    pub id: String,
    /// Path parameters by name.
    pub path_params: BTreeMap<String, String>,
}

impl Discovery {
    /// Reads a parsed discovery document. The base path is taken from
    /// `servicePath` under the root URL.
    pub fn new(doc: &Value) -> Result<Discovery, String> {
        let service = doc["servicePath"].as_str().unwrap_or("");
        let base_path = format!("/{}", service.trim_start_matches('/'));
        let mut methods = Vec::new();
        collect(doc.get("resources"), &mut methods)?;
        if methods.is_empty() {
            return Err("the discovery document has no methods".into());
        }
        Ok(Discovery {
            base_path,
            methods,
            global_params: doc["parameters"].as_object().cloned().unwrap_or_default(),
            schemas: doc["schemas"].as_object().cloned().unwrap_or_default(),
        })
    }

    /// The OAuth scopes any one of which authorises method `method_id`
    /// (e.g. `directory.users.signOut`), as its `scopes` list them; `None`
    /// for a method the document does not have.
    pub fn scopes(&self, method_id: &str) -> Option<&[String]> {
        self.methods
            .iter()
            .find(|m| m.id == method_id)
            .map(|m| m.scopes.as_slice())
    }

    /// Checks one request: `path` as sent, `query` raw, `body` raw bytes.
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<DiscoveryMatch, Violation> {
        let fail = |message: String| Violation {
            method: method.to_string(),
            path: path.to_string(),
            message,
        };
        let rest = path
            .strip_prefix(self.base_path.as_str())
            .ok_or_else(|| fail(format!("the path is not under {}", self.base_path)))?;
        let actual: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let best = self
            .methods
            .iter()
            .filter(|m| m.http_method.eq_ignore_ascii_case(method) && matches(&m.segments, &actual))
            .max_by_key(|m| {
                m.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
            .ok_or_else(|| fail("no method of the API has this HTTP method and path".into()))?;
        let mut path_params = BTreeMap::new();
        for (seg, value) in best.segments.iter().zip(&actual) {
            if let Segment::Param(name) = seg {
                path_params.insert(name.clone(), value.clone());
            }
        }
        let mut seen = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode_str(k).decode_utf8_lossy().into_owned();
            let v = percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            let spec = best
                .params
                .get(&k)
                .filter(|p| p["location"] == "query")
                .or_else(|| self.global_params.get(&k))
                .ok_or_else(|| fail(format!("{}: unknown query parameter `{k}`", best.id)))?;
            check_param(&k, &v, spec).map_err(|m| fail(format!("{}: {m}", best.id)))?;
            seen.push(k);
        }
        for (name, spec) in &best.params {
            if spec["required"] == true && spec["location"] == "query" && !seen.contains(name) {
                return Err(fail(format!(
                    "{}: required query parameter `{name}` missing",
                    best.id
                )));
            }
            if spec["location"] == "path" {
                if let Some(v) = path_params.get(name) {
                    check_param(name, v, spec).map_err(|m| fail(format!("{}: {m}", best.id)))?;
                }
            }
        }
        match (&best.request, body.is_empty()) {
            (None, false) => {
                return Err(fail(format!("{} takes no request body", best.id)));
            }
            (Some(r), true) => {
                return Err(fail(format!("{} needs a {r} body", best.id)));
            }
            (Some(r), false) => {
                let value: Value = serde_json::from_slice(body)
                    .map_err(|e| fail(format!("{}: body is not JSON: {e}", best.id)))?;
                let mut errors = Vec::new();
                self.check_schema(&best.id, r, &value, r, &mut errors);
                if !errors.is_empty() {
                    errors.truncate(5);
                    return Err(fail(format!("{}: {}", best.id, errors.join("; "))));
                }
            }
            (None, true) => {}
        }
        Ok(DiscoveryMatch {
            id: best.id.clone(),
            path_params,
        })
    }

    fn check_schema(
        &self,
        method: &str,
        schema_name: &str,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(schema) = self.schemas.get(schema_name) else {
            errors.push(format!("{at}: schema {schema_name} is not in the document"));
            return;
        };
        self.check_value(method, schema, value, at, errors);
    }

    fn check_value(
        &self,
        method: &str,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(r) = schema["$ref"].as_str() {
            return self.check_schema(method, r, value, at, errors);
        }
        let ty = schema["type"].as_str().unwrap_or("any");
        let ok = match ty {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            // int64 and uint64 travel as strings in Google's JSON.
            "integer" => value.is_i64() || value.is_u64() || value.is_string(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: expected {ty}, got {value}"));
            return;
        }
        if let (Some(allowed), Some(s)) = (schema["enum"].as_array(), value.as_str()) {
            if !allowed.iter().any(|a| a == s) {
                errors.push(format!("{at}: `{s}` is not one of {allowed:?}"));
            }
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(method, item_schema, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            Value::Object(fields) => {
                let props = schema["properties"].as_object();
                let extra = schema.get("additionalProperties");
                for (k, v) in fields {
                    match (props.and_then(|p| p.get(k)), extra) {
                        (Some(p), _) => {
                            self.check_value(method, p, v, &format!("{at}.{k}"), errors)
                        }
                        (None, Some(e)) => {
                            self.check_value(method, e, v, &format!("{at}.{k}"), errors)
                        }
                        (None, None) => errors.push(format!("{at}: unknown field `{k}`")),
                    }
                }
                for (k, p) in props.into_iter().flatten() {
                    let required = p["annotations"]["required"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|m| m == method));
                    if required && !fields.contains_key(k) {
                        errors.push(format!("{at}: `{k}` is required by {method}"));
                    }
                }
            }
            _ => {}
        }
    }
}

fn collect(resources: Option<&Value>, out: &mut Vec<Method>) -> Result<(), String> {
    let Some(resources) = resources.and_then(Value::as_object) else {
        return Ok(());
    };
    for resource in resources.values() {
        for m in resource["methods"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, m)| m)
        {
            let path = m["path"].as_str().ok_or("a method without a path")?;
            out.push(Method {
                id: m["id"].as_str().unwrap_or("?").to_string(),
                http_method: m["httpMethod"].as_str().unwrap_or("GET").to_string(),
                segments: path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(p) => Segment::Param(p.trim_start_matches('+').to_string()),
                            None => Segment::Literal(s.to_string()),
                        },
                    )
                    .collect(),
                params: m["parameters"].as_object().cloned().unwrap_or_default(),
                request: m["request"]["$ref"].as_str().map(str::to_string),
                scopes: m["scopes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            });
        }
        collect(resource.get("resources"), out)?;
    }
    Ok(())
}

fn matches(template: &[Segment], actual: &[String]) -> bool {
    template.len() == actual.len()
        && template.iter().zip(actual).all(|(t, a)| match t {
            Segment::Literal(l) => l == a,
            Segment::Param(_) => !a.is_empty(),
        })
}

fn check_param(name: &str, value: &str, spec: &Value) -> Result<(), String> {
    match spec["type"].as_str() {
        Some("integer") => {
            let n: i64 = value
                .parse()
                .map_err(|_| format!("`{name}={value}` is not an integer"))?;
            let bound = |k: &str| spec[k].as_str().and_then(|s| s.parse::<i64>().ok());
            if bound("minimum").is_some_and(|m| n < m) || bound("maximum").is_some_and(|m| n > m) {
                return Err(format!(
                    "`{name}={value}` is outside {}..={}",
                    spec["minimum"], spec["maximum"]
                ));
            }
        }
        Some("boolean") if value != "true" && value != "false" => {
            return Err(format!("`{name}={value}` is not true or false"));
        }
        _ => {}
    }
    if let Some(allowed) = spec["enum"].as_array() {
        if !allowed.iter().any(|a| a == value) {
            return Err(format!("`{name}={value}` is not one of {allowed:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Discovery {
        Discovery::new(&crate::load_json_spec("google/admin.directory_v1.json").unwrap()).unwrap()
    }

    #[test]
    fn matches_the_most_specific_method() {
        let d = directory();
        let m = d
            .validate(
                "GET",
                "/admin/directory/v1/users/a%40example.com/aliases",
                None,
                b"",
            )
            .unwrap();
        assert_eq!(m.id, "directory.users.aliases.list");
        assert_eq!(m.path_params["userKey"], "a@example.com");
        let m = d
            .validate(
                "GET",
                "/admin/directory/v1/users",
                Some("domain=example.com&maxResults=500&pageToken=x&alt=json"),
                b"",
            )
            .unwrap();
        assert_eq!(m.id, "directory.users.list");
    }

    #[test]
    fn lists_each_methods_scopes() {
        let d = directory();
        assert_eq!(
            d.scopes("directory.users.signOut").unwrap(),
            ["https://www.googleapis.com/auth/admin.directory.user.security"]
        );
        let get = d.scopes("directory.users.get").unwrap();
        assert!(
            get.contains(&"https://www.googleapis.com/auth/admin.directory.user.readonly".into())
        );
        assert!(d.scopes("directory.users.nothing").is_none());
    }

    #[test]
    fn refuses_what_google_refuses() {
        let d = directory();
        let err = |m: &str, p: &str, q: Option<&str>, b: &str| {
            d.validate(m, p, q, b.as_bytes()).unwrap_err().message
        };
        assert!(err(
            "GET",
            "/admin/directory/v1/users",
            Some("maxResults=501"),
            ""
        )
        .contains("outside"));
        assert!(
            err("GET", "/admin/directory/v1/users", Some("domian=x"), "").contains("unknown query")
        );
        assert!(err(
            "GET",
            "/admin/directory/v1/users",
            Some("projection=all"),
            ""
        )
        .contains("not one of"));
        assert!(err("PUT", "/admin/directory/v1/nothing", None, "").contains("no method"));
        let no_password =
            r#"{"primaryEmail":"a@example.com","name":{"givenName":"A","familyName":"B"}}"#;
        assert!(err("POST", "/admin/directory/v1/users", None, no_password)
            .contains("`password` is required"));
        let no_family =
            r#"{"primaryEmail":"a@example.com","password":"x","name":{"givenName":"A"}}"#;
        assert!(err("POST", "/admin/directory/v1/users", None, no_family).contains("`familyName`"));
        let typo = r#"{"primaryEmail":"a@example.com","password":"x","name":{"givenName":"A","familyName":"B"},"suspend":true}"#;
        assert!(err("POST", "/admin/directory/v1/users", None, typo)
            .contains("unknown field `suspend`"));
        let wrong_type = r#"{"suspended":"yes"}"#;
        assert!(
            err("PATCH", "/admin/directory/v1/users/a", None, wrong_type)
                .contains("expected boolean")
        );
        // Patch requires nothing.
        d.validate(
            "PATCH",
            "/admin/directory/v1/users/a",
            None,
            br#"{"suspended":true}"#,
        )
        .unwrap();
        assert!(
            err("DELETE", "/admin/directory/v1/users/a", None, "{}").contains("no request body")
        );
    }
}
