//! Onboarding a mail domain during apply, and planning its zone again
//! afterwards.
//!
//! For each domain the plan marks for onboarding: the mail provider adds it
//! and names its verification records; they are published through the
//! zone's DNS provider *without removing anything* (the zone's own plan
//! runs later); apply waits until every authoritative server serves them;
//! the mail provider verifies the domain and names the records mail needs
//! from then on. The zone is then planned again, with those records, by
//! the same pure planner, so that MX switches in the MX phase, after the
//! domain's mailboxes exist. A failure stops that domain only, and says
//! that running apply again goes on from where it stopped.
//!
//! The setup phase ([`setup_all`]), last in apply, carries out what a
//! provider can do only once the records it asked for are served
//! ([`DomainStatus::setup`], e.g. enabling DKIM signing). A domain alias
//! goes the same way, added as an alias of its parent at the end.

use std::net::SocketAddr;
use std::time::Duration;

use mailform_contract::{
    ChangeOutcome, DomainStage, DomainStatus, ProviderRecord, RecordPurpose, RecordSet,
};

use std::collections::{BTreeMap, BTreeSet};

use super::order::Phase;
use super::{Entry, Interrupt, INTERRUPTED};
use crate::desired::Desired;
use crate::plan::{dns, onboarding, MailPlan, Plan, ZonePlan};
use crate::registry::Registry;

/// Where and how long apply waits for a verification record to be served.
#[derive(Debug, Clone)]
pub struct DnsWait {
    /// Servers to ask as the zone's authoritative servers; empty means
    /// looking up its NS records through `resolvers`.
    pub authoritative: Vec<SocketAddr>,
    pub resolvers: Vec<SocketAddr>,
    /// How long to wait in all; zero asks the provider to verify at once.
    pub timeout: Duration,
    /// How long between two rounds of questions.
    pub interval: Duration,
}

impl Default for DnsWait {
    fn default() -> Self {
        DnsWait {
            authoritative: Vec::new(),
            resolvers: ["1.1.1.1:53", "8.8.8.8:53"]
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            timeout: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        }
    }
}

/// Onboards `m`'s domain; returns the records its provider asks for now.
pub async fn onboard(
    m: &MailPlan,
    registry: &Registry,
    wait: &DnsWait,
    interrupt: &Interrupt,
) -> Result<Vec<ProviderRecord>, String> {
    let Some(o) = &m.onboarding else {
        return Ok(m.domain_status.records.clone());
    };
    let again = "; running apply again goes on from here";
    let mail = registry.mail(&m.provider);
    let asked = mail
        .begin_onboarding(&m.domain, o.alias_of.as_deref())
        .await
        .map_err(|e| {
            format!(
                "`{}` could not start onboarding {}: {e}{again}",
                m.provider, m.domain
            )
        })?;
    let sets: Vec<RecordSet> = asked.into_iter().map(|r| r.set).collect();
    if sets.is_empty() {
        return Err(format!(
            "`{}` named no verification record for {}{again}",
            m.provider, m.domain
        ));
    }
    let dns = registry.dns(&o.zone_provider);
    let caps = dns.capabilities();
    let unstorable: Vec<String> = sets.iter().flat_map(|s| caps.audit(s)).collect();
    if !unstorable.is_empty() {
        return Err(format!(
            "the verification record cannot be stored in zone {}: {}",
            o.zone,
            unstorable.join("; ")
        ));
    }
    let live = dns
        .read_zone(&o.zone)
        .await
        .map_err(|e| format!("reading zone {} failed: {e}{again}", o.zone))?;
    let (changes, served) = onboarding::additions(&live, &sets);
    if !changes.is_empty() {
        let report = dns.apply_zone(&o.zone, &changes).await;
        if let Some(bad) = report
            .outcomes
            .iter()
            .find(|o| !matches!(o, ChangeOutcome::Applied))
        {
            return Err(format!(
                "publishing the verification record in zone {} failed: {}{again}",
                o.zone,
                match bad {
                    ChangeOutcome::Failed(e) => e.to_string(),
                    ChangeOutcome::NotAttempted(why) => why.clone(),
                    ChangeOutcome::Applied => String::new(),
                }
            ));
        }
        if report.outcomes.len() < changes.len() {
            return Err(format!(
                "publishing the verification record in zone {}: the DNS provider reported no outcome; run plan to see whether it was published",
                o.zone
            ));
        }
    }
    if wait.timeout.is_zero() {
        tracing::info!(domain = %m.domain, "--dns-wait 0: not waiting for the verification record");
        return mail
            .finish_onboarding(&m.domain, o.alias_of.as_deref())
            .await
            .map_err(|e| format!("`{}` could not verify {}: {e}{again}", m.provider, m.domain));
    }
    let servers = servers_of(&o.zone, wait)
        .await
        .map_err(|e| format!("{e}{again}"))?;
    tracing::info!(domain = %m.domain, servers = servers.len(), "waiting until the verification record is served");
    // Only DNS questions are in flight while waiting: an interrupt may
    // drop them.
    tokio::select! {
        served = crate::verify::wait_until_served(&served, &servers, wait.timeout, wait.interval) => served
            .map_err(|pending| {
                format!(
                    "the verification record was not served by every authoritative server within {} s (still waiting for: {}); raise --dns-wait or check the zone's delegation{again}",
                    wait.timeout.as_secs(),
                    pending.join("; ")
                )
            })?,
        () = interrupt.raised() => {
            return Err(format!("apply was interrupted while waiting for the verification record to be served{again}"))
        }
    }
    mail.finish_onboarding(&m.domain, o.alias_of.as_deref())
        .await
        .map_err(|e| format!("`{}` could not verify {}: {e}{again}", m.provider, m.domain))
}

/// The authoritative servers apply waits on for `zone`.
async fn servers_of(zone: &str, wait: &DnsWait) -> Result<Vec<SocketAddr>, String> {
    if !wait.authoritative.is_empty() {
        return Ok(wait.authoritative.clone());
    }
    crate::verify::authoritative_servers(
        zone,
        &wait.resolvers,
        wait.interval.max(Duration::from_secs(2)),
    )
    .await
    .map_err(|e| format!("finding the authoritative servers of {zone}: {e}"))
}

/// Finishes the provider-side setup of `m`'s domain
/// ([`DomainStatus::setup`]) once the records its provider asked for —
/// `records` — are served: those the file does not override are waited
/// for, then the provider carries the steps out. Returns what it did.
pub async fn complete_setup(
    m: &MailPlan,
    desired: &Desired,
    registry: &Registry,
    wait: &DnsWait,
    records: &[ProviderRecord],
    interrupt: &Interrupt,
) -> Result<Vec<String>, String> {
    let again = "; running apply again goes on from here";
    if let Some(i) = onboarding::zone_for(desired, &m.domain) {
        let zone = &desired.zones[i];
        // What the file declares for a name and type wins, so only the
        // provider's own sets are served as it asked.
        let expected: Vec<RecordSet> = records
            .iter()
            .filter(|r| r.purpose == RecordPurpose::Service)
            .filter(|r| !zone.records.iter().any(|d| d.item.key() == r.set.key()))
            .map(|r| r.set.clone())
            .collect();
        if !expected.is_empty() && !wait.timeout.is_zero() {
            let servers = servers_of(&zone.zone, wait)
                .await
                .map_err(|e| format!("{e}{again}"))?;
            tokio::select! {
                served = crate::verify::wait_until_served(&expected, &servers, wait.timeout, wait.interval) => served
                    .map_err(|pending| {
                        format!(
                            "the records `{}` asks for were not served by every authoritative server within {} s (still waiting for: {}){again}",
                            m.provider,
                            wait.timeout.as_secs(),
                            pending.join("; ")
                        )
                    })?,
                () = interrupt.raised() => {
                    return Err(format!("apply was interrupted while waiting for the records `{}` asks for to be served{again}", m.provider))
                }
            }
        }
    }
    registry
        .mail(&m.provider)
        .complete_setup(&m.domain)
        .await
        .map_err(|e| {
            format!(
                "`{}` could not finish setting up {}: {e}{again}",
                m.provider, m.domain
            )
        })
}

/// Plans the zones that received onboarded domains again, from what is
/// live now, with the records the providers name after onboarding.
/// `after` holds, per mail domain onboarded successfully, those records.
/// Returns the zones that could not be planned again, with why.
pub async fn replan_zones(
    plan: &mut Plan,
    desired: &Desired,
    registry: &Registry,
    after: &std::collections::BTreeMap<String, Vec<ProviderRecord>>,
) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    let statuses: Vec<(String, String, DomainStatus)> = plan
        .mail
        .iter()
        .map(|m| {
            let mut status = m.domain_status.clone();
            if let Some(records) = after.get(&m.domain) {
                status.stage = DomainStage::Ready;
                status.records = records.clone();
            }
            (m.domain.clone(), m.provider.clone(), status)
        })
        .collect();
    for zp in plan
        .zones
        .iter_mut()
        .filter(|z| !z.replanned_after.is_empty())
    {
        let Some(dz) = desired.zones.iter().find(|d| d.zone == zp.zone) else {
            continue;
        };
        let dns = registry.dns(&dz.provider);
        let live = match dns.read_zone(&dz.zone).await {
            Ok(l) => l,
            Err(e) => {
                failed.push((
                    zp.zone.clone(),
                    format!("reading the zone again failed: {e}"),
                ));
                continue;
            }
        };
        let mut zone = dz.clone();
        let mut notes = Vec::new();
        for (domain, provider, status) in &statuses {
            if onboarding::zone_for(desired, domain).map(|i| &desired.zones[i].zone)
                == Some(&dz.zone)
            {
                notes.extend(onboarding::merge_into_zone(
                    &mut zone,
                    &live,
                    domain,
                    provider,
                    &status.records,
                    &status.keep_txt_prefixes,
                ));
            }
        }
        let again = dns::plan_zone(
            &zone,
            &live,
            &dns.capabilities(),
            dns.kind(),
            &plan.source.file,
        );
        if !again.problems.is_empty() {
            let list: Vec<&str> = again.problems.iter().map(|p| p.message.as_str()).collect();
            failed.push((zp.zone.clone(), list.join("; ")));
            continue;
        }
        *zp = ZonePlan {
            notes,
            replanned_after: zp.replanned_after.clone(),
            threshold: zp.threshold.clone(),
            ..again
        };
    }
    failed
}

/// Onboards every domain the plan marks, domains of their own before
/// aliases; returns the report entries, the records each onboarded domain
/// asks for now, and the domains whose onboarding did not finish.
pub async fn onboard_all(
    plan: &Plan,
    registry: &Registry,
    wait: &DnsWait,
    interrupt: &Interrupt,
) -> (
    Vec<Entry>,
    BTreeMap<String, Vec<ProviderRecord>>,
    BTreeSet<String>,
) {
    let mut entries = Vec::new();
    let mut after = BTreeMap::new();
    let mut onboard_failed = BTreeSet::new();
    // Domains of their own first: a domain alias is added to its parent,
    // which must be a domain of the tenant by then.
    let mut onboarding: Vec<&crate::plan::MailPlan> = plan
        .mail
        .iter()
        .filter(|m| m.onboarding.is_some())
        .collect();
    onboarding.sort_by_key(|m| m.onboarding.as_ref().is_some_and(|o| o.alias_of.is_some()));
    for m in onboarding {
        let change = m
            .onboarding
            .as_ref()
            .map(|o| o.describe(&m.domain))
            .unwrap_or_default();
        let parent_failed = m
            .onboarding
            .as_ref()
            .and_then(|o| o.alias_of.as_ref())
            .filter(|p| onboard_failed.contains(*p));
        if interrupt.is_raised() {
            onboard_failed.insert(m.domain.clone());
            entries.push(Entry {
                phase: Phase::Onboard,
                scope: m.domain.clone(),
                change,
                outcome: ChangeOutcome::NotAttempted(INTERRUPTED.to_string()),
            });
            continue;
        }
        if let Some(parent) = parent_failed {
            onboard_failed.insert(m.domain.clone());
            entries.push(Entry {
                phase: Phase::Onboard,
                scope: m.domain.clone(),
                change,
                outcome: ChangeOutcome::NotAttempted(format!(
                    "onboarding {parent}, the domain {} is to be an alias of, did not finish; running apply again goes on from here",
                    m.domain
                )),
            });
            continue;
        }
        let outcome = match onboard(m, registry, wait, interrupt).await {
            Ok(records) => {
                after.insert(m.domain.clone(), records);
                ChangeOutcome::Applied
            }
            Err(why) => {
                onboard_failed.insert(m.domain.clone());
                ChangeOutcome::Failed(mailform_contract::ProviderError::Service(why))
            }
        };
        tracing::info!(scope = %m.domain, %change, ?outcome, "onboarding");
        entries.push(Entry {
            phase: Phase::Onboard,
            scope: m.domain.clone(),
            change,
            outcome,
        });
    }
    (entries, after, onboard_failed)
}

/// The setup phase: provider-side steps of each domain whose status lists
/// some (asked again for a domain onboarded in this apply), once its zone's
/// DNS applied and the records it asks for are served.
pub async fn setup_all(
    plan: &Plan,
    desired: &Desired,
    registry: &Registry,
    options: &super::ApplyOptions,
    after: &BTreeMap<String, Vec<ProviderRecord>>,
    onboard_failed: &BTreeSet<String>,
    dns_failed: &BTreeSet<String>,
) -> Vec<Entry> {
    let (wait, interrupt) = (&options.dns_wait, &options.interrupt);
    let mut entries = Vec::new();
    for m in &plan.mail {
        // A domain onboarded just now: what it still needs is known only
        // now, so ask again.
        let status = if after.contains_key(&m.domain) {
            match registry.mail(&m.provider).domain_status(&m.domain).await {
                Ok(s) => s,
                Err(e) => {
                    entries.push(Entry {
                        phase: Phase::Setup,
                        scope: m.domain.clone(),
                        change: format!("read what {} still needs at `{}`", m.domain, m.provider),
                        outcome: ChangeOutcome::Failed(e),
                    });
                    continue;
                }
            }
        } else {
            m.domain_status.clone()
        };
        if status.setup.is_empty() {
            continue;
        }
        let zone = zone_name(desired, &m.domain);
        let change = status.setup.join("; ");
        let outcome = if onboard_failed.contains(&m.domain) {
            ChangeOutcome::NotAttempted(format!("onboarding {} did not finish", m.domain))
        } else if let Some(z) = zone.filter(|z| dns_failed.contains(z)) {
            ChangeOutcome::NotAttempted(format!("the DNS changes of zone {z} did not all apply"))
        } else {
            match complete_setup(m, desired, registry, wait, &status.records, interrupt).await {
                Ok(done) => {
                    for line in done {
                        tracing::info!(scope = %m.domain, %line, "setup");
                    }
                    ChangeOutcome::Applied
                }
                Err(why) => ChangeOutcome::Failed(mailform_contract::ProviderError::Service(why)),
            }
        };
        entries.push(Entry {
            phase: Phase::Setup,
            scope: m.domain.clone(),
            change,
            outcome,
        });
    }
    entries
}

/// The zone of this file holding `domain`, by name.
fn zone_name(desired: &crate::desired::Desired, domain: &str) -> Option<String> {
    crate::plan::onboarding::zone_for(desired, domain).map(|i| desired.zones[i].zone.clone())
}
