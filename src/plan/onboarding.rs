//! Records a mail provider asks for, merged into the zones of the file, and
//! the onboarding of mail domains the provider does not serve yet.
//!
//! A mail provider reports a [`DomainStatus`] per domain: whether it is
//! verified, the records it asks to have published (verification token, MX,
//! SPF, autodiscover) and the TXT prefixes that prove ownership. When the
//! file holds the zone of that domain, the records join the zone's desired
//! sets here, before the DNS planner runs, by these rules:
//! - what the file declares for a (name, type) wins — except that
//!   verification and other service TXT values are *added* to a declared
//!   TXT set, never replace it, and a provider's SPF is not added where
//!   the file already has one (two SPF records break SPF);
//! - a set the file does not declare is planned as the provider asks,
//!   keeping the values of a live TXT set under `manage: declared`;
//! - live TXT values at the domain's apex that start with a keep prefix
//!   stay published even when the file declares that TXT set, since
//!   removing a verification token can unverify the domain.
//!
//! Each decision that differs from what the provider asked is a note in
//! the plan. The same functions serve `apply`, which re-plans a zone after
//! onboarding with the records the provider named only then.
//!
//! A domain the file declares `alias_of` another is onboarded as a domain
//! alias of it, where the provider has them; one whose live kind (domain
//! or alias, and of which parent) differs from the file's is a problem,
//! never converted.

use mailform_contract::{
    name::relative_name, DnsChange, DomainStage, DomainStatus, MailCapabilities, ProviderRecord,
    RData, RecordPurpose, RecordSet, RecordType, ZoneState,
};
use serde::Serialize;

use crate::config::model::DnsManage;
use crate::desired::{Declared, Desired, DesiredZone, Origin};

/// A mail domain that apply must onboard before its mail can be created.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OnboardingPlan {
    /// Where the domain stands at the mail provider now.
    pub stage: DomainStage,
    /// The zone of this file that receives the provider's records.
    pub zone: String,
    /// The DNS provider instance of that zone.
    pub zone_provider: String,
    /// Verification records known now. Empty when the provider names them
    /// only once the domain is added (Microsoft 365), which apply does.
    pub verification: Vec<RecordSet>,
    /// Live TXT prefixes at the apex that are never removed.
    pub keep_txt_prefixes: Vec<String>,
    /// The domain becomes a domain alias of this domain (the file's
    /// `alias_of`), onboarded after it, rather than a domain of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
}

impl OnboardingPlan {
    /// One line saying what apply does to onboard `domain`.
    pub fn describe(&self, domain: &str) -> String {
        let add = match (&self.alias_of, self.stage) {
            (Some(parent), _) => format!("add it as an alias of {parent}, "),
            (None, DomainStage::Absent) => "add it to the tenant, ".to_string(),
            (None, _) => String::new(),
        };
        let token = if self.verification.is_empty() {
            "the verification record the provider names then".to_string()
        } else {
            self.verification
                .iter()
                .map(|s| format!("{} {}", relative_name(&s.name, &self.zone), s.rtype))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "onboard domain {domain}: {add}publish {token} in zone {} (`{}`), wait until every authoritative server serves it, verify",
            self.zone, self.zone_provider
        )
    }
}

/// The zone of `desired` holding `domain`: the longest zone name that is
/// the domain or one of its parents.
pub fn zone_for(desired: &Desired, domain: &str) -> Option<usize> {
    desired
        .zones
        .iter()
        .enumerate()
        .filter(|(_, z)| domain == z.zone || domain.ends_with(&format!(".{}", z.zone)))
        .max_by_key(|(_, z)| z.zone.len())
        .map(|(i, _)| i)
}

fn is_spf(value: &RData) -> bool {
    matches!(value, RData::Txt { chunks } if chunks.concat().to_ascii_lowercase().starts_with("v=spf1"))
}

fn txt_text(value: &RData) -> Option<String> {
    match value {
        RData::Txt { chunks } => Some(chunks.concat()),
        _ => None,
    }
}

fn values_text(set: &RecordSet) -> String {
    set.values
        .iter()
        .map(RData::presentation)
        .collect::<Vec<_>>()
        .join(", ")
}

fn add_missing(target: &mut RecordSet, values: &[RData]) -> bool {
    let mut added = false;
    for v in values {
        if !target
            .values
            .iter()
            .any(|have| have.canonical() == v.canonical())
        {
            target.values.push(v.clone());
            added = true;
        }
    }
    added
}

/// The live set at `key`, its pieces joined (a provider may hand one set
/// back in pieces).
fn live_set(live: &ZoneState, key: &(String, RecordType)) -> Option<RecordSet> {
    let mut found: Option<RecordSet> = None;
    for s in live.records.iter().filter(|s| &s.key() == key) {
        match &mut found {
            Some(f) => f.values.extend(s.values.iter().cloned()),
            None => found = Some(s.clone()),
        }
    }
    found
}

/// Merges what a mail provider asks for into `zone` (see the module doc).
/// `live` is the zone as read; returns the notes for the plan.
pub fn merge_into_zone(
    zone: &mut DesiredZone,
    live: &ZoneState,
    domain: &str,
    mail_provider: &str,
    records: &[ProviderRecord],
    keep_txt_prefixes: &[String],
) -> Vec<String> {
    let mut notes = Vec::new();
    let origin = Origin {
        loc: Default::default(),
        path: format!("asked by mail provider `{mail_provider}` for {domain}"),
    };
    for r in records {
        let key = r.set.key();
        let label = format!("{} {}", relative_name(&key.0, &zone.zone), key.1);
        let declared = zone.records.iter_mut().find(|d| d.item.key() == key);
        let txt_merge = key.1 == RecordType::Txt && r.purpose != RecordPurpose::Mx;
        match declared {
            Some(d) if txt_merge => {
                if r.purpose == RecordPurpose::Spf && d.item.values.iter().any(is_spf) {
                    let theirs: Vec<String> = r.set.values.iter().filter_map(txt_text).collect();
                    let ours: Vec<String> = d
                        .item
                        .values
                        .iter()
                        .filter(|v| is_spf(v))
                        .filter_map(txt_text)
                        .collect();
                    if theirs != ours {
                        notes.push(format!(
                            "{label}: keeping the file's SPF record; `{mail_provider}` asks for `{}` — make sure the file's policy covers it",
                            theirs.join(" ")
                        ));
                    }
                    continue;
                }
                add_missing(&mut d.item, &r.set.values);
            }
            Some(d) => {
                if !d.item.same_as(&r.set) {
                    notes.push(format!(
                        "{label}: keeping what the file declares; `{mail_provider}` asks for {}",
                        values_text(&r.set)
                    ));
                }
            }
            None => {
                let mut set = r.set.clone();
                if txt_merge && zone.manage == DnsManage::Declared {
                    if let Some(l) = live_set(live, &key) {
                        if r.purpose == RecordPurpose::Spf && l.values.iter().any(is_spf) {
                            if !l.values.iter().any(|v| r.set.values.contains(v)) {
                                notes.push(format!(
                                    "{label}: keeping the live SPF record; `{mail_provider}` asks for {}",
                                    values_text(&r.set)
                                ));
                            }
                            continue;
                        }
                        let mut merged = l.clone();
                        add_missing(&mut merged, &set.values);
                        set = merged;
                    }
                }
                zone.records.push(Declared {
                    item: set,
                    origin: origin.clone(),
                });
            }
        }
    }
    if !keep_txt_prefixes.is_empty() {
        let key = (domain.to_string(), RecordType::Txt);
        if let Some(l) = live_set(live, &key) {
            let kept: Vec<RData> = l
                .values
                .iter()
                .filter(|v| {
                    txt_text(v).is_some_and(|t| keep_txt_prefixes.iter().any(|p| t.starts_with(p)))
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                match zone.records.iter_mut().find(|d| d.item.key() == key) {
                    Some(d) => {
                        add_missing(&mut d.item, &kept);
                    }
                    // Undeclared under `manage: declared` is left alone anyway.
                    None if zone.manage == DnsManage::Zone => zone.records.push(Declared {
                        item: RecordSet {
                            values: kept,
                            ..l.clone()
                        },
                        origin: origin.clone(),
                    }),
                    None => {}
                }
            }
        }
    }
    notes
}

/// Every zone of `desired` with the records its mail providers ask for,
/// plus the notes per zone (index-aligned with `desired.zones`).
pub fn augment(
    desired: &Desired,
    zones: &[ZoneState],
    domains: &[DomainStatus],
) -> (Vec<DesiredZone>, Vec<Vec<String>>) {
    let mut out: Vec<DesiredZone> = desired.zones.clone();
    let mut notes = vec![Vec::new(); out.len()];
    for (m, status) in desired.mail.iter().zip(domains) {
        let Some(i) = zone_for(desired, &m.domain) else {
            continue;
        };
        notes[i].extend(merge_into_zone(
            &mut out[i],
            &zones[i],
            &m.domain,
            &m.provider,
            &status.records,
            &status.keep_txt_prefixes,
        ));
    }
    (out, notes)
}

/// The onboarding a mail domain needs, or the problem that it cannot be
/// onboarded from this file. `alias_of` is what the file says the domain
/// is (an alias of that parent); `status.alias_of` what the provider
/// says. mailform never converts a domain into an alias or back: when the
/// two disagree, that is a problem with the fix.
pub fn onboarding_for(
    desired: &Desired,
    domain: &str,
    mail_provider: &str,
    alias_of: Option<&str>,
    caps: &MailCapabilities,
    status: &DomainStatus,
) -> Result<Option<OnboardingPlan>, String> {
    const CONSOLE: &str = "in the provider's admin console (Google Workspace: Admin console → Account → Domains → Manage domains)";
    if alias_of.is_some() && !caps.domain_aliases {
        return Err(format!(
            "{domain} is declared `alias_of` another domain, but mail provider `{mail_provider}` has no domain aliases; declare {domain} as a mail domain of its own (remove `alias_of`) and give the mailboxes aliases there"
        ));
    }
    let same = |a: &str, b: &str| {
        a.trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.'))
    };
    match (alias_of, status.alias_of.as_deref()) {
        (Some(want), None) if status.stage != DomainStage::Absent => {
            return Err(format!(
                "{domain} is a domain of its own at mail provider `{mail_provider}`, but the file declares it an alias of {want}; mailform does not convert a domain into an alias: remove `alias_of` from the file, or delete the domain and add it as an alias of {want} {CONSOLE}, then plan again"
            ));
        }
        (Some(want), Some(have)) if !same(want, have) => {
            return Err(format!(
                "{domain} is a domain alias of {have} at mail provider `{mail_provider}`, but the file declares it an alias of {want}; mailform does not move an alias to another parent: write `alias_of: {have}`, or remove the alias and add it under {want} {CONSOLE}, then plan again"
            ));
        }
        (None, Some(have)) => {
            return Err(format!(
                "{domain} is a domain alias of {have} at mail provider `{mail_provider}`, but the file declares it a mail domain of its own; mailform does not convert an alias into a domain: write `alias_of: {have}` under its `mail:` (its addresses are those of {have}'s users; declare mailboxes at {have}), or remove the alias and add it as a domain {CONSOLE}, then plan again"
            ));
        }
        _ => {}
    }
    if status.is_ready() {
        return Ok(None);
    }
    let what = match status.stage {
        DomainStage::Absent => "is not a domain of",
        _ => "is not verified at",
    };
    let Some(i) = zone_for(desired, domain) else {
        return Err(format!(
            "{domain} {what} mail provider `{mail_provider}`, and no zone in this file holds it, so mailform cannot publish the record that proves you own it; declare the zone under `domains:` with a DNS provider, or add and verify the domain in the provider's console, then plan again"
        ));
    };
    let zone = &desired.zones[i];
    Ok(Some(OnboardingPlan {
        stage: status.stage,
        zone: zone.zone.clone(),
        zone_provider: zone.provider.clone(),
        verification: status
            .records
            .iter()
            .filter(|r| r.purpose == RecordPurpose::Verification)
            .map(|r| r.set.clone())
            .collect(),
        keep_txt_prefixes: status.keep_txt_prefixes.clone(),
        alias_of: alias_of.map(str::to_string),
    }))
}

/// The changes that publish `records` in `live` without removing anything:
/// each set becomes the live set plus the missing values. Used by apply
/// to publish verification records before the rest of the zone's plan.
/// Returns the changes and the sets as they will then be served.
pub fn additions(live: &ZoneState, records: &[RecordSet]) -> (Vec<DnsChange>, Vec<RecordSet>) {
    let mut changes = Vec::new();
    let mut served = Vec::new();
    for r in records {
        match live_set(live, &r.key()) {
            None => {
                changes.push(DnsChange::Create { new: r.clone() });
                served.push(r.clone());
            }
            Some(old) => {
                let mut new = old.clone();
                if add_missing(&mut new, &r.values) {
                    changes.push(DnsChange::Update {
                        old,
                        new: new.clone(),
                    });
                }
                served.push(new);
            }
        }
    }
    (changes, served)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::DesiredMailDomain;

    fn zone(manage: DnsManage, records: &[RecordSet]) -> DesiredZone {
        DesiredZone {
            zone: "example.com".into(),
            provider: "dns".into(),
            manage,
            ignore: globset::GlobSet::empty(),
            ignore_patterns: vec![],
            records: records
                .iter()
                .map(|r| Declared {
                    item: r.clone(),
                    origin: Origin::default(),
                })
                .collect(),
            mta_sts_policy: None,
        }
    }

    fn live(records: &[RecordSet]) -> ZoneState {
        ZoneState {
            zone: "example.com".into(),
            exists: true,
            records: records.to_vec(),
        }
    }

    fn set(name: &str, t: &str, values: &[&str]) -> RecordSet {
        RecordSet::parse(name, t, 3600, values).unwrap()
    }

    fn rec(purpose: RecordPurpose, s: RecordSet) -> ProviderRecord {
        ProviderRecord { purpose, set: s }
    }

    fn declared(z: &DesiredZone, name: &str, t: &str) -> Option<Vec<String>> {
        z.records
            .iter()
            .find(|d| d.item.key() == (name.to_string(), RecordType::parse(t)))
            .map(|d| d.item.canonical_values())
    }

    #[test]
    fn verification_is_added_to_a_declared_txt_set() {
        let mut z = zone(
            DnsManage::Declared,
            &[set("example.com", "TXT", &["\"v=spf1 -all\""])],
        );
        let notes = merge_into_zone(
            &mut z,
            &live(&[]),
            "example.com",
            "g",
            &[rec(
                RecordPurpose::Verification,
                set("example.com", "TXT", &["\"google-site-verification=abc\""]),
            )],
            &[],
        );
        assert!(notes.is_empty());
        assert_eq!(declared(&z, "example.com", "TXT").unwrap().len(), 2);
    }

    #[test]
    fn the_files_spf_and_mx_win_with_a_note() {
        let mut z = zone(
            DnsManage::Zone,
            &[
                set(
                    "example.com",
                    "TXT",
                    &["\"v=spf1 include:_spf.google.com -all\""],
                ),
                set("example.com", "MX", &["10 mx.gateway.example.net."]),
            ],
        );
        let notes = merge_into_zone(
            &mut z,
            &live(&[]),
            "example.com",
            "m",
            &[
                rec(
                    RecordPurpose::Spf,
                    set(
                        "example.com",
                        "TXT",
                        &["\"v=spf1 include:spf.protection.outlook.com -all\""],
                    ),
                ),
                rec(
                    RecordPurpose::Mx,
                    set(
                        "example.com",
                        "MX",
                        &["0 example-com.mail.protection.outlook.com."],
                    ),
                ),
            ],
            &[],
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(declared(&z, "example.com", "TXT").unwrap().len(), 1);
        assert_eq!(
            declared(&z, "example.com", "MX").unwrap(),
            vec!["10 mx.gateway.example.net.".to_string()]
        );
    }

    #[test]
    fn undeclared_sets_are_planned_as_asked_keeping_live_txt_under_declared() {
        let mut z = zone(DnsManage::Declared, &[]);
        let l = live(&[set("example.com", "TXT", &["\"hello\""])]);
        merge_into_zone(
            &mut z,
            &l,
            "example.com",
            "m",
            &[
                rec(
                    RecordPurpose::Verification,
                    set("example.com", "TXT", &["\"MS=ms123\""]),
                ),
                rec(
                    RecordPurpose::Service,
                    set(
                        "autodiscover.example.com",
                        "CNAME",
                        &["autodiscover.outlook.com."],
                    ),
                ),
            ],
            &[],
        );
        assert_eq!(declared(&z, "example.com", "TXT").unwrap().len(), 2);
        assert!(declared(&z, "autodiscover.example.com", "CNAME").is_some());
    }

    #[test]
    fn live_verification_tokens_are_kept_in_a_declared_set() {
        let mut z = zone(
            DnsManage::Zone,
            &[set("example.com", "TXT", &["\"v=spf1 -all\""])],
        );
        let l = live(&[set(
            "example.com",
            "TXT",
            &[
                "\"v=spf1 -all\"",
                "\"google-site-verification=xyz\"",
                "\"other\"",
            ],
        )]);
        merge_into_zone(
            &mut z,
            &l,
            "example.com",
            "g",
            &[],
            &["google-site-verification=".to_string()],
        );
        let values = declared(&z, "example.com", "TXT").unwrap();
        assert_eq!(values.len(), 2, "{values:?}");
        assert!(values
            .iter()
            .any(|v| v.contains("google-site-verification=xyz")));
    }

    #[test]
    fn additions_never_remove_values() {
        let l = live(&[set("example.com", "TXT", &["\"v=spf1 -all\""])]);
        let (changes, served) = additions(&l, &[set("example.com", "TXT", &["\"MS=ms1\""])]);
        assert_eq!(changes.len(), 1);
        assert_eq!(served[0].values.len(), 2);
        let l2 = live(&[served[0].clone()]);
        let (again, _) = additions(&l2, &[set("example.com", "TXT", &["\"MS=ms1\""])]);
        assert!(again.is_empty());
    }

    #[test]
    fn onboarding_needs_a_zone_of_the_file() {
        let mut d = Desired::default();
        d.mail.push(DesiredMailDomain {
            domain: "corp.example.org".into(),
            provider: "m".into(),
            manage: crate::config::model::MailManage::default(),
            mailboxes: vec![],
            aliases: vec![],
            groups: vec![],
            additive: Default::default(),
            alias_of: None,
        });
        let absent = DomainStatus::new(DomainStage::Absent, vec![], vec![]);
        let caps = mailform_contract::memory::MemoryMail::default().caps;
        let err = onboarding_for(&d, "corp.example.org", "m", None, &caps, &absent).unwrap_err();
        assert!(err.contains("no zone in this file holds it"), "{err}");
        d.zones.push(DesiredZone {
            zone: "example.org".into(),
            ..zone(DnsManage::Declared, &[])
        });
        let plan = onboarding_for(&d, "corp.example.org", "m", None, &caps, &absent)
            .unwrap()
            .unwrap();
        assert_eq!(plan.zone, "example.org");
        assert!(onboarding_for(
            &d,
            "corp.example.org",
            "m",
            None,
            &caps,
            &DomainStatus::ready()
        )
        .unwrap()
        .is_none());
    }
}
