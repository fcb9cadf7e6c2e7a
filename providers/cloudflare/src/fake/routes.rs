//! The service the fake core runs: the routes, Cloudflare's envelope, the
//! description check (before the core's latency and faults) and the token
//! check (after them).
//!
//! Answers use Cloudflare's envelope `{success, errors, messages, result,
//! result_info}`; errors carry Cloudflare's codes (6003 missing
//! credentials, 9109 invalid token, 10000 missing permission, 7003 no such
//! zone or route, 971 rate limited). A request the official description
//! does not allow is answered 400 (code 6007, as Cloudflare answers
//! malformed requests) and recorded as a violation for the test to assert on.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mailform_testkit::fake::{Core, Refusal, Service, Standard};
use serde_json::{json, Value};

use super::faults::CloudflareFault;
use super::store::{err, record_json, ApiErr};
use super::Cloudflare;

type Shared = Core<Cloudflare>;

/// The base path the API is served under, as at Cloudflare.
pub const BASE: &str = "/client/v4";

impl Service for Cloudflare {
    type Extra = CloudflareFault;
    type Error = ApiErr;

    fn operation(&self, parts: &Parts, _body: &Bytes) -> String {
        format!("{} {}", parts.method, parts.uri.path())
    }

    fn matches(&self, pattern: &str, operation: &str) -> bool {
        super::faults::matches(pattern, operation)
    }

    fn check(&self, parts: &Parts, body: &Bytes) -> Result<(), Refusal<ApiErr>> {
        let checked = super::departures::for_validation(body);
        let (method, path) = (parts.method.as_str(), parts.uri.path());
        self.spec
            .validate(method, path, parts.uri.query(), &checked)
            .map(|_| ())
            .map_err(|v| {
                let message =
                    format!("Malformed request (does not match the API description): {v}");
                Refusal::violation(v.to_string(), err(400, 6007, message))
            })
    }

    fn authenticate(&self, parts: &Parts, _body: &Bytes) -> Result<(), Refusal<ApiErr>> {
        let auth = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let refused = match auth.and_then(|a| a.strip_prefix("Bearer ")) {
            None => Some(err(400, 6003, "Invalid request headers")),
            Some(t) if t != self.config.token => Some(err(403, 9109, "Invalid access token")),
            Some(_) if parts.method != "GET" && !self.config.can_write => {
                Some(err(403, 10000, "Authentication error"))
            }
            Some(_) => None,
        };
        refused.map_or(Ok(()), |e| Err(Refusal::answer(e)))
    }

    fn fault_error(&self, fault: Standard) -> ApiErr {
        match fault {
            Standard::Throttle => err(
                429,
                971,
                "Please wait and consider throttling your request speed",
            ),
            Standard::Unavailable | Standard::AfterWrite => {
                err(500, 10002, "Internal server error (injected fault)")
            }
        }
    }

    fn error(_core: &Shared, e: ApiErr) -> Response {
        error(e)
    }

    fn routes(core: Arc<Shared>) -> Router {
        router(core)
    }
}

fn router(shared: Arc<Shared>) -> Router {
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
    let store = s.service.store.lock().expect("store");
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
    let store = s.service.store.lock().expect("store");
    let zone = match store.zone(&zone_id) {
        Ok(z) => z,
        Err(e) => return error(e),
    };
    let visible = s.lag.lock().expect("lag").list_read();
    let records: Vec<Value> = zone
        .records
        .iter()
        .filter(|r| visible(&r.id))
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
    let (page, per_page) = page_params(&q, 100, s.service.config.max_per_page);
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
    let store = s.service.store.lock().expect("store");
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
    let r = parse(&body).and_then(|b| s.service.store.lock().expect("store").create(&zone_id, &b));
    if let Ok(rec) = &r {
        s.lag.lock().expect("lag").written(&rec.id);
    }
    with_zone(&s, &zone_id, r)
}

async fn get_record(
    State(s): State<Arc<Shared>>,
    Path((zone_id, id)): Path<(String, String)>,
) -> Response {
    let r = s
        .service
        .store
        .lock()
        .expect("store")
        .zone(&zone_id)
        .and_then(|z| {
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
        s.service
            .store
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
        s.service
            .store
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
    match s.service.store.lock().expect("store").delete(&zone_id, &id) {
        Ok(r) => ok(json!({"id": r.id})),
        Err(e) => error(e),
    }
}

async fn batch(State(s): State<Arc<Shared>>, Path(zone_id): Path<String>, body: Bytes) -> Response {
    let path = format!("{BASE}/zones/{zone_id}/dns_records/batch");
    let fail_item = match s.take_vendor(&format!("POST {path}")) {
        Some(CloudflareFault::NoBatchEndpoint) => {
            return error(err(404, 7003, "No route for the URI"))
        }
        Some(CloudflareFault::FailBatchItem { index }) => Some(index),
        None => None,
    };
    let result = parse(&body).and_then(|b| {
        s.service.store.lock().expect("store").batch(
            &zone_id,
            &b,
            s.service.config.batch_limit,
            fail_item,
        )
    });
    match result {
        Ok(v) => {
            let mut lag = s.lag.lock().expect("lag");
            for id in v["posts"].as_array().into_iter().flatten() {
                lag.written(id["id"].as_str().unwrap_or_default());
            }
            drop(lag);
            s.service
                .batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ok(v)
        }
        Err(e) => error(e),
    }
}
