//! The `microsoft_365` mail provider for mailform: a Microsoft 365
//! tenant's users (mailboxes), Microsoft 365 groups and their members
//! through Microsoft Graph v1.0, authorised app-only with the OAuth 2.0
//! client-credentials grant of an Entra ID app registration.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]).
//! - [`auth`]: the client-credentials grant and the token cache; the
//!   application permissions mailform needs and where to grant them.
//! - [`api`]: the wire types.
//! - `client`: authorised calls over `mailform-http`, `$batch`, Graph's
//!   own pacing and retry rules.
//! - `convert`: users and groups ↔ the contract's types; error messages.
//! - [`exchange`]: the Exchange Online backend (`InvokeCommand`), opt-in.
//! - `provider`: [`M365Provider`], the [`mailform_contract::MailProvider`].
//! - `read`: reading a domain's mailboxes and groups.
//! - `apply`: carrying out changes (users, offboarding, shared mailboxes,
//!   groups, members).
//! - `errors`: the provider's own error messages.
//! - `domains`: domain onboarding through `/domains` (the domain's stage,
//!   adding and verifying it, the records Microsoft names for Email).
//! - [`dkim`]: DKIM signing configs through [`exchange`] (opt-in).
//! - [`fake`] (feature `fake`): an in-process fake of the token endpoint
//!   and of Graph, checked against Graph's OpenAPI description, also run
//!   as the `m365-fake` binary.
//!
//! What Graph can and cannot do, and so what this crate does:
//! - **Users**: created (`accountEnabled`, `displayName`, `mailNickname`,
//!   `userPrincipalName` = the address, `passwordProfile` with a clear-text
//!   initial password the user must change), renamed, suspended
//!   (`accountEnabled: false`), deleted. Graph takes no password hashes.
//! - **Mailbox aliases** are the user's `proxyAddresses` (`SMTP:` primary,
//!   `smtp:` secondary), which Graph only reads; with `exchange: {enabled:
//!   true}` they are read, compared and written through [`exchange`];
//!   without it they are not managed (left out of reads; the capabilities
//!   say so, and the planner refuses declared ones naming the setting).
//!   Offboarding likewise needs [`exchange`] and is refused at plan
//!   without it.
//! - **Groups**: Microsoft 365 groups (`groupTypes: ["Unified"]`) are
//!   created, renamed, deleted and their members added and removed
//!   (`$batch`, 20 a batch). Members must be users of the tenant. Graph
//!   creates a group's address in the tenant's default domain, so a group
//!   elsewhere is refused before anything is written. Mail-enabled
//!   security groups are read (they hold addresses) but are Exchange
//!   objects Graph cannot write: changes to them fail as unsupported.
//!   Group aliases are written through [`exchange`].
//! - **Distribution lists** (`GroupKind::Distribution`) are read through
//!   Graph like the other groups and written through [`exchange`]
//!   (`New-`/`Set-`/`Remove-DistributionGroup`, members one a call).
//! - **Shared mailboxes** (`MailboxKind::Shared`): their accounts are
//!   users to Graph; [`exchange`] tells them apart (`Get-Mailbox`), reads
//!   their Full Access delegates and creates and changes them
//!   (`New-Mailbox -Shared`, `Add-`/`Remove-MailboxPermission`).
//! - **Outside senders** (Exchange's `RequireSenderAuthenticationEnabled`
//!   of Microsoft 365 groups): read and written through [`exchange`];
//!   without it, not readable app-only, groups read as closed and the
//!   capability is declared absent.
//! - **Licences**: `default_licence` (a SKU part number) is assigned to
//!   every user mailform creates, after checking a seat is free.
//! - **Domains**: a domain's stage (absent, unverified, ready) from one
//!   listing of the tenant's domains a run; an absent one is added, its
//!   `MS=ms…` TXT named, then verified and set up for Email, and the
//!   Email records (MX, autodiscover, SPF) named. Needs
//!   `Domain.ReadWrite.All`; everything else only `Domain.Read.All`.
//!
//! - **DKIM** ([`dkim`], `exchange: {enabled: true, dkim: true}`): each
//!   ready domain's DKIM signing config read through [`exchange`]
//!   (`Get-DkimSigningConfig`), its selector CNAMEs named as records and
//!   what is left (create, enable) as setup steps, carried out by
//!   `complete_setup`; onboarding creates the config at once.
//!
//! Not done yet (later sessions): Microsoft 365 group addresses outside
//! the default domain, mail contacts for outside members of distribution
//! lists, converting between kinds of mailbox or group, rotating DKIM
//! keys.
//!
//! Credentials: a client secret, or (`client_certificate`) a certificate
//! whose key signs a client assertion per token request (`auth.rs`).

pub mod api;
mod apply;
pub mod auth;
mod client;
pub mod config;
mod convert;
pub mod dkim;
mod domains;
mod errors;
pub mod exchange;
mod provider;
mod read;

#[cfg(feature = "fake")]
pub mod fake;

pub use config::Config;
pub use provider::M365Provider;
