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
    }
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
