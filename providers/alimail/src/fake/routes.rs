//! The fake's HTTP surface, and the checks every request passes in order:
//! counting, latency, injected faults, the bearer token (except on the
//! token endpoint), then the call's parameters and body, then the call.
//!
//! Errors are answered as `{"code", "detailErrorCode", "message",
//! "requestId"}` — the union of the fields third-party clients read (the
//! official shape is not confirmed); the token endpoint answers OAuth2-style
//! `{"error", "error_description"}`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::{json, Map, Value};

use super::store::{department_json, err, user_json, ApiErr, Store};
use super::{route, take_fault, FaultKind, Shared};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth2/v2.0/token", post(token))
        .route("/v2/departments/{id}/departments", get(sub_departments))
        .route("/v2/departments/{id}/users", get(department_users))
        .route("/v2/users", post(create_user))
        .route(
            "/v2/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route(
            "/v2/users/{id}/emailAliases",
            post(add_alias).delete(delete_alias),
        )
        .fallback(unknown)
        .with_state(shared)
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn error(s: &Shared, e: ApiErr) -> Response {
    let n = s.requests.load(Ordering::Relaxed);
    answer(
        e.status,
        json!({
            "code": e.code,
            "detailErrorCode": e.code,
            "message": e.message,
            "requestId": format!("fake-{n:012}"),
        }),
    )
}

async fn unknown(
    State(s): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    s.record("unknown", format!("{method} {}", uri.path()));
    error(
        &s,
        err(
            404,
            "NotFound",
            format!("no such API: {method} {}", uri.path()),
        ),
    )
}

/// Counting, latency, faults and (when `auth`) the bearer token. `Ok` holds
/// a fault the handler must apply after the write.
async fn prelude(
    s: &Shared,
    route: &str,
    what: String,
    headers: &HeaderMap,
    auth: bool,
) -> Result<Option<FaultKind>, Response> {
    s.record(route, what);
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = take_fault(&mut s.faults.lock().expect("faults"), route);
    let mut after = None;
    match fault {
        Some(FaultKind::TooManyRequests(retry_after)) => {
            let mut r = error(
                s,
                err(429, "TooManyRequests", "Request rate exceeds the limit"),
            );
            if let Some(secs) = retry_after {
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_str(&secs.to_string()).expect("digits"),
                );
            }
            return Err(r);
        }
        Some(FaultKind::ServerError) => {
            return Err(error(s, err(500, "InternalError", "internal error")));
        }
        Some(FaultKind::Slow(d)) => tokio::time::sleep(d).await,
        Some(k @ FaultKind::ServerErrorAfterWrite) => after = Some(k),
        None => {}
    }
    if auth {
        if let Err(m) = check_token(s, headers) {
            return Err(error(s, err(401, "InvalidAccessToken", m)));
        }
    }
    Ok(after)
}

/// Why the request's bearer token is refused, if it is.
fn check_token(s: &Shared, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err("the Authorization header is missing");
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err("the Authorization header is not `bearer <token>`");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the Authorization scheme is not bearer");
    }
    match s.tokens.lock().expect("tokens").get(token.trim()) {
        Some(expiry) if Instant::now() < *expiry => Ok(()),
        Some(_) => Err("the access token has expired"),
        None => Err("the access token is not valid"),
    }
}

/// Runs `op` on the store after the prelude; answers its value as JSON.
async fn run(
    s: Arc<Shared>,
    route: &str,
    what: String,
    headers: &HeaderMap,
    op: impl FnOnce(&mut Store) -> Result<Value, ApiErr>,
) -> Response {
    let after = match prelude(&s, route, what, headers, true).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let result = op(&mut s.store.lock().expect("store"));
    match result {
        Ok(_) if after == Some(FaultKind::ServerErrorAfterWrite) => {
            error(&s, err(500, "InternalError", "internal error"))
        }
        Ok(v) => answer(200, v),
        Err(e) => error(&s, e),
    }
}

async fn token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(r) = prelude(
        &s,
        route::TOKEN,
        "POST /oauth2/v2.0/token".into(),
        &headers,
        false,
    )
    .await
    {
        return r;
    }
    let oauth = |status: u16, error: &str, description: &str| {
        answer(
            status,
            json!({"error": error, "error_description": description}),
        )
    };
    let Ok(Form(form)) = form else {
        return oauth(
            400,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let id_ok = form.get("client_id") == Some(&s.config.client_id);
    let secret_ok = form.get("client_secret") == Some(&s.config.client_secret);
    if !id_ok || !secret_ok {
        return oauth(401, "invalid_client", "client authentication failed");
    }
    let n = s.requests.load(Ordering::Relaxed);
    let token = format!(
        "fake-access-token-{n:08}-{:x}",
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    );
    let lifetime = s.config.token_lifetime;
    s.tokens
        .lock()
        .expect("tokens")
        .insert(token.clone(), Instant::now() + lifetime);
    answer(
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()}),
    )
}

/// `offset` (default 0) and `limit` (required, 1–100).
fn paging(q: &HashMap<String, String>) -> Result<(usize, usize), ApiErr> {
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            err(
                400,
                "InvalidParameter",
                format!("offset {v:?} is not a number"),
            )
        })?,
    };
    let limit = q
        .get("limit")
        .ok_or_else(|| err(400, "InvalidParameter", "limit is required"))?;
    let limit = limit
        .parse::<usize>()
        .ok()
        .filter(|l| (1..=100).contains(l))
        .ok_or_else(|| {
            err(
                400,
                "InvalidParameter",
                format!("limit {limit:?} must be 1 to 100"),
            )
        })?;
    for k in q.keys() {
        if !matches!(k.as_str(), "offset" | "limit" | "$select") {
            return Err(err(
                400,
                "InvalidParameter",
                format!("unknown parameter {k}"),
            ));
        }
    }
    Ok((offset, limit))
}

async fn sub_departments(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let what = format!("GET /v2/departments/{id}/departments");
    run(s, route::SUB_DEPARTMENTS, what, &headers, |st| {
        let (offset, limit) = paging(&q)?;
        let (page, total) = st.sub_departments(&id, offset, limit)?;
        let list: Vec<Value> = page.iter().map(department_json).collect();
        Ok(json!({"departments": list, "total": total}))
    })
    .await
}

async fn department_users(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let what = format!("GET /v2/departments/{id}/users");
    run(s, route::DEPARTMENT_USERS, what, &headers, |st| {
        let (offset, limit) = paging(&q)?;
        let (page, total) = st.department_users(&id, offset, limit)?;
        let list: Vec<Value> = page.iter().map(user_json).collect();
        Ok(json!({"users": list, "total": total}))
    })
    .await
}

async fn get_user(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let what = format!("GET /v2/users/{id}");
    run(s, route::GET_USER, what, &headers, |st| {
        let key = st.resolve(&id)?;
        Ok(user_json(&st.users[&key]))
    })
    .await
}

/// The names of a JSON body's fields, sorted, for the request log (never
/// the values: a create carries the password).
fn keys(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
            k.sort_unstable();
            format!("[{}]", k.join(","))
        }
        _ => "[?]".to_string(),
    }
}

/// The body as a JSON object whose keys are all in `allowed`.
fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiErr> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        err(
            400,
            "InvalidParameter",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(map) = v else {
        return Err(err(
            400,
            "InvalidParameter",
            "the body is not a JSON object",
        ));
    };
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(
                400,
                "InvalidParameter",
                format!("unknown or read-only field {k}"),
            ));
        }
    }
    Ok(map)
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiErr> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(
            400,
            "InvalidParameter",
            format!("{key} must be a string"),
        )),
    }
}

fn required(map: &Map<String, Value>, key: &str) -> Result<String, ApiErr> {
    string(map, key)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| err(400, "InvalidParameter", format!("{key} is required")))
}

/// Profile fields the SDKs send on create and update (research notes §3).
const PROFILE: [&str; 13] = [
    "name",
    "nickname",
    "employeeNo",
    "jobTitle",
    "workLocation",
    "officeLocation",
    "homeLocation",
    "phone",
    "workPhone",
    "status",
    "customName",
    "isHidden",
    "info",
];

async fn create_user(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    run(
        s,
        route::CREATE_USER,
        format!("POST /v2/users {}", keys(&body)),
        &headers,
        |st| {
            let mut allowed = PROFILE.to_vec();
            allowed.extend([
                "email",
                "password",
                "departmentIds",
                "managerEmail",
                "forceChangePasswordNextSignIn",
                "employeeType",
            ]);
            let map = object(&body, &allowed)?;
            let email = required(&map, "email")?;
            let name = required(&map, "name")?;
            let password = required(&map, "password")?;
            if password.chars().count() < 8 {
                return Err(err(400, "InvalidPassword", "the password is too short"));
            }
            let status = string(&map, "status")?.unwrap_or_else(|| "NORMAL".into());
            let departments = match map.get("departmentIds") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|d| d.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(400, "InvalidParameter", "departmentIds must be strings"))?,
                _ => return Err(err(400, "InvalidParameter", "departmentIds is required")),
            };
            st.create_user(&email, &name, &status, departments)
                .map(|u| user_json(&u))
        },
    )
    .await
}

async fn update_user(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let what = format!("PATCH /v2/users/{id} {}", keys(&body));
    run(s, route::UPDATE_USER, what, &headers, |st| {
        let mut allowed = PROFILE.to_vec();
        allowed.extend([
            "departmentIds",
            "managerEmail",
            "forceChangePasswordNextSignIn",
        ]);
        let map = object(&body, &allowed)?;
        if map.is_empty() {
            return Err(err(400, "InvalidParameter", "nothing to update"));
        }
        let name = string(&map, "name")?;
        let status = string(&map, "status")?;
        st.update_user(&id, name, status).map(|u| user_json(&u))
    })
    .await
}

async fn delete_user(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let what = format!("DELETE /v2/users/{id}");
    run(s, route::DELETE_USER, what, &headers, |st| {
        st.delete_user(&id).map(|()| json!({}))
    })
    .await
}

async fn add_alias(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let what = format!("POST /v2/users/{id}/emailAliases {}", keys(&body));
    run(s, route::ADD_ALIAS, what, &headers, |st| {
        let map = object(&body, &["alias", "asDefault"])?;
        let alias = required(&map, "alias")?;
        st.add_alias(&id, &alias).map(|u| user_json(&u))
    })
    .await
}

async fn delete_alias(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let what = format!("DELETE /v2/users/{id}/emailAliases {}", keys(&body));
    run(s, route::DELETE_ALIAS, what, &headers, |st| {
        let map = object(&body, &["alias"])?;
        let alias = required(&map, "alias")?;
        st.remove_alias(&id, &alias).map(|u| user_json(&u))
    })
    .await
}
