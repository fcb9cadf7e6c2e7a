//! The DNS planner: desired record sets against a live zone.
//!
//! Record sets are compared by (name, type) after normalisation (see
//! `RecordSet::same_as`). Ownership decides what happens to live sets the
//! file does not declare: with `manage: declared` they are reported as
//! unmanaged; with `manage: zone` they are deleted, except SOA, the apex NS
//! set and names matching an `ignore` pattern.

use std::collections::BTreeMap;

use mailform_contract::name::relative_name;
use mailform_contract::{DnsCapabilities, DnsChange, RecordSet, RecordType, ZoneState};

use super::{set_label, Problem, Unmanaged, UnmanagedReason, ZonePlan};
use crate::config::model::DnsManage;
use crate::desired::DesiredZone;

/// Plans one zone. `file` is the YAML path, for problem locations.
pub fn plan_zone(
    desired: &DesiredZone,
    live: &ZoneState,
    caps: &DnsCapabilities,
    provider_kind: &str,
    file: &str,
) -> ZonePlan {
    let mut problems = Vec::new();
    for d in &desired.records {
        for p in caps.audit(&d.item) {
            problems.push(Problem::at(
                format!(
                    "{}: {provider_kind} provider `{}` cannot store this: {p}",
                    set_label(&d.item),
                    desired.provider
                ),
                &d.origin,
                file,
            ));
        }
    }
    if !live.exists && !caps.creates_zones {
        problems.push(Problem {
            message: format!(
                "zone `{}` does not exist at {provider_kind} provider `{}`, which cannot create zones; create it there first",
                desired.zone, desired.provider
            ),
            at: None,
        });
    }

    let mut live_sets: BTreeMap<(String, RecordType), RecordSet> = BTreeMap::new();
    for set in &live.records {
        // A provider may hand back one set in pieces; merge them.
        live_sets
            .entry(set.key())
            .and_modify(|s| s.values.extend(set.values.iter().cloned()))
            .or_insert_with(|| set.clone());
    }
    let mut changes = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    for d in &desired.records {
        let key = d.item.key();
        declared.insert(key.clone());
        match live_sets.get(&key) {
            None => changes.push(DnsChange::Create {
                new: d.item.clone(),
            }),
            Some(old) if !old.same_as(&d.item) => changes.push(DnsChange::Update {
                old: old.clone(),
                new: d.item.clone(),
            }),
            Some(_) => {}
        }
    }
    let mut unmanaged = Vec::new();
    // Live sets that stay as they are, untouched by this plan.
    let mut kept: Vec<(&str, &RecordType, UnmanagedReason)> = Vec::new();
    for (key, set) in &live_sets {
        if declared.contains(key) {
            continue;
        }
        let (name, rtype) = key;
        let rel = relative_name(name, &desired.zone);
        let reason =
            if *rtype == RecordType::Soa || (*rtype == RecordType::Ns && *name == desired.zone) {
                UnmanagedReason::Protected
            } else if desired.ignore.is_match(&rel) {
                UnmanagedReason::Ignored
            } else if desired.manage == DnsManage::Zone {
                changes.push(DnsChange::Delete { old: set.clone() });
                continue;
            } else {
                UnmanagedReason::NotDeclared
            };
        if *rtype != RecordType::Soa {
            unmanaged.push(Unmanaged {
                object: format!("{rel} {rtype}"),
                reason,
            });
        }
        kept.push((name.as_str(), rtype, reason));
    }
    problems.extend(cname_clashes(desired, &kept, file));
    // The apex first, then by name and type: the order people read zones in.
    changes.sort_by_key(|c| {
        let (name, rtype) = c.key();
        (name != desired.zone, name, rtype)
    });
    ZonePlan {
        zone: desired.zone.clone(),
        provider: desired.provider.clone(),
        provider_kind: provider_kind.to_string(),
        manage: desired.manage,
        creates_zone: !live.exists,
        changes,
        unmanaged,
        problems,
        existing: live_sets
            .keys()
            .filter(|(_, t)| *t != RecordType::Soa)
            .count(),
        threshold: None,
        notes: Vec::new(),
        replanned_after: Vec::new(),
    }
}

/// A declared set that cannot coexist with live data this plan leaves in
/// place: a CNAME and any other type at one name (RFC 1034 §3.6.2;
/// RFC 2181 §10.1). The provider would refuse the write — Cloudflare
/// refuses the whole batch — so it is a plan-time problem.
fn cname_clashes(
    desired: &DesiredZone,
    kept: &[(&str, &RecordType, UnmanagedReason)],
    file: &str,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for d in &desired.records {
        let name = d.item.name.as_str();
        let clash = kept.iter().find(|(n, t, _)| {
            *n == name && (d.item.rtype == RecordType::Cname) != (**t == RecordType::Cname)
        });
        let Some((_, live_type, reason)) = clash else {
            continue;
        };
        let why = match reason {
            UnmanagedReason::Protected => "which mailform never changes",
            UnmanagedReason::Ignored => "which an `ignore` pattern keeps out of mailform's hands",
            _ => "which the file does not declare (`manage: declared` leaves it alone)",
        };
        out.push(Problem::at(
            format!(
                "{}: the live zone keeps the set `{} {live_type}`, {why}; a CNAME cannot share its name with \
                 other data (RFC 1034 §3.6.2) and the provider would refuse the write. Remove that set at the \
                 provider (or set `manage: zone`, under which mailform deletes what the file does not declare), \
                 or use another record type than CNAME here",
                set_label(&d.item),
                relative_name(name, &desired.zone)
            ),
            &d.origin,
            file,
        ));
    }
    out
}
