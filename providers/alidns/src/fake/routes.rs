//! The service the fake core runs: one endpoint (`/`, GET or POST with a
//! form body, as the RPC style has it) and the checks in the order the real
//! gateway applies them. The description check: the path, the common
//! parameters and the action's parameters against the metadata (each a
//! violation). Then, after the core's faults and latency, authentication:
//! the AccessKey ID (`InvalidAccessKeyId.NotFound`, HTTP 404), the
//! signature recomputed from the received bytes (`SignatureDoesNotMatch`,
//! with the server's string to sign, as the real service answers), nonce
//! reuse (`SignatureNonceUsed`). Then the action.
//!
//! Errors use the vendor's envelope
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use mailform_testkit::fake::{Core, Refusal, Service, Standard};
use serde_json::{json, Value};

use super::faults::AlidnsFault;
use super::store::{err, ApiErr, Fields};
use super::Alidns;
use crate::signer;

type Shared = Core<Alidns>;

impl Service for Alidns {
    type Extra = AlidnsFault;
    type Error = ApiErr;

    fn operation(&self, parts: &Parts, body: &Bytes) -> String {
        params(&parts.uri, body)
            .ok()
            .and_then(|mut p| p.remove("Action"))
            .unwrap_or_default()
    }

    fn check(&self, parts: &Parts, body: &Bytes) -> Result<(), Refusal<ApiErr>> {
        let p = params(&parts.uri, body)
            .map_err(|m| Refusal::violation(m.clone(), err(400, "InvalidParameter", m)))?;
        let (method, path) = (&parts.method, parts.uri.path());
        if path != "/" || (method != Method::GET && method != Method::POST) {
            return Err(Refusal::violation(
                format!("{method} {path}: the RPC API is served at / with GET or POST"),
                err(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                ),
            ));
        }
        common(&p)?;
        self.spec
            .check(&p["Action"], &p)
            .map_err(|(code, message)| {
                Refusal::violation(
                    format!("{}: {code}: {message}", p["Action"]),
                    err(400, &code, message),
                )
            })
    }

    fn authenticate(&self, parts: &Parts, body: &Bytes) -> Result<(), Refusal<ApiErr>> {
        let p = params(&parts.uri, body)
            .map_err(|m| Refusal::answer(err(400, "InvalidParameter", m)))?;
        self.credentials(parts.method.as_str(), &p)
            .map_err(Refusal::answer)
    }

    fn fault_error(&self, fault: Standard) -> ApiErr {
        match fault {
            Standard::Throttle => err(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            ),
            Standard::Unavailable | Standard::AfterWrite => err(
                500,
                "InternalError",
                "The request processing has failed due to some unknown error.",
            ),
        }
    }

    fn error(core: &Shared, e: ApiErr) -> Response {
        error(core, e)
    }

    fn routes(core: Arc<Shared>) -> Router {
        Router::new().fallback(handle).with_state(core)
    }
}

fn request_id(s: &Shared) -> String {
    let n = s.requests();
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

async fn handle(State(s): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    let Ok(p) = params(&uri, &body) else {
        return error(&s, err(400, "InvalidParameter", "unreadable parameters"));
    };
    let action = p["Action"].as_str();
    if s.take_vendor(action) == Some(AlidnsFault::ServiceUnavailable) {
        return error(
            &s,
            err(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            ),
        );
    }
    match dispatch(&s, action, &p) {
        Ok(mut v) => {
            v["RequestId"] = json!(request_id(&s));
            answer(200, v)
        }
        Err(e) => error(&s, e),
    }
}

/// The common parameters every signed request carries.
fn common(p: &BTreeMap<String, String>) -> Result<(), Refusal<ApiErr>> {
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
            return Err(Refusal::violation(
                format!("missing common parameter {name}"),
                err(
                    400,
                    &format!("Missing{name}"),
                    format!("{name} is mandatory for this action."),
                ),
            ));
        }
    }
    if p["Version"] != signer::VERSION {
        return Err(Refusal::violation(
            format!("Version {}", p["Version"]),
            err(
                400,
                "InvalidVersion",
                format!("Specified parameter Version is not valid: {}", p["Version"]),
            ),
        ));
    }
    if p["SignatureMethod"] != "HMAC-SHA1" || p["SignatureVersion"] != "1.0" {
        return Err(Refusal::violation(
            "signature method/version",
            err(
                400,
                "InvalidSignatureMethod",
                "Specified signature method is not supported.",
            ),
        ));
    }
    if !timestamp_ok(&p["Timestamp"]) {
        return Err(Refusal::violation(
            format!("Timestamp {:?}", p["Timestamp"]),
            err(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ),
        ));
    }
    Ok(())
}

impl Alidns {
    /// The key, the signature and the nonce.
    fn credentials(&self, method: &str, p: &BTreeMap<String, String>) -> Result<(), ApiErr> {
        if p["AccessKeyId"] != self.config.access_key_id {
            return Err(err(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        }
        if !signer::verify(method, p, &self.config.access_key_secret, &p["Signature"]) {
            let sts = signer::string_to_sign(method, &signer::canonicalized_query(p));
            return Err(err(
            400,
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{sts}"),
        ));
        }
        if !self
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
    let mut store = s.service.store.lock().expect("store");
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
            let visible = s.lag.lock().expect("lag").list_read();
            store.describe(&p["DomainName"], page, size, asc, visible)
        }
        "AddDomainRecord" => {
            let id = store.add(&p["DomainName"], fields(p))?;
            s.lag.lock().expect("lag").written(&id);
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
