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
//! vendor's error envelope. It runs on `mailform-testkit`'s fake core,
//! which owns serving, latency, faults, the request log and violations: a
//! request the metadata does not allow is refused and recorded, and tests
//! assert [`FakeAlidns`]'s `violations()` is empty (through `Deref` to the
//! core). A lag (`set_lag`) keeps new records out of
//! `DescribeDomainRecords` for the next N listings.
//!
//! - `store`: domains and records with Alidns's rules.
//! - `routes`: the service: the endpoint, its checks and its envelope.
//! - `spec`: the API metadata checks.
//! - `faults`: what to inject, and when.

mod faults;
mod routes;
mod spec;
mod store;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use mailform_testkit::fake::FakeServer;

use crate::api::ApiRecord;
pub use faults::{AlidnsFault, Fault, FaultKind};
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

/// The service's semantics (store, checks, envelope): the core runs it.
pub struct Alidns {
    pub(crate) config: FakeConfig,
    pub(crate) spec: spec::Spec,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) nonces: Mutex<HashSet<String>>,
}

impl Alidns {
    fn new(config: FakeConfig) -> Result<Alidns, String> {
        Ok(Alidns {
            spec: spec::Spec::load()?,
            store: Mutex::new(store::Store::new(config.min_ttl)),
            nonces: Mutex::default(),
            config,
        })
    }
}

/// A running fake. Dropping it stops the server. Faults, latency, the
/// request log (each request's `Action`) and violations are the core's,
/// through `Deref`.
pub struct FakeAlidns {
    server: FakeServer<Alidns>,
}

impl Deref for FakeAlidns {
    type Target = FakeServer<Alidns>;

    fn deref(&self) -> &FakeServer<Alidns> {
        &self.server
    }
}

impl FakeAlidns {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeAlidns, String> {
        Self::start_on(mailform_testkit::fake::loopback(), config).await
    }

    /// Starts on `addr`, on the current runtime.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeAlidns, String> {
        let latency = config.latency;
        let server = FakeServer::start_on(addr, Alidns::new(config)?, latency).await?;
        Ok(FakeAlidns { server })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeAlidns, String> {
        let latency = config.latency;
        let server = FakeServer::start_background(Alidns::new(config)?, latency)?;
        Ok(FakeAlidns { server })
    }

    fn alidns(&self) -> &Alidns {
        &self.server.core().service
    }

    /// The endpoint URL, to use as the provider's `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    pub fn access_key_id(&self) -> &str {
        &self.alidns().config.access_key_id
    }

    pub fn access_key_secret(&self) -> &str {
        &self.alidns().config.access_key_secret
    }

    /// Adds a domain (as adding it in the console would).
    pub fn add_domain(&self, name: &str) {
        self.alidns().store.lock().expect("store").add_domain(name);
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
        self.alidns()
            .store
            .lock()
            .expect("store")
            .add(domain, f)
            .unwrap_or_else(|e| panic!("record refused: {e:?}"))
    }

    /// Puts a record in as it is, bypassing the rules (what another tool or
    /// the console may have left: quoted TXT, another line, disabled).
    pub fn insert_raw(&self, domain: &str, record: ApiRecord) {
        let mut store = self.alidns().store.lock().expect("store");
        store
            .domains
            .get_mut(domain)
            .unwrap_or_else(|| panic!("no domain {domain}"))
            .push(record);
    }

    /// The records of `domain`, in stored order.
    pub fn records(&self, domain: &str) -> Vec<ApiRecord> {
        let store = self.alidns().store.lock().expect("store");
        store
            .domains
            .get(domain)
            .cloned()
            .unwrap_or_else(|| panic!("no domain {domain}"))
    }

    /// Successful writes (add, update, delete).
    pub fn writes(&self) -> u64 {
        self.alidns().store.lock().expect("store").writes
    }
}
