//! The desired state: what the YAML says should exist, compiled from the
//! config into the contract's types, each item remembering where in the
//! file it was declared.

use globset::GlobSet;
use mailform_contract::{Alias, Group, InitialPassword, Mailbox, RecordSet};

use crate::config::diagnostic::Loc;
use crate::config::model::{DnsManage, MailManage, Safety};

/// Where an item was declared: file position and key path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub loc: Loc,
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct Declared<T> {
    pub item: T,
    pub origin: Origin,
}

/// Everything one run of mailform should make true.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub zones: Vec<DesiredZone>,
    pub mail: Vec<DesiredMailDomain>,
    pub safety: Safety,
    /// The profile applied, if any: name and description.
    pub profile: Option<(String, Option<String>)>,
}

/// One zone at one DNS provider.
#[derive(Debug, Clone)]
pub struct DesiredZone {
    pub zone: String,
    /// Name of the provider instance (a key of `providers`).
    pub provider: String,
    pub manage: DnsManage,
    /// Relative-name globs never touched.
    pub ignore: GlobSet,
    pub ignore_patterns: Vec<String>,
    pub records: Vec<Declared<RecordSet>>,
    /// The MTA-STS policy file the `mta_sts` block describes, if any.
    pub mta_sts_policy: Option<String>,
}

/// One mail domain at one mail provider.
#[derive(Debug, Clone)]
pub struct DesiredMailDomain {
    pub domain: String,
    pub provider: String,
    pub manage: MailManage,
    pub mailboxes: Vec<DesiredMailbox>,
    pub aliases: Vec<Declared<Alias>>,
    pub groups: Vec<Declared<Group>>,
    /// Mailboxes and groups whose lists are additive (`lists: additive`):
    /// live entries the file does not name are kept.
    pub additive: std::collections::BTreeSet<String>,
    /// `alias_of`: this domain is a domain alias of that mail domain of
    /// the file (ASCII); it holds no objects of its own.
    pub alias_of: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DesiredMailbox {
    pub mailbox: Mailbox,
    /// `state: deleted`: remove it (only with `apply --allow-destroy`).
    pub delete: bool,
    /// Initial password (a hash, a clear-text secret, or "generate at
    /// apply"), used on creation only.
    pub password: Option<InitialPassword>,
    pub origin: Origin,
}
