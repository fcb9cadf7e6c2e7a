//! `mailform verify`: is what the file declares actually served?
//!
//! For each zone it asks every authoritative server directly (found through
//! the resolvers' NS answer, or given with `--authoritative`) and each
//! public resolver for every declared record set, and reports per server
//! whether the set is served as declared (propagation), with the TTL seen.
//! Then it runs the lint on what the first authoritative server serves, and
//! the checks only live DNS allows: SPF lookups counted by resolving the
//! includes (and void lookups), MX hosts that do not resolve, and the
//! MTA-STS policy fetched over HTTPS ([`mta_sts`]).

pub mod dns;
pub mod mta_sts;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use mailform_contract::{RData, RecordSet, RecordType};
use serde::Serialize;

use crate::config::diagnostic::{Diagnostics, Severity};
use crate::desired::{Declared, Desired, DesiredZone, Origin};
use crate::lint::rules;
use dns::{Answer, Server};

#[derive(Debug, Clone)]
pub struct Options {
    /// Recursive resolvers to ask, e.g. 1.1.1.1:53.
    pub resolvers: Vec<SocketAddr>,
    /// Authoritative servers to ask instead of looking up NS.
    pub authoritative: Vec<SocketAddr>,
    pub timeout: Duration,
    /// How MTA-STS policies are fetched.
    pub mta_sts: mta_sts::FetchOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub zones: Vec<ZoneReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZoneReport {
    pub zone: String,
    pub servers: Vec<ServerReport>,
    /// Lint findings on what is served.
    pub findings: Vec<Finding>,
    /// Why the zone could not be checked, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: String,
    pub role: &'static str,
    pub records: Vec<RecordCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordCheck {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `served`, `missing`, `differs` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub served: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub fix: Option<String>,
}

impl Report {
    /// Declared sets not served as declared, everywhere.
    pub fn differences(&self) -> usize {
        self.zones
            .iter()
            .flat_map(|z| &z.servers)
            .flat_map(|s| &s.records)
            .filter(|r| r.status != "served")
            .count()
    }

    pub fn error_findings(&self) -> usize {
        self.zones
            .iter()
            .flat_map(|z| &z.findings)
            .filter(|f| f.severity == "error")
            .count()
    }

    pub fn failed_zones(&self) -> usize {
        self.zones.iter().filter(|z| z.error.is_some()).count()
    }
}

pub async fn run(desired: &Desired, options: &Options) -> Report {
    let mut zones = Vec::new();
    for zone in &desired.zones {
        zones.push(match check_zone(zone, desired, options).await {
            Ok(r) => r,
            Err(e) => ZoneReport {
                zone: zone.zone.clone(),
                servers: vec![],
                findings: vec![],
                error: Some(e),
            },
        });
    }
    Report { zones }
}

async fn check_zone(
    zone: &DesiredZone,
    desired: &Desired,
    options: &Options,
) -> Result<ZoneReport, String> {
    let resolvers: Vec<Server> = options
        .resolvers
        .iter()
        .map(|a| Server::new(*a, true, options.timeout))
        .collect::<Result<_, _>>()?;
    let authoritative: Vec<Server> = if options.authoritative.is_empty() {
        find_authoritative(
            &zone.zone,
            resolvers
                .first()
                .ok_or("give at least one --resolver or --authoritative")?,
            options.timeout,
        )
        .await?
    } else {
        options
            .authoritative
            .iter()
            .map(|a| Server::new(*a, false, options.timeout))
            .collect::<Result<_, _>>()?
    };
    let mut servers = Vec::new();
    for (role, list) in [("authoritative", &authoritative), ("resolver", &resolvers)] {
        for server in list.iter() {
            let mut records = Vec::new();
            for d in &zone.records {
                records.push(check_set(server, &d.item).await);
            }
            servers.push(ServerReport {
                server: server.addr.to_string(),
                role,
                records,
            });
        }
    }
    let first = authoritative
        .first()
        .ok_or_else(|| format!("no authoritative server found for {}", zone.zone))?;
    let lookup = resolvers.first().unwrap_or(first);
    let findings = served_findings(zone, desired, first, lookup, &options.mta_sts).await;
    Ok(ZoneReport {
        zone: zone.zone.clone(),
        servers,
        findings,
        error: None,
    })
}

/// The addresses of `zone`'s authoritative servers, looked up through the
/// first of `resolvers`.
pub async fn authoritative_servers(
    zone: &str,
    resolvers: &[SocketAddr],
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    let first = resolvers
        .first()
        .ok_or("give at least one --resolver or --authoritative")?;
    let resolver = Server::new(*first, true, timeout)?;
    Ok(find_authoritative(zone, &resolver, timeout)
        .await?
        .into_iter()
        .map(|s| s.addr)
        .collect())
}

/// The zone's NS set, each name resolved to its addresses (port 53).
async fn find_authoritative(
    zone: &str,
    resolver: &Server,
    timeout: Duration,
) -> Result<Vec<Server>, String> {
    let Answer::Records(ns, _) = resolver.ask(zone, &RecordType::Ns).await? else {
        return Err(format!("{zone} has no NS records: is it delegated?"));
    };
    let mut out = Vec::new();
    for n in ns {
        let RData::Ns { target } = n else { continue };
        for t in [RecordType::A, RecordType::Aaaa] {
            if let Answer::Records(addrs, _) = resolver.ask(&target, &t).await? {
                for a in addrs {
                    let ip = match a {
                        RData::A { address } => std::net::IpAddr::V4(address),
                        RData::Aaaa { address } => std::net::IpAddr::V6(address),
                        _ => continue,
                    };
                    out.push(Server::new(SocketAddr::new(ip, 53), false, timeout)?);
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("the name servers of {zone} have no addresses"));
    }
    Ok(out)
}

async fn check_set(server: &Server, want: &RecordSet) -> RecordCheck {
    let mut check = RecordCheck {
        name: want.name.clone(),
        rtype: want.rtype.to_string(),
        status: "served",
        served: vec![],
        ttl: None,
        detail: None,
    };
    match server.ask(&want.name, &want.rtype).await {
        Ok(Answer::Nothing) => check.status = "missing",
        Ok(Answer::Records(values, ttl)) => {
            let served = RecordSet {
                name: want.name.clone(),
                rtype: want.rtype.clone(),
                ttl,
                values,
            };
            check.ttl = Some(ttl);
            if served.canonical_values() != want.canonical_values() {
                check.status = "differs";
                check.served = served.values.iter().map(RData::presentation).collect();
            }
        }
        Err(e) => {
            check.status = "error";
            check.detail = Some(e);
        }
    }
    check
}

/// The lint on what `server` serves for the names the file declares, plus
/// the checks that need live DNS.
async fn served_findings(
    zone: &DesiredZone,
    desired: &Desired,
    server: &Server,
    resolver: &Server,
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
        if let Ok(Answer::Records(values, ttl)) = server.ask(&name, &rtype).await {
            served.push(Declared {
                item: RecordSet {
                    name,
                    rtype,
                    ttl,
                    values,
                },
                origin: Origin::default(),
            });
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
        if let Ok(Answer::Records(values, ttl)) = server.ask(&t, &RecordType::Cname).await {
            served.push(Declared {
                item: RecordSet {
                    name: t,
                    rtype: RecordType::Cname,
                    ttl,
                    values,
                },
                origin: Origin::default(),
            });
        }
    }
    let served_zone = DesiredZone {
        records: served.clone(),
        ..zone.clone()
    };
    let served_desired = Desired {
        zones: vec![served_zone],
        mail: desired
            .mail
            .iter()
            .filter(|m| m.domain == zone.zone)
            .cloned()
            .collect(),
        ..Desired::default()
    };
    let label = format!("<served by {}>", server.addr);
    let path = std::path::PathBuf::from(&label);
    let mut diags = Diagnostics::new(&path, "");
    crate::lint::run(&served_desired, &mut diags);
    let mut findings: Vec<Finding> = diags
        .into_sorted()
        .into_iter()
        .filter(|d| d.rule != Some(rules::SPF_LOOKUPS.id)) // counted for real below
        .map(|d| Finding {
            rule: d.rule.unwrap_or(""),
            severity: if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            },
            message: d.message,
            fix: d.fix,
        })
        .collect();
    for d in &served {
        match (&d.item.rtype, d.item.name == zone.zone) {
            (RecordType::Txt, true) => {
                for text in d.item.values.iter().filter_map(|v| match v {
                    RData::Txt { chunks } => Some(chunks.concat()),
                    _ => None,
                }) {
                    if crate::policy::spf::is_spf(&text) {
                        spf_findings(&text, resolver, &mut findings).await;
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
                    let a = resolver.ask(exchange, &RecordType::A).await;
                    let aaaa = resolver.ask(exchange, &RecordType::Aaaa).await;
                    if matches!((a, aaaa), (Ok(Answer::Nothing), Ok(Answer::Nothing))) {
                        findings.push(finding(
                            &rules::MX_UNRESOLVABLE,
                            None,
                            format!("MX host `{exchange}` has no A or AAAA record"),
                            "give the host an address, or point the MX at one that has",
                        ));
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
        mta_sts_findings(zone, &served, resolver, fetch, &mut findings).await;
    }
    findings
}

/// Fetches the served MTA-STS policy and checks it against the declared
/// policy and against the MX set actually served.
async fn mta_sts_findings(
    zone: &DesiredZone,
    served: &[Declared<RecordSet>],
    resolver: &Server,
    fetch: &mta_sts::FetchOptions,
    findings: &mut Vec<Finding>,
) {
    let rule = &rules::MTA_STS_SERVED;
    let host = format!("mta-sts.{}", zone.zone);
    let mut ip = None;
    for t in [RecordType::A, RecordType::Aaaa] {
        if let Ok(Answer::Records(values, _)) = resolver.ask(&host, &t).await {
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
            rule,
            None,
            format!("the MTA-STS policy host `{host}` has no A or AAAA record"),
            "give the policy host an address and serve the policy file there over HTTPS",
        ));
        return;
    };
    let fix = format!(
        "serve the output of `mailform mta-sts-policy {}` as text/plain at https://{host}/.well-known/mta-sts.txt, with a certificate valid for {host}",
        zone.zone
    );
    let text = match mta_sts::fetch(&zone.zone, SocketAddr::new(ip, fetch.port), fetch).await {
        Ok(t) => t,
        Err(e) => {
            findings.push(finding(rule, None, e, &fix));
            return;
        }
    };
    let policy = match mta_sts::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            findings.push(finding(
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
                findings.push(finding(
                    &rules::MTA_STS_MX,
                    None,
                    format!(
                        "served MX host `{exchange}` matches no `mx` line of the served MTA-STS policy"
                    ),
                    "add the host (or a `*.` pattern covering it) to `mta_sts.mx` and publish the new policy",
                ));
            }
        }
    }
}

fn finding(rule: &rules::Rule, severity: Option<Severity>, message: String, fix: &str) -> Finding {
    Finding {
        rule: rule.id,
        severity: if severity.unwrap_or(rule.severity) == Severity::Error {
            "error"
        } else {
            "warning"
        },
        message: format!("{message} ({}, {})", rule.name, rule.spec),
        fix: Some(fix.to_string()),
    }
}

/// Counts the DNS lookups and void lookups of a served SPF record by
/// resolving its includes and redirect (RFC 7208 §4.6.4).
async fn spf_findings(text: &str, resolver: &Server, findings: &mut Vec<Finding>) {
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
            match resolver.ask(&target, &RecordType::Txt).await {
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
    if lookups > 10 {
        findings.push(finding(&rules::SPF_LOOKUPS, None, format!("served SPF needs {lookups} DNS lookups counting nested includes; receivers stop at 10"), "drop includes of services you no longer use, or use `ip4:`/`ip6:` for your own servers"));
    }
    if voids > 2 {
        findings.push(finding(
            &rules::SPF_VOID_LOOKUPS,
            None,
            format!("served SPF makes {voids} lookups that find nothing; receivers stop at 2"),
            "remove includes of domains that publish no SPF record",
        ));
    }
}

/// The text report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for z in &report.zones {
        out.push_str(&format!("zone {}\n", z.zone));
        if let Some(e) = &z.error {
            out.push_str(&format!("  could not check: {e}\n\n"));
            continue;
        }
        for s in &z.servers {
            let ok = s.records.iter().filter(|r| r.status == "served").count();
            out.push_str(&format!(
                "  {} ({}): {ok}/{} record sets served as declared\n",
                s.server,
                s.role,
                s.records.len()
            ));
            for r in s.records.iter().filter(|r| r.status != "served") {
                let detail = match r.status {
                    "differs" => format!("serves {}", r.served.join(", ")),
                    "missing" => "not served".to_string(),
                    _ => r.detail.clone().unwrap_or_default(),
                };
                out.push_str(&format!(
                    "    ✗ {} {}: {detail} [{}]\n",
                    r.name,
                    r.rtype,
                    rules::NOT_SERVED.id
                ));
            }
        }
        for f in &z.findings {
            out.push_str(&format!("  {}[{}]: {}\n", f.severity, f.rule, f.message));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("    = fix: {fix}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Verify: {}, {} not served as declared, {}.\n",
        crate::render::count(report.zones.len(), "zone", "zones"),
        crate::render::count(report.differences(), "record set", "record sets"),
        crate::render::count(report.error_findings(), "error finding", "error findings")
    ));
    out
}

/// Waits until every server serves every set as given, asking again every
/// `interval`, for at most `timeout`. Domain onboarding uses this before it
/// asks a mail provider to verify a token it just published. Returns the
/// sets still not served (with the server) when time runs out.
pub async fn wait_until_served(
    sets: &[RecordSet],
    servers: &[SocketAddr],
    timeout: Duration,
    interval: Duration,
) -> Result<(), Vec<String>> {
    let clients: Vec<Server> = servers
        .iter()
        .map(|a| Server::new(*a, false, interval.max(Duration::from_millis(500))))
        .collect::<Result<_, _>>()
        .map_err(|e| vec![e])?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut pending = Vec::new();
        for server in &clients {
            for set in sets {
                let check = check_set(server, set).await;
                if check.status != "served" {
                    let detail = check.detail.map(|d| format!(": {d}")).unwrap_or_default();
                    pending.push(format!(
                        "{} {} at {} ({}{detail})",
                        set.name, set.rtype, server.addr, check.status
                    ));
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(pending);
        }
        tokio::time::sleep(interval).await;
    }
}
