//! The fake's endpoints, and the checks every request passes in the order
//! Google's front end applies them: the token endpoint (JWT signature,
//! audience, lifetime, subject, delegated scopes), then for API calls the
//! discovery-document check (method, path, parameters, body), the bearer
//! token and whether it holds one of the scopes the method's discovery
//! entry accepts, injected faults and latency, then the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::FaultKind;
use super::store::Refusal;
use super::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// An answer before it becomes an HTTP response (or a batch part).
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
}

fn error(status: u16, reason: &str, message: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json; charset=UTF-8",
        body: json!({"error": {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}}).to_string(),
    }
}

/// Google's answer to a token without any scope the method accepts: the
/// v1 `errors` list for old clients, and the `google.rpc` status with its
/// `ErrorInfo` reason, as every Google API answers it. Google's
/// `metadata.method` is an internal RPC name; the discovery id stands in.
fn insufficient_scopes(service: &str, method_id: &str) -> Answer {
    let message = "Request had insufficient authentication scopes.";
    Answer {
        status: 403,
        content_type: "application/json; charset=UTF-8",
        body: json!({"error": {
            "code": 403,
            "message": message,
            "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
            "status": "PERMISSION_DENIED",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": service, "method": method_id},
            }],
        }})
        .to_string(),
    }
}

fn ok(v: Value) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json; charset=UTF-8",
        body: v.to_string(),
    }
}

fn refusal(r: Refusal) -> Answer {
    error(r.0, r.1, &r.2)
}

fn respond(a: Answer, retry_after: bool) -> Response {
    let code = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = if a.status == 204 {
        code.into_response()
    } else {
        (code, [("content-type", a.content_type)], a.body).into_response()
    };
    if retry_after {
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    r
}

const DIRECTORY_BATCH: &str = "/batch/admin/directory_v1";
const SETTINGS_BATCH: &str = "/batch/groupssettings/v1";
/// Google's limit of calls in one batch.
const MAX_BATCH: usize = 1000;

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
    if path == "/token" && method == Method::POST {
        return token(&s, &body);
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if method == Method::POST && (path == DIRECTORY_BATCH || path == SETTINGS_BATCH) {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return batch(&s, &path, content_type, auth.as_deref(), &body).await;
    }
    let a = process(
        &s,
        method.as_str(),
        &path,
        uri.query(),
        auth.as_deref(),
        &body,
        None,
    )
    .await;
    let retry_after = a.status == 429;
    respond(a, retry_after)
}

/// A batch: each part is processed as a request of its own, with the
/// outer request's credentials, in order; two alias edits of one object in
/// one batch collide (412), as they do at Google.
async fn batch(
    s: &Shared,
    path: &str,
    content_type: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Response {
    s.log("batch");
    let outer = super::faults::take(&mut s.faults.lock().expect("faults"), "batch");
    match &outer {
        Some(FaultKind::TooManyRequests) => {
            return respond(error(429, "rateLimitExceeded", "Too many requests."), true)
        }
        Some(FaultKind::ServerError) => {
            return respond(error(500, "backendError", "Backend Error"), false)
        }
        Some(FaultKind::Slow(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let Some(boundary) = crate::batch::boundary(content_type) else {
        s.violation(format!("POST {path}: a batch without a multipart boundary"));
        return respond(error(400, "badRequest", "Invalid multipart request"), false);
    };
    let parts = match crate::batch::parts(body, &boundary) {
        Ok(p) => p,
        Err(e) => {
            s.violation(format!("POST {path}: {e}"));
            return respond(error(400, "badRequest", &e), false);
        }
    };
    if parts.len() > MAX_BATCH {
        s.violation(format!("POST {path}: {} calls in one batch", parts.len()));
        return respond(
            error(
                400,
                "badRequest",
                "A batch request cannot contain more than 1000 calls",
            ),
            false,
        );
    }
    let api_prefix = if path == DIRECTORY_BATCH {
        "/admin/directory/v1/"
    } else {
        "/groups/v1/groups/"
    };
    let mut alias_keys = std::collections::HashSet::new();
    let out_boundary = "batch_fake_google";
    let mut out = String::new();
    for part in parts {
        let id = part
            .headers
            .get("content-id")
            .map(|c| c.trim_matches(|ch| ch == '<' || ch == '>').to_string())
            .unwrap_or_default();
        let part_type = part.headers.get("content-type").map(String::as_str);
        let answer = if part_type != Some("application/http") {
            s.violation(format!(
                "POST {path}: a batch part of type {part_type:?}; each must be application/http"
            ));
            error(
                400,
                "badRequest",
                "each batch part must be application/http",
            )
        } else {
            match crate::batch::http_request(&part.body) {
                Ok((method, target, inner)) => {
                    let (p, q) = match target.split_once('?') {
                        Some((p, q)) => (p.to_string(), Some(q.to_string())),
                        None => (target.clone(), None),
                    };
                    if !p.starts_with(api_prefix) {
                        s.violation(format!(
                            "{method} {p}: not a call of the batch endpoint {path}"
                        ));
                        error(400, "badRequest", "call of another API in this batch")
                    } else {
                        process(
                            s,
                            &method,
                            &p,
                            q.as_deref(),
                            auth,
                            &inner,
                            Some(&mut alias_keys),
                        )
                        .await
                    }
                }
                Err(e) => {
                    s.violation(format!("POST {path}: {e}"));
                    error(400, "badRequest", &e)
                }
            }
        };
        let reason = StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("");
        out.push_str(&format!(
            "--{out_boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{id}>\r\n\r\nHTTP/1.1 {} {reason}\r\nContent-Type: {}\r\n\r\n{}\r\n",
            answer.status, answer.content_type, if answer.status == 204 { "" } else { &answer.body }
        ));
    }
    out.push_str(&format!("--{out_boundary}--\r\n"));
    if let Some(FaultKind::ProcessedThenServerError) = outer {
        return respond(error(500, "backendError", "Backend Error"), false);
    }
    (
        StatusCode::OK,
        [(
            "content-type",
            format!("multipart/mixed; boundary={out_boundary}"),
        )],
        out,
    )
        .into_response()
}

/// One API call: the discovery check, the token and its scopes, faults,
/// then the store. `alias_keys`: the objects whose aliases this batch
/// already edits.
async fn process(
    s: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    auth: Option<&str>,
    body: &[u8],
    alias_keys: Option<&mut std::collections::HashSet<String>>,
) -> Answer {
    let (spec, service) = if path.starts_with("/groups/v1/groups/") {
        (&s.settings_spec, "groupssettings.googleapis.com")
    } else if path.starts_with("/gmail/v1/") {
        (&s.gmail_spec, "gmail.googleapis.com")
    } else if path.starts_with("/admin/datatransfer/v1/") {
        (&s.transfer_spec, "admin.googleapis.com")
    } else if path.starts_with("/siteVerification/v1/") {
        (&s.site_spec, "siteverification.googleapis.com")
    } else {
        (&s.directory_spec, "admin.googleapis.com")
    };
    let matched = spec.validate(method, path, query, body);
    let matched = match matched {
        Ok(m) => m,
        Err(v) => {
            s.violation(v.to_string());
            return error(400, "invalid", &format!("Invalid request: {}", v.message));
        }
    };
    s.log(&matched.id);
    let query: BTreeMap<String, String> = query
        .map(|q| form_pairs(q).into_iter().collect())
        .unwrap_or_default();
    let granted = auth
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| s.tokens.lock().expect("tokens").get(t).cloned());
    let Some((subject, granted)) = granted else {
        return error(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    };
    // The scopes come from the method's `scopes` in the discovery
    // document: a token holding none of them is refused.
    let accepted = spec.scopes(&matched.id).unwrap_or_default();
    if !accepted.iter().any(|need| granted.contains(need)) {
        return insufficient_scopes(service, &matched.id);
    }
    if service == "groupssettings.googleapis.com"
        && query.get("alt").map(String::as_str) != Some("json")
    {
        // The Groups Settings API answers Atom unless asked for JSON.
        return Answer {
            status: 200,
            content_type: "application/atom+xml; charset=UTF-8",
            body: "<?xml version=\"1.0\"?><entry xmlns=\"http://www.w3.org/2005/Atom\"/>".into(),
        };
    }
    let fault = super::faults::take(&mut s.faults.lock().expect("faults"), &matched.id);
    match &fault {
        Some(FaultKind::RateLimit) => return error(
            403,
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
        ),
        Some(FaultKind::TooManyRequests) => {
            return error(429, "rateLimitExceeded", "Too many requests.")
        }
        Some(FaultKind::ServerError) => return error(500, "backendError", "Backend Error"),
        Some(FaultKind::Slow(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let body_json: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    };
    let p = |k: &str| matched.path_params.get(k).cloned().unwrap_or_default();
    if let Some(keys) = alias_keys {
        if matches!(
            matched.id.as_str(),
            "directory.users.aliases.insert"
                | "directory.users.aliases.delete"
                | "directory.groups.aliases.insert"
                | "directory.groups.aliases.delete"
        ) {
            let key = if matched.id.starts_with("directory.users") {
                p("userKey")
            } else {
                p("groupKey")
            };
            let canonical = {
                let st = s.store.lock().expect("store");
                st.owner(&key).map(|(_, id)| id).unwrap_or(key)
            };
            if !keys.insert(canonical) {
                return error(
                    412,
                    "conditionNotMet",
                    "Precondition Failed: a concurrent alias edit is in progress",
                );
            }
        }
    }
    let served = if matched.id == "siteVerification.webResource.insert" {
        served_txt(s, &body_json).await
    } else {
        Vec::new()
    };
    let result = dispatch(s, &matched.id, &p, &query, &body_json, &subject, &served);
    if let Some(FaultKind::ProcessedThenServerError) = fault {
        return error(500, "backendError", "Backend Error");
    }
    match result {
        Ok(Value::Null) => Answer {
            status: 204,
            content_type: "application/json; charset=UTF-8",
            body: String::new(),
        },
        Ok(v) => ok(v),
        Err(r) => refusal(r),
    }
}

/// The TXT values Google would find at the apex of the domain a Site
/// Verification body names.
async fn served_txt(s: &Shared, body: &Value) -> Vec<String> {
    let domain = body["site"]["identifier"]
        .as_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match s.config.dns_server {
        // An unreachable server is what Google sees as no token; say
        // why on stderr, where the `google-fake` binary's user looks.
        Some(server) => super::dns::txt(server, &domain).await.unwrap_or_else(|e| {
            eprintln!("google-fake: TXT lookup of {domain} at {server} failed: {e}");
            Vec::new()
        }),
        None => s
            .store
            .lock()
            .expect("store")
            .published_txt
            .get(&domain)
            .cloned()
            .unwrap_or_default(),
    }
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    s: &Shared,
    id: &str,
    p: &dyn Fn(&str) -> String,
    query: &BTreeMap<String, String>,
    body: &Value,
    subject: &str,
    served: &[String],
) -> Result<Value, Refusal> {
    let mut st = s.store.lock().expect("store");
    let page = |items: Vec<Value>, key: &str, default: usize| -> Value {
        let max = query
            .get("maxResults")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(default);
        let start = query
            .get("pageToken")
            .and_then(|t| t.strip_prefix("pg"))
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        let end = (start + max).min(items.len());
        let mut out = json!({ key: items.get(start..end).unwrap_or(&[]).to_vec() });
        if end < items.len() {
            out["nextPageToken"] = json!(format!("pg{end}"));
        }
        out
    };
    // Requests about a user still being set up are refused for a while.
    if id.starts_with("directory.users.aliases") || id == "directory.users.patch" {
        let uid = st.user_id(&p("userKey"))?;
        st.settle(&uid)?;
    }
    match id {
        "directory.users.list" => {
            let Some(domain) = query.get("domain").cloned() else {
                return Err((
                    400,
                    "badRequest",
                    "Bad Request: domain or customer required".into(),
                ));
            };
            Ok(page(st.users_in(&domain), "users", 100))
        }
        "directory.users.get" => st.user(&p("userKey")),
        "directory.users.insert" => st.insert_user(body),
        "directory.users.patch" => st.patch_user(&p("userKey"), body),
        "directory.users.delete" => st.delete_user(&p("userKey")).map(|_| Value::Null),
        "directory.users.aliases.insert" => {
            st.insert_alias("users", &p("userKey"), body["alias"].as_str().unwrap_or(""))
        }
        "directory.users.aliases.delete" => st
            .delete_alias("users", &p("userKey"), &p("alias"))
            .map(|_| Value::Null),
        "directory.users.aliases.list" => st.aliases("users", &p("userKey")),
        "directory.groups.list" => {
            let Some(domain) = query.get("domain").cloned() else {
                return Err((
                    400,
                    "badRequest",
                    "Bad Request: domain or customer required".into(),
                ));
            };
            Ok(page(st.groups_in(&domain), "groups", 200))
        }
        "directory.groups.insert" => st.insert_group(body),
        "directory.groups.patch" => st.patch_group(&p("groupKey"), body),
        "directory.groups.delete" => st.delete_group(&p("groupKey")).map(|_| Value::Null),
        "directory.groups.aliases.insert" => st.insert_alias(
            "groups",
            &p("groupKey"),
            body["alias"].as_str().unwrap_or(""),
        ),
        "directory.groups.aliases.delete" => st
            .delete_alias("groups", &p("groupKey"), &p("alias"))
            .map(|_| Value::Null),
        "directory.groups.aliases.list" => st.aliases("groups", &p("groupKey")),
        "directory.members.list" => Ok(page(st.members(&p("groupKey"))?, "members", 200)),
        "directory.members.insert" => st.insert_member(&p("groupKey"), body),
        "directory.members.delete" => st
            .delete_member(&p("groupKey"), &p("memberKey"))
            .map(|_| Value::Null),
        "directory.domains.get" => st.domain(&p("domainName")),
        "directory.domains.insert" => st.insert_domain(body),
        "directory.domainAliases.get" => st.domain_alias(&p("domainAliasName")),
        "directory.domainAliases.insert" => st.insert_domain_alias(body),
        "directory.domainAliases.list" => {
            Ok(st.domain_aliases_list(query.get("parentDomainName").map(String::as_str)))
        }
        "siteVerification.webResource.getToken" => st.site_token(body, subject),
        "siteVerification.webResource.insert" => st.verify_site(
            body,
            query.get("verificationMethod").map(String::as_str),
            subject,
            served,
        ),
        "siteVerification.webResource.get" => st.web_resource(&p("id")),
        "directory.users.signOut" => st.sign_out(&p("userKey")).map(|_| Value::Null),
        "gmail.users.settings.getAutoForwarding" => st.auto_forwarding(&p("userId"), subject),
        "gmail.users.settings.updateAutoForwarding" => {
            st.set_auto_forwarding(&p("userId"), subject, body)
        }
        "gmail.users.settings.forwardingAddresses.create" => {
            st.create_forwarding_address(&p("userId"), subject, body)
        }
        "gmail.users.settings.forwardingAddresses.get" => {
            st.forwarding_address(&p("userId"), subject, &p("forwardingEmail"))
        }
        "datatransfer.applications.list" => Ok(json!({
            "kind": "admin#datatransfer#applicationsList",
            "applications": [
                {"kind": "admin#datatransfer#ApplicationResource", "id": "55656082996", "name": "Drive and Docs"},
                {"kind": "admin#datatransfer#ApplicationResource", "id": "435070579839", "name": "Calendar"},
            ],
        })),
        "datatransfer.transfers.insert" => st.insert_transfer(body),
        "groupsSettings.groups.get" => st.settings(&p("groupUniqueId")),
        "groupsSettings.groups.patch" => st.patch_settings(&p("groupUniqueId"), body),
        other => Err((
            501,
            "notImplemented",
            format!("the fake does not implement {other}"),
        )),
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    scope: String,
    iat: u64,
    exp: u64,
}

fn token_error(status: u16, error: &str, description: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [("content-type", "application/json; charset=utf-8")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

fn token(s: &Shared, body: &[u8]) -> Response {
    s.token_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let form: BTreeMap<String, String> = form_pairs(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return token_error(400, "unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = form.get("assertion") else {
        return token_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let key = DecodingKey::from_rsa_der(&s.public_key_der);
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[s.token_url()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
        Ok(d) => d.claims,
        Err(e) => return token_error(400, "invalid_grant", &format!("Invalid JWT: {e}")),
    };
    if claims.exp.saturating_sub(claims.iat) > 3600 {
        return token_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    }
    if claims.iss != s.config.client_email {
        return token_error(401, "invalid_client", "The OAuth client was not found.");
    }
    // Admins act for the tenant; any existing user may be acted as (the
    // Gmail API is called as the mailbox's owner).
    let known_user = s
        .store
        .lock()
        .expect("store")
        .owner(&claims.sub)
        .is_some_and(|(kind, _)| kind == "user");
    if !s.config.admins.contains(&claims.sub) && !known_user {
        return token_error(400, "invalid_grant", "Invalid email or User ID");
    }
    let requested: Vec<String> = claims.scope.split(' ').map(str::to_string).collect();
    if requested
        .iter()
        .any(|r| !s.config.delegated_scopes.iter().any(|d| d == r))
    {
        return token_error(401, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.");
    }
    let n = s.token_requests.load(std::sync::atomic::Ordering::Relaxed);
    let token = format!("ya29.fake-{n}-{}", claims.iat);
    s.tokens
        .lock()
        .expect("tokens")
        .insert(token.clone(), (claims.sub.to_ascii_lowercase(), requested));
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
    )
        .into_response()
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
