//! A fake Microsoft identity platform and Microsoft Graph for tests and
//! benchmarks: in-process ([`FakeGraph::start`]) or as the `m365-fake`
//! binary. Give [`FakeGraph::url`] as both `graph_endpoint` and
//! `login_endpoint`.
//!
//! It implements the semantics mailform relies on, not canned answers:
//! - the client-credentials token endpoint
//!   (`/{tenant}/oauth2/v2.0/token`): the tenant (id or one of its
//!   domains; else `AADSTS90002`), the client id (`AADSTS700016`), the
//!   secret (`AADSTS7000215`), `grant_type` and the `.default` scope, with
//!   the identity platform's error bodies;
//! - bearer tokens (401 `InvalidAuthenticationToken`) and the application
//!   permissions consented to ([`FakeConfig::roles`]; else 403
//!   `Authorization_RequestDenied`);
//! - users, groups, members and domains with Graph's rules (see
//!   [`store`]), domain onboarding (`POST /domains`, the verification
//!   records, `verify` checking the token is served (module `dns`),
//!   `supportedServices`, the service configuration records with
//!   Microsoft's values), DKIM signing configs through the fake Exchange
//!   (enabled only once their selector CNAMEs are served), `$select` projections, and paging by `$top` (default 100,
//!   at most 999) with `@odata.nextLink` carrying an opaque `$skiptoken`;
//! - `$batch`: at most 20 requests with unique ids, each answered on its
//!   own (faults included), the answers in another order than asked;
//! - every request — and every `$batch` sub-request — checked against
//!   `shared/specs/microsoft/graph-mail.lite.openapi.yaml`
//!   ([`mailform_testkit::OpenApi`]), plus what the description cannot
//!   say: the five properties the docs require on user create, and a
//!   `Content-Type` header on a sub-request with a body. A request that
//!   fails is answered 400 and recorded; tests assert
//!   [`FakeGraph::violations`] is empty;
//! - faults ([`faults`]) and latency injected per test.
//!
//! Two adjustments to the description, both because the converter cannot
//! express what Graph accepts: `$skiptoken` (which Graph adds to its own
//! next links) is checked by the fake, not the description; and the
//! `$select` of `/groups/{id}/members` lists only `directoryObject`'s
//! properties, while Graph takes those of the derived types (`mail`,
//! `userPrincipalName`, `displayName`), so these are added.
//!
//! Eventual consistency (defaults on): a user or group created through
//! Graph is missing from the next [`FakeConfig::listing_lag`] listings
//! (`GET /users`, `GET /groups`; a next-link page does not count) while
//! `GET` by id finds it at once; a new user is not found by member
//! additions for [`FakeConfig::replication_lag`] tries and by Exchange for
//! [`FakeConfig::exchange_provisioning_lag`] calls. [`FakeGraph::settle`]
//! is time passing (tests call it between runs of the binary). Graph
//! documents the lag but not its length ("Overview of Microsoft Graph",
//! advanced queries and `ConsistencyLevel: eventual` on learn.microsoft.com);
//! counting reads instead of seconds keeps tests deterministic.
//!
//! Deliberate departures from Graph, and why:
//! - the lags count requests, not time (above);
//! - objects Exchange creates (shared mailboxes, distribution lists) are
//!   listed by Graph at once, and memberships and property changes are
//!   seen at once: no client path depends on them yet, and modelling
//!   every replication would make each test settle by hand;
//! - the Exchange endpoint refuses a JSON-object parameter without
//!   `"@odata.type": "#Exchange.GenericHashTable"` with a 400
//!   `ParameterBindingException` (see the `exchange` module of this
//!   crate for the evidence that the type is needed); what Exchange
//!   answers instead is **not confirmed** — it may bind the object as
//!   something else and ignore the edit;
//! - `ForwardingSmtpAddress` keeps the `smtp:` prefix it was given, and
//!   refusal texts other than those quoted from the docs are plausible,
//!   not verbatim (see `exchange`).
//!
//! Microsoft's documentation of the semantics: "Paging Microsoft Graph
//! data in your app", "Combine multiple HTTP requests using JSON
//! batching", "Microsoft Graph throttling guidance" and "Microsoft
//! identity platform and the OAuth 2.0 client credentials flow" on
//! learn.microsoft.com.

mod assertion;
mod dns;
mod exchange;
pub mod faults;
mod routes;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;

pub use assertion::FakeCertificate;
pub use faults::{Fault, FaultKind};
pub use store::{FakeGroup, FakeSku, FakeUser, Store};

/// The token audience of Graph.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// The token audience of Exchange Online.
pub const EXCHANGE_AUDIENCE: &str = "https://outlook.office365.com";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The directory id.
    pub tenant_id: String,
    /// Verified domains; the first is the default one. The tenant's
    /// `*.onmicrosoft.com` domain is added.
    pub domains: Vec<String>,
    /// The tenant's initial domain, e.g. `contoso.onmicrosoft.com`.
    pub initial_domain: String,
    pub client_id: String,
    pub client_secret: String,
    /// A certificate registered on the app: client assertions signed with
    /// its key are accepted too.
    pub certificate: Option<FakeCertificate>,
    /// Application permissions an admin consented to.
    pub roles: Vec<String>,
    /// Member additions a user created through the API answers 404 to
    /// before it has replicated.
    pub replication_lag: u32,
    /// How many listings of `/users` (or `/groups`) a user (group)
    /// created through Graph is missing from, while `GET` by id finds it
    /// at once: Graph's directory is eventually consistent. Default 1, so
    /// a client that looks up what it just created in a listing fails
    /// here as it may against Graph. [`FakeGraph::settle`] ends it.
    pub listing_lag: u32,
    pub latency: Duration,
    /// Whether the app holds `Exchange.ManageAsApp` and an Exchange role
    /// (else Exchange answers 401 `Unauthorized`, as it does).
    pub exchange_admin: bool,
    /// Exchange calls a user or group created through Graph answers 404
    /// before Exchange has provisioned it (its mailbox).
    pub exchange_provisioning_lag: u32,
    /// The tenant's subscriptions (`GET /subscribedSkus`).
    pub skus: Vec<FakeSku>,
    /// The DNS server `POST /domains/{id}/verify` asks (without recursion)
    /// for the domain's TXT records; when unset, the values published with
    /// [`FakeGraph::publish_txt`] count.
    pub dns_server: Option<SocketAddr>,
    /// How many `New-`/`Set-DkimSigningConfig` calls naming a domain
    /// verified through the API Exchange answers that it is not an
    /// accepted domain (Exchange Online learns of it minutes later).
    /// Default 0.
    pub exchange_domain_lag: u32,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            tenant_id: "7d3c1a52-0f6b-4c8e-9a41-2b5e6f7a8c90".into(),
            domains: vec!["example.com".into()],
            initial_domain: "contoso.onmicrosoft.com".into(),
            client_id: "3f9e2b71-4c5d-4e6f-8a9b-0c1d2e3f4a5b".into(),
            client_secret: "fake~secret.Value_0123456789abcdefghij".into(),
            certificate: None,
            roles: crate::auth::permissions::ALL
                .iter()
                .chain(&[crate::auth::permissions::DOMAINS_WRITE])
                .map(|s| s.to_string())
                .collect(),
            replication_lag: 0,
            listing_lag: 1,
            latency: Duration::ZERO,
            exchange_admin: true,
            exchange_provisioning_lag: 0,
            skus: vec![FakeSku {
                sku_id: "6fd2c87f-b296-42f0-b197-1e91e994b900".into(),
                sku_part_number: "ENTERPRISEPACK".into(),
                enabled: 25,
                consumed: 0,
            }],
            dns_server: None,
            exchange_domain_lag: 0,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) config: FakeConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) spec: mailform_testkit::OpenApi,
    pub(crate) store: Mutex<store::Store>,
    /// Token → (audience, application permissions).
    pub(crate) tokens: Mutex<HashMap<String, (String, Vec<String>)>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) violations: Mutex<Vec<String>>,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) log: Mutex<Vec<String>>,
    pub(crate) requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
}

impl Shared {
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self, operation: &str) {
        let mut log = self.log.lock().expect("log");
        if log.len() < 200_000 {
            log.push(operation.to_string());
        }
    }

    fn violation(&self, v: String) {
        self.violations.lock().expect("violations").push(v);
    }
}

/// The description with the two adjustments the module doc lists.
fn load_spec() -> Result<mailform_testkit::OpenApi, String> {
    let mut doc = mailform_testkit::load_yaml_spec("microsoft/graph-mail.lite.openapi.yaml")?;
    if let Some(params) = doc
        .pointer_mut("/paths/~1groups~1{id}~1members/get/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in params.iter_mut() {
            if p["name"] == "$select" {
                if let Some(e) = p
                    .pointer_mut("/schema/items/enum")
                    .and_then(Value::as_array_mut)
                {
                    for extra in ["mail", "userPrincipalName", "displayName"] {
                        e.push(Value::String(extra.into()));
                    }
                }
            }
        }
    }
    add_licence_paths(&mut doc);
    mailform_testkit::OpenApi::new(&doc, "/v1.0")
}

/// `GET /subscribedSkus`, `POST /users/{id}/assignLicense` and `POST
/// /users/{id}/revokeSignInSessions`, which the reduced description lacks:
/// added here, from "List subscribedSkus", "user: assignLicense" and "user:
/// revokeSignInSessions" on learn.microsoft.com (request bodies as
/// documented; only the properties mailform sends or reads).
fn add_licence_paths(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    paths.entry("/subscribedSkus").or_insert(serde_json::json!({
        "get": {
            "summary": "List subscribedSkus (ADDED by the fake: absent from the reduced description)",
            "parameters": [{
                "name": "$select", "in": "query", "explode": false,
                "schema": {"type": "array", "uniqueItems": true, "items": {"type": "string", "enum": [
                    "id", "accountId", "accountName", "appliesTo", "capabilityStatus", "consumedUnits",
                    "prepaidUnits", "servicePlans", "skuId", "skuPartNumber", "subscriptionIds"
                ]}}
            }],
            "responses": {"200": {"description": "OK"}}
        }
    }));
    // "user: revokeSignInSessions" on learn.microsoft.com: no body,
    // answered `{"value": true}`.
    paths
        .entry("/users/{id}/revokeSignInSessions")
        .or_insert(serde_json::json!({
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "post": {
                "summary": "user: revokeSignInSessions (ADDED by the fake: absent from the reduced description)",
                "responses": {"200": {"description": "OK"}}
            }
        }));
    paths.entry("/users/{id}/assignLicense").or_insert(serde_json::json!({
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "post": {
            "summary": "user: assignLicense (ADDED by the fake: absent from the reduced description)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["addLicenses", "removeLicenses"],
                "additionalProperties": false,
                "properties": {
                    "addLicenses": {"type": "array", "items": {
                        "type": "object", "required": ["skuId"], "additionalProperties": false,
                        "properties": {
                            "skuId": {"type": "string", "format": "uuid"},
                            "disabledPlans": {"type": "array", "items": {"type": "string", "format": "uuid"}}
                        }
                    }},
                    "removeLicenses": {"type": "array", "items": {"type": "string", "format": "uuid"}}
                }
            }}}},
            "responses": {"200": {"description": "OK"}}
        }
    }));
}

/// A running fake. Dropping it stops the server.
pub struct FakeGraph {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeGraph {
    /// Starts on 127.0.0.1 at an unused port, on the current runtime.
    pub async fn start(config: FakeConfig) -> Result<FakeGraph, String> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> Result<FakeGraph, String> {
        let spec = load_spec()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut domains: Vec<String> = config
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let initial = config.initial_domain.to_ascii_lowercase();
        if !domains.contains(&initial) {
            domains.push(initial.clone());
        }
        let store = store::Store {
            default_domain: domains[0].clone(),
            domains,
            initial_domain: initial,
            replication_lag: config.replication_lag,
            listing_lag: config.listing_lag,
            skus: config.skus.clone(),
            exchange_lag: config.exchange_provisioning_lag,
            exchange_domain_lag: config.exchange_domain_lag,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            latency: Mutex::new(config.latency),
            config,
            addr,
            spec,
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
        Ok(FakeGraph {
            shared,
            task: Some(task),
            runtime: None,
        })
    }

    /// Starts on its own runtime, for synchronous tests (assert_cmd).
    pub fn start_background(config: FakeConfig) -> Result<FakeGraph, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut fake = runtime.block_on(Self::start(config))?;
        fake.runtime = Some(runtime);
        Ok(fake)
    }

    /// The base URL: give it as `graph_endpoint` and `login_endpoint`.
    pub fn url(&self) -> String {
        self.shared.base()
    }

    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Runs `f` on the tenant's state (to seed it or look at it).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut store::Store) -> R) -> R {
        f(&mut self.shared.store.lock().expect("store"))
    }

    /// Adds a user with a mailbox, as an admin would in the console.
    pub fn add_user(&self, address: &str, display_name: &str) -> String {
        let body = serde_json::json!({
            "accountEnabled": true,
            "displayName": display_name,
            "mailNickname": crate::convert::user_nickname(address).unwrap_or_else(|_| "user".into()),
            "userPrincipalName": address,
            "passwordProfile": {"password": "Seed-Passw0rd", "forceChangePasswordNextSignIn": true},
        });
        self.with_store(|s| {
            let (writes, lag) = (s.writes, std::mem::take(&mut s.replication_lag));
            let exchange_lag = std::mem::take(&mut s.exchange_lag);
            let listing_lag = std::mem::take(&mut s.listing_lag);
            let r = s.insert_user(&body);
            s.writes = writes;
            s.replication_lag = lag;
            s.exchange_lag = exchange_lag;
            s.listing_lag = listing_lag;
            r.map(|u| u["id"].as_str().unwrap_or_default().to_string())
                .unwrap_or_else(|e| panic!("user refused: {e:?}"))
        })
    }

    /// Adds a Microsoft 365 group at the default domain with these
    /// members (user ids), as an admin would.
    pub fn add_group(&self, nickname: &str, name: &str, members: &[String]) -> String {
        let body = serde_json::json!({
            "displayName": name, "mailEnabled": true, "mailNickname": nickname,
            "securityEnabled": false, "groupTypes": ["Unified"],
        });
        self.with_store(|s| {
            let writes = s.writes;
            let g = s
                .insert_group(&body)
                .unwrap_or_else(|e| panic!("group refused: {e:?}"));
            let id = g["id"].as_str().unwrap_or_default().to_string();
            let group = s.groups.get_mut(&id).expect("group");
            group.members = members.to_vec();
            group.exchange_pending = 0;
            group.unlisted = 0;
            s.writes = writes;
            id
        })
    }

    /// Time passes: every object created so far shows in listings (as
    /// it does on Graph seconds later, e.g. for a later `plan`).
    pub fn settle(&self) {
        self.with_store(store::Store::settle)
    }

    /// Adds a secondary SMTP address to a user, as Exchange would.
    pub fn add_proxy_address(&self, user_id: &str, address: &str) {
        self.with_store(|s| {
            s.users
                .get_mut(user_id)
                .expect("user")
                .proxy_addresses
                .push(format!("smtp:{address}"))
        })
    }

    /// Adds a distribution list (or, `security`, a mail-enabled security
    /// group), as Exchange would.
    pub fn add_exchange_group(&self, address: &str, name: &str, security: bool) -> String {
        self.with_store(|s| s.insert_exchange_group(address, name, security))
    }

    /// Publishes a TXT value at `domain`'s apex, for a fake without
    /// `dns_server`.
    pub fn publish_txt(&self, domain: &str, value: &str) {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        self.with_store(|s| {
            s.published_txt
                .entry(d)
                .or_default()
                .push(value.to_string())
        })
    }

    /// Publishes a CNAME (absolute name → target), for a fake without
    /// `dns_server`: `Set-DkimSigningConfig -Enabled $true` looks for the
    /// selector CNAMEs here.
    pub fn publish_cname(&self, name: &str, target: &str) {
        let norm = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
        self.with_store(|s| s.published_cnames.insert(norm(name), norm(target)));
    }

    /// `domain`'s selector CNAMEs (name, target) as Exchange names them.
    pub fn dkim_selectors(&self, domain: &str) -> [(String, String); 2] {
        self.with_store(|s| s.dkim_selectors(domain))
    }

    /// The verification token (`MS=ms…`) Graph names for `domain`.
    pub fn verification_token(domain: &str) -> String {
        store::Store::verification_token(domain)
    }

    /// Invalidates every token issued so far (as a revoked session or a
    /// shortened token lifetime would).
    pub fn revoke_tokens(&self) {
        self.shared.tokens.lock().expect("tokens").clear();
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults").push(fault);
    }

    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("latency") = latency;
    }

    /// Requests the description (or the docs) do not allow.
    pub fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().expect("violations").clone()
    }

    /// HTTP requests received, the token endpoint's included.
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

    /// The operation (`"GET /users"`) of every Graph request and `$batch`
    /// sub-request, in order; `$batch` itself as `"POST /$batch"`.
    pub fn request_log(&self) -> Vec<String> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
