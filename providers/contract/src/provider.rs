//! The provider traits, their declared capabilities and the apply report.
//!
//! A provider is constructed from its own settings (see each provider
//! crate's `Config`), then the engine calls `read_*` for every zone or mail
//! domain it manages and `apply_*` with the changes it decided. A provider
//! must:
//! - fail a read rather than return partial state (an unreadable object
//!   must never look absent, or the engine would plan to create it again);
//! - report one [`ChangeOutcome`] per change, in order, saying exactly what
//!   was and was not done;
//! - never retry a write blindly where that could duplicate it.

use async_trait::async_trait;
use serde::Serialize;

use crate::audit::Limit;
use crate::dns::{DnsChange, RecordSet, RecordType, ZoneState};
use crate::error::ProviderError;
use crate::mail::{MailChange, MailDomainState};
use crate::onboarding::{DomainStatus, ProviderRecord};

/// What a DNS provider can store, checked before any apply (an audit in the
/// manner of DNSControl's `auditrecords`).
#[derive(Debug, Clone, Serialize)]
pub struct DnsCapabilities {
    /// Record types it can create, update and delete.
    pub record_types: Vec<RecordType>,
    pub min_ttl: u32,
    pub max_ttl: u32,
    /// Whether one zone's changes are applied all or nothing.
    pub atomic_zone_apply: bool,
    /// Whether applying to a zone that does not exist creates it.
    pub creates_zones: bool,
    /// The values it cannot store, each with its source
    /// ([`crate::audit`]).
    pub limits: Vec<Limit>,
}

impl DnsCapabilities {
    /// The reasons this provider cannot store `set`, if any.
    pub fn audit(&self, set: &RecordSet) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.record_types.contains(&set.rtype) {
            problems.push(format!("record type {} is not supported", set.rtype));
        }
        if set.ttl < self.min_ttl || set.ttl > self.max_ttl {
            problems.push(format!(
                "TTL {} is outside what this provider accepts ({}..={})",
                set.ttl, self.min_ttl, self.max_ttl
            ));
        }
        problems.extend(self.limits.iter().filter_map(|l| l.problem(set)));
        problems
    }
}

/// How a mail provider takes the initial password of a new mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordPolicy {
    /// Hash schemes it stores as given (`SHA512-CRYPT`); empty when it
    /// takes no hashes.
    pub hash_schemes: Vec<String>,
    /// Whether it takes a clear-text initial password (it hashes it).
    pub plain: bool,
    /// Whether a new mailbox must have one.
    pub required: bool,
}

impl PasswordPolicy {
    /// Why `password` cannot be used for a new mailbox, if it cannot.
    pub fn refusal(&self, password: Option<&crate::mail::InitialPassword>) -> Option<String> {
        use crate::mail::InitialPassword;
        let hashes = || {
            if self.hash_schemes.is_empty() {
                String::new()
            } else {
                format!("`password_hash` in one of {}", self.hash_schemes.join(", "))
            }
        };
        let accepted = match (self.hash_schemes.is_empty(), self.plain) {
            (false, true) => format!("{} or `initial_password`", hashes()),
            (false, false) => hashes(),
            (true, _) => {
                "`initial_password` (`${file:...}`, `${env:...}` or `generate`)".to_string()
            }
        };
        match password {
            None if self.required => Some(format!("a new mailbox needs {accepted}")),
            None => None,
            Some(p @ InitialPassword::Hash(_)) => {
                let scheme = p.scheme().unwrap_or("");
                (!self.hash_schemes.iter().any(|s| s == scheme))
                    .then(|| format!("it does not take `{{{scheme}}}` hashes; give {accepted}"))
            }
            Some(InitialPassword::Plain(_) | InitialPassword::Generate) => {
                (!self.plain).then(|| format!("it takes no clear-text password; give {accepted}"))
            }
        }
    }
}

/// What a mail provider can manage.
#[derive(Debug, Clone, Serialize)]
pub struct MailCapabilities {
    /// Mailboxes carry their own extra addresses ([`crate::Mailbox::aliases`]).
    pub mailbox_aliases: bool,
    /// Groups carry their own extra addresses ([`crate::Group::aliases`]).
    pub group_aliases: bool,
    pub groups: bool,
    /// Addresses that only forward ([`crate::Alias`]) can exist on their own,
    /// not only as extra addresses of a mailbox or group.
    pub standalone_aliases: bool,
    /// Groups can be closed to senders outside the organisation.
    pub group_external_senders: bool,
    pub display_names: bool,
    /// Shared mailboxes ([`crate::MailboxKind::Shared`]) with their
    /// delegates can be created and changed.
    pub shared_mailboxes: bool,
    /// Distribution lists ([`crate::GroupKind::Distribution`]) can be
    /// created and changed, next to the default kind of group.
    pub distribution_lists: bool,
    /// The setting of this provider that would give it capabilities it
    /// lacks as configured (Microsoft 365: its Exchange Online backend),
    /// named in the planner's refusals; `None` when no setting would.
    pub settings_hint: Option<String>,
    pub password: PasswordPolicy,
    /// A domain can be onboarded as an alias of another domain of the
    /// tenant (Google Workspace's domain aliases): every user of the
    /// parent gets the same address there.
    pub domain_aliases: bool,
    /// Mailboxes can be offboarded (`state: offboarded`, a successor) and
    /// reinstated; when not, the planner refuses `state: offboarded`,
    /// naming [`MailCapabilities::settings_hint`].
    pub offboarding: bool,
}

/// What became of one change.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum ChangeOutcome {
    Applied,
    Failed(ProviderError),
    /// Not tried, and nothing was changed (an earlier failure, a rolled-back
    /// batch, a failed dependency); the string says why.
    NotAttempted(String),
}

/// One [`ChangeOutcome`] per change, in the order the changes were given.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub outcomes: Vec<ChangeOutcome>,
}

impl ApplyReport {
    /// Every change failed or not attempted for one reason: for atomic
    /// providers, and for errors before anything was written.
    pub fn all_failed(count: usize, error: ProviderError) -> ApplyReport {
        let mut outcomes = Vec::with_capacity(count);
        if count > 0 {
            outcomes.push(ChangeOutcome::Failed(error));
            outcomes.extend(
                (1..count).map(|_| ChangeOutcome::NotAttempted("the batch failed".to_string())),
            );
        }
        ApplyReport { outcomes }
    }

    pub fn all_applied(count: usize) -> ApplyReport {
        ApplyReport {
            outcomes: vec![ChangeOutcome::Applied; count],
        }
    }
}

/// A DNS provider: reads zones and applies record-set changes.
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// The provider type name as written in the YAML (`zonefile`).
    fn kind(&self) -> &'static str;
    fn capabilities(&self) -> DnsCapabilities;
    /// Every record set of `zone` (absolute, lower-case, no trailing dot).
    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError>;
    /// Applies `changes` to `zone`; one outcome per change.
    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport;
}

/// A mail provider: reads a domain's mail objects and applies changes.
#[async_trait]
pub trait MailProvider: Send + Sync {
    fn kind(&self) -> &'static str;
    fn capabilities(&self) -> MailCapabilities;
    /// Reads the domain's mailboxes, aliases and groups. Called only for a
    /// domain whose [`MailProvider::domain_status`] is ready.
    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError>;
    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport;

    /// Whether `domain` is verified at the provider and which records it
    /// asks to have published. Read-only. Providers without a notion of
    /// domains keep the default: ready, nothing asked.
    async fn domain_status(&self, domain: &str) -> Result<DomainStatus, ProviderError> {
        let _ = domain;
        Ok(DomainStatus::ready())
    }

    /// Starts onboarding `domain`: adds it to the tenant if it is absent and
    /// returns the verification records to publish. Calling it again for a
    /// domain already added must not add it twice. With `alias_of`, the
    /// domain is to become an alias of that domain of the tenant (only
    /// where [`MailCapabilities::domain_aliases`]).
    async fn begin_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        let _ = alias_of;
        Err(ProviderError::Unsupported(format!(
            "provider `{}` cannot add the domain {domain}; add and verify it in the provider's console",
            self.kind()
        )))
    }

    /// Verifies `domain` (its verification records are served by every
    /// authoritative server by now), makes it usable for mail and returns
    /// every record the provider asks for from now on, as
    /// [`MailProvider::domain_status`] of a ready domain would. With
    /// `alias_of`, it becomes an alias of that domain rather than a domain
    /// of its own.
    async fn finish_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        let _ = alias_of;
        Err(ProviderError::Unsupported(format!(
            "provider `{}` cannot verify the domain {domain}",
            self.kind()
        )))
    }

    /// Carries out what [`DomainStatus::setup`] listed, now that the
    /// records the provider asks for are published and served (the engine
    /// calls it after the domain's DNS and MX changes, and after
    /// onboarding the domain in the same apply). Returns what was done,
    /// one line each; nothing when nothing was pending. Safe to call again.
    async fn complete_setup(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        let _ = domain;
        Ok(Vec::new())
    }
}
