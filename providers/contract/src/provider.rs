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

use crate::dns::{DnsChange, RecordSet, RecordType, ZoneState};
use crate::error::ProviderError;
use crate::mail::{MailChange, MailDomainState};

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
        problems
    }
}

/// How a mail provider takes the initial password of a new mailbox.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordPolicy {
    /// A hash in one of these schemes (`{SHA512-CRYPT}...`) is required.
    HashRequired { schemes: Vec<String> },
    /// A clear-text initial password may be given; the provider hashes it.
    PlainOptional,
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
    pub password: PasswordPolicy,
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
    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError>;
    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport;
}
