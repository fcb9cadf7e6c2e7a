//! Fake Google Workspace APIs for tests and benchmarks: in-process
//! ([`FakeGoogle::start`]) or as the `google-fake` binary.
//!
//! It implements the semantics mailform relies on, not canned answers:
//! - the OAuth token endpoint for service accounts: the JWT's RS256
//!   signature is checked against the key it issued
//!   ([`FakeGoogle::service_account_key`]), with its audience, lifetime
//!   (≤ 1 h), issuer, subject (a known admin) and scopes (only those
//!   "delegated" in [`FakeConfig::delegated_scopes`], else
//!   `unauthorized_client`); the token it issues carries the scopes the
//!   grant asked for;
//! - bearer tokens (401) and per-method scopes taken from each method's
//!   `scopes` in the discovery documents
//!   ([`mailform_testkit::Discovery::scopes`]): a token holding none of
//!   them is answered Google's 403 (`insufficientPermissions`,
//!   `ACCESS_TOKEN_SCOPE_INSUFFICIENT`, "Request had insufficient
//!   authentication scopes."); no scope rule is written by hand;
//! - the Directory API's users, user and group aliases, groups and
//!   members, and the Groups Settings API's `whoCanPostMessage`, with one
//!   address space (409 `duplicate`), keys by id or address (404),
//!   `pageToken` paging, Atom unless `alt=json` for Groups Settings, 412 to
//!   two alias edits of one object in one batch, and "User creation is not
//!   complete" for a while after a user is created (a knob);
//! - the batch endpoints of both APIs (`multipart/mixed`, at most 1,000
//!   calls, each part checked and answered as a request of its own);
//! - every request checked against the discovery documents in
//!   `shared/specs/google/` ([`mailform_testkit::Discovery`]): a request they
//!   do not allow is answered 400 and recorded; tests assert
//!   [`FakeGoogle::violations`] is empty;
//! - offboarding's APIs: Gmail forwarding addresses (accepted at once for
//!   the tenant's domains, pending otherwise) and automatic forwarding, as
//!   the user itself (the token's subject must be the mailbox), Data
//!   Transfer applications and transfers, `signOut`, and organisational
//!   units that must exist;
//! - domains (`domains.get` / `insert`: 409 `duplicate` for one the tenant
//!   has; a domain inserted after its verification is `verified: true`,
//!   one inserted before reads `verified: false` until it is verified),
//!   domain aliases (`domainAliases.get` / `list` / `insert`: 409 for a
//!   name the tenant has, 400 unless the parent is a verified domain of
//!   the tenant, verified as domains are; an address at an alias is its
//!   parent's, wherever users and groups are looked up by address), and
//!   the Site Verification API: `getToken` (the same `DNS_TXT` token for
//!   one domain and admin), `webResource.insert`, which looks for that
//!   token at the domain's apex — asking [`FakeConfig::dns_server`], or
//!   in the values published with [`FakeGoogle::publish_txt`] — and
//!   answers 400 "The necessary verification token could not be found on
//!   your site." when it is not there, and `webResource.get`;
//! - faults ([`faults`]) and latency injected per test.
//!
//! Where it deliberately departs from the descriptions and Google:
//! - the Groups Settings API's Atom answer (without `alt=json`) is an
//!   empty entry: mailform always asks for JSON, the Atom only marks the
//!   mistake;
//! - the 403 for missing scopes names the discovery method id in
//!   `metadata.method`, where Google names an internal RPC (e.g.
//!   `ccc.hosted.frontend.directory.v1.DirectoryUsers.SignOut`), which no
//!   client reads;
//! - every administrator in [`FakeConfig::admins`] has every privilege:
//!   admin roles (and the 403 `Not Authorized to access this resource/api`
//!   a missing privilege gets) are not modelled, only delegation and
//!   scopes;
//! - the discovery check (400) comes before the token (401) and its
//!   scopes (403); Google does not document the order of its checks;
//!   a batch part is checked with the outer request's token, as at Google.
//!
//! Google's documentation of the semantics: Directory API "Limits and
//! quotas", "Manage user accounts" and "Manage domains"
//! (developers.google.com/workspace/admin/directory), and the Site
//! Verification API's "Verify a site or domain"
//! (developers.google.com/site-verification).

mod dns;
pub mod faults;
mod routes;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::net::TcpListener;

pub use faults::{Fault, FaultKind};
pub use store::{FakeGroup, FakeMember, FakeUser, Store};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The tenant's domains: addresses elsewhere are refused.
    pub domains: Vec<String>,
    /// Administrators a service account may act as.
    pub admins: Vec<String>,
    pub client_email: String,
    pub client_id: String,
    /// Scopes the tenant's admin has authorised for the client id
    /// (domain-wide delegation); a grant asking for any other is refused
    /// `unauthorized_client`. Default: what the README tells admins to
    /// delegate ([`crate::auth::scopes::DELEGATED`]).
    pub delegated_scopes: Vec<String>,
    /// Requests a new user answers "User creation is not complete" to.
    pub settle_requests: u32,
    pub latency: Duration,
    /// Where `webResource.insert` looks for a domain's verification TXT
    /// record (a non-recursive TCP query, nothing cached). `None`: in the
    /// values published with [`FakeGoogle::publish_txt`].
    pub dns_server: Option<SocketAddr>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        use crate::auth::scopes;
        FakeConfig {
            domains: vec!["example.com".into()],
            admins: vec!["admin@example.com".into()],
            client_email: "mailform@fake-project.iam.gserviceaccount.com".into(),
            client_id: "104211111111111111111".into(),
            delegated_scopes: scopes::DELEGATED.iter().map(|s| s.to_string()).collect(),
            settle_requests: 0,
            latency: Duration::ZERO,
            dns_server: None,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) directory_spec: mailform_testkit::Discovery,
    pub(crate) settings_spec: mailform_testkit::Discovery,
    pub(crate) gmail_spec: mailform_testkit::Discovery,
    pub(crate) transfer_spec: mailform_testkit::Discovery,
    pub(crate) site_spec: mailform_testkit::Discovery,
    pub(crate) public_key_der: Vec<u8>,
    pub(crate) store: Mutex<store::Store>,
    /// Access token → (the user it acts as, its scopes).
    pub(crate) tokens: Mutex<HashMap<String, (String, Vec<String>)>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) violations: Mutex<Vec<String>>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
}

impl Shared {
    pub(crate) fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    fn log(&self, method: &str) {
        let mut log = self.log.lock().expect("log");
        if log.len() < 200_000 {
            log.push(method.to_string());
        }
    }

    fn violation(&self, v: String) {
        self.violations.lock().expect("violations").push(v);
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeGoogle {
    shared: Arc<Shared>,
    private_key_pem: String,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeGoogle {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeGoogle, String> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeGoogle, String> {
        let load = |f: &str| {
            mailform_testkit::load_json_spec(f).and_then(|d| mailform_testkit::Discovery::new(&d))
        };
        let directory_spec = load("google/admin.directory_v1.json")?;
        let settings_spec = load("google/groupssettings.v1.json")?;
        let gmail_spec = load("google/gmail.v1.json")?;
        let transfer_spec = load("google/admin.datatransfer_v1.json")?;
        let site_spec = load("google/siteVerification.v1.json")?;
        let (private_key_pem, public_key_der) = generate_key()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let store = store::Store {
            domains: config.domains.clone(),
            org_units: vec!["/".into(), "/Offboarded".into()],
            settle_requests: config.settle_requests,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            latency: Mutex::new(config.latency),
            config,
            addr,
            directory_spec,
            settings_spec,
            gmail_spec,
            transfer_spec,
            site_spec,
            public_key_der,
            store: Mutex::new(store),
            tokens: Mutex::default(),
            faults: Mutex::default(),
            violations: Mutex::default(),
            log: Mutex::default(),
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        });
        let router = routes::router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(FakeGoogle {
            shared,
            private_key_pem,
            task: Some(task),
            runtime: None,
        })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeGoogle, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut fake = runtime.block_on(Self::start(config))?;
        fake.runtime = Some(runtime);
        Ok(fake)
    }

    /// The base URL: give it as `directory_endpoint`,
    /// `groups_settings_endpoint`, `gmail_endpoint` and
    /// `site_verification_endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Give it as `token_endpoint`.
    pub fn token_url(&self) -> String {
        self.shared.token_url()
    }

    /// A service-account key file (JSON) whose private key this fake
    /// trusts.
    pub fn service_account_key(&self) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": "0000000000000000000000000000000000000000",
            "private_key": self.private_key_pem,
            "client_email": self.shared.config.client_email,
            "client_id": self.shared.config.client_id,
            "token_uri": self.token_url(),
        })
        .to_string()
    }

    /// Runs `f` on the tenant's state (to seed it or look at it).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut store::Store) -> R) -> R {
        f(&mut self.shared.store.lock().expect("store"))
    }

    /// Adds a user as an admin would in the console.
    pub fn add_user(&self, email: &str, given: &str, family: &str) -> String {
        let body = serde_json::json!({
            "primaryEmail": email,
            "name": {"givenName": given, "familyName": family},
            "password": "$6$seed$seed",
            "hashFunction": "crypt",
        });
        self.with_store(|s| {
            let settle = std::mem::take(&mut s.settle_requests);
            let r = s.insert_user(&body);
            s.settle_requests = settle;
            r.map(|u| u["id"].as_str().unwrap_or_default().to_string())
                .unwrap_or_else(|e| panic!("user refused: {e:?}"))
        })
    }

    /// Serves `value` in the TXT set at `domain`'s apex, as a DNS provider
    /// would once the engine published it (without a
    /// [`FakeConfig::dns_server`]).
    pub fn publish_txt(&self, domain: &str, value: &str) {
        self.with_store(|s| {
            s.published_txt
                .entry(domain.trim_end_matches('.').to_ascii_lowercase())
                .or_default()
                .push(value.to_string())
        })
    }

    /// The `DNS_TXT` token `getToken` gives `admin` for `domain`.
    pub fn verification_token(domain: &str, admin: &str) -> String {
        store::verification_token(domain, admin)
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults").push(fault);
    }

    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("latency") = latency;
    }

    /// Requests the discovery documents do not allow.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().expect("violations").clone()
    }

    /// Requests received, the token endpoint's included.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::Relaxed)
    }

    /// Successful writes.
    pub fn writes(&self) -> u64 {
        self.with_store(|s| s.writes)
    }

    /// The discovery method id of every API request, in order.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A fresh RSA-2048 key: the private half as PKCS#8 PEM (as in Google's
/// key files), the public half as PKCS#1 DER for checking signatures.
fn generate_key() -> Result<(String, Vec<u8>), String> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
    let der = pair.as_der().map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok((pem, pair.public_key().as_ref().to_vec()))
}
