//! A fake Cloudflare API for tests and benchmarks: in-process
//! ([`FakeCloudflare::start`]) or as the `cloudflare-fake` binary.
//!
//! It implements the semantics mailform relies on rather than canned
//! answers — zones, record CRUD, pagination, the atomic batch endpoint,
//! CNAME conflict rules, error envelopes and codes, token checks — and
//! checks every request against the official description
//! (`shared/specs/cloudflare/cloudflare-dns.openapi.json`) through
//! `mailform-testkit`: a request the real API would refuse is answered 400
//! and recorded, and tests assert [`FakeCloudflare::violations`] is empty.
//! Latency and faults (429 + Retry-After, 500, dropped connections, slow
//! answers, a failing batch item) are injected per test.
//!
//! - `store`: zones and records with Cloudflare's rules.
//! - `routes`: the HTTP routes, the envelope and the request guard.
//! - `faults`: what to inject, and when.
//! - `departures`: where the fake accepts what the description refuses, and why.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that a
//! "drop" fault can close a connection without answering.

mod departures;
mod faults;
mod routes;
mod store;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tower_service::Service as _;

pub use faults::{Fault, FaultKind};
pub use routes::BASE;

/// The description every request is checked against.
pub const SPEC: &str = "cloudflare/cloudflare-dns.openapi.json";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The one valid API token.
    pub token: String,
    /// Whether the token has DNS:Edit (else writes get 403 / 10000).
    pub can_write: bool,
    /// Changes per batch (200 = Free plan).
    pub batch_limit: usize,
    /// The largest `per_page` honoured when listing records.
    pub max_per_page: usize,
    /// Delay before every answer.
    pub latency: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            token: "fake-cloudflare-token".into(),
            can_write: true,
            batch_limit: 200,
            max_per_page: 5_000,
            latency: Duration::ZERO,
        }
    }
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) spec: mailform_testkit::OpenApi,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) violations: Mutex<Vec<String>>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) requests: AtomicU64,
    pub(crate) batches: AtomicU64,
}

impl Shared {
    fn log(&self, method: &str, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().expect("log");
        // Bounded: a benchmark sends thousands of requests.
        if log.len() < 100_000 {
            log.push(format!("{method} {path}"));
        }
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeCloudflare {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeCloudflare {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeCloudflare, String> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`, on the current runtime.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeCloudflare, String> {
        let doc = mailform_testkit::load_json_spec(SPEC)?;
        let spec = mailform_testkit::OpenApi::new(&doc, BASE)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            latency: Mutex::new(config.latency),
            config,
            spec,
            store: Mutex::default(),
            faults: Mutex::default(),
            violations: Mutex::default(),
            log: Mutex::default(),
            requests: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        Ok(FakeCloudflare {
            addr,
            shared,
            task: Some(task),
            runtime: None,
        })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeCloudflare, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut fake = runtime.block_on(Self::start(config))?;
        fake.runtime = Some(runtime);
        Ok(fake)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, to use as the provider's `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}{BASE}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// Adds a zone; returns its id.
    pub fn add_zone(&self, name: &str) -> String {
        self.shared.store.lock().expect("store").add_zone(name)
    }

    /// Adds a record to `zone` (by name) as `POST dns_records` would, with
    /// the same rules; panics when the record is refused.
    pub fn add_record(&self, zone: &str, body: Value) -> String {
        let mut store = self.shared.store.lock().expect("store");
        let id = store
            .zone_by_name(zone)
            .unwrap_or_else(|| panic!("no zone {zone}"))
            .id
            .clone();
        store
            .create(&id, &body)
            .unwrap_or_else(|e| panic!("record refused: {e:?}"))
            .id
    }

    /// The records of `zone` as the API returns them, in stored order.
    pub fn records(&self, zone: &str) -> Vec<Value> {
        let store = self.shared.store.lock().expect("store");
        let z = store
            .zone_by_name(zone)
            .unwrap_or_else(|| panic!("no zone {zone}"));
        z.records.iter().map(|r| store::record_json(z, r)).collect()
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults").push(fault);
    }

    /// Faults injected but not (fully) fired yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.lock().expect("faults").clone()
    }

    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("latency") = latency;
    }

    /// Requests that did not match the official description.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().expect("violations").clone()
    }

    /// Requests received (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Batches that were applied.
    pub fn batches_applied(&self) -> u64 {
        self.shared.batches.load(Ordering::Relaxed)
    }

    /// `METHOD /path` of every request received, in order.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for FakeCloudflare {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The accept loop. A `Drop` fault makes the service fail, which makes
/// hyper close the connection without an answer.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let router = routes::router(shared.clone());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut router = router.clone();
                    let dropped = faults::take(
                        &mut shared.faults.lock().expect("faults"),
                        req.method().as_str(),
                        req.uri().path(),
                        |k| matches!(k, FaultKind::Drop),
                    )
                    .is_some();
                    if dropped {
                        shared.log(req.method().as_str(), req.uri().path());
                    }
                    async move {
                        if dropped {
                            return Err::<axum::response::Response, std::io::Error>(
                                std::io::Error::other("injected connection drop"),
                            );
                        }
                        let resp = router
                            .call(req.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|e| match e {});
                        Ok(resp)
                    }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
