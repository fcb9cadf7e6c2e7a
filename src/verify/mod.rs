//! `mailform verify`: is what the file declares actually served?
//!
//! For each zone it asks every authoritative server directly (found through
//! the resolver's NS answer, or given with `--authoritative`) and, unless
//! the authoritative servers were given without `--resolver`, each
//! resolver for every declared record set, and reports per server whether
//! the set is served as declared (propagation), with the TTL seen. Then it
//! lints what the first authoritative server serves and runs the checks
//! only live DNS allows ([`served`]).
//!
//! A question that gets no usable answer (timeout, unreachable, REFUSED,
//! SERVFAIL, lame) is never read as "nothing served": it becomes a
//! `dns-could-not-check` finding and the run's outcome is "could not
//! check" ([`report::Outcome`]).

pub mod dns;
pub mod lookup;
pub mod mta_sts;
pub mod render;
pub mod report;
pub mod sarif;
mod served;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mailform_contract::{RData, RecordSet, RecordType};

use crate::desired::{Desired, DesiredZone};
use crate::lint::rules;
use dns::{Answer, Cause, Server};
pub use render::render;
pub use report::{Finding, Outcome, RecordCheck, Report, ServerReport, ZoneReport};

#[derive(Debug, Clone)]
pub struct Options {
    /// Recursive resolvers, e.g. 1.1.1.1:53: for names outside the zones,
    /// for finding the authoritative servers, and (see
    /// `ask_resolvers_for_zone`) for propagation.
    pub resolvers: Vec<SocketAddr>,
    /// Authoritative servers to ask instead of looking up NS.
    pub authoritative: Vec<SocketAddr>,
    /// Whether the resolvers are also asked for the zone's own names
    /// (propagation). Off when authoritative servers are given and the
    /// resolvers are only the public defaults: before an NS switch those
    /// do not serve the zone yet.
    pub ask_resolvers_for_zone: bool,
    pub timeout: Duration,
    /// How MTA-STS policies are fetched.
    pub mta_sts: mta_sts::FetchOptions,
}

pub async fn run(desired: &Desired, options: &Options) -> Report {
    let mut zones = Vec::new();
    for zone in &desired.zones {
        zones.push(check_zone(zone, desired, options).await);
    }
    Report::new(zones)
}

async fn check_zone(zone: &DesiredZone, desired: &Desired, options: &Options) -> ZoneReport {
    let mut report = ZoneReport {
        zone: zone.zone.clone(),
        servers: vec![],
        findings: vec![],
    };
    let resolvers: Vec<Server> = match options
        .resolvers
        .iter()
        .map(|a| Server::new(*a, true, options.timeout))
        .collect::<Result<_, _>>()
    {
        Ok(r) => r,
        Err(e) => {
            report.findings.push(setup_failure(&zone.zone, e));
            return report;
        }
    };
    let authoritative: Vec<Server> = if options.authoritative.is_empty() {
        let Some(first) = resolvers.first() else {
            report.findings.push(setup_failure(
                &zone.zone,
                "give at least one --resolver or --authoritative".into(),
            ));
            return report;
        };
        match find_authoritative(&zone.zone, first, options.timeout).await {
            Ok(servers) => servers,
            Err(Lookup::Failed) => {
                report.findings = could_not_check(&zone.zone, &resolvers, "resolver");
                return report;
            }
            Err(Lookup::NotServed(message)) => {
                let mut f = served::finding(
                    &zone.zone,
                    &rules::NOT_SERVED,
                    None,
                    message,
                    "delegate the zone: publish its NS records at the parent (the registrar), each name server with an address",
                );
                f.record = Some(format!("{} NS", zone.zone));
                report.findings.push(f);
                return report;
            }
        }
    } else {
        match options
            .authoritative
            .iter()
            .map(|a| Server::new(*a, false, options.timeout))
            .collect::<Result<_, _>>()
        {
            Ok(a) => a,
            Err(e) => {
                report.findings.push(setup_failure(&zone.zone, e));
                return report;
            }
        }
    };
    let propagation: &[Server] = if options.ask_resolvers_for_zone {
        &resolvers
    } else {
        &[]
    };
    for (role, list) in [
        ("authoritative", authoritative.as_slice()),
        ("resolver", propagation),
    ] {
        for server in list {
            let mut records = Vec::new();
            for d in &zone.records {
                let check = check_set(server, &d.item).await;
                if matches!(check.status, "missing" | "differs") {
                    report
                        .findings
                        .push(not_served(&zone.zone, server, role, &check, d));
                }
                records.push(check);
            }
            report.servers.push(ServerReport {
                server: server.addr.to_string(),
                role,
                records,
            });
        }
    }
    // Given authoritative servers serve every zone of the file: names in
    // any of them are asked there. Found ones serve this zone only.
    let routed = if options.authoritative.is_empty() {
        vec![zone.zone.clone()]
    } else {
        desired.zones.iter().map(|z| z.zone.clone()).collect()
    };
    let router = lookup::Router::new(routed, &authoritative[0], resolvers.first());
    let served = served::findings(zone, desired, &router, &options.mta_sts).await;
    report.findings.extend(served);
    report
        .findings
        .extend(could_not_check(&zone.zone, &authoritative, "authoritative"));
    report
        .findings
        .extend(could_not_check(&zone.zone, &resolvers, "resolver"));
    report
}

fn setup_failure(domain: &str, message: String) -> Finding {
    let mut f = Finding::new(
        domain,
        &rules::DNS_COULD_NOT_CHECK,
        rules::DNS_COULD_NOT_CHECK.severity,
        message,
    );
    f.questions = vec![format!("{domain} NS")];
    f
}

/// One finding per server and cause, naming every question that got no
/// usable answer.
fn could_not_check(domain: &str, servers: &[Server], role: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for server in servers {
        let mut by_cause: BTreeMap<Cause, (String, Vec<String>)> = BTreeMap::new();
        for failed in server.failures() {
            let entry = by_cause
                .entry(failed.error.cause)
                .or_insert_with(|| (failed.error.detail.clone(), Vec::new()));
            let question = format!("{} {}", failed.name, failed.rtype);
            if !entry.1.contains(&question) {
                entry.1.push(question);
            }
        }
        for (cause, (detail, questions)) in by_cause {
            let shown: Vec<&str> = questions.iter().take(5).map(String::as_str).collect();
            let more = questions.len().saturating_sub(shown.len());
            let list = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            let mut f = Finding::new(
                domain,
                &rules::DNS_COULD_NOT_CHECK,
                rules::DNS_COULD_NOT_CHECK.severity,
                format!(
                    "{} ({role}) {detail}: could not check {list} ({}, {})",
                    server.addr,
                    rules::DNS_COULD_NOT_CHECK.name,
                    rules::DNS_COULD_NOT_CHECK.spec
                ),
            );
            f.server = Some(server.addr.to_string());
            f.cause = Some(cause);
            f.fix = Some(fix_for(cause, role).to_string());
            f.questions = questions;
            out.push(f);
        }
    }
    out
}

fn fix_for(cause: Cause, role: &str) -> &'static str {
    match (cause, role) {
        (Cause::Timeout | Cause::Unreachable, _) => {
            "check that the server runs and that its DNS port (UDP and TCP) is reachable from here (firewall, address, port); then run verify again"
        }
        (Cause::Refused, "authoritative") => {
            "configure the zone on this server (or allow queries from this host), or remove the server from the zone's NS set / --authoritative"
        }
        (Cause::Refused, _) => "give a --resolver that answers queries from this host (one that allows it recursion)",
        (Cause::Servfail, "authoritative") => {
            "read the server's log: the zone probably failed to load (check it with named-checkzone) or its DNSSEC signatures are broken"
        }
        (Cause::Servfail, _) => {
            "the resolver could not get an answer from the name's own servers (down, lame, or broken DNSSEC); fix those servers"
        }
        (Cause::Lame, _) => {
            "serve the zone on this server, or remove it from the zone's NS set at the parent / from --authoritative"
        }
        (Cause::BadAnswer, _) => "check the server's software and configuration: its answer is not valid DNS for this question",
    }
}

fn not_served(
    domain: &str,
    server: &Server,
    role: &str,
    check: &RecordCheck,
    declared: &crate::desired::Declared<RecordSet>,
) -> Finding {
    let want: Vec<String> = declared
        .item
        .values
        .iter()
        .map(RData::presentation)
        .collect();
    let what = match check.status {
        "missing" => "serves nothing".to_string(),
        _ => format!("serves {}", check.served.join(", ")),
    };
    let mut f = served::finding(
        domain,
        &rules::NOT_SERVED,
        None,
        format!(
            "{} {} at {} ({role}) {what}; declared {}",
            check.name,
            check.rtype,
            server.addr,
            want.join(", ")
        ),
        "run `mailform apply` (or wait for the TTL if it was just applied); if apply says nothing changes, the server is not the one the provider writes to",
    );
    f.record = Some(format!("{} {}", check.name, check.rtype));
    f.server = Some(server.addr.to_string());
    f.served = check.served.clone();
    f.declared_at = Some(declared.origin.loc);
    f
}

enum Lookup {
    /// A question got no usable answer; the resolver's failures say which.
    Failed,
    /// The answers say the zone is not served (no NS, or NS without
    /// addresses).
    NotServed(String),
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
    match find_authoritative(zone, &resolver, timeout).await {
        Ok(servers) => Ok(servers.into_iter().map(|s| s.addr).collect()),
        Err(Lookup::NotServed(m)) => Err(m),
        Err(Lookup::Failed) => Err(resolver
            .failures()
            .iter()
            .map(|f| format!("{} {} at {}: {}", f.name, f.rtype, first, f.error.detail))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

/// The zone's NS set, each name resolved to its addresses (port 53).
async fn find_authoritative(
    zone: &str,
    resolver: &Server,
    timeout: Duration,
) -> Result<Vec<Server>, Lookup> {
    let ns = match resolver.ask(zone, &RecordType::Ns).await {
        Ok(Answer::Records(ns, _)) => ns,
        Ok(Answer::Nothing) => {
            return Err(Lookup::NotServed(format!(
                "{zone} has no NS records: it is not delegated"
            )))
        }
        Err(_) => return Err(Lookup::Failed),
    };
    let mut out = Vec::new();
    for n in ns {
        let RData::Ns { target } = n else { continue };
        for t in [RecordType::A, RecordType::Aaaa] {
            match resolver.ask(&target, &t).await {
                Ok(Answer::Records(addrs, _)) => {
                    for a in addrs {
                        let ip = match a {
                            RData::A { address } => std::net::IpAddr::V4(address),
                            RData::Aaaa { address } => std::net::IpAddr::V6(address),
                            _ => continue,
                        };
                        let server = Server::new(SocketAddr::new(ip, 53), false, timeout)
                            .map_err(|_| Lookup::Failed)?;
                        out.push(server);
                    }
                }
                Ok(Answer::Nothing) => {}
                Err(_) => return Err(Lookup::Failed),
            }
        }
    }
    if out.is_empty() {
        return Err(Lookup::NotServed(format!(
            "the name servers of {zone} have no addresses"
        )));
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
        cause: None,
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
            check.status = "could-not-check";
            check.cause = Some(e.cause);
            check.detail = Some(e.detail);
        }
    }
    check
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
