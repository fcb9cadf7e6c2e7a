//! Mail-policy builders: from the `spf`, `dmarc`, `dkim`, `tls_rpt`,
//! `mta_sts` and `bimi` blocks of a domain to the text of the TXT records
//! they stand for. Pure functions; `config::compile` places the records
//! and reports conflicts, `lint` checks the result like any other record.

pub mod dkim;
pub mod dmarc;
pub mod mta_sts;
pub mod spf;

use crate::config::policy::{BimiConfig, TlsRptConfig};

/// `v=TLSRPTv1; rua=...` (RFC 8460 §3).
pub fn tls_rpt(config: &TlsRptConfig) -> String {
    let rua: Vec<&str> = config.rua.iter().map(|r| r.value.as_str()).collect();
    format!("v=TLSRPTv1; rua={}", rua.join(","))
}

/// `v=BIMI1; l=...; a=...`.
pub fn bimi(config: &BimiConfig) -> String {
    format!(
        "v=BIMI1; l={}; a={}",
        config.location.value,
        config.authority.as_deref().unwrap_or("")
    )
}
