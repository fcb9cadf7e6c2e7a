//! The fake's HTTP surface: the routes, Cloudflare's envelope, and the
//! guard every request passes (spec validation, latency, faults, token).
//!
//! Answers use Cloudflare's envelope `{success, errors, messages, result,
//! result_info}`; errors carry Cloudflare's codes (6003 missing
//! credentials, 9109 invalid token, 10000 missing permission, 7003 no such
//! zone or route, 971 rate limited). A request the official description
//! does not allow is answered 400 (code 6007, as Cloudflare answers
//! malformed requests) and recorded as a violation for the test to assert on.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::faults::{take, FaultKind};
use super::store::{err, record_json, ApiErr};
use super::Shared;

/// The base path the API is served under, as at Cloudflare.
pub const BASE: &str = "/client/v4";

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/zones", get(list_zones))
        .route(
            "/zones/{zone_id}/dns_records",
            get(list_records).post(create_record),
        )
        .route("/zones/{zone_id}/dns_records/batch", post(batch))
        .route(
            "/zones/{zone_id}/dns_records/{id}",
            get(get_record)
                .patch(patch_record)
                .put(put_record)
                .delete(delete_record),
        )
        .fallback(|| async { error(err(404, 7003, "No route for the URI")) });
    Router::new()
        .nest(BASE, api)
        .fallback(|| async { error(err(404, 7003, "No route for the URI")) })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

fn envelope(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(result: Value) -> Response {
    envelope(
        StatusCode::OK,
        json!({"success": true, "errors": [], "messages": [], "result": result}),
    )
}

pub(crate) fn error(e: ApiErr) -> Response {
    envelope(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        json!({"success": false, "errors": [{"code": e.code, "message": e.message}], "messages": [], "result": null}),
    )
}

/// Every request: count, validate against the description, wait, fault,
/// check the token.
async fn guard(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(e) => return error(err(400, 6007, format!("unreadable body: {e}"))),
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    s.log(&method, &path);
    let checked = super::departures::for_validation(&bytes);
    if let Err(v) = s.spec.validate(&method, &path, parts.uri.query(), &checked) {
        s.violations.lock().expect("violations").push(v.to_string());
        return error(err(
            400,
            6007,
            format!("Malformed request (does not match the API description): {v}"),
        ));
    }
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = take(&mut s.faults.lock().expect("faults"), &method, &path, |k| {
        matches!(
            k,
            FaultKind::TooManyRequests { .. }
                | FaultKind::ServerError
                | FaultKind::ServerErrorAfterWrite
                | FaultKind::Slow(_)
        )
    });
    let after_write = fault == Some(FaultKind::ServerErrorAfterWrite);
    match fault {
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            let mut r = error(err(
                429,
                971,
                "Please wait and consider throttling your request speed",
            ));
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return r;
        }
        Some(FaultKind::ServerError) => {
            return error(err(500, 10002, "Internal server error (injected fault)"))
        }
        Some(FaultKind::Slow(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        None => return error(err(400, 6003, "Invalid request headers")),
        Some(t) if t != s.config.token => return error(err(403, 9109, "Invalid access token")),
        Some(_) => {}
    }
    if method != "GET" && !s.config.can_write {
        return error(err(403, 10000, "Authentication error"));
    }
    let answer = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if after_write {
        return error(err(500, 10002, "Internal server error (injected fault)"));
    }
    answer
}

fn page_params(
    q: &std::collections::HashMap<String, String>,
    default: usize,
    max: usize,
) -> (usize, usize) {
    let num = |k: &str, d: usize| {
        q.get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(d, |v| v as usize)
    };
    (
        num("page", 1).max(1),
        num("per_page", default).clamp(1, max),
    )
}

fn paged(items: Vec<Value>, page: usize, per_page: usize) -> Response {
    let total = items.len();
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    envelope(
        StatusCode::OK,
        json!({
            "success": true, "errors": [], "messages": [],
            "result_info": {"page": page, "per_page": per_page, "count": slice.len(),
                            "total_count": total, "total_pages": total.div_ceil(per_page).max(1)},
            "result": slice,
        }),
    )
}

type Params = Query<std::collections::HashMap<String, String>>;

async fn list_zones(State(s): State<Arc<Shared>>, Query(q): Params) -> Response {
    let store = s.store.lock().expect("store");
    let zones: Vec<Value> = store
        .zones
        .iter()
        .filter(|z| {
            q.get("name")
                .is_none_or(|n| n.trim_end_matches('.').eq_ignore_ascii_case(&z.name))
        })
        .map(|z| {
            json!({"id": z.id, "name": z.name, "status": "active",
                        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]})
        })
        .collect();
    let (page, per_page) = page_params(&q, 20, 50);
    paged(zones, page, per_page)
}

async fn list_records(
    State(s): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    Query(q): Params,
) -> Response {
    let store = s.store.lock().expect("store");
    let zone = match store.zone(&zone_id) {
        Ok(z) => z,
        Err(e) => return error(e),
    };
    let records: Vec<Value> = zone
        .records
        .iter()
        .filter(|r| {
            q.get("type")
                .is_none_or(|t| t.eq_ignore_ascii_case(&r.rtype))
        })
        .filter(|r| {
            q.get("name")
                .is_none_or(|n| n.trim_end_matches('.').eq_ignore_ascii_case(&r.name))
        })
        .map(|r| record_json(zone, r))
        .collect();
    let (page, per_page) = page_params(&q, 100, s.config.max_per_page);
    paged(records, page, per_page)
}

fn parse(bytes: &Bytes) -> Result<Value, ApiErr> {
    serde_json::from_slice(bytes)
        .map_err(|e| err(400, 9207, format!("Request body is invalid JSON: {e}")))
}

fn with_zone(
    s: &Shared,
    zone_id: &str,
    rec: Result<super::store::StoredRecord, ApiErr>,
) -> Response {
    let store = s.store.lock().expect("store");
    match (rec, store.zone(zone_id)) {
        (Ok(r), Ok(z)) => ok(record_json(z, &r)),
        (Err(e), _) | (_, Err(e)) => error(e),
    }
}

async fn create_record(
    State(s): State<Arc<Shared>>,
    Path(zone_id): Path<String>,
    body: Bytes,
) -> Response {
    let r = parse(&body).and_then(|b| s.store.lock().expect("store").create(&zone_id, &b));
    with_zone(&s, &zone_id, r)
}

async fn get_record(
    State(s): State<Arc<Shared>>,
    Path((zone_id, id)): Path<(String, String)>,
) -> Response {
    let r = s.store.lock().expect("store").zone(&zone_id).and_then(|z| {
        z.records
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| err(404, 81044, "Record does not exist."))
    });
    with_zone(&s, &zone_id, r)
}

async fn patch_record(
    State(s): State<Arc<Shared>>,
    Path((zone_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let r = parse(&body).and_then(|b| {
        s.store
            .lock()
            .expect("store")
            .update(&zone_id, &id, &b, true)
    });
    with_zone(&s, &zone_id, r)
}

async fn put_record(
    State(s): State<Arc<Shared>>,
    Path((zone_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let r = parse(&body).and_then(|b| {
        s.store
            .lock()
            .expect("store")
            .update(&zone_id, &id, &b, false)
    });
    with_zone(&s, &zone_id, r)
}

async fn delete_record(
    State(s): State<Arc<Shared>>,
    Path((zone_id, id)): Path<(String, String)>,
) -> Response {
    match s.store.lock().expect("store").delete(&zone_id, &id) {
        Ok(r) => ok(json!({"id": r.id})),
        Err(e) => error(e),
    }
}

async fn batch(State(s): State<Arc<Shared>>, Path(zone_id): Path<String>, body: Bytes) -> Response {
    let path = format!("{BASE}/zones/{zone_id}/dns_records/batch");
    let fault = take(&mut s.faults.lock().expect("faults"), "POST", &path, |k| {
        matches!(
            k,
            FaultKind::FailBatchItem { .. } | FaultKind::NoBatchEndpoint
        )
    });
    let fail_item = match fault {
        Some(FaultKind::NoBatchEndpoint) => return error(err(404, 7003, "No route for the URI")),
        Some(FaultKind::FailBatchItem { index }) => Some(index),
        _ => None,
    };
    let result = parse(&body).and_then(|b| {
        s.store
            .lock()
            .expect("store")
            .batch(&zone_id, &b, s.config.batch_limit, fail_item)
    });
    match result {
        Ok(v) => {
            s.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ok(v)
        }
        Err(e) => error(e),
    }
}
