//! The `alidns` DNS provider for mailform: Alibaba Cloud DNS (云解析 DNS)
//! through its RPC API, version 2015-01-09, with signed requests, paged
//! reads and per-record applies.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]) and the AccessKey.
//! - [`signer`]: the RPC V1 HMAC-SHA1 request signature.
//! - [`api`]: the wire types (records, pages, the error envelope).
//! - `errors`: Alidns error codes → plain messages.
//! - `client`: signed calls over the shared HTTP client, with retries that
//!   re-sign and never repeat a write.
//! - `convert`: record sets ↔ Alidns records (RR, MX priority, TXT quotes).
//! - `audit`: the value limits checked at plan time (MX priority, null MX, TXT length).
//! - `provider`: [`AlidnsProvider`], the [`mailform_contract::DnsProvider`].
//! - [`fake`] (feature `fake`): an in-process Alidns API for tests, also run
//!   as the `alidns-fake` binary.

pub mod api;
mod audit;
mod client;
pub mod config;
mod convert;
mod errors;
mod provider;
pub mod signer;

#[cfg(feature = "fake")]
pub mod fake;

pub use config::Config;
pub use provider::AlidnsProvider;
