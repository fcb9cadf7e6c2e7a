//! The fake's HTTP surface: one endpoint (`/`, GET or POST with a form
//! body, as the RPC style has it), and the checks every request passes in
//! the order the real gateway applies them: faults and latency, common
//! parameters, the AccessKey ID (`InvalidAccessKeyId.NotFound`, HTTP 404),
//! the signature recomputed from the received bytes
//! (`SignatureDoesNotMatch`, with the server's string to sign, as the real
//! service answers), nonce reuse (`SignatureNonceUsed`), then the action's
//! parameters against the metadata, then the action.
//!
//! Errors use the vendor's envelope
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::faults::{take, FaultKind};
use super::store::{err, ApiErr, Fields};
use super::Shared;
use crate::signer;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn request_id(s: &Shared) -> String {
    let n = s.requests.load(Ordering::Relaxed);
    format!(
        "{:08X}-FA4E-4A1D-9D2B-{n:012X}",
        n.wrapping_mul(2_654_435_761) & 0xFFFF_FFFF
    )
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
    answer(
        e.status,
        json!({
            "RequestId": request_id(s),
            "HostId": "alidns.aliyuncs.com",
            "Code": e.code,
            "Message": e.message,
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product=Alidns", e.code),
        }),
    )
}

/// The request's parameters from the query and (POST) the form body.
fn params(uri: &Uri, body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let query = uri.query().unwrap_or("").as_bytes();
    for part in [query, body] {
        for (k, v) in form_urlencoded::parse(part) {
            if out.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("parameter {k} given twice"));
            }
        }
    }
    Ok(out)
}

async fn handle(State(s): State<Arc<Shared>>, method: Method, uri: Uri, body: Bytes) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let p = match params(&uri, &body) {
        Ok(p) => p,
        Err(m) => {
            s.violation(m.clone());
            return error(&s, err(400, "InvalidParameter", m));
        }
    };
    let action = p.get("Action").cloned().unwrap_or_default();
    s.log(&action);
    let latency = *s.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = take(&mut s.faults.lock().expect("faults"), &action);
    match fault {
        Some(FaultKind::Throttle) => {
            return error(
                &s,
                err(
                    400,
                    "Throttling.User",
                    "Request was denied due to user flow control.",
                ),
            )
        }
        Some(FaultKind::ServerError) => {
            return error(
                &s,
                err(
                    500,
                    "InternalError",
                    "The request processing has failed due to some unknown error.",
                ),
            )
        }
        Some(FaultKind::Unavailable) => {
            return error(
                &s,
                err(
                    503,
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
            )
        }
        Some(FaultKind::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    if uri.path() != "/" || (method != Method::GET && method != Method::POST) {
        s.violation(format!(
            "{method} {}: the RPC API is served at / with GET or POST",
            uri.path()
        ));
        return error(
            &s,
            err(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ),
        );
    }
    if let Err(e) = authenticate(&s, method.as_str(), &p) {
        return error(&s, e);
    }
    if let Err((code, message)) = s.spec.check(&action, &p) {
        s.violation(format!("{action}: {code}: {message}"));
        return error(&s, err(400, &code, message));
    }
    match dispatch(&s, &action, &p) {
        Ok(mut v) => {
            v["RequestId"] = json!(request_id(&s));
            answer(200, v)
        }
        Err(e) => error(&s, e),
    }
}

/// Common parameters, key, signature and nonce.
fn authenticate(s: &Shared, method: &str, p: &BTreeMap<String, String>) -> Result<(), ApiErr> {
    for name in [
        "Action",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureVersion",
        "Timestamp",
        "Version",
    ] {
        if p.get(name).is_none_or(|v| v.is_empty()) {
            s.violation(format!("missing common parameter {name}"));
            return Err(err(
                400,
                &format!("Missing{name}"),
                format!("{name} is mandatory for this action."),
            ));
        }
    }
    if p["Version"] != signer::VERSION {
        s.violation(format!("Version {}", p["Version"]));
        return Err(err(
            400,
            "InvalidVersion",
            format!("Specified parameter Version is not valid: {}", p["Version"]),
        ));
    }
    if p["SignatureMethod"] != "HMAC-SHA1" || p["SignatureVersion"] != "1.0" {
        s.violation("signature method/version".into());
        return Err(err(
            400,
            "InvalidSignatureMethod",
            "Specified signature method is not supported.",
        ));
    }
    if !timestamp_ok(&p["Timestamp"]) {
        s.violation(format!("Timestamp {:?}", p["Timestamp"]));
        return Err(err(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ));
    }
    if p["AccessKeyId"] != s.config.access_key_id {
        return Err(err(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    }
    if !signer::verify(method, p, &s.config.access_key_secret, &p["Signature"]) {
        let sts = signer::string_to_sign(method, &signer::canonicalized_query(p));
        return Err(err(
            400,
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{sts}"),
        ));
    }
    if !s
        .nonces
        .lock()
        .expect("nonces")
        .insert(p["SignatureNonce"].clone())
    {
        return Err(err(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(())
}

/// `YYYY-MM-DDThh:mm:ssZ`.
fn timestamp_ok(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn fields(p: &BTreeMap<String, String>) -> Fields {
    Fields {
        rr: p.get("RR").cloned().unwrap_or_default(),
        rtype: p.get("Type").cloned().unwrap_or_default(),
        value: p.get("Value").cloned().unwrap_or_default(),
        ttl: p.get("TTL").and_then(|v| v.parse().ok()),
        priority: p.get("Priority").and_then(|v| v.parse().ok()),
        line: p.get("Line").cloned(),
    }
}

fn dispatch(s: &Shared, action: &str, p: &BTreeMap<String, String>) -> Result<Value, ApiErr> {
    let mut store = s.store.lock().expect("store");
    match action {
        "DescribeDomainRecords" => {
            let page = p
                .get("PageNumber")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let size = p.get("PageSize").and_then(|v| v.parse().ok()).unwrap_or(20);
            let asc = p
                .get("Direction")
                .is_some_and(|d| d.eq_ignore_ascii_case("ASC"));
            store.describe(&p["DomainName"], page, size, asc)
        }
        "AddDomainRecord" => {
            let id = store.add(&p["DomainName"], fields(p))?;
            Ok(json!({"RecordId": id}))
        }
        "UpdateDomainRecord" => {
            store.update(&p["RecordId"], fields(p))?;
            Ok(json!({"RecordId": p["RecordId"]}))
        }
        "DeleteDomainRecord" => {
            store.delete(&p["RecordId"])?;
            Ok(json!({"RecordId": p["RecordId"]}))
        }
        other => Err(err(
            400,
            "InvalidAction.NotFound",
            format!("Specified api {other} is not found."),
        )),
    }
}
