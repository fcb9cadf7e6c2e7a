//! The wire types of the four Alidns actions mailform uses
//! (API metadata in `shared/specs/aliyun/alidns/*.json`; answers as in the
//! API reference, e.g.
//! <https://www.alibabacloud.com/help/en/dns/api-alidns-2015-01-09-describedomainrecords>).
//!
//! Every answer is JSON (`Format=JSON`). Errors share one envelope:
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}`.

use serde::{Deserialize, Serialize};

/// Records per page: the most `DescribeDomainRecords` allows.
pub const PAGE_SIZE: u32 = 500;

/// One DNS record as `DescribeDomainRecords` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRecord {
    #[serde(rename = "RecordId")]
    pub record_id: String,
    /// The host relative to the domain; `@` for the apex.
    #[serde(rename = "RR")]
    pub rr: String,
    #[serde(rename = "Type")]
    pub rtype: String,
    #[serde(rename = "Value")]
    pub value: String,
    #[serde(rename = "TTL")]
    pub ttl: u32,
    /// MX only.
    #[serde(rename = "Priority", default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(rename = "Line", default = "default_line")]
    pub line: String,
    /// `ENABLE` or `DISABLE`.
    #[serde(rename = "Status", default = "enabled")]
    pub status: String,
    #[serde(rename = "Locked", default)]
    pub locked: bool,
}

fn default_line() -> String {
    "default".into()
}

fn enabled() -> String {
    "ENABLE".into()
}

impl ApiRecord {
    /// Whether mailform manages this record: served (`ENABLE`) on the
    /// default line. Records on other lines (per-ISP answers) or disabled
    /// ones are left alone and not read into record sets.
    pub fn managed(&self) -> bool {
        self.line == "default" && self.status.eq_ignore_ascii_case("ENABLE")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DomainRecords {
    #[serde(rename = "Record", default)]
    pub record: Vec<ApiRecord>,
}

/// The answer of `DescribeDomainRecords`.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordPage {
    #[serde(rename = "TotalCount")]
    pub total_count: u64,
    #[serde(rename = "DomainRecords")]
    pub domain_records: DomainRecords,
}

/// The answer of `AddDomainRecord` (and `UpdateDomainRecord`, `DeleteDomainRecord`).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordIdAnswer {
    #[serde(rename = "RecordId")]
    pub record_id: String,
}

/// The error envelope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "RequestId", default)]
    pub request_id: String,
    #[serde(rename = "HostId", default)]
    pub host_id: String,
    #[serde(rename = "Code", default)]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
    #[serde(rename = "Recommend", default)]
    pub recommend: String,
}
