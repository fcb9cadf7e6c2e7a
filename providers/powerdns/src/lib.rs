//! The `powerdns` DNS provider for mailform: zones on a PowerDNS
//! Authoritative server, through its HTTP API (`/api/v1`).
//!
//! A zone is read with one `GET /servers/{server}/zones/{zone}` (all its
//! RRsets in one answer) and changed with one `PATCH` of RRsets, which the
//! server applies in one database transaction: all or nothing. A zone the
//! file declares but the server lacks is created with one `POST`.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]).
//! - `wire`: the JSON shapes of the API (zones, RRsets, records, errors).
//! - `content`: PowerDNS record content ↔ the contract's [`mailform_contract::RData`].
//! - `errors`: HTTP answers → [`mailform_contract::ProviderError`] with the fix in the message.
//! - `api`: the three API calls, over the shared `mailform-http` client.
//! - `provider`: [`PowerdnsProvider`], the [`mailform_contract::DnsProvider`].
//!
//! API reference: <https://doc.powerdns.com/authoritative/http-api/zone.html>
//! and its data-format page (error bodies `{"error": ...}`, `X-API-Key`).

mod api;
pub mod config;
mod content;
mod errors;
mod provider;
mod wire;

pub use config::{Config, ZoneKind};
pub use provider::PowerdnsProvider;
