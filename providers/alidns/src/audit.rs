//! What Alidns cannot store, checked at plan time
//! ([`mailform_contract::audit`]), so that no apply fails half-way through
//! a zone on a value Alidns refuses.
//!
//! - MX priority: `Priority` takes 1 to 50 (AddDomainRecord, Alidns API
//!   2015-01-09, `../shared/specs/aliyun/alidns/AddDomainRecord.json`).
//!   Preference 0 is allowed only for Microsoft 365's exchanges, which the
//!   provider writes as 1 and reads back as 0 (`convert`'s module doc); 0 for
//!   any other host would be written as 1 and read back as 1, a change in
//!   every later plan.
//! - Null MX (`0 .`): an MX `Value` is a host name and priority 0 is not
//!   stored, so RFC 7505's null MX cannot be held.
//! - TXT: "A TXT record must be less than 512 bytes in length" (Alibaba
//!   Cloud DNS, "DNS record types supported by Private DNS", updated
//!   2024-01-09). The public-zone pages give no figure; the same limit is
//!   assumed there (unconfirmed against a real account).

use mailform_contract::audit::{Check, Limit};

/// Alidns's limits on record values.
pub fn limits() -> Vec<Limit> {
    vec![
        Limit {
            check: Check::MxNull,
            source: "Alidns API AddDomainRecord: Priority 1 to 50, Value a host name",
            verified: "2026-12-04",
        },
        Limit {
            check: Check::MxPreference {
                min: 1,
                max: crate::convert::MAX_MX_PRIORITY,
                below_min_for: crate::convert::M365_EXCHANGE_SUFFIXES,
            },
            source: "Alidns API AddDomainRecord: Priority \"Valid values: 1 to 50\"",
            verified: "2026-12-04",
        },
        Limit {
            check: Check::TxtValueBytes { max: 511 },
            source: "Alibaba Cloud DNS docs: \"A TXT record must be less than 512 bytes\"",
            verified: "2026-12-04",
        },
    ]
}
