//! [`M365Provider`]: the [`MailProvider`] for Microsoft 365 through Graph.
//!
//! A read lists the tenant's users and groups (999 a page, following
//! `@odata.nextLink`) and keeps those whose address is in the domain, then
//! reads the mail-enabled groups' members, 20 groups a `$batch` (the rest
//! of a list longer than a page by its next link). Graph cannot filter
//! users by domain without advanced queries (`ConsistencyLevel:
//! eventual`), so the filtering is done here. Any failed call fails the
//! read: nothing unread is ever reported as absent. The engine reads only
//! domains whose status is ready; the read still checks the domain is
//! verified.
//!
//! The tenant's domains are listed once a run and the listing shared by
//! the domains' statuses, this check, the default domain and the Exchange
//! anchor (see `crate::domains`, which also onboards domains).
//!
//! Changes are carried out one at a time, in the engine's order; the first
//! failure stops the rest (reported as not attempted). A group's member
//! additions and removals are independent of each other and go through
//! `$batch`, 20 a request. Members are given by address and must be users
//! of the tenant: addresses are resolved to directory ids from one listing
//! of the tenant's users per apply, kept up to date with the users the
//! apply creates.
//!
//! Offboarding (`state: offboarded`, `successor`) needs the Exchange
//! backend (`exchange: {enabled: true}`); without it it fails as
//! unsupported. In order, each step safe to make again:
//! 1. Graph: `PATCH /users/{id}` `accountEnabled: false`, then `POST
//!    /users/{id}/revokeSignInSessions` ("user: revokeSignInSessions" on
//!    learn.microsoft.com: no body, answered `{"value": true}`; absent from
//!    the reduced description, so the fake adds it to its own copy);
//! 2. Exchange: the successor's Full Access (`Add-MailboxPermission
//!    -AccessRights FullAccess -AutoMapping $true`, only when the successor
//!    is a user of the tenant), forwarding with a copy kept
//!    (`Set-Mailbox -ForwardingSmtpAddress smtp:<successor>
//!    -DeliverToMailboxAndForward $true`), then `Set-Mailbox -Type Shared`
//!    — the marker: a read takes a blocked user whose mailbox is shared
//!    (`Get-Mailbox -ResultSize Unlimited`, `RecipientTypeDetails:
//!    SharedMailbox`; one call a plan, only when some user is blocked) as
//!    offboarded, its successor from `ForwardingSmtpAddress`. A failure
//!    before the conversion leaves the user read as suspended, so planned
//!    again;
//! 3. Graph, once shared: the licences (`GET /users/{id}?$select=assignedLicenses`,
//!    `assignLicense` with `removeLicenses`). A failure here is reported
//!    with what to do by hand: the user already reads as offboarded.
//!
//! Shared mailboxes and distribution lists (Exchange backend only): a
//! shared mailbox's account is a blocked user to Graph, so it is found by
//! the same `Get-Mailbox` read — shared and without the offboarding mark
//! (`CustomAttribute15`, set with the forwarding, before the conversion)
//! — and its delegates by one `Get-MailboxPermission` each. Distribution
//! lists are Graph's non-unified, non-security mail-enabled groups, with
//! `allow_external` from one `Get-DistributionGroup`; every write to them
//! goes through Exchange. A change of kind is refused (the planner
//! refuses it first).
//!
//! Reinstating (`offboarded` → `active`/`suspended`): `default_licence`
//! assigned again when configured (else a warning: the admin must licence
//! it), forwarding removed, `Set-Mailbox -Type Regular` (after which it
//! reads as suspended), then `accountEnabled: true` when active. The
//! successor's Full Access is left in place.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DomainStatus, Group, GroupKind, InitialPassword, MailCapabilities,
    MailChange, MailDomainState, MailProvider, Mailbox, MailboxKind, MailboxState, ProviderError,
    ProviderRecord,
};
use mailform_http::{Method, Retry};
use serde_json::Value;

use crate::api;
use crate::auth::{permissions, TokenSource};
use crate::client::{Api, BatchItem, CallError};
use crate::config::Config;
use crate::convert;
use crate::dkim;
use crate::domains::{self, DomainCache};
use crate::exchange::{self, Exchange};

/// Long member lists whose further pages are read at the same time.
const GROUP_READ_CONCURRENCY: usize = 4;

pub struct M365Provider {
    config: Config,
    retry: Retry,
    api: OnceLock<Result<Arc<Api>, ProviderError>>,
    exchange: OnceLock<Result<Arc<Exchange>, ProviderError>>,
    /// Consecutive user creates go through `$batch`, 20 a request.
    batch_user_creates: bool,
    /// The tenant's domains, read once a run (see [`crate::domains`]).
    domains: DomainCache,
    /// Waits before asking Microsoft again to verify a domain.
    verify_delays: Vec<std::time::Duration>,
}

impl M365Provider {
    pub fn new(config: Config) -> M365Provider {
        M365Provider::with_retry(config, Retry::default())
    }

    /// With another backoff (tests use a short one).
    pub fn with_retry(config: Config, retry: Retry) -> M365Provider {
        M365Provider {
            config,
            retry,
            api: OnceLock::new(),
            exchange: OnceLock::new(),
            batch_user_creates: true,
            domains: DomainCache::default(),
            verify_delays: domains::VERIFY_DELAYS.to_vec(),
        }
    }

    /// With other waits before asking Microsoft again to verify a domain
    /// whose token it did not find (tests use none or short ones).
    pub fn with_verify_delays(mut self, delays: Vec<std::time::Duration>) -> M365Provider {
        self.verify_delays = delays;
        self
    }

    /// Creates users one request each instead of 20 a `$batch` (for
    /// comparing the two in benchmarks).
    pub fn with_sequential_user_creates(mut self) -> M365Provider {
        self.batch_user_creates = false;
        self
    }

    /// Tokens of the app for `scope` (Graph or Exchange Online).
    fn tokens(&self, scope: &str) -> Result<TokenSource, ProviderError> {
        TokenSource::new(
            &self.config.client_id,
            self.config.credential()?,
            &self.config.tenant,
            scope,
            &self.config.token_url(),
        )
    }

    fn api(&self) -> Result<Arc<Api>, ProviderError> {
        self.api
            .get_or_init(|| {
                self.config.check()?;
                let tokens = self.tokens(&self.config.scope())?;
                Api::new(
                    tokens,
                    &self.config.graph_endpoint(),
                    self.config.timeout(),
                    self.retry,
                    self.config.writes_per_second(),
                )
                .map(Arc::new)
            })
            .clone()
    }

    /// The Exchange Online backend when `exchange: {enabled: true}`, its
    /// anchor (the tenant's initial domain, from Graph) known.
    async fn exchange(&self, api: &Api) -> Result<Option<Arc<Exchange>>, ProviderError> {
        if !self.config.exchange_enabled() {
            return Ok(None);
        }
        let ex = self
            .exchange
            .get_or_init(|| {
                let tokens = self.tokens(&self.config.exchange_scope())?;
                Exchange::new(
                    tokens,
                    &self.config.exchange_endpoint(),
                    &self.config.tenant,
                    self.config.timeout(),
                    self.retry,
                )
                .map(Arc::new)
            })
            .clone()?;
        if !ex.has_anchor().await {
            let domains = self.domains.list(api).await?;
            let initial = domains
                .iter()
                .find(|d| d.is_initial)
                .map(|d| d.id.to_ascii_lowercase())
                .ok_or_else(|| {
                    ProviderError::Parse(
                        "the tenant has no initial (*.onmicrosoft.com) domain".into(),
                    )
                })?;
            ex.set_anchor(&initial).await;
        }
        Ok(Some(ex))
    }

    /// Requests sent so far (for benchmarks).
    pub fn requests_sent(&self) -> u64 {
        self.api
            .get()
            .and_then(|a| a.as_ref().ok())
            .map_or(0, |a| a.requests_sent())
            + self
                .exchange
                .get()
                .and_then(|a| a.as_ref().ok())
                .map_or(0, |a| a.requests_sent())
    }
}

/// Whether `address` is in `domain`.
fn in_domain(address: &str, domain: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
}

/// The tenant's routing addresses (`alias@contoso.onmicrosoft.com`), which
/// Exchange gives every mailbox and group: not managed, not reported.
fn routing_address(address: &str) -> bool {
    address.ends_with(".onmicrosoft.com") || address.ends_with(".onmschina.cn")
}

#[async_trait]
impl MailProvider for M365Provider {
    fn kind(&self) -> &'static str {
        "microsoft_365"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            // Read from proxyAddresses so plans compare; writing them needs
            // the Exchange backend and fails as unsupported without it.
            mailbox_aliases: true,
            group_aliases: true,
            groups: true,
            standalone_aliases: false,
            group_external_senders: self.config.exchange_enabled(),
            display_names: true,
            shared_mailboxes: self.config.exchange_enabled(),
            distribution_lists: self.config.exchange_enabled(),
            settings_hint: (!self.config.exchange_enabled()).then(|| {
                "they need its Exchange Online backend: `exchange: {enabled: true}` in the provider's settings, with the permission and role the README names".to_string()
            }),
            password: PasswordPolicy {
                hash_schemes: vec![],
                plain: true,
                required: true,
            },
            domain_aliases: false,
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
        let mut status = domains::status(&api, &self.domains, domain).await?;
        // DKIM is a ready domain's business: Exchange knows no other.
        if status.is_ready() && self.config.dkim_enabled() {
            let ex = self.exchange(&api).await?.expect("dkim needs exchange");
            let (records, setup) = dkim::status(&ex, domain, api.client_id()).await?;
            status.records.extend(records);
            status.setup.extend(setup);
        }
        Ok(status)
    }

    async fn begin_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        no_alias(domain, alias_of)?;
        let api = self.api()?;
        domains::begin(&api, &self.domains, domain).await
    }

    async fn finish_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        no_alias(domain, alias_of)?;
        let api = self.api()?;
        let mut records = domains::finish(&api, &self.domains, domain, &self.verify_delays).await?;
        // The DKIM config made now puts its CNAMEs into this apply's DNS
        // changes, so this apply's complete_setup can enable signing;
        // best effort (see `crate::dkim`).
        if self.config.dkim_enabled() {
            match self.exchange(&api).await {
                Ok(Some(ex)) => records.extend(dkim::onboard(&ex, domain, api.client_id()).await),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%domain, error = %e, "the domain is onboarded, but Exchange Online could not be reached for its DKIM signing config")
                }
            }
        }
        Ok(records)
    }

    async fn complete_setup(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        if !self.config.dkim_enabled() {
            return Ok(Vec::new());
        }
        let api = self.api()?;
        let ex = self.exchange(&api).await?.expect("dkim needs exchange");
        dkim::complete(&ex, domain, api.client_id()).await
    }
}

/// Microsoft 365 has no domain aliases: each domain is added on its own,
/// and a user gets an address there as an extra proxy address.
fn no_alias(domain: &str, alias_of: Option<&str>) -> Result<(), ProviderError> {
    match alias_of {
        None => Ok(()),
        Some(parent) => Err(ProviderError::Unsupported(format!(
            "Microsoft 365 has no domain aliases, so {domain} cannot be added as an alias of {parent}; declare it as a mail domain of its own and give the mailboxes aliases there"
        ))),
    }
}

impl M365Provider {
    async fn read(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let api = self.api()?;
        let cid = api.client_id().to_string();
        // The engine reads only domains whose status is ready; a safety
        // net, from the run's one listing of the domains: a domain the
        // tenant has not verified holds no mail, and mailboxes planned
        // there could not be created.
        if !self
            .domains
            .find(&api, domain)
            .await?
            .is_some_and(|d| d.is_verified)
        {
            return Err(ProviderError::Rejected(format!(
                "`{domain}` is not a verified domain of the Microsoft 365 tenant: apply onboards it (adds it, has its verification record published, verifies it), or add and verify it in the Microsoft 365 admin center → Settings → Domains; then plan again"
            )));
        }
        let users: Vec<api::User> = list_all(
            &api,
            "/users",
            api::USER_SELECT,
            "listing users",
            permissions::USERS,
            &cid,
        )
        .await?;
        let mut mailboxes: Vec<Mailbox> = users
            .iter()
            .filter_map(convert::mailbox)
            .filter(|m| in_domain(&m.address, domain))
            .map(|mut m| {
                m.aliases.retain(|a| !routing_address(a));
                m
            })
            .collect();
        mailboxes.sort_by(|a, b| a.address.cmp(&b.address));
        // Which mailboxes are shared, and which of those were users'
        // mailboxes converted by offboarding (marked so; the conversion is
        // the last of the steps that say so) — only Exchange knows. Both
        // have their sign-in blocked (Exchange makes shared mailboxes'
        // accounts so), so an Exchange read is needed only then.
        if mailboxes.iter().any(|m| m.state == MailboxState::Suspended) {
            if let Some(ex) = self.exchange(&api).await? {
                let info = ex
                    .mailboxes()
                    .await
                    .map_err(|e| exchange::error(e, "reading mailboxes (Get-Mailbox)", &cid))?;
                // Full Access is granted to sign-in names; the file names
                // people by their primary addresses.
                let by_upn: HashMap<String, String> = users
                    .iter()
                    .filter_map(|u| {
                        Some((
                            u.user_principal_name.as_deref()?.to_ascii_lowercase(),
                            convert::user_address(u)?,
                        ))
                    })
                    .collect();
                for m in &mut mailboxes {
                    let Some(i) = m.id.as_ref().and_then(|id| info.get(id)) else {
                        continue;
                    };
                    if !i.shared {
                        continue;
                    }
                    if i.offboarded && m.state == MailboxState::Suspended {
                        m.state = MailboxState::Offboarded;
                        m.successor = i.forwarding.clone();
                        continue;
                    }
                    // Nobody signs in to a shared mailbox, whether its
                    // account is blocked or not.
                    m.kind = MailboxKind::Shared;
                    m.state = MailboxState::Active;
                    let what = format!(
                        "reading who has Full Access to {} (Get-MailboxPermission)",
                        m.address
                    );
                    let mut delegates: Vec<String> = ex
                        .full_access(&m.address)
                        .await
                        .map_err(|e| exchange::error(e, &what, &cid))?
                        .into_iter()
                        .filter_map(|u| match by_upn.get(&u) {
                            Some(a) => Some(a.clone()),
                            // `NT AUTHORITY\SELF` and other system principals.
                            None if u.contains('@') => Some(u),
                            None => None,
                        })
                        .filter(|a| *a != m.address)
                        .collect();
                    delegates.sort();
                    delegates.dedup();
                    m.delegates = delegates;
                }
            }
        }

        let groups: Vec<api::Group> = list_all(
            &api,
            "/groups",
            api::GROUP_SELECT,
            "listing groups",
            permissions::GROUPS,
            &cid,
        )
        .await?;
        let mail_groups: Vec<api::Group> = groups
            .into_iter()
            .filter(|g| g.mail_enabled == Some(true))
            .filter(|g| g.mail.as_deref().is_some_and(|m| in_domain(m, domain)))
            .collect();
        let member_lists = read_members(&api, &mail_groups, &cid).await?;
        let mut groups: Vec<Group> = mail_groups
            .iter()
            .zip(&member_lists)
            .filter_map(|(g, members)| convert::group(g, members))
            .map(|mut g| {
                g.aliases.retain(|a| !routing_address(a));
                g
            })
            .collect();
        groups.sort_by(|a, b| a.address.cmp(&b.address));
        let unified = groups.iter().any(|g| g.kind == GroupKind::Default);
        let distribution = groups.iter().any(|g| g.kind == GroupKind::Distribution);
        if unified || distribution {
            if let Some(ex) = self.exchange(&api).await? {
                let mut auth = HashMap::new();
                for (wanted, cmdlet, what) in [
                    (unified, "Get-UnifiedGroup", "Microsoft 365 groups"),
                    (distribution, "Get-DistributionGroup", "distribution groups"),
                ] {
                    if wanted {
                        let read = ex.sender_authentication(cmdlet).await.map_err(|e| {
                            exchange::error(e, &format!("reading {what} ({cmdlet})"), &cid)
                        })?;
                        auth.extend(read);
                    }
                }
                for g in &mut groups {
                    if let Some(required) = g.id.as_ref().and_then(|id| auth.get(id)) {
                        g.allow_external = !required;
                    }
                }
            }
        }
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
        let exchange = match self.exchange(&api).await {
            Ok(e) => e,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut run = Run {
            api: &api,
            exchange,
            config: &self.config,
            cid: api.client_id().to_string(),
            directory: None,
            domains: &self.domains,
            sku: None,
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut stopped: Option<String> = None;
        let mut i = 0;
        while i < changes.len() {
            let change = &changes[i];
            if let Some(why) = &stopped {
                outcomes.push(ChangeOutcome::NotAttempted(why.clone()));
                i += 1;
                continue;
            }
            if self.batch_user_creates {
                let results = run.create_users_batched(&changes[i..]).await;
                if !results.is_empty() {
                    for (k, r) in results.into_iter().enumerate() {
                        match r {
                            Ok(()) => outcomes.push(ChangeOutcome::Applied),
                            Err(e) => {
                                stopped.get_or_insert_with(|| {
                                    format!(
                                        "an earlier change ({}) failed",
                                        changes[i + k].address()
                                    )
                                });
                                outcomes.push(ChangeOutcome::Failed(e));
                            }
                        }
                        i += 1;
                    }
                    continue;
                }
            }
            i += 1;
            match run.apply_one(change).await {
                Ok(()) => outcomes.push(ChangeOutcome::Applied),
                Err(e) => {
                    stopped = Some(format!("an earlier change ({}) failed", change.address()));
                    outcomes.push(ChangeOutcome::Failed(e));
                }
            }
        }
        ApplyReport { outcomes }
    }
}

/// The members of each group: first pages through `$batch`, 20 groups a
/// request, the rest of a long list by following its next link.
async fn read_members(
    api: &Arc<Api>,
    groups: &[api::Group],
    cid: &str,
) -> Result<Vec<Vec<api::Member>>, ProviderError> {
    let query = [("$select", api::MEMBER_SELECT), ("$top", api::PAGE)];
    let items: Vec<BatchItem> = groups
        .iter()
        .map(|g| BatchItem {
            method: Method::GET,
            url: Api::relative(&format!("/groups/{}/members", enc(&g.id)), &query),
            body: None,
            retry_not_found: false,
        })
        .collect();
    let firsts = api.batch(&items).await;
    let rest = groups
        .iter()
        .cloned()
        .zip(firsts)
        .map(|(g, first)| rest_of_members(api.clone(), g, first, cid.to_string()));
    stream::iter(rest)
        .buffered(GROUP_READ_CONCURRENCY)
        .try_collect()
        .await
}

/// A group's members from the first page, following its next link.
async fn rest_of_members(
    api: Arc<Api>,
    g: api::Group,
    first: Result<Value, CallError>,
    cid: String,
) -> Result<Vec<api::Member>, ProviderError> {
    let what = format!(
        "listing members of group {}",
        g.mail.as_deref().unwrap_or(&g.id)
    );
    let err = |e| convert::error(e, &what, permissions::GROUPS, &cid);
    let page: api::Page<api::Member> = serde_json::from_value(first.map_err(err)?)
        .map_err(|e| err(CallError::Parse(e.to_string())))?;
    let mut members = page.value;
    if let Some(next) = page.next_link {
        let url = mailform_http::Url::parse(&next)
            .map_err(|e| err(CallError::Parse(format!("next link {next:?}: {e}"))))?;
        members.extend(api.get_all::<api::Member>(url).await.map_err(err)?);
    }
    Ok(members)
}

async fn list_members(
    api: &Api,
    group_id: &str,
    cid: &str,
) -> Result<Vec<api::Member>, ProviderError> {
    list_all(
        api,
        &format!("/groups/{}/members", enc(group_id)),
        api::MEMBER_SELECT,
        &format!("listing members of group {group_id}"),
        permissions::GROUPS,
        cid,
    )
    .await
}

/// Every page of `path` with `$select` and Graph's largest page size.
async fn list_all<T: serde::de::DeserializeOwned>(
    api: &Api,
    path: &str,
    select: &str,
    what: &str,
    permission: &str,
    cid: &str,
) -> Result<Vec<T>, ProviderError> {
    let url = api
        .url(path, &[("$select", select), ("$top", api::PAGE)])
        .map_err(|e| convert::error(e, what, permission, cid))?;
    api.get_all(url)
        .await
        .map_err(|e| convert::error(e, what, permission, cid))
}

/// The tenant's users by address, for resolving members.
#[derive(Default)]
struct Directory {
    /// Primary address (mail) and sign-in name → user id.
    ids: HashMap<String, String>,
    /// Secondary address → the primary it belongs to.
    secondary: HashMap<String, String>,
}

/// One apply: what it has learnt about the tenant so far.
struct Run<'a> {
    api: &'a Api,
    exchange: Option<Arc<Exchange>>,
    config: &'a Config,
    cid: String,
    directory: Option<Directory>,
    /// The provider's listing of the tenant's domains.
    domains: &'a DomainCache,
    /// `default_licence`: its skuId and the seats left.
    sku: Option<(String, i64)>,
}

impl Run<'_> {
    fn err(&self, e: CallError, what: &str, permission: &str) -> ProviderError {
        convert::error(e, what, permission, &self.cid)
    }

    fn url(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
        permission: &str,
    ) -> Result<mailform_http::Url, ProviderError> {
        self.api
            .url(path, query)
            .map_err(|e| self.err(e, what, permission))
    }

    async fn apply_one(&mut self, change: &MailChange) -> Result<(), ProviderError> {
        match change {
            MailChange::CreateMailbox { new, password } => {
                self.create_user(new, password.as_ref()).await
            }
            MailChange::UpdateMailbox { old, new } => self.update_user(old, new).await,
            MailChange::DeleteMailbox { old } => {
                let what = format!("deleting user {}", old.address);
                let key = old.id.clone().unwrap_or_else(|| old.address.clone());
                let url = self.url(
                    &format!("/users/{}", enc(&key)),
                    &[],
                    &what,
                    permissions::USERS,
                )?;
                self.api
                    .send::<(), Value>(Method::DELETE, url, None)
                    .await
                    .map_err(|e| self.err(e, &what, permissions::USERS))?;
                if let Some(d) = &mut self.directory {
                    d.ids.retain(|_, id| *id != key);
                }
                Ok(())
            }
            MailChange::CreateGroup { new } => self.create_group(new).await,
            MailChange::UpdateGroup { old, new } => self.update_group(old, new).await,
            MailChange::DeleteGroup { old } if old.kind == GroupKind::Distribution => {
                let ex = self.exchange_for_list(old)?;
                ex.remove_distribution_group(&old.address)
                    .await
                    .map_err(|e| {
                        exchange::error(
                            e,
                            &format!("deleting distribution group {}", old.address),
                            &self.cid,
                        )
                    })
            }
            MailChange::DeleteGroup { old } => {
                let what = format!("deleting group {}", old.address);
                let id = self.writable_group(old).await?;
                let url = self.url(
                    &format!("/groups/{}", enc(&id)),
                    &[],
                    &what,
                    permissions::GROUPS,
                )?;
                self.api
                    .send::<(), Value>(Method::DELETE, url, None)
                    .await
                    .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
                Ok(())
            }
            MailChange::CreateAlias { new } | MailChange::UpdateAlias { new, .. } => {
                Err(standalone(&new.address))
            }
            MailChange::DeleteAlias { old } => Err(standalone(&old.address)),
        }
    }

    async fn create_user(
        &mut self,
        new: &Mailbox,
        password: Option<&InitialPassword>,
    ) -> Result<(), ProviderError> {
        if new.kind == MailboxKind::Shared {
            return self.create_shared(new).await;
        }
        if new.state == MailboxState::Offboarded {
            return Err(if self.exchange.is_none() {
                offboarding_unsupported(&new.address)
            } else {
                offboarding_new(&new.address)
            });
        }
        if !new.aliases.is_empty() && self.exchange.is_none() {
            return Err(aliases_unsupported(&new.address, &new.aliases));
        }
        let password = initial_password(password, &new.address)?;
        // A licence without a free seat fails the change before the user
        // exists.
        let sku = match &self.config.default_licence {
            Some(part) => Some(self.free_seat(part).await?),
            None => None,
        };
        let body = api::NewUser {
            account_enabled: new.state == MailboxState::Active,
            display_name: new
                .display_name
                .clone()
                .unwrap_or_else(|| new.address.clone()),
            mail_nickname: convert::user_nickname(&new.address)?,
            user_principal_name: new.address.clone(),
            password_profile: api::PasswordProfile {
                password,
                force_change_password_next_sign_in: true,
            },
            usage_location: self
                .config
                .usage_location
                .as_ref()
                .map(|u| u.to_ascii_uppercase()),
        };
        let what = format!("creating user {}", new.address);
        let url = self.url("/users", &[], &what, permissions::USERS)?;
        let created: api::User = self
            .api
            .send(Method::POST, url, Some(&body))
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        if let Some(d) = &mut self.directory {
            d.ids.insert(new.address.clone(), created.id.clone());
        }
        if let Some(sku_id) = sku {
            let what = format!(
                "assigning licence {} to {}",
                self.config.default_licence.as_deref().unwrap_or(""),
                new.address
            );
            let url = self
                .url(
                    &format!("/users/{}/assignLicense", enc(&created.id)),
                    &[],
                    &what,
                    permissions::USERS,
                )
                .map_err(|e| done_before(e, "the user was created"))?;
            let body = api::AssignLicense {
                add_licenses: vec![api::AssignedLicense {
                    sku_id,
                    disabled_plans: vec![],
                }],
                remove_licenses: vec![],
            };
            self.api
                .send::<_, Value>(Method::POST, url, Some(&body))
                .await
                .map_err(|e| {
                    done_before(
                        self.err(e, &what, permissions::USERS),
                        "the user was created",
                    )
                })?;
            if let Some((_, free)) = &mut self.sku {
                *free -= 1;
            }
        }
        if !new.aliases.is_empty() {
            let ex = self.exchange.clone().expect("checked above");
            ex.set_mailbox_addresses(&new.address, &new.aliases, &[], true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        "the user was created",
                    )
                })?;
        }
        Ok(())
    }

    /// The plain user creates at the start of `changes` (up to 20) that
    /// need nothing but Graph and pass every check done before sending,
    /// created in one `$batch`, with their licences in a second; one
    /// result per change taken (none: not batchable, the caller goes on
    /// one at a time, which also reports the first that failed a check).
    /// The creates are independent, so each is carried out or refused on
    /// its own; a sub-request answered 429 is sent again, one answered 5xx
    /// is not.
    async fn create_users_batched(
        &mut self,
        changes: &[MailChange],
    ) -> Vec<Result<(), ProviderError>> {
        let mut bodies = Vec::new();
        let mut addresses = Vec::new();
        for c in changes.iter().take(crate::client::BATCH_LIMIT) {
            let MailChange::CreateMailbox { new, password } = c else {
                break;
            };
            if new.state == MailboxState::Offboarded
                || !new.aliases.is_empty()
                || new.kind != MailboxKind::User
            {
                break;
            }
            let (Ok(password), Ok(nickname)) = (
                initial_password(password.as_ref(), &new.address),
                convert::user_nickname(&new.address),
            ) else {
                break;
            };
            bodies.push(api::NewUser {
                account_enabled: new.state == MailboxState::Active,
                display_name: new
                    .display_name
                    .clone()
                    .unwrap_or_else(|| new.address.clone()),
                mail_nickname: nickname,
                user_principal_name: new.address.clone(),
                password_profile: api::PasswordProfile {
                    password,
                    force_change_password_next_sign_in: true,
                },
                usage_location: self
                    .config
                    .usage_location
                    .as_ref()
                    .map(|u| u.to_ascii_uppercase()),
            });
            addresses.push(new.address.clone());
        }
        // Only as many as there are free seats; the next one fails on its
        // own, one at a time, before it is created.
        let mut sku_id = None;
        if let Some(part) = self.config.default_licence.clone() {
            if bodies.is_empty() {
                return vec![];
            }
            match self.free_seat(&part).await {
                Ok(id) => sku_id = Some(id),
                Err(_) => return vec![],
            }
            let free = self.sku.as_ref().map_or(0, |s| s.1).max(0) as usize;
            bodies.truncate(free);
            addresses.truncate(free);
        }
        if bodies.len() < 2 {
            return vec![];
        }
        let items: Vec<BatchItem> = bodies
            .iter()
            .map(|b| BatchItem {
                method: Method::POST,
                url: "/users".into(),
                body: Some(serde_json::to_value(b).unwrap_or(Value::Null)),
                retry_not_found: false,
            })
            .collect();
        let answers = self.api.batch(&items).await;
        let mut results = Vec::with_capacity(items.len());
        let mut created = Vec::new();
        for (address, answer) in addresses.iter().zip(answers) {
            let what = format!("creating user {address}");
            let user = answer.and_then(|v| {
                serde_json::from_value::<api::User>(v).map_err(|e| CallError::Parse(e.to_string()))
            });
            match user {
                Ok(u) => {
                    if let Some(d) = &mut self.directory {
                        d.ids.insert(address.clone(), u.id.clone());
                    }
                    created.push((results.len(), u.id));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(self.err(e, &what, permissions::USERS))),
            }
        }
        if let Some(sku_id) = sku_id {
            let items: Vec<BatchItem> = created
                .iter()
                .map(|(_, id)| BatchItem {
                    method: Method::POST,
                    url: format!("/users/{}/assignLicense", enc(id)),
                    body: Some(
                        serde_json::to_value(api::AssignLicense {
                            add_licenses: vec![api::AssignedLicense {
                                sku_id: sku_id.clone(),
                                disabled_plans: vec![],
                            }],
                            remove_licenses: vec![],
                        })
                        .unwrap_or(Value::Null),
                    ),
                    retry_not_found: true,
                })
                .collect();
            let answers = self.api.batch(&items).await;
            let part = self.config.default_licence.clone().unwrap_or_default();
            for ((k, _), answer) in created.iter().zip(answers) {
                match answer {
                    Ok(_) => {
                        if let Some((_, free)) = &mut self.sku {
                            *free -= 1;
                        }
                    }
                    Err(e) => {
                        let what = format!("assigning licence {part} to {}", addresses[*k]);
                        results[*k] = Err(done_before(
                            self.err(e, &what, permissions::USERS),
                            "the user was created",
                        ));
                    }
                }
            }
        }
        results
    }

    /// The skuId of `part` (a SKU part number), if a seat is free; the
    /// tenant's subscriptions are read once an apply.
    async fn free_seat(&mut self, part: &str) -> Result<String, ProviderError> {
        if self.sku.is_none() {
            let what = "reading the tenant's licences (subscribedSkus)";
            let url = self.url(
                "/subscribedSkus",
                &[("$select", "skuId,skuPartNumber,consumedUnits,prepaidUnits")],
                what,
                permissions::ORGANIZATION,
            )?;
            let skus: Vec<api::SubscribedSku> = self
                .api
                .get_all(url)
                .await
                .map_err(|e| self.err(e, what, permissions::ORGANIZATION))?;
            let Some(s) = skus
                .iter()
                .find(|s| s.sku_part_number.eq_ignore_ascii_case(part))
            else {
                let have: Vec<&str> = skus.iter().map(|s| s.sku_part_number.as_str()).collect();
                return Err(ProviderError::Rejected(format!(
                    "`default_licence: {part}`: the tenant has no such subscription (it has: {}); give a SKU part number from Microsoft 365 admin center → Billing → Licenses",
                    if have.is_empty() { "none".to_string() } else { have.join(", ") }
                )));
            };
            self.sku = Some((s.sku_id.clone(), s.prepaid_units.enabled - s.consumed_units));
        }
        let (id, free) = self.sku.clone().expect("read above");
        if free <= 0 {
            return Err(ProviderError::Rejected(format!(
                "no free {part} licence (`default_licence`): every seat is assigned, so the user was not created — buy more (Microsoft 365 admin center → Billing → Your products) or free one, then apply again"
            )));
        }
        Ok(id)
    }

    async fn update_user(&mut self, old: &Mailbox, new: &Mailbox) -> Result<(), ProviderError> {
        if old.kind != new.kind {
            // The planner refuses this; a plan from elsewhere must not do it.
            return Err(ProviderError::Unsupported(format!(
                "{} is a {} mailbox; mailform does not convert it to a {} one — convert it in the Exchange admin center (Recipients → Mailboxes → Convert)",
                old.address,
                old.kind.as_str(),
                new.kind.as_str()
            )));
        }
        if new.kind == MailboxKind::Shared {
            return self.update_shared(old, new).await;
        }
        let offboarding = new.state == MailboxState::Offboarded;
        let reinstating = old.state == MailboxState::Offboarded && !offboarding;
        if (offboarding || reinstating) && self.exchange.is_none() {
            return Err(offboarding_unsupported(&new.address));
        }
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of {} to {} needs Exchange Online (the primary SMTP address), which the provider (its Exchange backend included) does not change yet",
                old.address, new.address
            )));
        }
        if set(&old.aliases) != set(&new.aliases) {
            let Some(ex) = self.exchange.clone() else {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            };
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_mailbox_addresses(&old.address, &add, &remove, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing the aliases of {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        if offboarding {
            return self.offboard(old, new).await;
        }
        if reinstating {
            self.reinstate(old).await?;
        }
        let mut patch = api::UserPatch::default();
        if old.display_name != new.display_name {
            patch.display_name = new.display_name.clone();
        }
        if old.state != new.state && new.state == MailboxState::Active {
            patch.account_enabled = Some(true);
        } else if old.state != new.state && old.state == MailboxState::Active {
            patch.account_enabled = Some(false);
        }
        if patch == api::UserPatch::default() {
            return Ok(());
        }
        let what = format!("updating user {}", old.address);
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        let url = self.url(
            &format!("/users/{}", enc(&key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<_, Value>(Method::PATCH, url, Some(&patch))
            .await
            .map_err(|e| {
                let e = self.err(e, &what, permissions::USERS);
                if reinstating {
                    done_before(
                        e,
                        "the mailbox was converted back to a user mailbox (it reads as suspended now)",
                    )
                } else {
                    e
                }
            })?;
        Ok(())
    }

    /// Offboards `old` (`exchange: {enabled: true}`). Each step can be
    /// made again; the one a read takes as "offboarded" — the conversion
    /// to a shared mailbox — comes after blocking sign-in, the successor's
    /// Full Access and the forwarding, so a failure before it leaves the
    /// user read as suspended and planned again. The licences are removed
    /// only once the mailbox is shared (an unlicensed user mailbox is
    /// deleted after 30 days; a shared one needs none).
    async fn offboard(&mut self, old: &Mailbox, new: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange.clone().expect("checked by the caller");
        let who = old.address.clone();
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        let successor = new
            .successor
            .as_deref()
            .map(mailform_contract::name::normalize_address);
        if old.state == MailboxState::Offboarded && old.successor == successor {
            // Only the name can differ.
            if old.display_name != new.display_name {
                if let Some(name) = &new.display_name {
                    self.patch_user(
                        &key,
                        &who,
                        api::UserPatch {
                            display_name: Some(name.clone()),
                            account_enabled: None,
                        },
                    )
                    .await?;
                }
            }
            return Ok(());
        }
        // The successor's Full Access needs a user of the tenant; mail can
        // be forwarded anywhere.
        let full_access = match &successor {
            Some(s) => {
                self.load_directory().await?;
                let d = self.directory.as_ref().expect("loaded above");
                if d.ids.contains_key(s) {
                    Some(s.clone())
                } else {
                    d.secondary.get(s).cloned()
                }
            }
            None => None,
        };
        // 1. Sign-in blocked, sessions revoked (Graph).
        self.patch_user(
            &key,
            &who,
            api::UserPatch {
                display_name: new
                    .display_name
                    .clone()
                    .filter(|_| old.display_name != new.display_name),
                account_enabled: Some(false),
            },
        )
        .await?;
        let what = format!("revoking the sign-in sessions of {who}");
        let url = self.url(
            &format!("/users/{}/revokeSignInSessions", enc(&key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<(), Value>(Method::POST, url, None)
            .await
            .map_err(|e| {
                done_before(
                    self.err(e, &what, permissions::USERS),
                    "sign-in was blocked",
                )
            })?;
        // 2. Exchange: Full Access, forwarding with a copy kept, then the
        // conversion (the marker).
        let blocked =
            "sign-in was blocked and the sessions revoked (the user still reads as suspended)";
        let ex_err = |e, what: String| done_before(exchange::error(e, &what, &self.cid), blocked);
        if let Some(s) = &full_access {
            ex.add_full_access(&who, s)
                .await
                .map_err(|e| ex_err(e, format!("giving {s} Full Access to {who}")))?;
        }
        ex.set_forwarding(&who, successor.as_deref(), true)
            .await
            .map_err(|e| ex_err(e, format!("forwarding the mail of {who}")))?;
        ex.set_mailbox_type(&who, true)
            .await
            .map_err(|e| ex_err(e, format!("converting {who} to a shared mailbox")))?;
        // 3. The licences, now that the mailbox is shared.
        let shared = "the mailbox was converted to shared (it reads as offboarded now)";
        let licences = self
            .assigned_licences(&key, &who)
            .await
            .map_err(|e| licence_left(done_before(e, shared)))?;
        if !licences.is_empty() {
            let what = format!("removing the licences of {who}");
            let url = self.url(
                &format!("/users/{}/assignLicense", enc(&key)),
                &[],
                &what,
                permissions::USERS,
            )?;
            let body = api::AssignLicense {
                add_licenses: vec![],
                remove_licenses: licences,
            };
            self.api
                .send::<_, Value>(Method::POST, url, Some(&body))
                .await
                .map_err(|e| {
                    licence_left(done_before(self.err(e, &what, permissions::USERS), shared))
                })?;
        }
        Ok(())
    }

    /// Undoes offboarding up to the account (the caller unblocks it when
    /// wanted): the licence back (`default_licence`), forwarding removed,
    /// the mailbox converted back to a user mailbox — the last, after
    /// which the user reads as suspended.
    async fn reinstate(&mut self, old: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange.clone().expect("checked by the caller");
        let who = old.address.clone();
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        match self.config.default_licence.clone() {
            Some(part) => {
                // A user still holding a licence keeps it and gets no other.
                let held = self.assigned_licences(&key, &who).await?;
                if held.is_empty() {
                    let sku_id = self.free_seat(&part).await?;
                    let what = format!("assigning licence {part} to {who}");
                    let url = self.url(
                        &format!("/users/{}/assignLicense", enc(&key)),
                        &[],
                        &what,
                        permissions::USERS,
                    )?;
                    let body = api::AssignLicense {
                        add_licenses: vec![api::AssignedLicense {
                            sku_id,
                            disabled_plans: vec![],
                        }],
                        remove_licenses: vec![],
                    };
                    self.api
                        .send::<_, Value>(Method::POST, url, Some(&body))
                        .await
                        .map_err(|e| self.err(e, &what, permissions::USERS))?;
                    if let Some((_, free)) = &mut self.sku {
                        *free -= 1;
                    }
                }
            }
            None => tracing::warn!(
                user = %who,
                "reinstated without a licence (no `default_licence`): a user mailbox needs one within 30 days — assign it in the Microsoft 365 admin center → Users → Active users → Licenses and apps"
            ),
        }
        let ex_err = |e, what: String| exchange::error(e, &what, &self.cid);
        ex.set_forwarding(&who, None, false)
            .await
            .map_err(|e| ex_err(e, format!("removing the forwarding of {who}")))?;
        ex.set_mailbox_type(&who, false)
            .await
            .map_err(|e| ex_err(e, format!("converting {who} back to a user mailbox")))?;
        // Only a shared mailbox's mark is read, so one left behind is
        // harmless until the next offboarding sets it anyway.
        if let Err(e) = ex.set_offboarded_mark(&who, false).await {
            tracing::warn!(user = %who, error = %ex_err(e, format!("clearing the offboarding mark of {who}")), "the mark stays; it does no harm on a user mailbox");
        }
        Ok(())
    }

    /// The Exchange backend, for a shared mailbox or distribution list.
    fn exchange_for(&self, address: &str, what: &str) -> Result<Arc<Exchange>, ProviderError> {
        self.exchange.clone().ok_or_else(|| {
            ProviderError::Unsupported(format!(
                "{address} is {what}, an Exchange Online object: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README)"
            ))
        })
    }

    fn exchange_for_list(&self, g: &Group) -> Result<Arc<Exchange>, ProviderError> {
        self.exchange_for(&g.address, "a distribution list")
    }

    /// The delegates of a shared mailbox must be users of the tenant, by
    /// their primary address (Full Access is a user's).
    async fn check_delegates(
        &mut self,
        mailbox: &str,
        delegates: &[String],
    ) -> Result<(), ProviderError> {
        if delegates.is_empty() {
            return Ok(());
        }
        self.load_directory().await?;
        let d = self.directory.as_ref().expect("loaded above");
        for a in delegates {
            if d.ids.contains_key(a) {
                continue;
            }
            return Err(ProviderError::Rejected(match d.secondary.get(a) {
                Some(primary) => format!(
                    "{a} (under `access` of {mailbox}) is an alias of {primary}; list it by its primary address {primary}"
                ),
                None => format!(
                    "{a} cannot have access to {mailbox}: Full Access goes to users of the tenant, and {a} is none"
                ),
            }));
        }
        Ok(())
    }

    /// `New-Mailbox -Shared`, then its aliases and its delegates' Full
    /// Access, each on the mailbox Exchange may still be provisioning.
    async fn create_shared(&mut self, new: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange_for(&new.address, "a shared mailbox")?;
        self.check_delegates(&new.address, &new.delegates).await?;
        let alias = convert::user_nickname(&new.address)?;
        let local = new.address.split('@').next().unwrap_or(&new.address);
        let name = new.display_name.as_deref().unwrap_or(local);
        ex.new_shared_mailbox(&new.address, &alias, name)
            .await
            .map_err(|e| {
                exchange::error(
                    e,
                    &format!("creating shared mailbox {}", new.address),
                    &self.cid,
                )
            })?;
        let made = "the shared mailbox was created";
        if !new.aliases.is_empty() {
            ex.set_mailbox_addresses(&new.address, &new.aliases, &[], true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        made,
                    )
                })?;
        }
        for d in &new.delegates {
            ex.add_full_access_fresh(&new.address, d, true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("giving {d} Full Access to {}", new.address),
                            &self.cid,
                        ),
                        made,
                    )
                })?;
        }
        Ok(())
    }

    /// A shared mailbox's display name (Graph, as for users), aliases and
    /// delegates (Exchange).
    async fn update_shared(&mut self, old: &Mailbox, new: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange_for(&old.address, "a shared mailbox")?;
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of shared mailbox {} to {} is not done by mailform yet",
                old.address, new.address
            )));
        }
        let (grant, revoke) = diff(&old.delegates, &new.delegates);
        self.check_delegates(&new.address, &grant).await?;
        if set(&old.aliases) != set(&new.aliases) {
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_mailbox_addresses(&old.address, &add, &remove, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing the aliases of {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        if old.display_name != new.display_name {
            if let Some(name) = &new.display_name {
                let key = old.id.clone().unwrap_or_else(|| old.address.clone());
                self.patch_user(
                    &key,
                    &old.address,
                    api::UserPatch {
                        display_name: Some(name.clone()),
                        account_enabled: None,
                    },
                )
                .await?;
            }
        }
        for d in &grant {
            ex.add_full_access(&old.address, d).await.map_err(|e| {
                exchange::error(
                    e,
                    &format!("giving {d} Full Access to {}", old.address),
                    &self.cid,
                )
            })?;
        }
        for d in &revoke {
            match ex.remove_full_access(&old.address, d).await {
                Ok(()) => {}
                // Gone already (the user deleted, or revoked by hand).
                Err(CallError::Api { status: 404, .. }) => {}
                Err(e) => {
                    return Err(exchange::error(
                        e,
                        &format!("taking Full Access to {} from {d}", old.address),
                        &self.cid,
                    ))
                }
            }
        }
        Ok(())
    }

    /// `New-DistributionGroup` with its members and outside-sender
    /// setting, then its aliases.
    async fn create_distribution(&mut self, new: &Group) -> Result<(), ProviderError> {
        let ex = self.exchange_for_list(new)?;
        let alias = convert::group_nickname(&new.address)?;
        let local = new.address.split('@').next().unwrap_or(&new.address);
        let name = new.display_name.as_deref().unwrap_or(local);
        ex.new_distribution_group(
            &new.address,
            &alias,
            name,
            &new.members,
            !new.allow_external,
        )
        .await
        .map_err(|e| {
            list_member_hint(exchange::error(
                e,
                &format!("creating distribution group {}", new.address),
                &self.cid,
            ))
        })?;
        if !new.aliases.is_empty() {
            ex.set_distribution_group(&new.address, None, &new.aliases, &[], None, true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        "the distribution group was created with its members",
                    )
                })?;
        }
        Ok(())
    }

    async fn update_distribution(&mut self, old: &Group, new: &Group) -> Result<(), ProviderError> {
        let ex = self.exchange_for_list(old)?;
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of distribution group {} to {} is not done by mailform yet",
                old.address, new.address
            )));
        }
        let name = new
            .display_name
            .as_deref()
            .filter(|_| old.display_name != new.display_name);
        let (add, remove) = diff(&old.aliases, &new.aliases);
        let external = (old.allow_external != new.allow_external).then_some(!new.allow_external);
        if name.is_some() || !add.is_empty() || !remove.is_empty() || external.is_some() {
            ex.set_distribution_group(&old.address, name, &add, &remove, external, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing distribution group {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        let (adding, removing) = diff(&old.members, &new.members);
        let total = adding.len() + removing.len();
        let mut done = 0;
        for m in &adding {
            match ex.add_distribution_member(&old.address, m).await {
                Ok(()) => {}
                // A member already: what was wanted.
                Err(CallError::Api { ref message, .. }) if message.contains("already a member") => {
                }
                Err(e) => {
                    let e = list_member_hint(exchange::error(
                        e,
                        &format!("adding {m} to {}", old.address),
                        &self.cid,
                    ));
                    return Err(member_progress(e, done, total, &old.address));
                }
            }
            done += 1;
        }
        for m in &removing {
            match ex.remove_distribution_member(&old.address, m).await {
                Ok(()) => {}
                // No longer a member: what was wanted.
                Err(CallError::Api { ref message, .. }) if message.contains("isn't a member") => {}
                Err(e) => {
                    let e = exchange::error(
                        e,
                        &format!("removing {m} from {}", old.address),
                        &self.cid,
                    );
                    return Err(member_progress(e, done, total, &old.address));
                }
            }
            done += 1;
        }
        Ok(())
    }

    /// The skuIds assigned to user `key`.
    async fn assigned_licences(&self, key: &str, who: &str) -> Result<Vec<String>, ProviderError> {
        let what = format!("reading the licences of {who}");
        let url = self.url(
            &format!("/users/{}", enc(key)),
            &[("$select", "assignedLicenses")],
            &what,
            permissions::USERS,
        )?;
        let u: api::UserLicences = self
            .api
            .get(url)
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        Ok(u.assigned_licenses.into_iter().map(|l| l.sku_id).collect())
    }

    async fn patch_user(
        &self,
        key: &str,
        who: &str,
        patch: api::UserPatch,
    ) -> Result<(), ProviderError> {
        let what = format!("updating user {who}");
        let url = self.url(
            &format!("/users/{}", enc(key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<_, Value>(Method::PATCH, url, Some(&patch))
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        Ok(())
    }

    /// The tenant's default domain, where Graph creates group addresses.
    async fn default_domain(&mut self) -> Result<String, ProviderError> {
        self.domains
            .list(self.api)
            .await?
            .iter()
            .find(|d| d.is_default)
            .map(|d| d.id.to_ascii_lowercase())
            .ok_or_else(|| ProviderError::Parse("the tenant has no default domain".into()))
    }

    async fn create_group(&mut self, new: &Group) -> Result<(), ProviderError> {
        if new.kind == GroupKind::Distribution {
            return self.create_distribution(new).await;
        }
        if self.exchange.is_none() {
            if !new.aliases.is_empty() {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            }
            if new.allow_external {
                return Err(external_unsupported(&new.address));
            }
        }
        let (local, domain) = new.address.rsplit_once('@').unwrap_or((&new.address, ""));
        let default = self.default_domain().await?;
        if !domain.eq_ignore_ascii_case(&default) {
            return Err(ProviderError::Unsupported(format!(
                "Graph creates Microsoft 365 groups at the tenant's default domain ({default}), so {} cannot be made through Graph; it needs Exchange Online (Set-UnifiedGroup -PrimarySmtpAddress), which the provider's Exchange backend does not do yet — or make {domain} the default domain (Microsoft 365 admin center → Settings → Domains)",
                new.address
            )));
        }
        let nickname = convert::group_nickname(&new.address)?;
        // Resolve members before creating anything, so an outside address
        // fails the change cleanly.
        let member_ids = self.resolve_members(&new.address, &new.members).await?;
        let body = api::NewGroup {
            display_name: new
                .display_name
                .clone()
                .unwrap_or_else(|| local.to_string()),
            mail_enabled: true,
            mail_nickname: nickname,
            security_enabled: false,
            group_types: vec!["Unified".into()],
        };
        let what = format!("creating group {}", new.address);
        let url = self.url("/groups", &[], &what, permissions::GROUPS)?;
        let created: api::Group = self
            .api
            .send(Method::POST, url, Some(&body))
            .await
            .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
        let adds: Vec<(String, String)> = new.members.iter().cloned().zip(member_ids).collect();
        self.sync_members(&created.id, &new.address, &adds, &[])
            .await
            .map_err(|e| done_before(e, "the group was created"))?;
        if !new.aliases.is_empty() || new.allow_external {
            // New Microsoft 365 groups take internal mail only.
            let ex = self.exchange.clone().expect("checked above");
            ex.set_unified_group(
                &new.address,
                &new.aliases,
                &[],
                new.allow_external.then_some(false),
                true,
            )
            .await
            .map_err(|e| {
                done_before(
                    exchange::error(e, &format!("setting up group {}", new.address), &self.cid),
                    "the group was created with its members",
                )
            })?;
        }
        Ok(())
    }

    /// The id of a Microsoft 365 group Graph may write, after checking it is one.
    async fn writable_group(&mut self, g: &Group) -> Result<String, ProviderError> {
        let what = format!("reading group {}", g.address);
        let id = g.id.clone().ok_or_else(|| {
            ProviderError::Conflict(format!("{what}: the plan carries no group id: plan again"))
        })?;
        let url = self.url(
            &format!("/groups/{}", enc(&id)),
            &[("$select", "id,mail,mailEnabled,securityEnabled,groupTypes")],
            &what,
            permissions::GROUPS,
        )?;
        let live: api::Group = self
            .api
            .get(url)
            .await
            .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
        if !live.is_unified() {
            let kind = if live.security_enabled == Some(true) {
                "a mail-enabled security group"
            } else {
                "a distribution list"
            };
            return Err(ProviderError::Unsupported(format!(
                "{} is {kind}, an Exchange Online object Graph cannot change; the provider's Exchange backend covers Microsoft 365 groups only so far — change it in the Exchange admin center",
                g.address
            )));
        }
        Ok(id)
    }

    async fn update_group(&mut self, old: &Group, new: &Group) -> Result<(), ProviderError> {
        if old.kind != new.kind {
            // The planner refuses this; a plan from elsewhere must not do it.
            return Err(ProviderError::Unsupported(format!(
                "{} is a {}; mailform does not convert one kind of group into the other",
                old.address,
                if old.kind == GroupKind::Distribution {
                    "distribution list"
                } else {
                    "Microsoft 365 group"
                }
            )));
        }
        if new.kind == GroupKind::Distribution {
            return self.update_distribution(old, new).await;
        }
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of group {} needs Exchange Online, which the provider (its Exchange backend included) does not change yet",
                old.address
            )));
        }
        let aliases_change = set(&old.aliases) != set(&new.aliases);
        let external_change = old.allow_external != new.allow_external;
        if self.exchange.is_none() {
            if aliases_change {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            }
            if external_change {
                return Err(external_unsupported(&new.address));
            }
        }
        let id = self.writable_group(old).await?;
        if aliases_change || external_change {
            let ex = self.exchange.clone().expect("checked above");
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_unified_group(
                &old.address,
                &add,
                &remove,
                external_change.then_some(!new.allow_external),
                false,
            )
            .await
            .map_err(|e| {
                exchange::error(e, &format!("changing group {}", old.address), &self.cid)
            })?;
        }
        let (old_members, new_members) = (set(&old.members), set(&new.members));
        let adding: Vec<String> = new_members.difference(&old_members).cloned().collect();
        let removing: Vec<String> = old_members.difference(&new_members).cloned().collect();
        let add_ids = self.resolve_members(&new.address, &adding).await?;
        if old.display_name != new.display_name {
            if let Some(name) = &new.display_name {
                let what = format!("renaming group {}", old.address);
                let url = self.url(
                    &format!("/groups/{}", enc(&id)),
                    &[],
                    &what,
                    permissions::GROUPS,
                )?;
                self.api
                    .send::<_, Value>(
                        Method::PATCH,
                        url,
                        Some(&api::GroupPatch {
                            display_name: name.clone(),
                        }),
                    )
                    .await
                    .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
            }
        }
        let removals = if removing.is_empty() {
            vec![]
        } else {
            // The members' ids as the group holds them now.
            let live = list_members(self.api, &id, &self.cid).await?;
            let by_address: HashMap<String, String> = live
                .iter()
                .filter_map(|m| convert::member_address(m).map(|a| (a, m.id.clone())))
                .collect();
            // One no longer a member needs no removal.
            removing
                .iter()
                .filter_map(|a| by_address.get(a).map(|id| (a.clone(), id.clone())))
                .collect()
        };
        let adds: Vec<(String, String)> = adding.into_iter().zip(add_ids).collect();
        self.sync_members(&id, &new.address, &adds, &removals).await
    }

    /// The tenant's users by address, listed once an apply.
    async fn load_directory(&mut self) -> Result<(), ProviderError> {
        if self.directory.is_none() {
            let what = "listing the tenant's users";
            let url = self.url(
                "/users",
                &[
                    ("$select", "id,userPrincipalName,mail,proxyAddresses"),
                    ("$top", api::PAGE),
                ],
                what,
                permissions::USERS,
            )?;
            let users: Vec<api::User> = self
                .api
                .get_all(url)
                .await
                .map_err(|e| self.err(e, what, permissions::USERS))?;
            let mut d = Directory::default();
            for u in &users {
                let Some(primary) = convert::user_address(u) else {
                    continue;
                };
                for a in convert::secondary_smtp(&u.proxy_addresses, &primary) {
                    d.secondary.insert(a, primary.clone());
                }
                if let Some(upn) = &u.user_principal_name {
                    d.ids.insert(upn.to_ascii_lowercase(), u.id.clone());
                }
                d.ids.insert(primary, u.id.clone());
            }
            self.directory = Some(d);
        }
        Ok(())
    }

    /// The directory ids of `members`, which must be users of the tenant
    /// given by their primary address.
    async fn resolve_members(
        &mut self,
        group: &str,
        members: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        if members.is_empty() {
            return Ok(vec![]);
        }
        self.load_directory().await?;
        let d = self.directory.as_ref().expect("loaded above");
        members
            .iter()
            .map(|m| {
                if let Some(id) = d.ids.get(m) {
                    return Ok(id.clone());
                }
                Err(match d.secondary.get(m) {
                    Some(primary) => ProviderError::Rejected(format!(
                        "{m} (a member of {group}) is an alias of {primary}; list the member by its primary address {primary}"
                    )),
                    None => ProviderError::Rejected(format!(
                        "{m} cannot be a member of {group}: Microsoft 365 groups take only users of the tenant, and {m} is none (inviting outside addresses as guests is not supported)"
                    )),
                })
            })
            .collect()
    }

    /// Adds and removes members of group `id` through `$batch`.
    /// `adds`/`removes`: (address, directory id).
    async fn sync_members(
        &self,
        id: &str,
        group: &str,
        adds: &[(String, String)],
        removes: &[(String, String)],
    ) -> Result<(), ProviderError> {
        if adds.is_empty() && removes.is_empty() {
            return Ok(());
        }
        let endpoint = self.config.graph_endpoint();
        let mut items = Vec::new();
        for (_, uid) in adds {
            items.push(BatchItem {
                method: Method::POST,
                url: format!("/groups/{}/members/$ref", enc(id)),
                body: Some(
                    serde_json::to_value(api::MemberRef {
                        odata_id: format!("{endpoint}/v1.0/directoryObjects/{uid}"),
                    })
                    .unwrap_or(Value::Null),
                ),
                retry_not_found: true,
            });
        }
        for (_, uid) in removes {
            items.push(BatchItem {
                method: Method::DELETE,
                url: format!("/groups/{}/members/{}/$ref", enc(id), enc(uid)),
                body: None,
                retry_not_found: false,
            });
        }
        let results = self.api.batch(&items).await;
        let labels = adds
            .iter()
            .map(|(a, _)| format!("adding {a} to {group}"))
            .chain(
                removes
                    .iter()
                    .map(|(a, _)| format!("removing {a} from {group}")),
            );
        let mut failures = Vec::new();
        for (label, r) in labels.zip(results) {
            match r {
                Ok(_) => {}
                // Already a member: what was wanted.
                Err(CallError::Api {
                    status: 400,
                    ref message,
                    ..
                }) if label.starts_with("adding") && message.contains("already exist") => {}
                // No longer a member: what was wanted.
                Err(CallError::Api { status: 404, .. }) if label.starts_with("removing") => {}
                Err(e) => failures.push(self.err(e, &label, permissions::GROUPS)),
            }
        }
        let total = items.len();
        match failures.len() {
            0 => Ok(()),
            n => {
                let first = failures.swap_remove(0);
                let note = format!(
                    "{} of {total} member changes of {group} failed, the others were made",
                    n
                );
                Err(done_before(first, &note))
            }
        }
    }
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

/// (added, removed) from `old` to `new`.
fn diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let (o, n) = (set(old), set(new));
    (
        n.difference(&o).cloned().collect(),
        o.difference(&n).cloned().collect(),
    )
}

/// A path segment: ids are GUIDs, sign-in names need `@` kept and little
/// else; everything outside the unreserved set is percent-encoded.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The clear-text initial password; Graph takes no hashes.
fn initial_password(
    password: Option<&InitialPassword>,
    address: &str,
) -> Result<String, ProviderError> {
    match password {
        Some(InitialPassword::Plain(p)) => Ok(p.expose().to_string()),
        Some(InitialPassword::Hash(_)) => Err(ProviderError::Rejected(format!(
            "Microsoft 365 takes no password hashes: give {address} `initial_password` (`${{file:...}}`, `${{env:...}}` or `generate`) instead of `password_hash`"
        ))),
        Some(InitialPassword::Generate) | None => Err(ProviderError::Rejected(format!(
            "user {address} has no initial password; give it `initial_password: ${{file:...}}` (or `generate`)"
        ))),
    }
}

fn aliases_unsupported(address: &str, aliases: &[String]) -> ProviderError {
    ProviderError::Unsupported(format!(
        "the aliases of {address} ({}) are its Exchange proxyAddresses, which Graph only reads; changing them needs Exchange Online: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README), change them in the Exchange admin center, or make the YAML match what is there",
        if aliases.is_empty() { "none wanted".to_string() } else { aliases.join(", ") }
    ))
}

fn external_unsupported(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "whether {address} takes mail from outside the organisation is an Exchange Online setting (RequireSenderAuthenticationEnabled) Graph cannot read or write; turn on the provider's Exchange backend (`exchange: {{enabled: true}}`), or leave `allow_external` unset (new Microsoft 365 groups take internal mail only)"
    ))
}

fn standalone(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "Microsoft 365 has no forwarding-only address like {address} through Graph; list it under `aliases:` of the mailbox or group it reaches"
    ))
}

fn offboarding_unsupported(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "offboarding {address} on Microsoft 365 (or reinstating it) converts its mailbox between shared and user and sets its forwarding, which needs Exchange Online: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README), or use `state: suspended` and forward by hand"
    ))
}

fn offboarding_new(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "{address} cannot be created offboarded on Microsoft 365: create it (`state: suspended`), then offboard it in a later apply"
    ))
}

/// The licence removal after the conversion failed: a read takes the
/// user as offboarded, so no plan repeats it.
fn licence_left(e: ProviderError) -> ProviderError {
    e.map_message(|m| format!("{m} — a plan will not show this: remove its licences by hand (Microsoft 365 admin center → Users → Active users → Licenses and apps)"))
}

/// A member Exchange cannot find: what a distribution list can hold.
fn list_member_hint(e: ProviderError) -> ProviderError {
    if !e.to_string().contains("couldn't be found") && !e.to_string().contains("Couldn't find") {
        return e;
    }
    e.map_message(|m| format!("{m} — a distribution list's members must be recipients of the tenant (users, groups, mail contacts); mailform does not create mail contacts for outside addresses, so add one in the Exchange admin center first"))
}

/// A member change that failed after `done` of `total` were made.
fn member_progress(e: ProviderError, done: usize, total: usize, group: &str) -> ProviderError {
    if done == 0 {
        return e;
    }
    done_before(
        e,
        &format!("{done} of {total} member changes of {group} were made"),
    )
}

/// A failure after earlier steps of the same change succeeded.
fn done_before(e: ProviderError, done: &str) -> ProviderError {
    e.map_message(|m| format!("{done}, but then: {m}; apply again to finish"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::Secret;

    #[test]
    fn only_clear_text_passwords_are_taken() {
        let plain = InitialPassword::Plain(Secret::new("Correct-Horse-1"));
        assert_eq!(
            initial_password(Some(&plain), "a@x").unwrap(),
            "Correct-Horse-1"
        );
        let hash = InitialPassword::Hash(Secret::new("{SHA512-CRYPT}$6$salt$hash"));
        let e = initial_password(Some(&hash), "a@x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no password hashes") && !e.contains("$6$"),
            "{e}"
        );
        assert!(initial_password(None, "a@x").is_err());
    }

    #[test]
    fn routing_addresses_and_domains() {
        assert!(routing_address("a@contoso.onmicrosoft.com"));
        assert!(!routing_address("a@example.com"));
        assert!(in_domain("a@Example.com", "example.com"));
        assert!(!in_domain("a@sub.example.com", "example.com"));
        assert_eq!(enc("a+b@example.com"), "a%2Bb@example.com");
    }
}
