//! Cloudflare v4 wire types: the response envelope and DNS records as the
//! API sends and takes them.
//!
//! Shapes follow the official description
//! (`shared/specs/cloudflare/cloudflare-dns.openapi.json`) and
//! <https://developers.cloudflare.com/api/resources/dns/subresources/records/>:
//! every answer is `{success, errors[{code, message}], messages, result,
//! result_info}`; MX carries `priority` beside `content`; SRV and CAA are
//! written through `data` (their `content` is read-only); `proxied` exists
//! only on A, AAAA and CNAME.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every Cloudflare answer, success or failure.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
    #[serde(default = "Option::default")]
    pub result: Option<T>,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

/// One entry of `errors` or `messages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ApiMessage {
    pub code: i64,
    pub message: String,
}

/// Paging information of a list answer. Numbers are JSON numbers that the
/// description types as `number`, hence floats.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResultInfo {
    #[serde(default)]
    pub per_page: Option<f64>,
    #[serde(default)]
    pub total_count: Option<f64>,
    #[serde(default)]
    pub total_pages: Option<f64>,
}

/// A zone, as much of it as mailform needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
}

/// A DNS record as the API returns it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Record {
    pub id: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: String,
    #[serde(default)]
    pub content: String,
    /// Seconds, or 1 for "automatic".
    #[serde(default = "auto_ttl")]
    pub ttl: u32,
    #[serde(default)]
    pub proxied: bool,
    #[serde(default)]
    pub priority: Option<u16>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn auto_ttl() -> u32 {
    1
}

/// A record as sent in a create, a patch or a batch. `comment` and `tags`
/// are never sent: a patch that leaves them out keeps what the record has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordBody {
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub ttl: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A record body with the id of the record it replaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodyWithId {
    pub id: String,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// `{id}` in a batch's `deletes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdOnly {
    pub id: String,
}

/// The body of `POST /zones/{zone_id}/dns_records/batch`. Cloudflare runs
/// deletes, then patches, then puts, then posts, in one transaction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<IdOnly>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<BodyWithId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<RecordBody>,
}

/// The `result` of a batch: the patched and created records as they are
/// after it (mailform sends no puts, and deleted records need no reading).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchResult {
    #[serde(default)]
    pub patches: Vec<Record>,
    #[serde(default)]
    pub posts: Vec<Record>,
}
