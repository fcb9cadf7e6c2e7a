//! The lint rules: stable ids, what each checks, its severity and the
//! specification it enforces. README's rule table is generated from this
//! list (a test keeps them equal).

use crate::config::diagnostic::Severity;

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, e.g. `MF101`; never reused for another check.
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub spec: &'static str,
    pub summary: &'static str,
}

macro_rules! rules {
    ($($c:ident = $id:literal $name:literal $sev:ident $spec:literal $summary:literal;)*) => {
        $(pub const $c: Rule = Rule { id: $id, name: $name, severity: Severity::$sev, spec: $spec, summary: $summary };)*
        pub const ALL: &[Rule] = &[$($c),*];
    };
}

rules! {
    SPF_MULTIPLE = "MF101" "spf-multiple" Error "RFC 7208 §4.5" "More than one SPF record at a name: receivers treat it as a permanent error.";
    SPF_SYNTAX = "MF102" "spf-syntax" Error "RFC 7208 §4.6, §5" "An SPF term that is not a valid mechanism or modifier.";
    SPF_LOOKUPS = "MF103" "spf-lookups" Error "RFC 7208 §4.6.4" "More than 10 DNS-querying terms (include, a, mx, ptr, exists, redirect), known includes costed from a bundled table (an estimate; `verify` counts the real ones).";
    SPF_PTR = "MF104" "spf-ptr" Warning "RFC 7208 §5.5" "The `ptr` mechanism is slow, unreliable and should not be used.";
    SPF_PERMISSIVE_ALL = "MF105" "spf-permissive-all" Error "RFC 7208 §5.1" "`+all` lets anyone send as the domain (error); `?all` asserts nothing (warning).";
    SPF_NO_ALL = "MF106" "spf-no-all" Warning "RFC 7208 §5.1" "No `all` and no `redirect`: the record ends neutral for every other sender.";
    SPF_VOID_LOOKUPS = "MF107" "spf-void-lookups" Error "RFC 7208 §4.6.4" "Served SPF (following includes) makes more than 2 lookups that find nothing. Checked by `verify`.";
    DMARC_SYNTAX = "MF201" "dmarc-syntax" Error "RFC 9989 §4.7" "A DMARC record that does not start with `v=DMARC1` or has an invalid tag value.";
    DMARC_REMOVED_TAG = "MF202" "dmarc-removed-tag" Warning "RFC 9989 §4.7" "`pct`, `rf` and `ri` were removed by RFC 9989; use `t=y` instead of `pct`.";
    DMARC_EXTERNAL_RUA = "MF203" "dmarc-external-rua" Warning "RFC 9990 §3" "Reports go to another domain of this file that has not published its consent record.";
    DMARC_MISSING = "MF204" "dmarc-missing" Warning "RFC 9989 §5" "A domain that sends or receives mail has no DMARC record.";
    DMARC_MULTIPLE = "MF205" "dmarc-multiple" Error "RFC 9989 §4.10" "More than one DMARC record at `_dmarc`: receivers ignore them all.";
    DKIM_SYNTAX = "MF301" "dkim-syntax" Error "RFC 6376 §3.6.1" "A DKIM key record without a valid `p=` key or with an unknown key type.";
    DKIM_WEAK_KEY = "MF302" "dkim-weak-key" Error "RFC 8301 §3.2" "An RSA key shorter than 1024 bits (error) or 2048 bits (warning).";
    DKIM_MISSING = "MF303" "dkim-missing" Warning "RFC 6376 §3.6.2" "The mail service signs with a selector whose key is not declared.";
    MX_TO_CNAME = "MF401" "mx-to-cname" Error "RFC 2181 §10.3" "An MX target that is a CNAME in this file.";
    MX_UNRESOLVABLE = "MF402" "mx-unresolvable" Error "RFC 5321 §5.1" "A served MX host has no A or AAAA record. Checked by `verify`.";
    MX_TARGET_IP = "MF403" "mx-target-ip" Error "RFC 7505 §3, RFC 5321 §5.1" "An MX target written as an IP address: MX names a host, and senders look the name up.";
    MX_NULL_MIXED = "MF404" "null-mx-mixed" Error "RFC 7505 §3" "A null MX (`0 .`, \"this domain accepts no mail\") beside other MX records, or with a preference other than 0.";
    MTA_STS_MX = "MF501" "mta-sts-mx-mismatch" Error "RFC 8461 §4.1" "An MX host that no `mx` pattern of the MTA-STS policy matches: senders enforcing the policy refuse to deliver.";
    MTA_STS_NO_TLSRPT = "MF502" "mta-sts-without-tls-rpt" Warning "RFC 8460 §3" "MTA-STS without TLS reporting: failures go unseen.";
    MTA_STS_POLICY_FILE = "MF503" "mta-sts-policy-file" Error "RFC 8461 §3.2" "The policy file kept in the repository differs from the policy the `mta_sts` block describes.";
    MTA_STS_SERVED = "MF504" "mta-sts-policy-served" Error "RFC 8461 §3.3" "The policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` cannot be fetched as senders fetch it, is not valid, or differs from the `mta_sts` block. Checked by `verify`.";
    NOT_SERVED = "MF601" "not-served" Error "RFC 1034 §4.3.2" "A declared record set is not served as declared by an authoritative server or resolver. Checked by `verify`.";
    DNS_COULD_NOT_CHECK = "MF602" "dns-could-not-check" Error "RFC 1035 §4.1.1, RFC 9499 §7" "A name `verify` needs could not be checked: the server timed out, could not be reached, answered REFUSED or SERVFAIL, or is lame (asked as authoritative, it answered without the AA bit or with a referral). Checked by `verify`; exits 1.";
    ROLE_ADDRESSES = "MF701" "role-addresses" Error "RFC 5321 §4.5.1, RFC 2142 §4–5" "A domain that receives mail (a non-null MX and a `mail:` provider) has no `postmaster@` or no `abuse@` mailbox, alias or group: reports of delivery problems and abuse bounce.";
}

/// Rules only `verify` can check: they need the live DNS.
pub const LIVE_ONLY: &[&str] = &["MF107", "MF402", "MF504", "MF601", "MF602"];

/// The Markdown table of all rules, as README shows it.
pub fn markdown_table() -> String {
    let mut s = String::from("| id | name | severity | checks | spec |\n|---|---|---|---|---|\n");
    for r in ALL {
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        s.push_str(&format!(
            "| {} | `{}` | {sev} | {} | {} |\n",
            r.id, r.name, r.summary, r.spec
        ));
    }
    s
}
