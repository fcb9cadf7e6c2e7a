//! A fake Alibaba Mail Open API for tests: in-process
//! ([`FakeAlimail::start`]) or as the `alimail-fake` binary.
//!
//! It implements the semantics the provider relies on rather than canned
//! answers: OAuth2 client-credential tokens that expire and are checked on
//! every call (401 on a missing, unknown or expired one), departments and
//! users with ids, offset/limit paging (limit 1–100, as documented), 409 on
//! an address already in use, 404 on unknown ids, and strict bodies (an
//! unknown or missing field is a 400). Faults — 429 with or without
//! `Retry-After`, 500 before or after the write is done, slow answers — are
//! injected per test ([`Fault`]); every request is counted by route, token
//! requests included.
//!
//! The shapes it serves are those of the research notes, with their
//! confidence (see the crate doc); where the notes are UNCERTAIN (the alias
//! calls, the error body) the fake follows the provider's reading, so it
//! cannot prove that reading right — only that the provider is consistent
//! and safe with it.
//!
//! - `store`: the organisation and its rules.
//! - `routes`: the HTTP surface and the checks every request passes.

mod routes;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::api::{ApiUser, ROOT_DEPARTMENT, STATUS_NORMAL};

/// The route names faults and counts use.
pub mod route {
    pub const TOKEN: &str = "token";
    pub const SUB_DEPARTMENTS: &str = "list_sub_departments";
    pub const DEPARTMENT_USERS: &str = "list_department_users";
    pub const GET_USER: &str = "get_user";
    pub const CREATE_USER: &str = "create_user";
    pub const UPDATE_USER: &str = "update_user";
    pub const DELETE_USER: &str = "delete_user";
    pub const ADD_ALIAS: &str = "add_alias";
    pub const DELETE_ALIAS: &str = "delete_alias";
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The `expires_in` of the tokens it issues.
    pub token_lifetime: Duration,
    /// Delay before every answer.
    pub latency: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            client_id: "fake-alimail-app-id".into(),
            client_secret: "fake-alimail-app-secret-0123456789".into(),
            token_lifetime: Duration::from_secs(7200),
            latency: Duration::ZERO,
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 429, with `Retry-After: n` when given; nothing is done.
    TooManyRequests(Option<u64>),
    /// HTTP 500 before anything is done.
    ServerError,
    /// The write is carried out, then HTTP 500 is answered (an outcome the
    /// client cannot know).
    ServerErrorAfterWrite,
    /// The answer comes after this delay.
    Slow(Duration),
}

/// One injected fault: matches requests by route (any when `None`), lets
/// `skip` of them through, then fires `times` times.
pub type Fault = mailform_testkit::faults::Fault<FaultKind>;

fn take_fault(faults: &mut Vec<Fault>, route: &str) -> Option<FaultKind> {
    mailform_testkit::faults::take(faults, route)
}

/// State shared by every request.
pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) latency: Mutex<Duration>,
    /// Issued token → when it expires.
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) counts: Mutex<BTreeMap<String, u64>>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) requests: AtomicU64,
}

impl Shared {
    fn record(&self, route: &str, what: String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .counts
            .lock()
            .expect("counts")
            .entry(route.to_string())
            .or_default() += 1;
        let mut log = self.log.lock().expect("log");
        if log.len() < 100_000 {
            log.push(what);
        }
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeAlimail {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeAlimail {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeAlimail, String> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`, on the current runtime.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeAlimail, String> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            latency: Mutex::new(config.latency),
            config,
            store: Mutex::new(store::Store::new()),
            faults: Mutex::default(),
            tokens: Mutex::default(),
            counts: Mutex::default(),
            log: Mutex::default(),
            requests: AtomicU64::new(0),
        });
        let router = routes::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeAlimail {
            addr,
            shared,
            task: Some(task),
            runtime: None,
        })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeAlimail, String> {
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
        format!("http://{}", self.addr)
    }

    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.config.client_secret
    }

    fn store(&self) -> std::sync::MutexGuard<'_, store::Store> {
        self.shared.store.lock().expect("store")
    }

    /// Adds a department under `parent` (`$root` for the top level), as the
    /// console would; returns its id.
    pub fn add_department(&self, name: &str, parent: &str) -> String {
        self.store()
            .add_department(name, parent)
            .unwrap_or_else(|e| panic!("department refused: {e:?}"))
    }

    /// Adds an active user to `department`, as the console would; returns
    /// its id.
    pub fn add_user(&self, email: &str, name: &str, department: &str) -> String {
        let mut store = self.store();
        let u = store
            .create_user(email, name, STATUS_NORMAL, vec![department.to_string()])
            .unwrap_or_else(|e| panic!("user refused: {e:?}"));
        store.writes -= 1;
        u.id
    }

    /// Adds a user to the root department.
    pub fn add_root_user(&self, email: &str, name: &str) -> String {
        self.add_user(email, name, ROOT_DEPARTMENT)
    }

    /// Adds an alias to a user, as the console would.
    pub fn add_alias(&self, user: &str, alias: &str) {
        let mut store = self.store();
        store
            .add_alias(user, alias)
            .unwrap_or_else(|e| panic!("alias refused: {e:?}"));
        store.writes -= 1;
    }

    /// Puts a user in as it is, bypassing the rules.
    pub fn insert_raw(&self, user: ApiUser) {
        self.store().users.insert(user.id.clone(), user);
    }

    /// The user with this id or address.
    pub fn user(&self, key: &str) -> Option<ApiUser> {
        let store = self.store();
        let id = store.resolve(key).ok()?;
        store.users.get(&id).cloned()
    }

    /// Every user, in creation order.
    pub fn users(&self) -> Vec<ApiUser> {
        self.store().users.values().cloned().collect()
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

    /// Makes every token issued so far expire now.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in self.shared.tokens.lock().expect("tokens").values_mut() {
            *t = now;
        }
    }

    /// Requests received (every attempt counts).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Requests received for `route` (see [`route`]).
    pub fn count(&self, route: &str) -> u64 {
        self.shared
            .counts
            .lock()
            .expect("counts")
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// Token requests received.
    pub fn token_requests(&self) -> u64 {
        self.count(route::TOKEN)
    }

    /// Successful API writes (not counting what the test set up).
    pub fn writes(&self) -> u64 {
        self.store().writes
    }

    /// `METHOD path` of every request received, in order.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for FakeAlimail {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
