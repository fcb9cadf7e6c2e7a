//! Applies a batch of changes to a zone's record sets in memory, all or
//! nothing: checks each change against the sets read from the file just now,
//! and keeps the zone servable (an SOA with a higher serial, apex NS).
//!
//! Pure: the caller reads and writes the file.

use std::collections::BTreeMap;

use mailform_contract::name::{in_zone, normalize_name};
use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsChange, ProviderError, RData, RecordSet, RecordType,
};

use crate::config::Config;
use crate::serial::{initial_serial, next_serial, serial_of, with_serial};

type Key = (String, RecordType);

/// The zone's record sets after `changes`, or the report saying why nothing
/// may be written. `live` is `None` when the zone file does not exist.
pub(crate) fn apply_changes(
    zone: &str,
    live: Option<Vec<RecordSet>>,
    changes: &[DnsChange],
    config: &Config,
    today: u32,
) -> Result<Vec<RecordSet>, ApplyReport> {
    let changes: Vec<DnsChange> = changes.iter().map(normalized).collect();
    let mut sets: BTreeMap<Key, RecordSet> = live
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.key(), s))
        .collect();

    let mut failures: Vec<Option<ProviderError>> = changes
        .iter()
        .map(|c| validate(zone, c).err().map(ProviderError::Rejected))
        .collect();
    for (change, failure) in changes.iter().zip(failures.iter_mut()) {
        if failure.is_some() {
            continue;
        }
        match precondition(&sets, change) {
            Ok(()) => apply_one(&mut sets, change),
            Err(message) => *failure = Some(ProviderError::Conflict(message)),
        }
    }
    if failures.iter().all(Option::is_none) {
        for (change, failure) in changes.iter().zip(failures.iter_mut()) {
            *failure = cname_clash(&sets, change).map(ProviderError::Rejected);
        }
    }
    if failures.iter().any(Option::is_some) {
        return Err(report(failures));
    }

    ensure_apex_ns(zone, &mut sets, config)
        .map_err(|e| ApplyReport::all_failed(changes.len(), e))?;
    update_soa(zone, &mut sets, config, today)
        .map_err(|e| ApplyReport::all_failed(changes.len(), e))?;
    Ok(sets.into_values().collect())
}

/// One outcome per change: the failures as they are, the rest not attempted
/// because the batch is all or nothing.
fn report(failures: Vec<Option<ProviderError>>) -> ApplyReport {
    ApplyReport {
        outcomes: failures
            .into_iter()
            .map(|f| match f {
                Some(e) => ChangeOutcome::Failed(e),
                None => ChangeOutcome::NotAttempted(
                    "another change to this zone failed, and a zone file is changed all or \
                     nothing; the file was not written"
                        .to_string(),
                ),
            })
            .collect(),
    }
}

fn normalized(change: &DnsChange) -> DnsChange {
    let fix = |s: &RecordSet| RecordSet {
        name: normalize_name(&s.name),
        ..s.clone()
    };
    match change {
        DnsChange::Create { new } => DnsChange::Create { new: fix(new) },
        DnsChange::Update { old, new } => DnsChange::Update {
            old: fix(old),
            new: fix(new),
        },
        DnsChange::Delete { old } => DnsChange::Delete { old: fix(old) },
    }
}

/// Refuses changes the file cannot take, whatever the live state.
fn validate(zone: &str, change: &DnsChange) -> Result<(), String> {
    let (name, rtype) = change.key();
    if !in_zone(&name, zone) {
        return Err(format!("{name} is not in zone {zone}"));
    }
    if rtype == RecordType::Soa {
        return Err(format!(
            "the SOA of {zone} is kept by the zonefile provider (it raises the serial on every \
             change); it cannot be set"
        ));
    }
    if let DnsChange::Update { old, new } = change {
        if old.key() != new.key() {
            return Err(format!(
                "an update must keep the name and type ({} {} → {} {})",
                old.name, old.rtype, new.name, new.rtype
            ));
        }
    }
    if let DnsChange::Delete { .. } = change {
        if name == zone && rtype == RecordType::Ns {
            return Err(format!(
                "deleting the NS records of the apex of {zone} would leave a zone no server \
                 can load; declare the NS records the zone should have instead"
            ));
        }
    }
    if let DnsChange::Create { new } | DnsChange::Update { new, .. } = change {
        if new.values.is_empty() {
            return Err(format!(
                "{name} {rtype} has no values; delete the record set instead"
            ));
        }
        if let Some(bad) = new.values.iter().find(|v| v.rtype() != rtype) {
            return Err(format!(
                "{name} {rtype} holds a {} value ({})",
                bad.rtype(),
                bad.presentation()
            ));
        }
    }
    Ok(())
}

const STALE: &str = "it changed since the plan was made; run plan again";

fn precondition(sets: &BTreeMap<Key, RecordSet>, change: &DnsChange) -> Result<(), String> {
    let key = change.key();
    let live = sets.get(&key);
    let (name, rtype) = key;
    match (change, live) {
        (DnsChange::Create { .. }, None) => Ok(()),
        (DnsChange::Create { .. }, Some(_)) => Err(format!(
            "{name} {rtype} already exists in the zone file: {STALE}"
        )),
        (DnsChange::Update { old, .. } | DnsChange::Delete { old }, Some(live))
            if live.same_as(old) =>
        {
            Ok(())
        }
        (DnsChange::Update { .. } | DnsChange::Delete { .. }, Some(_)) => Err(format!(
            "{name} {rtype} in the zone file is not what the plan expected: {STALE}"
        )),
        (DnsChange::Update { .. } | DnsChange::Delete { .. }, None) => Err(format!(
            "{name} {rtype} is no longer in the zone file: {STALE}"
        )),
    }
}

fn apply_one(sets: &mut BTreeMap<Key, RecordSet>, change: &DnsChange) {
    match change {
        DnsChange::Create { new } | DnsChange::Update { new, .. } => {
            sets.insert(new.key(), new.clone());
        }
        DnsChange::Delete { old } => {
            sets.remove(&old.key());
        }
    }
}

/// A CNAME cannot share its name with other data (RFC 1034 3.6.2); servers
/// refuse to load such a zone, so the change that causes it is refused.
fn cname_clash(sets: &BTreeMap<Key, RecordSet>, change: &DnsChange) -> Option<String> {
    let (DnsChange::Create { new } | DnsChange::Update { new, .. }) = change else {
        return None;
    };
    let has_cname = sets.contains_key(&(new.name.clone(), RecordType::Cname));
    let others: Vec<&str> = sets
        .keys()
        .filter(|(n, t)| *n == new.name && *t != RecordType::Cname)
        .map(|(_, t)| t.as_str())
        .collect();
    (has_cname && !others.is_empty()).then(|| {
        format!(
            "{} would have a CNAME and other records ({}); a CNAME must be the only record \
             at its name",
            new.name,
            others.join(", ")
        )
    })
}

fn ensure_apex_ns(
    zone: &str,
    sets: &mut BTreeMap<Key, RecordSet>,
    config: &Config,
) -> Result<(), ProviderError> {
    let key = (zone.to_string(), RecordType::Ns);
    if sets.contains_key(&key) {
        return Ok(());
    }
    let nameservers = config.nameserver_names();
    if nameservers.is_empty() {
        return Err(ProviderError::Rejected(format!(
            "zone {zone} has no NS records: declare the NS records of {zone} in the YAML, or set \
             `nameservers:` in the zonefile provider settings"
        )));
    }
    sets.insert(
        key,
        RecordSet {
            name: zone.to_string(),
            rtype: RecordType::Ns,
            ttl: config.ttl(),
            values: nameservers
                .into_iter()
                .map(|target| RData::Ns { target })
                .collect(),
        },
    );
    Ok(())
}

/// Raises the serial of the existing SOA, or creates one from the settings.
fn update_soa(
    zone: &str,
    sets: &mut BTreeMap<Key, RecordSet>,
    config: &Config,
    today: u32,
) -> Result<(), ProviderError> {
    let key = (zone.to_string(), RecordType::Soa);
    if let Some(soa) = sets.get_mut(&key) {
        let bumped = match soa.values.as_slice() {
            [RData::Other { text, .. }] => {
                serial_of(text).and_then(|serial| with_serial(text, next_serial(serial, today)))
            }
            _ => None,
        };
        let text = bumped.ok_or_else(|| {
            ProviderError::Parse(format!("the SOA record of {zone} cannot be read"))
        })?;
        soa.values = vec![RData::Other {
            rtype: "SOA".to_string(),
            text,
        }];
        return Ok(());
    }

    let settings = config.soa_settings();
    let primary = settings
        .primary
        .as_deref()
        .map(normalize_name)
        .filter(|p| !p.is_empty())
        .or_else(|| {
            sets.get(&(zone.to_string(), RecordType::Ns))
                .and_then(|ns| ns.values.first())
                .and_then(|v| match v {
                    RData::Ns { target } => Some(target.clone()),
                    _ => None,
                })
        })
        .ok_or_else(|| {
            ProviderError::Rejected(format!(
                "cannot create the SOA of {zone} without a primary name server: set \
                 `soa: {{primary: ...}}` or `nameservers:` in the zonefile provider settings"
            ))
        })?;
    let text = format!(
        "{primary}. {} {} {} {} {} {}",
        settings.rname(zone),
        initial_serial(today),
        settings.refresh,
        settings.retry,
        settings.expire,
        settings.minimum
    );
    sets.insert(
        key,
        RecordSet {
            name: zone.to_string(),
            rtype: RecordType::Soa,
            ttl: config.ttl(),
            values: vec![RData::Other {
                rtype: "SOA".to_string(),
                text,
            }],
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "example.com";
    const TODAY: u32 = 20240615;

    fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet::parse(name, rtype, ttl, values).unwrap()
    }

    fn live() -> Vec<RecordSet> {
        vec![
            set(
                ZONE,
                "SOA",
                3600,
                &["ns1.example.net. hostmaster.example.com. 2024061003 7200 3600 1209600 300"],
            ),
            set(ZONE, "NS", 3600, &["ns1.example.net.", "ns2.example.net."]),
            set(ZONE, "MX", 300, &["10 mx1.example.com."]),
            set("www.example.com", "A", 300, &["192.0.2.1"]),
            set("host.example.com", "SSHFP", 300, &["1 1 abcdef"]),
        ]
    }

    fn get<'a>(sets: &'a [RecordSet], name: &str, rtype: &str) -> Option<&'a RecordSet> {
        sets.iter()
            .find(|s| s.name == name && s.rtype == RecordType::parse(rtype))
    }

    fn outcomes(report: &ApplyReport) -> Vec<&'static str> {
        report
            .outcomes
            .iter()
            .map(|o| match o {
                ChangeOutcome::Applied => "applied",
                ChangeOutcome::Failed(ProviderError::Conflict(_)) => "conflict",
                ChangeOutcome::Failed(ProviderError::Rejected(_)) => "rejected",
                ChangeOutcome::Failed(_) => "failed",
                ChangeOutcome::NotAttempted(_) => "not attempted",
            })
            .collect()
    }

    #[test]
    fn applies_and_touches_nothing_else() {
        let changes = vec![
            DnsChange::Update {
                old: set(ZONE, "MX", 300, &["10 mx1.example.com"]),
                new: set(ZONE, "MX", 300, &["10 aspmx.l.google.com"]),
            },
            DnsChange::Create {
                new: set("_dmarc.example.com", "TXT", 300, &["\"v=DMARC1; p=none\""]),
            },
            DnsChange::Delete {
                old: set("WWW.example.com.", "A", 300, &["192.0.2.1"]),
            },
        ];
        let out = apply_changes(ZONE, Some(live()), &changes, &Config::new("z"), TODAY).unwrap();
        assert_eq!(
            get(&out, ZONE, "MX").unwrap().values[0].presentation(),
            "10 aspmx.l.google.com."
        );
        assert!(get(&out, "_dmarc.example.com", "TXT").is_some());
        assert!(get(&out, "www.example.com", "A").is_none());
        for untouched in [(ZONE, "NS"), ("host.example.com", "SSHFP")] {
            let before = get(&live(), untouched.0, untouched.1).unwrap().clone();
            assert_eq!(get(&out, untouched.0, untouched.1), Some(&before));
        }
        assert_eq!(
            get(&out, ZONE, "SOA").unwrap().values[0].presentation(),
            "ns1.example.net. hostmaster.example.com. 2024061500 7200 3600 1209600 300"
        );
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn a_stale_precondition_fails_the_whole_batch() {
        let changes = vec![
            DnsChange::Create {
                new: set("new.example.com", "A", 300, &["192.0.2.9"]),
            },
            DnsChange::Update {
                old: set(ZONE, "MX", 300, &["10 mx-old.example.com"]),
                new: set(ZONE, "MX", 300, &["10 aspmx.l.google.com"]),
            },
            DnsChange::Create {
                new: set("www.example.com", "A", 300, &["192.0.2.1"]),
            },
            DnsChange::Delete {
                old: set("gone.example.com", "A", 300, &["192.0.2.1"]),
            },
            DnsChange::Update {
                // Same values, other TTL: not the same set.
                old: set("www.example.com", "A", 60, &["192.0.2.1"]),
                new: set("www.example.com", "A", 60, &["192.0.2.2"]),
            },
        ];
        let report =
            apply_changes(ZONE, Some(live()), &changes, &Config::new("z"), TODAY).unwrap_err();
        assert_eq!(
            outcomes(&report),
            [
                "not attempted",
                "conflict",
                "conflict",
                "conflict",
                "conflict"
            ]
        );
        let ChangeOutcome::Failed(e) = &report.outcomes[1] else {
            panic!()
        };
        assert!(e.to_string().contains("run plan again"), "{e}");
    }

    #[test]
    fn refuses_what_the_file_cannot_take() {
        let cases = [
            DnsChange::Create {
                new: set("example.org", "A", 300, &["192.0.2.1"]),
            },
            DnsChange::Delete {
                old: set(ZONE, "NS", 3600, &["ns1.example.net.", "ns2.example.net."]),
            },
            DnsChange::Update {
                old: live()[0].clone(),
                new: live()[0].clone(),
            },
            DnsChange::Create {
                new: set("x.example.com", "A", 300, &[]),
            },
            DnsChange::Create {
                new: set("www.example.com", "CNAME", 300, &["other.example.net"]),
            },
        ];
        for change in cases {
            let report = apply_changes(
                ZONE,
                Some(live()),
                std::slice::from_ref(&change),
                &Config::new("z"),
                TODAY,
            )
            .unwrap_err();
            let kind = outcomes(&report)[0];
            // The CNAME case is a conflict: www A already exists.
            assert!(
                kind == "rejected" || kind == "conflict",
                "{change:?}: {kind}"
            );
        }
        let clash = DnsChange::Create {
            new: set("www.example.com", "CNAME", 300, &["other.example.net"]),
        };
        let report = apply_changes(
            ZONE,
            Some(live()),
            &[
                clash,
                DnsChange::Create {
                    new: set("ok.example.com", "A", 300, &["192.0.2.3"]),
                },
            ],
            &Config::new("z"),
            TODAY,
        )
        .unwrap_err();
        assert_eq!(outcomes(&report), ["rejected", "not attempted"]);
    }

    #[test]
    fn creates_a_zone_with_soa_and_ns() {
        let mut config = Config::new("z");
        config.nameservers = vec!["NS1.Example.net.".into(), "ns2.example.net".into()];
        let changes = vec![DnsChange::Create {
            new: set(ZONE, "MX", 300, &["10 mx1.example.com"]),
        }];
        let out = apply_changes(ZONE, None, &changes, &config, TODAY).unwrap();
        assert_eq!(
            get(&out, ZONE, "SOA").unwrap().values[0].presentation(),
            "ns1.example.net. hostmaster.example.com. 2024061501 7200 3600 1209600 300"
        );
        let ns = get(&out, ZONE, "NS").unwrap();
        assert_eq!(ns.ttl, 3600);
        assert_eq!(
            ns.canonical_values(),
            ["ns1.example.net.", "ns2.example.net."]
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn declared_apex_ns_wins_over_settings() {
        let mut config = Config::new("z");
        config.nameservers = vec!["ns1.example.net".into()];
        config.soa = Some(crate::config::SoaConfig {
            hostmaster: Some("dns@example.org".into()),
            ..Default::default()
        });
        let changes = vec![DnsChange::Create {
            new: set(ZONE, "NS", 86400, &["a.iana-servers.net"]),
        }];
        let out = apply_changes(ZONE, None, &changes, &config, TODAY).unwrap();
        let ns = get(&out, ZONE, "NS").unwrap();
        assert_eq!(ns.canonical_values(), ["a.iana-servers.net."]);
        // The primary is the zone's first NS, not an unused setting.
        assert!(get(&out, ZONE, "SOA").unwrap().values[0]
            .presentation()
            .starts_with("a.iana-servers.net. dns.example.org. "));

        config.soa = Some(crate::config::SoaConfig {
            primary: Some("Primary.Example.net.".into()),
            ..Default::default()
        });
        let out = apply_changes(ZONE, None, &changes, &config, TODAY).unwrap();
        assert!(get(&out, ZONE, "SOA").unwrap().values[0]
            .presentation()
            .starts_with("primary.example.net. hostmaster.example.com. 2024061501 "));
    }

    #[test]
    fn creating_without_any_ns_is_refused() {
        let changes = vec![
            DnsChange::Create {
                new: set(ZONE, "MX", 300, &["10 mx1.example.com"]),
            },
            DnsChange::Create {
                new: set("www.example.com", "A", 300, &["192.0.2.1"]),
            },
        ];
        let report = apply_changes(ZONE, None, &changes, &Config::new("z"), TODAY).unwrap_err();
        assert_eq!(outcomes(&report), ["rejected", "not attempted"]);
        let ChangeOutcome::Failed(e) = &report.outcomes[0] else {
            panic!()
        };
        assert!(e.to_string().contains("nameservers:"), "{e}");
        assert!(e.to_string().contains("declare the NS records"), "{e}");
    }
}
