//! MTA-STS (RFC 8461): the policy text and the `_mta-sts` record whose id
//! is derived from it, so the id changes exactly when the policy does.

use sha2::{Digest, Sha256};

use crate::config::policy::{MtaStsConfig, MtaStsMode};

/// RFC 8461 §3.2 policy file, CRLF line endings.
pub fn policy_text(c: &MtaStsConfig) -> String {
    let mode = match c.mode {
        MtaStsMode::Enforce => "enforce",
        MtaStsMode::Testing => "testing",
        MtaStsMode::None => "none",
    };
    let mut lines = vec!["version: STSv1".to_string(), format!("mode: {mode}")];
    lines.extend(c.mx.iter().map(|m| format!("mx: {}", m.value)));
    lines.push(format!("max_age: {}", c.max_age.unwrap_or(604_800)));
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

/// `v=STSv1; id=...`: the id is 20 hex digits of the policy's SHA-256
/// (ids are 1 to 32 alphanumerics, §3.1).
pub fn record(c: &MtaStsConfig) -> String {
    let digest = Sha256::digest(policy_text(c).as_bytes());
    format!("v=STSv1; id={}", &crate::config::to_hex(&digest)[..20])
}

/// Whether MX host `host` matches policy pattern `pattern` (§4.1: a leading
/// `*.` matches exactly one label).
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_label() {
        assert!(mx_matches("*.example.com", "mx1.example.com."));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(mx_matches("mx.example.com", "MX.example.com"));
    }
}
