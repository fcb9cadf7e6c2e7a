//! The `zonefile` DNS provider for mailform: one RFC 1035 zone file per zone
//! in a directory. It is mailform's offline default, and the files it writes
//! are what BIND, Knot and NSD serve.
//!
//! - [`config`]: the provider's YAML settings ([`Config`]).
//! - `entries`: the lexical pass that works around hickory's lexer.
//! - `parse`: zone file text → record sets, through hickory-proto's parser.
//! - `write`: record sets → zone file text, in one canonical layout.
//! - `serial`: the SOA serial after a change (RFC 1982).
//! - `apply`: a batch of changes applied in memory, all or nothing.
//! - `store`: file locations, reading, atomic replacement (at the target of
//!   a symbolic link), the lock file of an apply.
//! - `provider`: [`ZonefileProvider`], the [`mailform_contract::DnsProvider`].

mod apply;
pub mod config;
mod entries;
mod parse;
mod provider;
mod serial;
mod store;
mod write;

pub use config::{Config, SoaConfig};
pub use provider::ZonefileProvider;
