//! A fake Alidns API for tests and benchmarks: in-process
//! ([`FakeAlidns::start`]) or as the `alidns-fake` binary.
//!
//! It implements the semantics mailform relies on rather than canned
//! answers: RPC V1 signature verification of every request (recomputed
//! from the received bytes with the AccessKey secret; one byte off is
//! `SignatureDoesNotMatch`), nonce replay refusal, parameter checks against
//! Alibaba Cloud's API metadata (`shared/specs/aliyun/alidns/*.json`),
//! paging (`PageSize` 1–500), record ids, Alidns's rules (MX priority
//! 1–50, the edition's TTL minimum, duplicates, CNAME conflicts) and the
//! vendor's error envelope. Latency and faults (throttling, 500, 503, slow
//! answers) are injected per test. A request the metadata does not allow is
//! refused and recorded: tests assert [`FakeAlidns::violations`] is empty.
//!
//! - `store`: domains and records with Alidns's rules.
//! - `routes`: the endpoint and the checks every request passes.
//! - `spec`: the API metadata checks.
//! - `faults`: what to inject, and when.

mod faults;
mod routes;
mod spec;
mod store;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::ApiRecord;
pub use faults::{Fault, FaultKind};
pub use store::Fields;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The edition's lowest TTL (600 = Free edition).
    pub min_ttl: u32,
    /// Delay before every answer.
    pub latency: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            access_key_id: "LTAI5tFakeAccessKeyId".into(),
            access_key_secret: "fake-access-key-secret-0123456789".into(),
            min_ttl: 600,
            latency: Duration::ZERO,
        }
    }
}

/// State shared by every request.
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) spec: spec::Spec,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) violations: Mutex<Vec<String>>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) nonces: Mutex<HashSet<String>>,
    pub(crate) requests: AtomicU64,
}

impl Shared {
    fn log(&self, action: &str) {
        let mut log = self.log.lock().expect("log");
        if log.len() < 100_000 {
            log.push(action.to_string());
        }
    }

    fn violation(&self, v: String) {
        self.violations.lock().expect("violations").push(v);
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeAlidns {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeAlidns {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeAlidns, String> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`, on the current runtime.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeAlidns, String> {
        let spec = spec::Spec::load()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            latency: Mutex::new(config.latency),
            store: Mutex::new(store::Store::new(config.min_ttl)),
            config,
            spec,
            faults: Mutex::default(),
            violations: Mutex::default(),
            log: Mutex::default(),
            nonces: Mutex::default(),
            requests: AtomicU64::new(0),
        });
        let router = routes::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeAlidns {
            addr,
            shared,
            task: Some(task),
            runtime: None,
        })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeAlidns, String> {
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

    /// The endpoint URL, to use as the provider's `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn access_key_id(&self) -> &str {
        &self.shared.config.access_key_id
    }

    pub fn access_key_secret(&self) -> &str {
        &self.shared.config.access_key_secret
    }

    /// Adds a domain (as adding it in the console would).
    pub fn add_domain(&self, name: &str) {
        self.shared.store.lock().expect("store").add_domain(name);
    }

    /// Adds a record as `AddDomainRecord` would, with the same rules;
    /// panics when it is refused. Returns its id.
    pub fn add_record(
        &self,
        domain: &str,
        rr: &str,
        rtype: &str,
        value: &str,
        ttl: u32,
        priority: Option<u32>,
    ) -> String {
        let f = Fields {
            rr: rr.into(),
            rtype: rtype.into(),
            value: value.into(),
            ttl: Some(ttl),
            priority,
            line: None,
        };
        self.shared
            .store
            .lock()
            .expect("store")
            .add(domain, f)
            .unwrap_or_else(|e| panic!("record refused: {e:?}"))
    }

    /// Puts a record in as it is, bypassing the rules (what another tool or
    /// the console may have left: quoted TXT, another line, disabled).
    pub fn insert_raw(&self, domain: &str, record: ApiRecord) {
        let mut store = self.shared.store.lock().expect("store");
        store
            .domains
            .get_mut(domain)
            .unwrap_or_else(|| panic!("no domain {domain}"))
            .push(record);
    }

    /// The records of `domain`, in stored order.
    pub fn records(&self, domain: &str) -> Vec<ApiRecord> {
        let store = self.shared.store.lock().expect("store");
        store
            .domains
            .get(domain)
            .cloned()
            .unwrap_or_else(|| panic!("no domain {domain}"))
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

    /// Requests that did not match the API metadata or the common rules.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().expect("violations").clone()
    }

    /// Requests received (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Successful writes (add, update, delete).
    pub fn writes(&self) -> u64 {
        self.shared.store.lock().expect("store").writes
    }

    /// The `Action` of every request received, in order.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for FakeAlidns {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
