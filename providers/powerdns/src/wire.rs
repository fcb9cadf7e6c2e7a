//! The JSON shapes of the PowerDNS API that mailform sends and reads.
//!
//! Only the fields mailform uses are declared; serde ignores the rest, so
//! a newer server that adds fields still reads.

use serde::{Deserialize, Serialize};

/// A zone as `GET /servers/{server}/zones/{zone}` returns it.
#[derive(Debug, Deserialize)]
pub struct Zone {
    #[serde(default)]
    pub rrsets: Vec<RRSet>,
}

/// All records of one (name, type). `name` is absolute with the trailing
/// dot; `ttl` is absent in a DELETE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RRSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// `REPLACE` or `DELETE` in a PATCH; absent in what the server returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changetype: Option<String>,
    #[serde(default)]
    pub records: Vec<Record>,
}

/// One record: its content in presentation format (MX priority inside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub content: String,
    #[serde(default)]
    pub disabled: bool,
}

/// The body of `PATCH /servers/{server}/zones/{zone}`.
#[derive(Debug, Serialize)]
pub struct Patch {
    pub rrsets: Vec<RRSet>,
}

/// The body of `POST /servers/{server}/zones`.
#[derive(Debug, Serialize)]
pub struct NewZone {
    pub name: String,
    pub kind: &'static str,
    /// Apex NS names with the trailing dot; empty when `rrsets` holds the
    /// apex NS set itself (the server refuses both at once).
    pub nameservers: Vec<String>,
    pub rrsets: Vec<RRSet>,
}

/// An error answer: `{"error": "...", "errors": [...]}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
}
