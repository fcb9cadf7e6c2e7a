//! What Cloudflare cannot store, checked at plan time
//! ([`mailform_contract::audit`]).
//!
//! Null MX (`0 .`) and a "no service" SRV (target `.`) are stored: the
//! client sends `.` and Cloudflare serves it, although the published
//! OpenAPI description's hostname patterns refuse it (the fake records that
//! departure in its module doc).

use mailform_contract::audit::{Check, Limit};

const RECORD_TYPES_DOC: &str =
    "Cloudflare docs, \"DNS record types\" (developers.cloudflare.com/dns/manage-dns-records/reference/dns-record-types/)";

/// Cloudflare's limits on record values.
pub fn limits() -> Vec<Limit> {
    vec![
        // "Each DNS record has a maximum wire format size of 4,096 bytes."
        Limit {
            check: Check::RdataWireBytes { max: 4096 },
            source: RECORD_TYPES_DOC,
            verified: "2026-12-04",
        },
        // "If you have multiple records with the same name and type, their
        // combined content length must not exceed 8,192 characters."
        Limit {
            check: Check::SetContentChars { max: 8192 },
            source: RECORD_TYPES_DOC,
            verified: "2026-12-04",
        },
    ]
}
