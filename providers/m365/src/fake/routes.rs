//! The fake's endpoints, and the checks every request passes in the order
//! Graph's front end applies them: the token endpoint (tenant, grant,
//! client, secret, scope); for Graph calls the description check (method,
//! path, parameters, body), the bearer token, the consented permissions,
//! injected faults and latency, then the store. `$batch` runs the same
//! checks, the token's excepted, on each of its requests.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::faults::FaultKind;
use super::store::Refusal;
use super::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// One answer, for a request or a `$batch` sub-request.
struct Reply {
    status: u16,
    body: Option<Value>,
    retry_after: Option<u64>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            retry_after: None,
        }
    }

    fn empty() -> Reply {
        Reply {
            status: 204,
            body: None,
            retry_after: None,
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"code": code, "message": message, "innerError": {
                "date": "2026-12-01T00:00:00",
                "request-id": "0b4c5d6e-0000-4000-8000-000000000001",
                "client-request-id": "0b4c5d6e-0000-4000-8000-000000000001"
            }}}),
        )
    }

    fn refusal(r: Refusal) -> Reply {
        Reply::error(r.0, r.1, &r.2)
    }

    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = match self.body {
            Some(b) => (
                code,
                [("content-type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")],
                b.to_string(),
            )
                .into_response(),
            None => code.into_response(),
        };
        if let Some(s) = self.retry_after {
            r.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        r
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = uri.path().to_string();
    if method == Method::POST && path.ends_with("/oauth2/v2.0/token") {
        let tenant = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        return token(&s, &tenant, &body);
    }
    if path.starts_with("/adminapi/") {
        return super::exchange::handle(&s, &method, &path, &headers, &body).await;
    }
    if !path.starts_with("/v1.0/") {
        return Reply::error(400, "BadRequest", "Invalid version.").into_response();
    }
    let (query, skiptoken) = split_skiptoken(uri.query().unwrap_or(""));
    let matched = match s.spec.validate(method.as_str(), &path, Some(&query), &body) {
        Ok(m) => m,
        Err(v) => {
            s.violation(v.to_string());
            return Reply::error(400, "BadRequest", &v.message).into_response();
        }
    };
    let op = format!("{} {}", method.as_str(), matched.template);
    s.log(&op);
    let roles = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| s.tokens.lock().expect("tokens").get(t).cloned())
        .filter(|(audience, _)| audience == super::GRAPH_AUDIENCE)
        .map(|(_, roles)| roles);
    let Some(roles) = roles else {
        return Reply::error(
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        )
        .into_response();
    };
    let body_json: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if op == "POST /$batch" {
        return batch(&s, &roles, &body_json).await.into_response();
    }
    let params: BTreeMap<String, String> = matched.path_params.into_iter().collect();
    one(
        &s,
        &roles,
        &op,
        &path,
        &params,
        &query,
        skiptoken.as_deref(),
        &body_json,
    )
    .await
    .into_response()
}

/// The query without `$skiptoken`, and the token.
fn split_skiptoken(query: &str) -> (String, Option<String>) {
    let mut token = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if decode(k) == "$skiptoken" {
                token = Some(decode(v));
                false
            } else {
                !p.is_empty()
            }
        })
        .collect();
    (rest.join("&"), token)
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Permissions any one of which authorises `op`.
fn needed(op: &str) -> &'static [&'static str] {
    let read = op.starts_with("GET ");
    let path = op.split_once(' ').map_or("", |p| p.1);
    if path.starts_with("/users") {
        if read {
            &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ]
        } else {
            &["User.ReadWrite.All", "Directory.ReadWrite.All"]
        }
    } else if path.starts_with("/groups") {
        if read {
            &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "GroupMember.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ]
        } else if path.contains("/members") {
            &[
                "Group.ReadWrite.All",
                "GroupMember.ReadWrite.All",
                "Directory.ReadWrite.All",
            ]
        } else {
            &["Group.ReadWrite.All", "Directory.ReadWrite.All"]
        }
    } else if path.starts_with("/subscribedSkus") {
        &[
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ]
    } else if path.starts_with("/domains") {
        if read {
            &[
                "Domain.Read.All",
                "Domain.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ]
        } else {
            // "Create domain", "domain: verify", "Update domain": the
            // application permission is Domain.ReadWrite.All alone.
            &["Domain.ReadWrite.All"]
        }
    } else {
        &["Directory.ReadWrite.All"]
    }
}

/// One request (top-level or batched) past the description check.
#[allow(clippy::too_many_arguments)]
async fn one(
    s: &Shared,
    roles: &[String],
    op: &str,
    path: &str,
    params: &BTreeMap<String, String>,
    query: &str,
    skiptoken: Option<&str>,
    body: &Value,
) -> Reply {
    if let Some(missing) = missing_required(op, body) {
        s.violation(format!(
            "{op}: the required property `{missing}` is missing"
        ));
        return Reply::error(
            400,
            "Request_BadRequest",
            &format!("Property '{missing}' is required."),
        );
    }
    if !needed(op).iter().any(|n| roles.iter().any(|r| r == n)) {
        return Reply::error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let fault = super::faults::take(&mut s.faults.lock().expect("faults"), op);
    match &fault {
        Some(FaultKind::TooManyRequests) => {
            let mut r = Reply::error(429, "TooManyRequests", "Too many requests.");
            r.retry_after = Some(1);
            return r;
        }
        Some(FaultKind::ServerError) => {
            return Reply::error(503, "serviceNotAvailable", "Service unavailable.")
        }
        Some(FaultKind::Slow(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let result = if op == "POST /domains/{id}/verify" {
        // Asking DNS is async, so it happens before the store is locked.
        let id = params.get("id").cloned().unwrap_or_default();
        let served = super::dns::served_txt(s, &id).await;
        s.store
            .lock()
            .expect("store")
            .verify_domain(&id, &served)
            .map(|d| Reply::json(200, d))
    } else {
        dispatch(s, op, path, params, query, skiptoken, body)
    };
    if let Some(FaultKind::ProcessedThenServerError) = fault {
        return Reply::error(
            500,
            "generalException",
            "An internal server error occurred.",
        );
    }
    match result {
        Ok(r) => r,
        Err(r) => Reply::refusal(r),
    }
}

/// What the docs require and the description does not mark required.
fn missing_required(op: &str, body: &Value) -> Option<&'static str> {
    let fields: &[&'static str] = match op {
        // learn.microsoft.com/graph/api/user-post-users, "Request body".
        "POST /users" => &[
            "accountEnabled",
            "displayName",
            "mailNickname",
            "passwordProfile",
            "userPrincipalName",
        ],
        // learn.microsoft.com/graph/api/domain-post-domains, "Request body".
        "POST /domains" => &["id"],
        // learn.microsoft.com/graph/api/group-post-groups, "Request body".
        "POST /groups" => &[
            "displayName",
            "mailEnabled",
            "mailNickname",
            "securityEnabled",
        ],
        _ => &[],
    };
    fields
        .iter()
        .find(|f| body.get(**f).is_none_or(Value::is_null))
        .copied()
}

fn dispatch(
    s: &Shared,
    op: &str,
    path: &str,
    params: &BTreeMap<String, String>,
    query: &str,
    skiptoken: Option<&str>,
    body: &Value,
) -> Result<Reply, Refusal> {
    let q = query_map(query);
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let page = |items: Vec<Value>| -> Result<Reply, Refusal> {
        let top = match q.get("$top") {
            None => 100,
            Some(t) => t.parse::<usize>().unwrap_or(0),
        };
        if !(1..=999).contains(&top) {
            return Err((
                400,
                "Request_UnsupportedQuery",
                format!(
                    "Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
                ),
            ));
        }
        let start = match skiptoken {
            None => 0,
            Some(t) => match t
                .strip_prefix("M365FAKE")
                .and_then(|n| usize::from_str_radix(n, 16).ok())
            {
                Some(n) => n,
                None => {
                    s.violation(format!(
                        "GET {path}: $skiptoken {t:?} is not one the fake issued"
                    ));
                    return Err((400, "Request_BadRequest", "Invalid paging token.".into()));
                }
            },
        };
        let end = (start + top).min(items.len());
        let value: Vec<Value> = items
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|v| select(v, q.get("$select")))
            .collect();
        let mut out = json!({
            "@odata.context": format!("{}/v1.0/$metadata#{}", s.base(), path.trim_start_matches("/v1.0/")),
            "value": value,
        });
        if end < items.len() {
            let sep = if query.is_empty() { "" } else { "&" };
            out["@odata.nextLink"] = json!(format!(
                "{}{path}?{query}{sep}$skiptoken=M365FAKE{end:x}",
                s.base()
            ));
        }
        Ok(Reply::json(200, out))
    };
    let mut st = s.store.lock().expect("store");
    match op {
        "GET /users" => page(st.list_users(!q.contains_key("$skiptoken"))),
        "POST /users" => st.insert_user(body).map(|u| Reply::json(201, u)),
        "GET /users/{id}" => {
            let id = st.user_id(&p("id"))?;
            let u = st
                .users()
                .into_iter()
                .find(|u| u["id"] == id.as_str())
                .unwrap_or(Value::Null);
            Ok(Reply::json(200, select(&u, q.get("$select"))))
        }
        "PATCH /users/{id}" => st.patch_user(&p("id"), body).map(|_| Reply::empty()),
        "DELETE /users/{id}" => st.delete_user(&p("id")).map(|_| Reply::empty()),
        "GET /groups" => page(st.list_groups(!q.contains_key("$skiptoken"))),
        "POST /groups" => st.insert_group(body).map(|g| Reply::json(201, g)),
        "GET /groups/{id}" => st
            .group(&p("id"))
            .map(|g| Reply::json(200, select(&g, q.get("$select")))),
        "PATCH /groups/{id}" => st.patch_group(&p("id"), body).map(|_| Reply::empty()),
        "DELETE /groups/{id}" => st.delete_group(&p("id")).map(|_| Reply::empty()),
        "GET /groups/{id}/members" => {
            let m = st.members(&p("id"))?;
            drop(st);
            page(m)
        }
        "POST /groups/{id}/members/$ref" => st.add_member(&p("id"), body).map(|_| Reply::empty()),
        "DELETE /groups/{id}/members/{member-id}/$ref" => st
            .remove_member(&p("id"), &p("member-id"))
            .map(|_| Reply::empty()),
        "GET /subscribedSkus" => {
            let v = st.subscribed_skus();
            drop(st);
            page(v)
        }
        "POST /users/{id}/revokeSignInSessions" => {
            st.revoke_sessions(&p("id")).map(|v| Reply::json(200, v))
        }
        "POST /users/{id}/assignLicense" => st
            .assign_license(&p("id"), body)
            .map(|u| Reply::json(200, u)),
        "GET /domains" => {
            let d = st.domains();
            drop(st);
            page(d)
        }
        "POST /domains" => st.insert_domain(body).map(|d| Reply::json(201, d)),
        "GET /domains/{id}" => st
            .domain(&p("id"))
            .map(|d| Reply::json(200, select(&d, q.get("$select")))),
        "PATCH /domains/{id}" => st.patch_domain(&p("id"), body).map(|_| Reply::empty()),
        "GET /domains/{id}/verificationDnsRecords" => {
            let v = st.verification_records(&p("id"))?;
            drop(st);
            page(v)
        }
        "GET /domains/{id}/serviceConfigurationRecords" => {
            let v = st.service_records(&p("id"))?;
            drop(st);
            page(v)
        }
        other => Err((
            501,
            "NotImplemented",
            format!("the fake does not implement {other}"),
        )),
    }
}

/// `$select`: only the listed properties (and `id`, `@odata.type`).
fn select(v: &Value, select: Option<&String>) -> Value {
    let (Some(sel), Value::Object(map)) = (select, v) else {
        return v.clone();
    };
    let keep: HashSet<&str> = sel.split(',').map(str::trim).collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| keep.contains(k.as_str()) || *k == "id" || *k == "@odata.type")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// `POST /$batch`: each request checked and answered on its own.
async fn batch(s: &Shared, roles: &[String], body: &Value) -> Reply {
    let requests = body["requests"].as_array().cloned().unwrap_or_default();
    let mut ids = HashSet::new();
    for r in &requests {
        if !ids.insert(r["id"].as_str().unwrap_or("").to_string()) {
            s.violation(format!(
                "POST /$batch: request id {} is not unique",
                r["id"]
            ));
            return Reply::error(400, "BadRequest", "Batch request ids must be unique.");
        }
    }
    let mut responses = Vec::new();
    for r in &requests {
        let id = r["id"].as_str().unwrap_or("").to_string();
        let method = r["method"].as_str().unwrap_or("").to_string();
        let url = r["url"].as_str().unwrap_or("");
        let url = if url.starts_with('/') {
            url.to_string()
        } else {
            format!("/{url}")
        };
        let (path, query) = url
            .split_once('?')
            .map_or((url.as_str(), ""), |(a, b)| (a, b));
        let full_path = format!("/v1.0{path}");
        let sub_body = r.get("body").filter(|b| !b.is_null());
        let bytes = sub_body
            .map(|b| b.to_string().into_bytes())
            .unwrap_or_default();
        let has_type = r["headers"].as_object().is_some_and(|h| {
            h.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("content-type")
                    && v.as_str()
                        .is_some_and(|v| v.starts_with("application/json"))
            })
        });
        let reply = if sub_body.is_some() && !has_type {
            s.violation(format!(
                "$batch {method} {url}: a request with a body needs a Content-Type header"
            ));
            Reply::error(
                400,
                "BadRequest",
                "Content-Type header is required for requests with a body.",
            )
        } else {
            let (query, skiptoken) = split_skiptoken(query);
            match s.spec.validate(&method, &full_path, Some(&query), &bytes) {
                Err(v) => {
                    s.violation(format!("$batch {v}"));
                    Reply::error(400, "BadRequest", &v.message)
                }
                Ok(m) => {
                    let op = format!("{method} {}", m.template);
                    s.log(&op);
                    let params: BTreeMap<String, String> = m.path_params.into_iter().collect();
                    Box::pin(one(
                        s,
                        roles,
                        &op,
                        &full_path,
                        &params,
                        &query,
                        skiptoken.as_deref(),
                        sub_body.unwrap_or(&Value::Null),
                    ))
                    .await
                }
            }
        };
        let mut headers = serde_json::Map::new();
        if reply.body.is_some() {
            headers.insert("Content-Type".into(), json!("application/json"));
        }
        if let Some(ra) = reply.retry_after {
            headers.insert("Retry-After".into(), json!(ra.to_string()));
        }
        let mut out = json!({"id": id, "status": reply.status, "headers": headers});
        if let Some(b) = reply.body {
            out["body"] = b;
        }
        responses.push(out);
    }
    // Graph answers in whatever order the requests finish.
    responses.reverse();
    Reply::json(200, json!({"responses": responses}))
}

fn token_error(status: u16, error: &str, code: u64, text: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [("content-type", "application/json; charset=utf-8")],
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: 5a6b7c8d-0000-4000-8000-000000000000\r\nCorrelation ID: 1e2f3a4b-0000-4000-8000-000000000000\r\nTimestamp: 2026-12-01 00:00:00Z"),
            "error_codes": [code],
            "timestamp": "2026-12-01 00:00:00Z",
            "trace_id": "5a6b7c8d-0000-4000-8000-000000000000",
            "correlation_id": "1e2f3a4b-0000-4000-8000-000000000000",
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })
        .to_string(),
    )
        .into_response()
}

fn token(s: &Shared, tenant: &str, body: &[u8]) -> Response {
    let n = s
        .token_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    let form = query_map(&String::from_utf8_lossy(body));
    let c = &s.config;
    let known_tenant = tenant.eq_ignore_ascii_case(&c.tenant_id)
        || s.store
            .lock()
            .expect("store")
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(tenant));
    if !known_tenant {
        return token_error(400, "invalid_request", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        s.violation(format!("token: grant_type {:?}", form.get("grant_type")));
        return token_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let client = form.get("client_id").map(String::as_str).unwrap_or("");
    if client != c.client_id {
        return token_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{client}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."));
    }
    match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(_), Some(_)) => {
            s.violation("token: both client_secret and client_assertion".into());
            return token_error(
                400,
                "invalid_request",
                50027,
                "Only one client credential may be given: client_secret or client_assertion.",
            );
        }
        (None, Some(assertion)) => {
            if form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                s.violation(format!(
                    "token: client_assertion_type {:?}",
                    form.get("client_assertion_type")
                ));
                return token_error(400, "invalid_request", 50027, "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
            }
            let audience = format!("http://{}/{tenant}/oauth2/v2.0/token", s.addr);
            if let Err((status, error, code, text)) =
                super::assertion::check(assertion, c.certificate.as_ref(), &c.client_id, &audience)
            {
                return token_error(status, error, code, &text);
            }
        }
        (secret, None) => {
            if secret.map(String::as_str) != Some(c.client_secret.as_str()) {
                return token_error(401, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", c.client_id));
            }
        }
    }
    let audience = match form.get("scope").map(String::as_str) {
        Some("https://graph.microsoft.com/.default") => super::GRAPH_AUDIENCE,
        Some("https://outlook.office365.com/.default") => super::EXCHANGE_AUDIENCE,
        other => {
            s.violation(format!("token: scope {other:?}"));
            return token_error(400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).");
        }
    };
    let token = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-{n}.sig");
    s.tokens
        .lock()
        .expect("tokens")
        .insert(token.clone(), (audience.to_string(), c.roles.clone()));
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}).to_string(),
    )
        .into_response()
}
