//! Checking one request against the operations of an [`OpenApi`].
//!
//! A request is matched to an operation by method and path template (a
//! template with more literal segments wins, so `/records/batch` is not taken
//! for `/records/{id}`); then its path and query parameters are coerced to
//! their declared JSON types and validated, unknown query parameters are
//! refused (a misspelt filter would silently return everything), required
//! ones must be there, and the body must be JSON that matches the schema.

use std::fmt;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::openapi::{OpenApi, Operation, ParamIn, Segment};

/// A request the description does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.message)
    }
}

/// The operation a valid request matched, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The matched operation's path template.
    pub template: String,
    /// Path parameters by name, in template order.
    pub path_params: Vec<(String, String)>,
}

/// How many schema errors one violation lists.
const MAX_ERRORS: usize = 5;

impl OpenApi {
    /// Checks one request. `path` is the URL path as sent (base path
    /// included), `query` the raw query string, `body` the raw body.
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Matched, Violation> {
        let fail = |message: String| Violation {
            method: method.to_string(),
            path: path.to_string(),
            message,
        };
        let rest = path
            .strip_prefix(self.base_path.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or_else(|| {
                fail(format!(
                    "the path is not under the API base {}",
                    self.base_path
                ))
            })?;
        let actual: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();

        let mut candidates: Vec<(&Operation, usize)> = self
            .operations
            .iter()
            .filter(|op| template_matches(&op.segments, &actual))
            .map(|op| {
                let literals = op
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                (op, literals)
            })
            .collect();
        if candidates.is_empty() {
            return Err(fail("no path in the API description matches".to_string()));
        }
        candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
        let best = candidates[0].1;
        let op = candidates
            .iter()
            .filter(|(_, l)| *l == best)
            .map(|(op, _)| *op)
            .find(|op| op.method.eq_ignore_ascii_case(method))
            .ok_or_else(|| {
                let allowed: Vec<&str> = candidates
                    .iter()
                    .filter(|(_, l)| *l == best)
                    .map(|(op, _)| op.method.as_str())
                    .collect();
                fail(format!(
                    "method not allowed on {} (the description allows {})",
                    candidates[0].0.template,
                    allowed.join(", ")
                ))
            })?;

        let mut path_params = Vec::new();
        for (seg, value) in op.segments.iter().zip(&actual) {
            if let Segment::Param(name) = seg {
                let decoded = percent_decode_str(value).decode_utf8_lossy().into_owned();
                self.check_param(op, ParamIn::Path, name, &decoded)
                    .map_err(&fail)?;
                path_params.push((name.clone(), decoded));
            }
        }

        let pairs = parse_query(query.unwrap_or(""));
        for (name, value) in &pairs {
            self.check_param(op, ParamIn::Query, name, value)
                .map_err(&fail)?;
        }
        for p in op
            .params
            .iter()
            .filter(|p| p.location == ParamIn::Query && p.required)
        {
            if !pairs.iter().any(|(n, _)| n == &p.name) {
                return Err(fail(format!(
                    "required query parameter `{}` is missing",
                    p.name
                )));
            }
        }

        check_body(op, body).map_err(&fail)?;
        Ok(Matched {
            template: op.template.clone(),
            path_params,
        })
    }

    fn check_param(
        &self,
        op: &Operation,
        location: ParamIn,
        name: &str,
        raw: &str,
    ) -> Result<(), String> {
        let where_ = match location {
            ParamIn::Path => "path",
            _ => "query",
        };
        let Some(p) = op
            .params
            .iter()
            .find(|p| p.location == location && p.name == name)
        else {
            return Err(format!(
                "unknown {where_} parameter `{name}` for {} {}",
                op.method, op.template
            ));
        };
        let value = coerce(&p.json_type, raw).ok_or_else(|| {
            format!(
                "{where_} parameter `{name}`={raw:?} is not a {}",
                p.json_type
            )
        })?;
        if let Some(v) = &p.validator {
            let errors: Vec<String> = v
                .iter_errors(&value)
                .take(MAX_ERRORS)
                .map(|e| e.to_string())
                .collect();
            if !errors.is_empty() {
                return Err(format!(
                    "{where_} parameter `{name}`={raw:?}: {}",
                    errors.join("; ")
                ));
            }
        }
        Ok(())
    }
}

fn template_matches(segments: &[Segment], actual: &[&str]) -> bool {
    segments.len() == actual.len()
        && segments.iter().zip(actual).all(|(s, a)| match s {
            Segment::Literal(l) => l == a,
            Segment::Param(_) => !a.is_empty(),
        })
}

fn check_body(op: &Operation, body: &[u8]) -> Result<(), String> {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let Some(spec) = &op.body else {
        return if empty {
            Ok(())
        } else {
            Err(format!(
                "{} {} takes no request body",
                op.method, op.template
            ))
        };
    };
    if empty {
        return if spec.required {
            Err("the request body is required".to_string())
        } else {
            Ok(())
        };
    }
    let Some(validator) = &spec.validator else {
        return Ok(());
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(MAX_ERRORS)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the body does not match the schema: {}",
            errors.join("; ")
        ))
    }
}

/// A query or path value as the JSON value its schema expects.
fn coerce(json_type: &str, raw: &str) -> Option<Value> {
    match json_type {
        "number" => raw.parse::<f64>().ok().and_then(|f| {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Some(Value::from(f as i64))
            } else {
                serde_json::Number::from_f64(f).map(Value::Number)
            }
        }),
        "integer" => raw.parse::<i64>().ok().map(Value::from),
        // `explode: false` arrays (OData's `$select=id,mail`): comma-separated.
        "array" => Some(Value::Array(
            raw.split(',')
                .map(|s| Value::String(s.trim().to_string()))
                .collect(),
        )),
        "boolean" => match raw {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => Some(Value::String(raw.to_string())),
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api() -> OpenApi {
        let doc = json!({
            "openapi": "3.0.3",
            "paths": {
                "/things": {
                    "get": {"parameters": [
                        {"in": "query", "name": "per_page", "schema": {"$ref": "#/components/schemas/per_page"}},
                        {"in": "query", "name": "name", "required": true, "schema": {"type": "string"}}
                    ]},
                    "post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/thing"}}}}}
                },
                "/things/{id}": {
                    "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "string", "maxLength": 4}}],
                    "delete": {},
                    "get": {}
                },
                "/things/batch": {"post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}}
            },
            "components": {"schemas": {
                "per_page": {"type": "number", "minimum": 1, "maximum": 50},
                "thing": {"type": "object", "required": ["ip"], "properties": {
                    "ip": {"type": "string", "format": "ipv4"},
                    "note": {"type": "string", "nullable": true}
                }}
            }}
        });
        OpenApi::new(&doc, "/v4").unwrap()
    }

    #[test]
    fn accepts_what_the_description_allows() {
        let a = api();
        a.validate("GET", "/v4/things", Some("name=x&per_page=50"), b"")
            .unwrap();
        a.validate(
            "POST",
            "/v4/things",
            None,
            br#"{"ip": "192.0.2.1", "note": null}"#,
        )
        .unwrap();
        let m = a.validate("GET", "/v4/things/ab%20c", None, b"").unwrap();
        assert_eq!(m.path_params, vec![("id".to_string(), "ab c".to_string())]);
        let m = a.validate("POST", "/v4/things/batch", None, b"{}").unwrap();
        assert_eq!(m.template, "/things/batch");
    }

    #[test]
    fn refuses_what_it_does_not() {
        let a = api();
        let msg = |r: Result<Matched, Violation>| r.unwrap_err().message;
        assert!(
            msg(a.validate("GET", "/v4/things", Some("name=x&per_page=51"), b""))
                .contains("per_page")
        );
        assert!(msg(a.validate("GET", "/v4/things", Some("per_page=5"), b"")).contains("required"));
        assert!(
            msg(a.validate("GET", "/v4/things", Some("name=x&perpage=5"), b"")).contains("unknown")
        );
        assert!(
            msg(a.validate("GET", "/v4/things", Some("name=x&per_page=many"), b""))
                .contains("not a number")
        );
        assert!(
            msg(a.validate("POST", "/v4/things", None, br#"{"ip": "300.1.1.1"}"#)).contains("/ip")
        );
        assert!(msg(a.validate("POST", "/v4/things", None, br#"{}"#)).contains("ip"));
        assert!(msg(a.validate("POST", "/v4/things", None, b"")).contains("required"));
        assert!(msg(a.validate("PUT", "/v4/things", None, b"{}")).contains("method not allowed"));
        assert!(msg(a.validate("GET", "/v4/things/toolong", None, b"")).contains("id"));
        assert!(msg(a.validate("DELETE", "/v4/things/ab", None, b"{}")).contains("no request body"));
        assert!(msg(a.validate("GET", "/v4/nothing", None, b"")).contains("no path"));
        assert!(msg(a.validate("GET", "/things", None, b"")).contains("base"));
    }

    #[test]
    fn validates_against_the_shared_cloudflare_description() {
        let doc = crate::load_json_spec("cloudflare/cloudflare-dns.openapi.json").unwrap();
        let a = OpenApi::new(&doc, "/client/v4").unwrap();
        let zone = "023e105f4ecef8ad9ca31a8372d0c353";
        a.validate(
            "GET",
            &format!("/client/v4/zones/{zone}/dns_records"),
            Some("per_page=5000&page=2"),
            b"",
        )
        .unwrap();
        let rec = json!({"type": "MX", "name": "example.com", "content": "mx.example.com", "priority": 10, "ttl": 1});
        a.validate(
            "POST",
            &format!("/client/v4/zones/{zone}/dns_records"),
            None,
            rec.to_string().as_bytes(),
        )
        .unwrap();
        let bad =
            json!({"type": "MX", "name": "example.com", "content": "mx.example.com", "ttl": 1});
        assert!(
            a.validate(
                "POST",
                &format!("/client/v4/zones/{zone}/dns_records"),
                None,
                bad.to_string().as_bytes()
            )
            .is_err(),
            "MX without priority must be refused"
        );
        let batch = json!({"deletes": [{"id": "abc"}], "posts": [{"type": "A", "name": "a.example.com", "content": "192.0.2.1", "ttl": 300}]});
        a.validate(
            "POST",
            &format!("/client/v4/zones/{zone}/dns_records/batch"),
            None,
            batch.to_string().as_bytes(),
        )
        .unwrap();
        let bad_ttl = json!({"posts": [{"type": "A", "name": "a.example.com", "content": "192.0.2.1", "ttl": 10}]});
        assert!(a
            .validate(
                "POST",
                &format!("/client/v4/zones/{zone}/dns_records/batch"),
                None,
                bad_ttl.to_string().as_bytes()
            )
            .is_err());
    }
}
