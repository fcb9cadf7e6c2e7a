//! Mail-deliverability lint: offline checks of the SPF, DMARC, DKIM, MX
//! and MTA-STS records a file declares (by hand or through presets and
//! policy blocks) and of the role addresses a mail domain must have, each
//! finding under a stable rule id ([`rules`]).
//! `validate`, `plan` and `apply` all run it: an error-level finding stops
//! the file like any other error.

pub mod rules;
mod spf_costs;

use std::collections::BTreeMap;

use mailform_contract::{RData, RecordSet, RecordType};

use crate::config::diagnostic::{Diagnostics, Loc, Severity};
use crate::desired::{Declared, Desired, DesiredZone};
use crate::policy::{dkim, dmarc, spf};
use rules::*;

fn txt_values(set: &RecordSet) -> Vec<String> {
    set.values
        .iter()
        .filter_map(|v| match v {
            RData::Txt { chunks } => Some(chunks.concat()),
            _ => None,
        })
        .collect()
}

pub fn run(desired: &Desired, diags: &mut Diagnostics) {
    for zone in &desired.zones {
        let sets: BTreeMap<(String, RecordType), &Declared<RecordSet>> =
            zone.records.iter().map(|d| (d.item.key(), d)).collect();
        for d in &zone.records {
            let (loc, path) = (d.origin.loc, d.origin.path.as_str());
            match d.item.rtype {
                RecordType::Txt => {
                    check_spf(diags, &d.item, loc, path);
                    if d.item.name.starts_with("_dmarc.") {
                        check_dmarc(diags, desired, zone, &d.item, loc, path);
                    }
                    if d.item.name.contains("._domainkey.") {
                        check_dkim(diags, &d.item, loc, path);
                    }
                }
                RecordType::Mx => {
                    check_mx_shape(diags, &d.item, loc, path);
                    for v in &d.item.values {
                        if let RData::Mx { exchange, .. } = v {
                            if sets.contains_key(&(exchange.clone(), RecordType::Cname)) {
                                diags.lint(
                                    &MX_TO_CNAME,
                                    None,
                                    loc,
                                    path,
                                    format!("MX target `{exchange}` is a CNAME"),
                                    "point the MX at the canonical host name (the CNAME's target)",
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        check_dmarc_present(diags, desired, zone, &sets);
        check_role_addresses(diags, desired, zone, &sets);
        let mta_sts = format!("_mta-sts.{}", zone.zone);
        if let Some(m) = sets.get(&(mta_sts, RecordType::Txt)) {
            if !sets.contains_key(&(format!("_smtp._tls.{}", zone.zone), RecordType::Txt)) {
                diags.lint(
                    &MTA_STS_NO_TLSRPT,
                    None,
                    m.origin.loc,
                    &m.origin.path,
                    "MTA-STS is published without TLS reporting",
                    "add `tls_rpt: {rua: [\"mailto:tls-reports@...\"]}`",
                );
            }
        }
    }
}

/// MX values that are well-formed names but not what RFC 5321 and RFC 7505
/// allow: an address literal as the target, and a null MX that is not alone.
fn check_mx_shape(diags: &mut Diagnostics, set: &RecordSet, loc: Loc, path: &str) {
    let mut null = None;
    for v in &set.values {
        let RData::Mx {
            preference,
            exchange,
        } = v
        else {
            continue;
        };
        if exchange.is_empty() {
            null = Some(*preference);
        } else if exchange.parse::<std::net::IpAddr>().is_ok() {
            diags.lint(
                &MX_TARGET_IP,
                None,
                loc,
                path,
                format!("MX target `{exchange}` is an IP address, not a host name"),
                "publish an A/AAAA record for a host name (e.g. `mx.<domain>`) and point the MX at that name",
            );
        }
    }
    if let Some(preference) = null {
        if set.values.len() > 1 {
            diags.lint(
                &MX_NULL_MIXED,
                None,
                loc,
                path,
                format!(
                    "a null MX (`0 .`) says {} accepts no mail; it cannot stand beside other MX records ({} here)",
                    set.name,
                    set.values.len() - 1
                ),
                "keep either the null MX or the real ones",
            );
        } else if preference != 0 {
            diags.lint(
                &MX_NULL_MIXED,
                None,
                loc,
                path,
                format!("{} has a null MX with preference {preference}", set.name),
                "write the null MX as `0 .`",
            );
        }
    }
}

fn check_spf(diags: &mut Diagnostics, set: &RecordSet, loc: Loc, path: &str) {
    let records: Vec<String> = txt_values(set)
        .into_iter()
        .filter(|t| spf::is_spf(t))
        .collect();
    if records.len() > 1 {
        diags.lint(
            &SPF_MULTIPLE,
            None,
            loc,
            path,
            format!("{} has {} SPF records", set.name, records.len()),
            "merge them into one record: list every sender's include in one `spf:` block",
        );
    }
    for text in &records {
        let terms = match spf::parse(text) {
            Ok(t) => t,
            Err(e) => {
                diags.lint(
                    &SPF_SYNTAX,
                    None,
                    loc,
                    path,
                    format!("invalid SPF record: {e}"),
                    "fix the term, or build the record with an `spf:` block",
                );
                continue;
            }
        };
        let mut lookups = 0usize;
        let mut estimated = Vec::new();
        let mut has_all = false;
        for t in &terms {
            match (t.name.as_str(), t.qualifier) {
                ("include", Some(_)) | ("redirect", None) => {
                    let target = t.value.clone().unwrap_or_default();
                    let nested = spf_costs::nested_lookups(&target);
                    lookups += 1 + nested.unwrap_or(0);
                    if nested.is_some() {
                        estimated.push(target);
                    }
                }
                ("a" | "mx" | "ptr" | "exists", Some(_)) => lookups += 1,
                _ => {}
            }
            if t.name == "ptr" {
                diags.lint(
                    &SPF_PTR,
                    None,
                    loc,
                    path,
                    "SPF uses the `ptr` mechanism",
                    "list the sending addresses with `ip4:`/`ip6:` instead",
                );
            }
            if t.name == "all" {
                has_all = true;
                match t.qualifier {
                    Some('+') => diags.lint(
                        &SPF_PERMISSIVE_ALL,
                        None,
                        loc,
                        path,
                        "`+all` authorises every host on the internet to send as this domain",
                        "end the record with `-all` or `~all`",
                    ),
                    Some('?') => diags.lint(
                        &SPF_PERMISSIVE_ALL,
                        Some(Severity::Warning),
                        loc,
                        path,
                        "`?all` asserts nothing about other senders",
                        "end the record with `-all` or `~all`",
                    ),
                    _ => {}
                }
            }
        }
        if lookups > 10 {
            let note = if estimated.is_empty() {
                String::new()
            } else {
                format!(
                    " (an estimate; nested lookups of {} taken from mailform's table)",
                    estimated.join(", ")
                )
            };
            diags.lint(&SPF_LOOKUPS, None, loc, path, format!("SPF needs about {lookups} DNS lookups; receivers stop at 10{note}"), "replace includes of services you no longer use, or use `ip4:`/`ip6:` for your own servers");
        }
        if !has_all && !terms.iter().any(|t| t.name == "redirect") {
            diags.lint(
                &SPF_NO_ALL,
                None,
                loc,
                path,
                "SPF record has no `all` and no `redirect`",
                "end it with `~all` or `-all`",
            );
        }
    }
}

fn check_dmarc(
    diags: &mut Diagnostics,
    desired: &Desired,
    zone: &DesiredZone,
    set: &RecordSet,
    loc: Loc,
    path: &str,
) {
    let records: Vec<String> = txt_values(set)
        .into_iter()
        .filter(|t| t.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
        .collect();
    if records.len() > 1 {
        diags.lint(
            &DMARC_MULTIPLE,
            None,
            loc,
            path,
            format!("{} has {} DMARC records", set.name, records.len()),
            "keep one",
        );
    }
    if records.is_empty() {
        let first = txt_values(set).into_iter().next().unwrap_or_default();
        diags.lint(
            &DMARC_SYNTAX,
            None,
            loc,
            path,
            format!("`{}` holds no DMARC record (`{first}`)", set.name),
            "start the record with `v=DMARC1;`, or use a `dmarc:` block",
        );
        return;
    }
    for text in &records {
        let tags = match dmarc::parse(text) {
            Ok(t) => t,
            Err(e) => {
                diags.lint(
                    &DMARC_SYNTAX,
                    None,
                    loc,
                    path,
                    e,
                    "use a `dmarc:` block to build the record",
                );
                continue;
            }
        };
        let bad = |diags: &mut Diagnostics, tag: &str, value: &str, allowed: &str| {
            diags.lint(
                &DMARC_SYNTAX,
                None,
                loc,
                path,
                format!("DMARC tag `{tag}={value}` is invalid"),
                format!("`{tag}` takes {allowed}"),
            );
        };
        if !tags.iter().any(|(k, _)| k == "p") {
            diags.lint(
                &DMARC_SYNTAX,
                Some(Severity::Warning),
                loc,
                path,
                "DMARC record has no `p=` policy; receivers treat it as `p=none`",
                "add `p=none`, `p=quarantine` or `p=reject`",
            );
        }
        for (k, v) in &tags {
            match k.as_str() {
                "v" => {}
                "p" | "sp" | "np" if !["none", "quarantine", "reject"].contains(&v.as_str()) => {
                    bad(diags, k, v, "none, quarantine or reject")
                }
                "adkim" | "aspf" if !["r", "s"].contains(&v.as_str()) => bad(diags, k, v, "r or s"),
                "t" if !["y", "n"].contains(&v.as_str()) => bad(diags, k, v, "y or n"),
                "psd" if !["y", "n", "u"].contains(&v.as_str()) => bad(diags, k, v, "y, n or u"),
                "fo" if !v
                    .split(':')
                    .all(|x| ["0", "1", "d", "s"].contains(&x.trim())) =>
                {
                    bad(diags, k, v, "a colon-separated list of 0, 1, d, s")
                }
                "rua" | "ruf" => {
                    for uri in v.split(',').map(str::trim) {
                        let Some(addr) = uri.strip_prefix("mailto:") else {
                            bad(diags, k, uri, "`mailto:` URIs");
                            continue;
                        };
                        // A size limit may follow: `mailto:d@example.com!10m`.
                        let addr = addr.split('!').next().unwrap_or(addr);
                        let dest = addr
                            .rsplit_once('@')
                            .map(|(_, d)| d.to_ascii_lowercase())
                            .unwrap_or_default();
                        check_external_rua(diags, desired, zone, &dest, loc, path);
                    }
                }
                "pct" | "rf" | "ri" => diags.lint(
                    &DMARC_REMOVED_TAG,
                    None,
                    loc,
                    path,
                    format!("DMARC tag `{k}` was removed by RFC 9989"),
                    if k == "pct" {
                        "remove it; use `t=y` (`t: true`) to test a policy"
                    } else {
                        "remove it"
                    },
                ),
                "p" | "sp" | "np" | "adkim" | "aspf" | "t" | "psd" | "fo" => {}
                other => diags.lint(
                    &DMARC_SYNTAX,
                    Some(Severity::Warning),
                    loc,
                    path,
                    format!("unknown DMARC tag `{other}`; receivers ignore it"),
                    "remove it, or check its spelling",
                ),
            }
        }
    }
}

fn check_external_rua(
    diags: &mut Diagnostics,
    desired: &Desired,
    zone: &DesiredZone,
    dest: &str,
    loc: Loc,
    path: &str,
) {
    if dest.is_empty() || dest == zone.zone || dest.ends_with(&format!(".{}", zone.zone)) {
        return;
    }
    // Only destinations this file manages can be checked offline.
    let Some(other) = desired.zones.iter().find(|z| z.zone == dest) else {
        return;
    };
    let consent = format!("{}._report._dmarc.{}", zone.zone, dest);
    let wildcard = format!("*._report._dmarc.{dest}");
    if !other.records.iter().any(|d| {
        d.item.rtype == RecordType::Txt && (d.item.name == consent || d.item.name == wildcard)
    }) {
        diags.lint(
            &DMARC_EXTERNAL_RUA,
            None,
            loc,
            path,
            format!(
                "reports go to `{dest}`, which does not publish consent for `{}`",
                zone.zone
            ),
            format!(
                "add to {dest}: records: {{\"{}._report._dmarc\": {{TXT: \"v=DMARC1\"}}}}",
                zone.zone
            ),
        );
    }
}

fn check_dmarc_present(
    diags: &mut Diagnostics,
    desired: &Desired,
    zone: &DesiredZone,
    sets: &BTreeMap<(String, RecordType), &Declared<RecordSet>>,
) {
    let apex_mx = sets.get(&(zone.zone.clone(), RecordType::Mx));
    let apex_spf = sets
        .get(&(zone.zone.clone(), RecordType::Txt))
        .filter(|d| txt_values(&d.item).iter().any(|t| spf::is_spf(t)));
    let has_mail = desired.mail.iter().any(|m| m.domain == zone.zone);
    let null_mx = apex_mx.is_some_and(|d| {
        d.item
            .values
            .iter()
            .all(|v| matches!(v, RData::Mx { exchange, .. } if exchange.is_empty()))
    });
    let sends = (apex_mx.is_some() && !null_mx) || apex_spf.is_some() || has_mail;
    if sends && !sets.contains_key(&(format!("_dmarc.{}", zone.zone), RecordType::Txt)) {
        let at = apex_mx
            .or(apex_spf)
            .map(|d| (d.origin.loc, d.origin.path.clone()))
            .unwrap_or((Loc::default(), String::new()));
        diags.lint(&DMARC_MISSING, None, at.0, &at.1, format!("`{}` handles mail but publishes no DMARC policy", zone.zone), "add `dmarc: {p: none, rua: [\"mailto:dmarc-reports@...\"]}` and tighten `p` once reports look right");
    }
}

/// The local parts every domain that receives mail must accept:
/// `postmaster` (RFC 5321 §4.5.1, a MUST) and `abuse` (RFC 2142 §4).
const ROLE_LOCAL_PARTS: [&str; 2] = ["postmaster", "abuse"];

/// Whether the zone's apex MX set names a host (is not absent or a null MX).
fn receives_mail(zone: &DesiredZone) -> bool {
    zone.records
        .iter()
        .filter(|d| d.item.name == zone.zone && d.item.rtype == RecordType::Mx)
        .flat_map(|d| d.item.values.iter())
        .any(|v| matches!(v, RData::Mx { exchange, .. } if !exchange.is_empty()))
}

/// A domain whose apex MX receives mail (not a null MX) and whose mail
/// this file manages must have the role addresses as some mailbox, alias
/// or group (an alias domain has them when its parent does). Without a
/// `mail:` provider the addresses may live anywhere, so nothing is said.
fn check_role_addresses(
    diags: &mut Diagnostics,
    desired: &Desired,
    zone: &DesiredZone,
    sets: &BTreeMap<(String, RecordType), &Declared<RecordSet>>,
) {
    let Some(mx) = sets.get(&(zone.zone.clone(), RecordType::Mx)) else {
        return;
    };
    let Some(mail) = desired.mail.iter().find(|m| m.domain == zone.zone) else {
        return;
    };
    if !receives_mail(zone) {
        return;
    }
    let home = match &mail.alias_of {
        // The parent's own finding, if it receives mail here too, says it.
        Some(parent)
            if desired
                .zones
                .iter()
                .any(|z| &z.zone == parent && receives_mail(z)) =>
        {
            return
        }
        Some(parent) => match desired.mail.iter().find(|m| &m.domain == parent) {
            Some(p) => p,
            None => return,
        },
        None => mail,
    };
    let mut addresses: Vec<&str> = Vec::new();
    for m in home.mailboxes.iter().filter(|m| !m.delete) {
        addresses.push(&m.mailbox.address);
        addresses.extend(m.mailbox.aliases.iter().map(String::as_str));
    }
    addresses.extend(home.aliases.iter().map(|a| a.item.address.as_str()));
    for g in &home.groups {
        addresses.push(&g.item.address);
        addresses.extend(g.item.aliases.iter().map(String::as_str));
    }
    let missing: Vec<String> = ROLE_LOCAL_PARTS
        .iter()
        .map(|local| format!("{local}@{}", home.domain))
        .filter(|a| !addresses.contains(&a.as_str()))
        .collect();
    if missing.is_empty() {
        return;
    }
    let admin = home
        .mailboxes
        .iter()
        .find(|m| !m.delete && m.mailbox.kind == mailform_contract::MailboxKind::User)
        .map(|m| m.mailbox.address.clone())
        .unwrap_or_else(|| format!("admin@{}", home.domain));
    let entries: Vec<String> = missing
        .iter()
        .map(|a| format!("`{a}: {{to: [{admin}]}}`"))
        .collect();
    let at_parent = match &mail.alias_of {
        Some(parent) => format!(
            " (`{}` is an alias of `{parent}`: declare them there)",
            zone.zone
        ),
        None => String::new(),
    };
    diags.lint(
        &ROLE_ADDRESSES,
        None,
        mx.origin.loc,
        &mx.origin.path,
        format!(
            "`{}` receives mail but has no {}: mail servers send delivery problems to postmaster@ and report abuse to abuse@, and such mail would bounce",
            zone.zone,
            missing
                .iter()
                .map(|a| format!("`{}@{}`", a.split('@').next().unwrap_or(""), zone.zone))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        format!(
            "add {} under `aliases:`{at_parent}, pointing at whoever runs mail, or list them among the `aliases` of that mailbox or group",
            entries.join(" and ")
        ),
    );
}

fn check_dkim(diags: &mut Diagnostics, set: &RecordSet, loc: Loc, path: &str) {
    for text in txt_values(set) {
        let tags = dkim::tags(&text);
        let Some((_, p)) = tags.iter().find(|(k, _)| k == "p") else {
            diags.lint(
                &DKIM_SYNTAX,
                None,
                loc,
                path,
                format!("the DKIM record at {} has no `p=` key", set.name),
                "publish `v=DKIM1; k=rsa; p=<base64 key>`, or use `dkim: {<selector>: {key: ...}}`",
            );
            continue;
        };
        if p.is_empty() {
            continue; // An empty key revokes the selector (RFC 6376 §3.6.1).
        }
        let k = tags
            .iter()
            .find(|(k, _)| k == "k")
            .map(|(_, v)| v.as_str())
            .unwrap_or("rsa");
        match k {
            "rsa" => match dkim::rsa_bits(p) {
                Ok(bits) if bits < 1024 => diags.lint(&DKIM_WEAK_KEY, None, loc, path, format!("the DKIM key at {} is {bits}-bit RSA; receivers reject keys under 1024 bits", set.name), "generate a 2048-bit key and publish it under a new selector"),
                Ok(bits) if bits < 2048 => diags.lint(&DKIM_WEAK_KEY, Some(Severity::Warning), loc, path, format!("the DKIM key at {} is {bits}-bit RSA", set.name), "generate a 2048-bit key and publish it under a new selector"),
                Ok(_) => {}
                Err(e) => diags.lint(&DKIM_SYNTAX, None, loc, path, format!("the DKIM key at {}: {e}", set.name), "publish the base64 of the DER public key (the lines between the PEM markers)"),
            },
            "ed25519" => {}
            other => diags.lint(&DKIM_SYNTAX, None, loc, path, format!("unknown DKIM key type `k={other}`"), "use `rsa` or `ed25519`"),
        }
    }
}
