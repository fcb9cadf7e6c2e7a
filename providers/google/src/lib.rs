//! The `google_workspace` mail provider for mailform: a Google Workspace
//! tenant's users, user aliases, groups, group aliases and members through
//! the Admin SDK Directory API, and who may post to a group through the
//! Groups Settings API, authorised by a service account with domain-wide
//! delegation; new domains are added to the tenant after verifying them
//! through the Site Verification API.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]) and the key file.
//! - [`auth`]: the RS256 JWT grant and the token cache; the scopes.
//! - [`api`]: the wire types.
//! - [`batch`]: the multipart batch protocol.
//! - `client`: authorised calls with Google's own retry rules, one by one
//!   or batched.
//! - `convert`: users and groups ↔ the contract's types; error messages.
//! - `apply`: changes as stages of batched calls.
//! - `offboard`: offboarding (data transfer, forwarding, the leavers'
//!   organisational unit) and reading it back.
//! - `onboard`: adding a domain to the tenant (Site Verification token,
//!   verification, `domains.insert`) and where a domain stands.
//! - `provider`: [`GoogleProvider`], the [`mailform_contract::MailProvider`].
//! - [`fake`] (feature `fake`): in-process fakes of the token endpoint and
//!   both APIs for tests, also run as the `google-fake` binary.

pub mod api;
mod apply;
pub mod auth;
pub mod batch;
mod client;
pub mod config;
mod convert;
mod offboard;
mod onboard;
mod provider;

#[cfg(feature = "fake")]
pub mod fake;

pub use config::Config;
pub use provider::{GoogleProvider, SCHEMES};
