//! The contract every mailform provider implements.
//!
//! The engine (the `mailform` crate) decides *what* to change; a provider only
//! reads live state into the types defined here and carries out a list of
//! changes the engine hands it. Nothing in a provider may decide to create,
//! update or delete an object on its own.
//!
//! - [`dns`]: record sets, their normalised comparison, DNS changes.
//! - [`mail`]: mailboxes, aliases, groups, mail changes.
//! - [`provider`]: the [`DnsProvider`] and [`MailProvider`] traits, capabilities
//!   and the per-change apply report.
//! - [`onboarding`]: domains a mail provider does not serve yet, and the
//!   records it asks to have published.
//! - [`secret`]: a string that never prints itself.
//! - [`name`]: domain-name and address normalisation shared by all sides.
//! - [`interpolate`] and [`settings`]: `${env:...}`/`${file:...}` references,
//!   and provider settings that hold secrets; [`file`]: bounded reads of
//!   regular files only.
//! - [`local_state`]: the lock file and symlink-aware writes of providers
//!   whose state is local files.

pub mod audit;
pub mod dns;
pub mod error;
pub mod file;
pub mod interpolate;
pub mod local_state;
pub mod mail;
pub mod memory;
pub mod name;
pub mod onboarding;
pub mod provider;
pub mod secret;
pub mod settings;

pub use dns::{DnsChange, RData, RecordSet, RecordType, ZoneState};
pub use error::ProviderError;
pub use mail::{
    Alias, Group, GroupKind, InitialPassword, MailChange, MailDomainState, Mailbox, MailboxKind,
    MailboxState,
};
pub use onboarding::{DomainStage, DomainStatus, ProviderRecord, RecordPurpose};
pub use provider::{
    ApplyReport, ChangeOutcome, DnsCapabilities, DnsProvider, MailCapabilities, MailProvider,
};
pub use secret::Secret;
