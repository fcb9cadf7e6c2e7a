//! The fake core: everything a fake server shares, so that each fake keeps
//! only its service's semantics.
//!
//! A fake implements [`Service`] (its routes, how it names an operation,
//! its description check, its authentication and its error envelope) and
//! runs as a [`FakeServer`], which owns the rest: serving on loopback (on
//! the caller's runtime or its own), the bounded request log, the recorded
//! violations, injected latency and [`FaultKind`]s, and [`Lag`].
//!
//! Every request passes one pipeline, in this order: count and log → the
//! service's description check (a violation is recorded and answered with
//! the service's 400) → latency → fault → authentication → the handler →
//! an `AfterWrite` fault.
//!
//! - `server`: the listener, the runtime and the pipeline.
//! - `lag`: eventual consistency for listings.

mod lag;
mod server;

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::response::Response;
use axum::Router;

pub use lag::Lag;
pub use server::{loopback, FakeServer};

use crate::faults;

/// What goes wrong, for every fake alike; `X` is the service's own kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind<X> {
    /// The service's rate-limit answer, with `Retry-After: secs` when given.
    Throttle {
        /// Seconds for the `Retry-After` header; no header when `None`.
        retry_after: Option<u64>,
    },
    /// A 5xx before the handler runs: nothing was done.
    Unavailable,
    /// The handler runs, then a 5xx: the write happened, the answer says
    /// nothing of it.
    AfterWrite,
    /// The answer comes after this delay.
    Slow(Duration),
    /// The connection is closed without an answer.
    Drop,
    /// A service-specific fault, taken by the service's handlers through
    /// [`Core::take_vendor`].
    Vendor(X),
}

/// One injected fault of a fake whose own kinds are `X`.
pub type Fault<X> = faults::Fault<FaultKind<X>>;

/// The standard faults a service must phrase in its own envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standard {
    /// [`FaultKind::Throttle`].
    Throttle,
    /// [`FaultKind::Unavailable`].
    Unavailable,
    /// [`FaultKind::AfterWrite`].
    AfterWrite,
}

/// A request the service refuses before its handler: the answer, and the
/// violation to record when the real service would refuse it too (a
/// request the description does not allow).
#[derive(Debug)]
pub struct Refusal<E> {
    /// Recorded in [`Core::violations`] when given.
    pub violation: Option<String>,
    /// The service's error, answered through [`Service::error`].
    pub error: E,
}

impl<E> Refusal<E> {
    /// A refusal that is the client's mistake: recorded as a violation.
    pub fn violation(violation: impl Into<String>, error: E) -> Refusal<E> {
        Refusal {
            violation: Some(violation.into()),
            error,
        }
    }

    /// A refusal the client may legitimately meet (a bad key): not recorded.
    pub fn answer(error: E) -> Refusal<E> {
        Refusal {
            violation: None,
            error,
        }
    }
}

/// A fake's service semantics; the [`FakeServer`] does the rest.
pub trait Service: Sized + Send + Sync + 'static {
    /// Service-specific fault kinds ([`FaultKind::Vendor`]).
    type Extra: Clone + Debug + PartialEq + Send + 'static;
    /// The service's error (status, code, message).
    type Error: Send;

    /// The name faults match on and the request log records (an RPC
    /// action, `"GET /path"`).
    fn operation(&self, parts: &Parts, body: &Bytes) -> String;

    /// Whether a fault's `on` pattern names `operation`; equality unless
    /// the service says otherwise.
    fn matches(&self, pattern: &str, operation: &str) -> bool {
        pattern == operation
    }

    /// The request against the service's description (OpenAPI, discovery,
    /// RPC metadata).
    fn check(&self, parts: &Parts, body: &Bytes) -> Result<(), Refusal<Self::Error>>;

    /// Credentials, after faults.
    fn authenticate(&self, parts: &Parts, body: &Bytes) -> Result<(), Refusal<Self::Error>>;

    /// The service's answer to a standard fault.
    fn fault_error(&self, fault: Standard) -> Self::Error;

    /// The error in the service's envelope.
    fn error(core: &Core<Self>, error: Self::Error) -> Response;

    /// The service's routes, with the core as their state.
    fn routes(core: Arc<Core<Self>>) -> Router;
}

/// How many log lines are kept: a benchmark sends thousands of requests.
const LOG_LIMIT: usize = 100_000;

/// The state every request shares: the service, faults, log, violations,
/// latency, the request count and lags.
pub struct Core<S: Service> {
    /// The service's semantics and store.
    pub service: S,
    faults: Mutex<Vec<Fault<S::Extra>>>,
    log: Mutex<Vec<String>>,
    violations: Mutex<Vec<String>>,
    latency: Mutex<Duration>,
    requests: AtomicU64,
    /// Newly written objects that listings do not show yet.
    pub lag: Mutex<Lag>,
}

impl<S: Service> Core<S> {
    /// A core around `service`, answering after `latency`.
    pub fn new(service: S, latency: Duration) -> Core<S> {
        Core {
            service,
            faults: Mutex::default(),
            log: Mutex::default(),
            violations: Mutex::default(),
            latency: Mutex::new(latency),
            requests: AtomicU64::new(0),
            lag: Mutex::default(),
        }
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault<S::Extra>) {
        self.faults.lock().expect("faults").push(fault);
    }

    /// Faults injected but not (fully) fired yet.
    pub fn pending_faults(&self) -> Vec<Fault<S::Extra>> {
        self.faults.lock().expect("faults").clone()
    }

    /// Sets the delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        *self.latency.lock().expect("latency") = latency;
    }

    /// From now on, each object written stays out of listings for the
    /// next `reads` list reads (see [`Lag`]).
    pub fn set_lag(&self, reads: usize) {
        self.lag.lock().expect("lag").set(reads);
    }

    /// Requests the service's description does not allow.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().expect("violations").clone()
    }

    /// Records a violation found by a handler.
    pub fn violation(&self, v: impl Into<String>) {
        self.violations.lock().expect("violations").push(v.into());
    }

    /// Requests received (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The operation of every request received, in order (the first
    /// 100 000).
    pub fn request_log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Takes the service-specific fault for `operation`, if one fires.
    pub fn take_vendor(&self, operation: &str) -> Option<S::Extra> {
        match self.take(operation, |k| matches!(k, FaultKind::Vendor(_)))? {
            FaultKind::Vendor(x) => Some(x),
            _ => None,
        }
    }

    fn take(
        &self,
        operation: &str,
        want: impl Fn(&FaultKind<S::Extra>) -> bool,
    ) -> Option<FaultKind<S::Extra>> {
        faults::take_where(
            &mut self.faults.lock().expect("faults"),
            |on| self.service.matches(on, operation),
            want,
        )
    }

    fn received(&self, operation: String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut log = self.log.lock().expect("log");
        if log.len() < LOG_LIMIT {
            log.push(operation);
        }
    }

    fn latency(&self) -> Duration {
        *self.latency.lock().expect("latency")
    }
}
