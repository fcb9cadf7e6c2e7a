//! The lint on what is served, and the checks only live DNS allows: SPF
//! lookups counted by resolving the includes (and void lookups), MX hosts
//! that do not resolve, and the MTA-STS policy fetched over HTTPS.
//!
//! Every question goes through the [`Router`]; a question that gets no
//! usable answer is recorded by its server (and reported as
//! `dns-could-not-check`), so a check here never passes for lack of data.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use mailform_contract::{RData, RecordSet, RecordType};

use super::dns::Answer;
use super::lookup::Router;
use super::mta_sts;
use super::report::{severity_str, Finding};
use crate::config::diagnostic::{Diagnostics, Severity};
use crate::desired::{Declared, Desired, DesiredZone, Origin};
use crate::lint::rules;

/// The lint on what the authoritative server serves for the names the
/// file declares and the mail names of the apex, plus the live checks.
pub async fn findings(
    zone: &DesiredZone,
    desired: &Desired,
    router: &Router<'_>,
    fetch: &mta_sts::FetchOptions,
) -> Vec<Finding> {
    let mut keys: BTreeSet<(String, RecordType)> =
        zone.records.iter().map(|d| d.item.key()).collect();
    keys.insert((zone.zone.clone(), RecordType::Txt));
    keys.insert((zone.zone.clone(), RecordType::Mx));
    keys.insert((format!("_dmarc.{}", zone.zone), RecordType::Txt));
    keys.insert((format!("_mta-sts.{}", zone.zone), RecordType::Txt));
    keys.insert((format!("_smtp._tls.{}", zone.zone), RecordType::Txt));
    let mut served = Vec::new();
    for (name, rtype) in keys {
        if let Ok(Answer::Records(values, ttl)) = router.ask(&name, &rtype).await {
            served.push(served_set(name, rtype, ttl, values));
        }
    }
    // MX targets that are aliases (a common, silent mistake) are only seen
    // by asking for their CNAME.
    let targets: Vec<String> = served
        .iter()
        .flat_map(|d| d.item.values.iter())
        .filter_map(|v| match v {
            RData::Mx { exchange, .. } if !exchange.is_empty() => Some(exchange.clone()),
            _ => None,
        })
        .collect();
    for t in targets {
        if let Ok(Answer::Records(values, ttl)) = router.ask(&t, &RecordType::Cname).await {
            served.push(served_set(t, RecordType::Cname, ttl, values));
        }
    }
    let mut findings = lint(zone, desired, &served);
    for d in &served {
        match (&d.item.rtype, d.item.name == zone.zone) {
            (RecordType::Txt, true) => {
                for text in d.item.values.iter().filter_map(|v| match v {
                    RData::Txt { chunks } => Some(chunks.concat()),
                    _ => None,
                }) {
                    if crate::policy::spf::is_spf(&text) {
                        spf_findings(&zone.zone, &text, router, &mut findings).await;
                    }
                }
            }
            (RecordType::Mx, true) => {
                for v in &d.item.values {
                    let RData::Mx { exchange, .. } = v else {
                        continue;
                    };
                    if exchange.is_empty() {
                        continue;
                    }
                    let a = router.resolve(exchange, &RecordType::A).await;
                    let aaaa = router.resolve(exchange, &RecordType::Aaaa).await;
                    if matches!((a, aaaa), (Ok(Answer::Nothing), Ok(Answer::Nothing))) {
                        let mut f = finding(
                            &zone.zone,
                            &rules::MX_UNRESOLVABLE,
                            None,
                            format!("MX host `{exchange}` has no A or AAAA record"),
                            "give the host an address, or point the MX at one that has",
                        );
                        f.record = Some(format!("{} MX", zone.zone));
                        f.served = d.item.values.iter().map(RData::presentation).collect();
                        findings.push(f);
                    }
                }
            }
            _ => {}
        }
    }
    let mta_sts_name = format!("_mta-sts.{}", zone.zone);
    let advertised = served.iter().any(|d| {
        d.item.name == mta_sts_name
            && d.item.values.iter().any(
                |v| matches!(v, RData::Txt { chunks } if chunks.concat().starts_with("v=STSv1")),
            )
    });
    if advertised || zone.mta_sts_policy.is_some() {
        mta_sts_findings(zone, &served, router, fetch, &mut findings).await;
    }
    findings
}

/// A served set, its origin path naming it so lint findings can say which
/// set (and what it serves) they are about.
fn served_set(
    name: String,
    rtype: RecordType,
    ttl: u32,
    values: Vec<RData>,
) -> Declared<RecordSet> {
    Declared {
        origin: Origin {
            path: format!("{name} {rtype}"),
            ..Origin::default()
        },
        item: RecordSet {
            name,
            rtype,
            ttl,
            values,
        },
    }
}

/// The load-time lint, run on the served sets.
fn lint(zone: &DesiredZone, desired: &Desired, served: &[Declared<RecordSet>]) -> Vec<Finding> {
    let by_path: BTreeMap<&str, &RecordSet> = served
        .iter()
        .map(|d| (d.origin.path.as_str(), &d.item))
        .collect();
    let served_desired = Desired {
        zones: vec![DesiredZone {
            records: served.to_vec(),
            ..zone.clone()
        }],
        mail: desired
            .mail
            .iter()
            .filter(|m| m.domain == zone.zone)
            .cloned()
            .collect(),
        ..Desired::default()
    };
    let path = std::path::PathBuf::from("<served>");
    let mut diags = Diagnostics::new(&path, "");
    crate::lint::run(&served_desired, &mut diags);
    diags
        .into_sorted()
        .into_iter()
        .filter(|d| d.rule != Some(rules::SPF_LOOKUPS.id)) // counted for real below
        .filter_map(|d| {
            let rule = rules::ALL.iter().find(|r| Some(r.id) == d.rule)?;
            let mut f = Finding::new(&zone.zone, rule, d.severity, d.message);
            f.fix = d.fix;
            if let Some(set) = by_path.get(d.path.as_str()) {
                f.record = Some(d.path.clone());
                f.served = set.values.iter().map(RData::presentation).collect();
            }
            Some(f)
        })
        .collect()
}

/// Fetches the served MTA-STS policy and checks it against the declared
/// policy and against the MX set actually served.
async fn mta_sts_findings(
    zone: &DesiredZone,
    served: &[Declared<RecordSet>],
    router: &Router<'_>,
    fetch: &mta_sts::FetchOptions,
    findings: &mut Vec<Finding>,
) {
    let domain = zone.zone.as_str();
    let rule = &rules::MTA_STS_SERVED;
    let host = format!("mta-sts.{domain}");
    let mut ip = None;
    for t in [RecordType::A, RecordType::Aaaa] {
        if let Ok(Answer::Records(values, _)) = router.resolve(&host, &t).await {
            ip = values.iter().find_map(|v| match v {
                RData::A { address } => Some(std::net::IpAddr::V4(*address)),
                RData::Aaaa { address } => Some(std::net::IpAddr::V6(*address)),
                _ => None,
            });
        }
        if ip.is_some() {
            break;
        }
    }
    let Some(ip) = ip else {
        findings.push(finding(
            domain,
            rule,
            None,
            format!("the MTA-STS policy host `{host}` has no A or AAAA record"),
            "give the policy host an address and serve the policy file there over HTTPS",
        ));
        return;
    };
    let fix = format!(
        "serve the output of `mailform mta-sts-policy {domain}` as text/plain at https://{host}/.well-known/mta-sts.txt, with a certificate valid for {host}",
    );
    let text = match mta_sts::fetch(domain, SocketAddr::new(ip, fetch.port), fetch).await {
        Ok(t) => t,
        Err(e) => {
            findings.push(finding(domain, rule, None, e, &fix));
            return;
        }
    };
    let policy = match mta_sts::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            findings.push(finding(
                domain,
                rule,
                None,
                format!("the served MTA-STS policy is not valid: {e}"),
                &fix,
            ));
            return;
        }
    };
    if let Some(declared) = zone
        .mta_sts_policy
        .as_deref()
        .and_then(|t| mta_sts::parse(t).ok())
    {
        let diffs = mta_sts::differences(&policy, &declared);
        if !diffs.is_empty() {
            findings.push(finding(
                domain,
                rule,
                None,
                format!(
                    "the served MTA-STS policy differs from the `mta_sts` block: {}",
                    diffs.join("; ")
                ),
                &fix,
            ));
        }
    }
    if policy.mode == "none" {
        return;
    }
    for d in served
        .iter()
        .filter(|d| d.item.name == zone.zone && d.item.rtype == RecordType::Mx)
    {
        for v in &d.item.values {
            let RData::Mx { exchange, .. } = v else {
                continue;
            };
            if !exchange.is_empty()
                && !policy
                    .mx
                    .iter()
                    .any(|p| crate::policy::mta_sts::mx_matches(p, exchange))
            {
                let mut f = finding(
                    domain,
                    &rules::MTA_STS_MX,
                    None,
                    format!(
                        "served MX host `{exchange}` matches no `mx` line of the served MTA-STS policy"
                    ),
                    "add the host (or a `*.` pattern covering it) to `mta_sts.mx` and publish the new policy",
                );
                f.record = Some(format!("{} MX", zone.zone));
                f.served = d.item.values.iter().map(RData::presentation).collect();
                findings.push(f);
            }
        }
    }
}

pub(super) fn finding(
    domain: &str,
    rule: &rules::Rule,
    severity: Option<Severity>,
    message: String,
    fix: &str,
) -> Finding {
    let mut f = Finding::new(
        domain,
        rule,
        severity.unwrap_or(rule.severity),
        format!("{message} ({}, {})", rule.name, rule.spec),
    );
    f.severity = severity_str(severity.unwrap_or(rule.severity));
    f.fix = Some(fix.to_string());
    f
}

/// Counts the DNS lookups and void lookups of a served SPF record by
/// resolving its includes and redirect (RFC 7208 §4.6.4).
async fn spf_findings(domain: &str, text: &str, router: &Router<'_>, findings: &mut Vec<Finding>) {
    let mut lookups = 0usize;
    let mut voids = 0usize;
    let mut queue: Vec<(String, usize)> = vec![(text.to_string(), 0)];
    while let Some((record, depth)) = queue.pop() {
        let Ok(terms) = crate::policy::spf::parse(&record) else {
            continue;
        };
        for t in terms {
            let target = match (t.name.as_str(), t.qualifier) {
                ("include", Some(_)) | ("redirect", None) => t.value.clone(),
                ("a" | "mx" | "ptr" | "exists", Some(_)) => {
                    lookups += 1;
                    None
                }
                _ => None,
            };
            let Some(target) = target else { continue };
            lookups += 1;
            if depth > 10 || lookups > 20 {
                continue; // a loop or a runaway chain; the count already says enough
            }
            // A failed lookup is recorded by its server and reported as
            // could-not-check; the counts below are then a lower bound.
            match router.resolve(&target, &RecordType::Txt).await {
                Ok(Answer::Records(values, _)) => {
                    let spf: Vec<String> = values
                        .into_iter()
                        .filter_map(|v| match v {
                            RData::Txt { chunks } => Some(chunks.concat()),
                            _ => None,
                        })
                        .filter(|t| crate::policy::spf::is_spf(t))
                        .collect();
                    match spf.into_iter().next() {
                        Some(s) => queue.push((s, depth + 1)),
                        None => voids += 1,
                    }
                }
                Ok(Answer::Nothing) => voids += 1,
                Err(_) => {}
            }
        }
    }
    let record = Some(format!("{domain} TXT"));
    if lookups > 10 {
        let mut f = finding(domain, &rules::SPF_LOOKUPS, None, format!("served SPF needs {lookups} DNS lookups counting nested includes; receivers stop at 10"), "drop includes of services you no longer use, or use `ip4:`/`ip6:` for your own servers");
        f.record = record.clone();
        f.served = vec![text.to_string()];
        findings.push(f);
    }
    if voids > 2 {
        let mut f = finding(
            domain,
            &rules::SPF_VOID_LOOKUPS,
            None,
            format!("served SPF makes {voids} lookups that find nothing; receivers stop at 2"),
            "remove includes of domains that publish no SPF record",
        );
        f.record = record;
        f.served = vec![text.to_string()];
        findings.push(f);
    }
}
