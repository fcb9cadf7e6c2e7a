//! [`M365Provider`]: the [`MailProvider`] for Microsoft 365 through Graph
//! — its clients (Graph, and Exchange Online when enabled), what it can
//! do, and the trait's entry points. Reading is in `crate::read`,
//! changes in `crate::apply`, error messages in `crate::errors`.
//!
//! The tenant's domains are listed once a run and the listing shared by
//! the domains' statuses, this check, the default domain and the Exchange
//! anchor (see `crate::domains`, which also onboards domains).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, DomainStatus, MailCapabilities, MailChange, MailDomainState, MailProvider,
    ProviderError, ProviderRecord,
};
use mailform_http::Retry;

use crate::auth::TokenSource;
use crate::client::Api;
use crate::config::Config;
use crate::dkim;
use crate::domains::{self, DomainCache};
use crate::exchange::Exchange;

pub struct M365Provider {
    pub(crate) config: Config,
    pub(crate) retry: Retry,
    pub(crate) api: OnceLock<Result<Arc<Api>, ProviderError>>,
    pub(crate) exchange: OnceLock<Result<Arc<Exchange>, ProviderError>>,
    /// Consecutive user creates go through `$batch`, 20 a request.
    pub(crate) batch_user_creates: bool,
    /// The tenant's domains, read once a run (see [`crate::domains`]).
    pub(crate) domains: DomainCache,
    /// What this provider created through Graph (see [`Created`]).
    pub(crate) created: std::sync::Mutex<Created>,
    /// Waits before asking Microsoft again to verify a domain.
    pub(crate) verify_delays: Vec<std::time::Duration>,
}

/// Users and groups this provider created, from Graph's answers to the
/// creates. Graph's directory is eventually consistent: an object just
/// created may be missing from listings for a while, though found by id
/// at once ("Overview of Microsoft Graph": Azure AD's replication; seen
/// as `Request_ResourceNotFound` on adding a member just created). So
/// members and delegates are resolved from here as well as from the
/// listing, and a read fetches by id what the listing lacks.
#[derive(Debug, Default)]
pub(crate) struct Created {
    /// Primary address (lower case) → user id.
    pub(crate) users: std::collections::HashMap<String, String>,
    /// Group ids.
    pub(crate) groups: std::collections::BTreeSet<String>,
}

impl M365Provider {
    /// What this provider created so far (the lock is never held across
    /// an await).
    pub(crate) fn created(&self) -> std::sync::MutexGuard<'_, Created> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }

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
            created: Default::default(),
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
    pub(crate) fn tokens(&self, scope: &str) -> Result<TokenSource, ProviderError> {
        TokenSource::new(
            &self.config.client_id,
            self.config.credential()?,
            &self.config.tenant,
            scope,
            &self.config.token_url(),
        )
    }

    pub(crate) fn api(&self) -> Result<Arc<Api>, ProviderError> {
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
    pub(crate) async fn exchange(&self, api: &Api) -> Result<Option<Arc<Exchange>>, ProviderError> {
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

#[async_trait]
impl MailProvider for M365Provider {
    fn kind(&self) -> &'static str {
        "microsoft_365"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            // Graph reads them (proxyAddresses) but only Exchange writes
            // them: without it they are not managed (a read leaves them
            // out), so declaring any is a plan-time problem.
            mailbox_aliases: self.config.exchange_enabled(),
            group_aliases: self.config.exchange_enabled(),
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
            // The conversion to shared and the forwarding are Exchange's.
            offboarding: self.config.exchange_enabled(),
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

/// A path segment: ids are GUIDs, sign-in names need `@` kept and little
/// else; everything outside the unreserved set is percent-encoded.
pub(crate) fn enc(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_keep_at_signs() {
        assert_eq!(enc("a+b@example.com"), "a%2Bb@example.com");
    }
}
