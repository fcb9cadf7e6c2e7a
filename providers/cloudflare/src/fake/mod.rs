//! A fake Cloudflare API for tests and benchmarks: in-process
//! ([`FakeCloudflare::start`]) or as the `cloudflare-fake` binary.
//!
//! It implements the semantics mailform relies on rather than canned
//! answers — zones, record CRUD, pagination, the atomic batch endpoint,
//! CNAME conflict rules, error envelopes and codes, token checks — and
//! checks every request against the official description
//! (`shared/specs/cloudflare/cloudflare-dns.openapi.json`) through
//! `mailform-testkit`: a request the real API would refuse is answered 400
//! and recorded, and tests assert the fake's `violations()` is empty. It
//! runs on `mailform-testkit`'s fake core, which owns serving (hyper
//! directly, so that a `Drop` fault closes a connection without an
//! answer), latency, faults (429 + Retry-After, 500 before or after the
//! write, dropped connections, slow answers; here also a failing batch
//! item), the request log and violations, all reached through `Deref`.
//! A lag (`set_lag`) keeps created records out of record listings for the
//! next N listings.
//!
//! - `store`: zones and records with Cloudflare's rules.
//! - `routes`: the service: routes, checks, token and envelope.
//! - `faults`: what to inject, and when.
//! - `departures`: where the fake accepts what the description refuses, and why.

mod departures;
mod faults;
mod routes;
mod store;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use mailform_testkit::fake::FakeServer;
use serde_json::Value;

pub use faults::{CloudflareFault, Fault, FaultKind};
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

/// The service's semantics (store, checks, envelope): the core runs it.
pub struct Cloudflare {
    pub(crate) config: FakeConfig,
    pub(crate) spec: mailform_testkit::OpenApi,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) batches: AtomicU64,
}

impl Cloudflare {
    fn new(config: FakeConfig) -> Result<Cloudflare, String> {
        let doc = mailform_testkit::load_json_spec(SPEC)?;
        Ok(Cloudflare {
            spec: mailform_testkit::OpenApi::new(&doc, BASE)?,
            store: Mutex::default(),
            batches: AtomicU64::new(0),
            config,
        })
    }
}

/// A running fake. Dropping it stops the server. Faults, latency, the
/// request log (`METHOD /path` of each request) and violations are the
/// core's, through `Deref`.
pub struct FakeCloudflare {
    server: FakeServer<Cloudflare>,
}

impl Deref for FakeCloudflare {
    type Target = FakeServer<Cloudflare>;

    fn deref(&self) -> &FakeServer<Cloudflare> {
        &self.server
    }
}

impl FakeCloudflare {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeCloudflare, String> {
        Self::start_on(mailform_testkit::fake::loopback(), config).await
    }

    /// Starts on `addr`, on the current runtime.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeCloudflare, String> {
        let latency = config.latency;
        let server = FakeServer::start_on(addr, Cloudflare::new(config)?, latency).await?;
        Ok(FakeCloudflare { server })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeCloudflare, String> {
        let latency = config.latency;
        let server = FakeServer::start_background(Cloudflare::new(config)?, latency)?;
        Ok(FakeCloudflare { server })
    }

    fn cloudflare(&self) -> &Cloudflare {
        &self.server.core().service
    }

    /// The API base URL, to use as the provider's `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}{BASE}", self.addr())
    }

    pub fn token(&self) -> &str {
        &self.cloudflare().config.token
    }

    /// Adds a zone; returns its id.
    pub fn add_zone(&self, name: &str) -> String {
        self.cloudflare()
            .store
            .lock()
            .expect("store")
            .add_zone(name)
    }

    /// Adds a record to `zone` (by name) as `POST dns_records` would, with
    /// the same rules; panics when the record is refused.
    pub fn add_record(&self, zone: &str, body: Value) -> String {
        let mut store = self.cloudflare().store.lock().expect("store");
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
        let store = self.cloudflare().store.lock().expect("store");
        let z = store
            .zone_by_name(zone)
            .unwrap_or_else(|| panic!("no zone {zone}"));
        z.records.iter().map(|r| store::record_json(z, r)).collect()
    }

    /// Batches that were applied.
    pub fn batches_applied(&self) -> u64 {
        self.cloudflare().batches.load(Ordering::Relaxed)
    }
}
