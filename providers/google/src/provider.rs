//! [`GoogleProvider`]: the [`MailProvider`] for Google Workspace.
//!
//! [`MailProvider::domain_status`] says whether the mail domain is a
//! verified domain of the tenant and, if not, names its verification
//! record; onboarding it is [`crate::onboard`]. A read of a domain that
//! `domain_status` found ready goes straight to its objects (the engine
//! reads only ready domains); any other read first checks the domain, as
//! a safety net, so a plan costs one `domains.get` a domain either way.
//! A read lists the users (500 a page) and groups (200 a page) one page
//! after another, then asks for every group's first page of members and
//! its posting permission in batches (see [`crate::batch`]); groups with
//! more than 200 members are read on page by page. Any failed call fails
//! the read: nothing unread is ever reported as absent. Reads use
//! read-only scopes (plus Groups Settings, which has none, and Site
//! Verification for a domain not verified yet); applies ask for the write
//! scopes.
//!
//! Users in the leavers' organisational unit read as offboarded, with the
//! successor their mail is forwarded to ([`crate::offboard`]).
//!
//! Changes are carried out in stages of batched calls ([`crate::apply`]);
//! offboarding and reinstating follow, one user at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DomainStage, DomainStatus, Group, MailCapabilities, MailChange,
    MailDomainState, MailProvider, MailboxState, ProviderError, ProviderRecord,
};
use mailform_http::{Retry, Url};

use crate::api;
use crate::apply::{self, enc, Progress, Target};
use crate::auth::{scopes, ServiceAccountKey, TokenSource};
use crate::batch::Call;
use crate::client::Api;
use crate::config::Config;
use crate::convert;
use crate::offboard;
use crate::onboard;

/// Hash schemes Google accepts for an initial password (`hashFunction:
/// crypt` takes crypt(3) SHA-512, SHA-256 and MD5 hashes).
pub const SCHEMES: [&str; 3] = ["SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT"];

pub struct GoogleProvider {
    config: Config,
    retry: Retry,
    api: OnceLock<Result<Arc<Api>, ProviderError>>,
    /// Domains `domain_status` found verified in this run: their read
    /// needs no check of its own.
    ready: Mutex<HashSet<String>>,
}

impl GoogleProvider {
    pub fn new(config: Config) -> GoogleProvider {
        GoogleProvider::with_retry(config, Retry::default())
    }

    /// With another backoff (tests use a short one).
    pub fn with_retry(config: Config, retry: Retry) -> GoogleProvider {
        GoogleProvider {
            config,
            retry,
            api: OnceLock::new(),
            ready: Mutex::default(),
        }
    }

    fn api(&self) -> Result<Arc<Api>, ProviderError> {
        self.api
            .get_or_init(|| {
                let json = self.config.credentials_json()?;
                let key = ServiceAccountKey::parse(&json)?;
                let tokens =
                    TokenSource::new(key, &self.config.admin, &self.config.token_endpoint())?;
                Api::new(
                    tokens,
                    self.config.queries_per_minute(),
                    self.config.timeout(),
                    self.retry,
                )
                .map(Arc::new)
            })
            .clone()
    }

    /// Requests sent so far (for benchmarks).
    pub fn requests_sent(&self) -> u64 {
        self.api
            .get()
            .and_then(|a| a.as_ref().ok())
            .map_or(0, |a| a.requests_sent())
    }

    fn directory(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ProviderError> {
        url(
            &self.config.directory_endpoint(),
            "/admin/directory/v1",
            path,
            query,
        )
    }
}

/// `base` + `prefix` + `path`, with `query` encoded.
pub(crate) fn url(
    base: &str,
    prefix: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Url, ProviderError> {
    let mut u = Url::parse(&format!("{base}{prefix}{path}"))
        .map_err(|e| ProviderError::Rejected(format!("bad Google endpoint {base:?}: {e}")))?;
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query.iter().copied());
    }
    Ok(u)
}

#[async_trait]
impl MailProvider for GoogleProvider {
    fn kind(&self) -> &'static str {
        "google_workspace"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            mailbox_aliases: true,
            group_aliases: true,
            groups: true,
            standalone_aliases: false,
            group_external_senders: true,
            display_names: true,
            password: PasswordPolicy {
                hash_schemes: SCHEMES.iter().map(|s| s.to_string()).collect(),
                plain: true,
                required: true,
            },
            shared_mailboxes: false,
            distribution_lists: false,
            settings_hint: None,
            domain_aliases: true,
            offboarding: true,
        }
    }

    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        self.read(domain).await.map_err(ProviderError::for_read)
    }

    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport {
        self.apply(domain, changes).await
    }

    async fn domain_status(&self, domain: &str) -> Result<DomainStatus, ProviderError> {
        let api = self.api()?;
        let status = onboard::status(&api, &self.config, domain).await?;
        // A ready alias is not remembered: it has no objects to read.
        if status.is_ready() && status.alias_of.is_none() {
            self.ready
                .lock()
                .expect("ready domains")
                .insert(key(domain));
        }
        Ok(status)
    }

    /// Google adds a domain (or a domain alias) only once it is verified,
    /// so this adds nothing: it names the token to publish (the same one
    /// each time).
    async fn begin_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        let _ = alias_of;
        let api = self.api()?;
        Ok(vec![
            onboard::verification_record(&api, &self.config, domain).await?,
        ])
    }

    /// Verifies the domain and adds it, as a domain alias of `alias_of`
    /// when given. Google asks for nothing more through the API: MX, SPF
    /// and DKIM come from the `google-workspace` preset the file declares.
    async fn finish_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        let api = self.api()?;
        onboard::verify_and_add(&api, &self.config, domain, alias_of).await?;
        Ok(Vec::new())
    }
}

fn key(domain: &str) -> String {
    mailform_contract::name::normalize_name(domain)
}

impl GoogleProvider {
    async fn read(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let api = self.api()?;
        let cid = api.client_id().to_string();
        let known_ready = self
            .ready
            .lock()
            .expect("ready domains")
            .contains(&key(domain));
        if !known_ready {
            self.check_domain(&api, domain).await?;
        }
        let mut mailboxes = Vec::new();
        let mut offboarded = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("domain", domain),
                ("maxResults", "500"),
                ("projection", "basic"),
            ];
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let page: api::Users = api
                .get(self.directory("/users", &q)?, scopes::READ)
                .await
                .map_err(|e| convert::error(e, &format!("listing users of {domain}"), &cid))?;
            let ou = self.config.offboarded_org_unit();
            for u in &page.users {
                let Some(mut m) = convert::mailbox(u) else {
                    continue;
                };
                if u.org_unit_path.as_deref() == Some(ou) {
                    offboarded.push(mailboxes.len());
                    m.state = MailboxState::Offboarded;
                }
                mailboxes.push(m);
            }
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let mut groups_raw = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("domain", domain), ("maxResults", "200")];
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let page: api::Groups = api
                .get(self.directory("/groups", &q)?, scopes::READ)
                .await
                .map_err(|e| convert::error(e, &format!("listing groups of {domain}"), &cid))?;
            groups_raw.extend(page.groups);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let groups = self.read_groups(&api, groups_raw, &cid).await?;
        // Offboarded users are few; their successor is where their mail goes.
        for i in offboarded {
            let address = mailboxes[i].address.clone();
            mailboxes[i].successor = offboard::successor(&api, &self.config, &address).await?;
        }
        mailboxes.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(MailDomainState {
            domain: domain.to_string(),
            mailboxes,
            aliases: vec![],
            groups,
        })
    }

    async fn apply(&self, _domain: &str, changes: &[MailChange]) -> ApplyReport {
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let cid = api.client_id().to_string();
        let (dir_batch, settings_batch) = match (self.directory_batch(), self.settings_batch()) {
            (Ok(d), Ok(s)) => (d, s),
            (Err(e), _) | (_, Err(e)) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut works = Vec::with_capacity(changes.len());
        let mut progress: Vec<Progress> = Vec::with_capacity(changes.len());
        for c in changes {
            let mut p = Progress::new();
            match apply::plan(c, self.config.org_unit()) {
                Ok(w) => works.push(w),
                Err(e) => {
                    p.error = Some(e);
                    works.push(apply::Work::default());
                }
            }
            progress.push(p);
        }
        let stages = works.iter().map(|w| w.stages.len()).max().unwrap_or(0);
        for k in 0..stages {
            // (change index, step) of every live change's stage k, per API.
            let mut dir_steps = Vec::new();
            let mut settings_steps = Vec::new();
            for (i, w) in works.iter().enumerate() {
                if progress[i].error.is_some() {
                    continue;
                }
                for step in w.stages.get(k).into_iter().flatten() {
                    match step.target {
                        Target::Directory => dir_steps.push((i, step)),
                        Target::GroupsSettings => settings_steps.push((i, step)),
                    }
                }
            }
            let dir_calls: Vec<Call> = dir_steps.iter().map(|(_, s)| s.call.clone()).collect();
            let settings_calls: Vec<Call> =
                settings_steps.iter().map(|(_, s)| s.call.clone()).collect();
            let (dir_results, settings_results) = futures::join!(
                batch_calls(&api, &dir_batch, &dir_calls, scopes::WRITE),
                batch_calls(&api, &settings_batch, &settings_calls, scopes::WRITE)
            );
            for ((i, step), result) in dir_steps.iter().zip(dir_results) {
                progress[*i].record(step, result, &cid);
            }
            for ((i, step), result) in settings_steps.iter().zip(settings_results) {
                progress[*i].record(step, result, &cid);
            }
        }
        // Offboarding and reinstating, one user at a time, after the rest
        // of each change went through.
        for (i, c) in changes.iter().enumerate() {
            let MailChange::UpdateMailbox { old, new } = c else {
                continue;
            };
            let involved =
                old.state == MailboxState::Offboarded || new.state == MailboxState::Offboarded;
            let differs = old.state != new.state || old.successor != new.successor;
            if involved && differs && progress[i].error.is_none() {
                if let Err(e) = offboard::apply(&api, &self.config, old, new).await {
                    progress[i].error = Some(e);
                }
            }
        }
        ApplyReport {
            outcomes: progress
                .into_iter()
                .map(Progress::outcome)
                .collect::<Vec<ChangeOutcome>>(),
        }
    }
}

/// `calls` through the batch endpoint, sending nothing when there are none.
async fn batch_calls(
    api: &Api,
    endpoint: &Url,
    calls: &[Call],
    scopes: &[&str],
) -> Vec<Result<serde_json::Value, crate::client::CallError>> {
    if calls.is_empty() {
        return Vec::new();
    }
    api.batch(endpoint, calls, scopes).await
}

impl GoogleProvider {
    /// A domain the tenant does not hold (or has not verified) holds no
    /// users: say so, with the fix, instead of reading nothing.
    async fn check_domain(&self, api: &Api, domain: &str) -> Result<(), ProviderError> {
        match onboard::stage(api, &self.config, domain).await? {
            DomainStage::Ready => Ok(()),
            DomainStage::Unverified => Err(ProviderError::Rejected(format!(
                "`{domain}` is a domain of the Google Workspace tenant but is not verified yet: `mailform apply` verifies it when its DNS is managed here, or finish its verification in the Admin console (Account → Domains → Manage domains), then plan again"
            ))),
            DomainStage::Absent => Err(ProviderError::Rejected(format!(
                "`{domain}` is not a domain of the Google Workspace tenant: `mailform apply` adds and verifies it when its DNS is managed here, or add and verify it in the Admin console (Account → Domains → Manage domains → Add a domain), then plan again"
            ))),
        }
    }

    fn directory_batch(&self) -> Result<Url, ProviderError> {
        let u = self.config.directory_batch_endpoint();
        Url::parse(&u)
            .map_err(|e| ProviderError::Rejected(format!("bad `batch_endpoint` {u:?}: {e}")))
    }

    fn settings_batch(&self) -> Result<Url, ProviderError> {
        let u = self.config.groups_settings_batch_endpoint();
        Url::parse(&u).map_err(|e| {
            ProviderError::Rejected(format!("bad `groups_settings_batch_endpoint` {u:?}: {e}"))
        })
    }

    /// Every group's members and posting permission: first pages and
    /// settings in batches, further member pages one by one.
    async fn read_groups(
        &self,
        api: &Api,
        groups: Vec<api::Group>,
        cid: &str,
    ) -> Result<Vec<Group>, ProviderError> {
        let groups: Vec<api::Group> = groups.into_iter().filter(|g| g.id.is_some()).collect();
        let member_calls: Vec<Call> = groups
            .iter()
            .map(|g| Call {
                method: "GET",
                path: format!(
                    "/admin/directory/v1/groups/{}/members?maxResults=200",
                    enc(g.id.as_deref().unwrap_or_default())
                ),
                body: None,
            })
            .collect();
        let settings_calls: Vec<Call> = groups
            .iter()
            .map(|g| Call {
                method: "GET",
                path: format!(
                    "/groups/v1/groups/{}?alt=json",
                    enc(g.email.as_deref().unwrap_or_default())
                ),
                body: None,
            })
            .collect();
        let (dir_batch, settings_batch) = (self.directory_batch()?, self.settings_batch()?);
        let (members, settings) = futures::join!(
            batch_calls(api, &dir_batch, &member_calls, scopes::READ),
            batch_calls(api, &settings_batch, &settings_calls, scopes::READ)
        );
        let mut out = Vec::with_capacity(groups.len());
        for ((g, m), st) in groups.iter().zip(members).zip(settings) {
            let email = g.email.clone().unwrap_or_default();
            let first: api::Members = m
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| crate::client::CallError::Parse(e.to_string()))
                })
                .map_err(|e| convert::error(e, &format!("listing members of {email}"), cid))?;
            let mut all = first.members;
            let mut token = first.next_page_token.filter(|t| !t.is_empty());
            while let Some(t) = token {
                let q = [("maxResults", "200"), ("pageToken", t.as_str())];
                let page: api::Members = api
                    .get(
                        self.directory(
                            &format!(
                                "/groups/{}/members",
                                enc(g.id.as_deref().unwrap_or_default())
                            ),
                            &q,
                        )?,
                        scopes::READ,
                    )
                    .await
                    .map_err(|e| convert::error(e, &format!("listing members of {email}"), cid))?;
                all.extend(page.members);
                token = page.next_page_token.filter(|t| !t.is_empty());
            }
            let settings: api::GroupSettings = st
                .and_then(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| crate::client::CallError::Parse(e.to_string()))
                })
                .map_err(|e| convert::error(e, &format!("reading the settings of {email}"), cid))?;
            if let Some(group) = convert::group(g, &all, settings.who_can_post_message.as_deref()) {
                out.push(group);
            }
        }
        Ok(out)
    }
}
