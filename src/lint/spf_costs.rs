//! Nested DNS lookups of well-known SPF includes, as their owners published
//! them in November 2026. Used only for the offline estimate of
//! `spf-lookups`; `mailform verify` resolves the real records.

/// Lookups an include of `domain` costs beyond its own, if known.
pub fn nested_lookups(domain: &str) -> Option<usize> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    Some(match d.as_str() {
        // include:_netblocks, _netblocks2, _netblocks3
        "_spf.google.com" => 3,
        // include:spfd.protection.outlook.com
        "spf.protection.outlook.com" => 1,
        "sendgrid.net"
        | "amazonses.com"
        | "servers.mcsv.net"
        | "spf.mandrillapp.com"
        | "spf.mailjet.com" => 0,
        // include:_spf.mailgun.org style nesting
        "mailgun.org" => 2,
        "_spf.salesforce.com" => 0,
        "spf.qiye.aliyun.com" => 0,
        "spf.mail.qq.com" => 2,
        "zoho.com" | "zohomail.com" | "zohomail.eu" => 0,
        _ => return None,
    })
}
