//! The `cloudflare` DNS provider for mailform: Cloudflare's v4 API with
//! paginated reads and atomic batched applies.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]) and the token.
//! - `api`: the wire types (envelope, records, batch bodies).
//! - `convert`: record sets ↔ Cloudflare records (TTL 1, proxied, TXT, SRV/CAA `data`).
//! - `batch`: changes → record operations → batch requests (ordering, chunking).
//! - `errors`: Cloudflare error codes → plain messages.
//! - `audit`: the value limits checked at plan time.
//! - `client`: the API calls over the shared HTTP client.
//! - `provider`: [`CloudflareProvider`], the [`mailform_contract::DnsProvider`].
//! - [`fake`] (feature `fake`): an in-process Cloudflare API for tests, also
//!   run as the `cloudflare-fake` binary.

mod api;
mod audit;
mod batch;
mod client;
pub mod config;
mod convert;
mod errors;
mod provider;

#[cfg(feature = "fake")]
pub mod fake;

pub use config::Config;
pub use convert::AUTO_TTL;
pub use provider::CloudflareProvider;
