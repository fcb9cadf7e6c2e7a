//! The `rfc2136` DNS provider for mailform: any standard authoritative
//! server (BIND 9, Knot, PowerDNS with `dnsupdate=yes`) through the DNS
//! protocol itself.
//!
//! A zone is read by zone transfer (AXFR, RFC 5936) and written by DNS
//! UPDATE (RFC 2136), both over TCP and signed with TSIG (RFC 8945). Every
//! UPDATE carries prerequisites (RFC 2136 §2.4) that make each change
//! conditional on the state the plan saw, so the server itself refuses a
//! concurrent edit, atomically, instead of overwriting it.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]).
//! - `key`: the TSIG key from the settings or `MAILFORM_TSIG_SECRET`.
//! - `transport`: length-prefixed DNS messages over TCP, with a timeout.
//! - `convert`: hickory-proto records ↔ the contract's record sets.
//! - `axfr`: reading a zone.
//! - `update`: changes → UPDATE messages with prerequisites, split to fit.
//! - `rcode`: response codes → [`mailform_contract::ProviderError`]s.
//! - `provider`: [`Rfc2136Provider`], the [`mailform_contract::DnsProvider`].
//!
//! Messages are built and signed with hickory-proto 0.26 (`TSigner`);
//! the transport is a few lines of tokio, which keeps timeouts, message
//! splitting and multi-message AXFR verification in our hands.

mod axfr;
pub mod config;
mod convert;
mod key;
mod provider;
mod rcode;
mod transport;
mod update;

pub use config::{Config, TsigAlgorithmName};
pub use provider::Rfc2136Provider;
