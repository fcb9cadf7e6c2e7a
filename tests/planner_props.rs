//! Property tests of the planner: for random desired and live states,
//! applying the plan to the in-memory reference provider and planning
//! again yields an empty plan, and nothing outside ownership is touched.

use globset::{Glob, GlobSetBuilder};
use mailform::config::model::{DnsManage, MailManage};
use mailform::desired::{Declared, DesiredMailDomain, DesiredMailbox, DesiredZone, Origin};
use mailform::plan::{dns::plan_zone, mail::plan_domain};
use mailform_contract::dns::RData;
use mailform_contract::memory::{apply_dns, apply_mail, MemoryDns, MemoryMail};
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    Alias, DnsChange, DnsProvider, Group, InitialPassword, MailCapabilities, MailChange,
    MailDomainState, MailProvider, Mailbox, MailboxState, RecordSet, RecordType, Secret, ZoneState,
};
use proptest::prelude::*;

const ZONE: &str = "example.com";
const NAMES: [&str; 6] = [
    "example.com",
    "www.example.com",
    "mail.example.com",
    "_dmarc.example.com",
    "_acme-challenge.example.com",
    "x.example.com",
];

fn rdata(rtype: &RecordType, seed: u8) -> RData {
    match rtype {
        RecordType::A => RData::A {
            address: std::net::Ipv4Addr::new(192, 0, 2, seed % 4),
        },
        RecordType::Mx => RData::Mx {
            preference: (seed % 3) as u16 * 10,
            exchange: format!("mx{}.example.net", seed % 3),
        },
        RecordType::Txt => RData::txt(&format!(
            "v=spf1 include:_{}.example.net -all{}",
            seed % 5,
            "x".repeat((seed as usize % 3) * 200)
        )),
        RecordType::Ns => RData::Ns {
            target: format!("ns{}.example.net", seed % 3),
        },
        _ => RData::Cname {
            target: format!("t{}.example.net", seed % 3),
        },
    }
}

fn set_strategy() -> impl Strategy<Value = RecordSet> {
    (
        0..NAMES.len(),
        prop_oneof![
            Just(RecordType::A),
            Just(RecordType::Mx),
            Just(RecordType::Txt),
            Just(RecordType::Ns)
        ],
        prop::collection::vec(any::<u8>(), 1..4),
        prop_oneof![Just(300u32), Just(3600u32)],
    )
        .prop_map(|(n, t, seeds, ttl)| {
            let mut values: Vec<RData> = seeds.iter().map(|s| rdata(&t, *s)).collect();
            values.dedup_by_key(|v| v.canonical());
            RecordSet {
                name: NAMES[n].to_string(),
                rtype: t,
                ttl,
                values,
            }
        })
}

/// The same set spelled differently: other value order and TXT chunking.
fn respell(set: &RecordSet, how: u8) -> RecordSet {
    let mut s = set.clone();
    if how % 2 == 0 {
        s.values.reverse();
    }
    for v in &mut s.values {
        if let RData::Txt { chunks } = v {
            let joined = chunks.concat();
            if joined.len() > 10 && how % 3 == 0 {
                *chunks = vec![joined[..7].to_string(), joined[7..].to_string()];
            }
        }
    }
    s
}

fn dedup(sets: Vec<RecordSet>) -> Vec<RecordSet> {
    let mut out: Vec<RecordSet> = Vec::new();
    for s in sets {
        if !out.iter().any(|o| o.key() == s.key()) {
            out.push(s);
        }
    }
    out
}

fn desired_zone(records: Vec<RecordSet>, manage: DnsManage, ignore_acme: bool) -> DesiredZone {
    let mut b = GlobSetBuilder::new();
    if ignore_acme {
        b.add(Glob::new("_acme-challenge*").unwrap());
    }
    DesiredZone {
        zone: ZONE.into(),
        provider: "mem".into(),
        manage,
        ignore: b.build().unwrap(),
        ignore_patterns: vec![],
        mta_sts_policy: None,
        records: records
            .into_iter()
            .map(|item| Declared {
                item,
                origin: Origin::default(),
            })
            .collect(),
    }
}

fn caps() -> mailform_contract::DnsCapabilities {
    MemoryDns::default().capabilities()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn dns_plan_converges_and_respects_ownership(
        desired in prop::collection::vec(set_strategy(), 0..8),
        extra_live in prop::collection::vec(set_strategy(), 0..8),
        mutate in prop::collection::vec(0u8..4, 8),
        manage_zone in any::<bool>(),
        ignore_acme in any::<bool>(),
    ) {
        let desired = dedup(desired);
        // Live: each desired set absent, equal-but-respelled or different; plus extras.
        let mut live: Vec<RecordSet> = Vec::new();
        for (i, d) in desired.iter().enumerate() {
            match mutate[i % mutate.len()] {
                0 => {}
                1 => live.push(respell(d, i as u8)),
                2 => { let mut x = d.clone(); x.ttl += 1; live.push(x) }
                _ => { let mut x = d.clone(); x.values.truncate(1); x.values.push(rdata(&x.rtype, 250)); live.push(x) }
            }
        }
        live.extend(extra_live);
        let live = dedup(live);
        let manage = if manage_zone { DnsManage::Zone } else { DnsManage::Declared };
        let dz = desired_zone(desired.clone(), manage, ignore_acme);
        let mut state = ZoneState { zone: ZONE.into(), exists: true, records: live.clone() };

        let plan = plan_zone(&dz, &state, &caps(), "memory", "f.yaml");
        // Nothing unmanaged is planned: every deleted set is undeclared and,
        // unless the whole zone is owned, none is deleted at all.
        for c in &plan.changes {
            if let DnsChange::Delete { old } = c {
                prop_assert!(manage_zone, "delete under manage: declared: {old:?}");
                prop_assert!(!desired.iter().any(|d| d.key() == old.key()));
                prop_assert!(!(ignore_acme && old.name.starts_with("_acme-challenge")), "ignored name deleted");
                prop_assert!(!(old.rtype == RecordType::Ns && old.name == ZONE), "apex NS deleted");
            }
        }
        // Live sets equal in meaning to the desired ones are left alone.
        for (i, d) in desired.iter().enumerate() {
            if mutate[i % mutate.len()] == 1 {
                prop_assert!(!plan.changes.iter().any(|c| c.key() == d.key()), "respelled but equal set changed: {d:?}");
            }
        }
        apply_dns(&mut state, &plan.changes).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
        // After applying, every desired set is live, exactly (an oracle
        // independent of the planner's own comparison).
        for d in &desired {
            let live_set = state.records.iter().find(|s| s.key() == d.key());
            prop_assert!(live_set.is_some_and(|l| l.ttl == d.ttl && l.canonical_values() == d.canonical_values()), "desired set not live after apply: {d:?}");
        }
        let again = plan_zone(&dz, &state, &caps(), "memory", "f.yaml");
        prop_assert!(again.changes.is_empty(), "second plan not empty: {:?}", again.changes);
        // Every live set that was not declared and not deletable is unchanged.
        for l in &live {
            let declared = desired.iter().any(|d| d.key() == l.key());
            let protected = (l.rtype == RecordType::Ns && l.name == ZONE) || (ignore_acme && l.name.starts_with("_acme-challenge"));
            if !declared && (!manage_zone || protected) {
                prop_assert!(state.records.iter().any(|s| s == l), "unmanaged set touched: {l:?}");
            }
        }
    }

    #[test]
    fn mail_plan_converges_and_never_deletes_undeclared_mailboxes(
        desired_boxes in prop::collection::btree_map(0u8..8, (any::<bool>(), 0u8..3, any::<bool>()), 0..6),
        live_boxes in prop::collection::btree_map(0u8..8, (any::<bool>(), 0u8..3), 0..6),
        alias_targets in prop::collection::btree_map(8u8..12, prop::collection::vec(0u8..8, 1..3), 0..4),
        live_aliases in prop::collection::btree_map(8u8..12, prop::collection::vec(0u8..8, 1..3), 0..4),
        manage_domain in any::<bool>(),
        mailbox_aliases_cap in any::<bool>(),
    ) {
        let addr = |i: u8| format!("u{i}@example.com");
        let state_of = |s: u8| [MailboxState::Active, MailboxState::Suspended, MailboxState::Offboarded][s as usize];
        let desired = DesiredMailDomain {
            additive: Default::default(),
            alias_of: None,
            domain: ZONE.into(),
            provider: "mem".into(),
            manage: if manage_domain { MailManage::Domain } else { MailManage::Declared },
            mailboxes: desired_boxes.iter().map(|(i, (named, st, delete))| DesiredMailbox {
                mailbox: Mailbox {
                    id: None,
                    address: addr(*i),
                    display_name: named.then(|| format!("User {i}")),
                    state: state_of(*st),
                    successor: None,
                    aliases: if *i % 2 == 0 { vec![format!("alt{i}@example.com")] } else { vec![] },
kind: Default::default(),
delegates: vec![],

                },
                delete: *delete,
                password: Some(InitialPassword::Hash(Secret::new("{SHA512-CRYPT}$6$x"))),
                origin: Origin::default(),
            }).collect(),
            aliases: alias_targets.iter().map(|(i, t)| Declared {
                item: Alias { address: addr(*i), targets: t.iter().map(|x| addr(*x)).collect() },
                origin: Origin::default(),
            }).collect(),
            groups: vec![Declared {
                item: Group { id: None, address: "team@example.com".into(), display_name: None, members: vec![addr(0)], aliases: vec!["crew@example.com".into()], allow_external: false,
kind: Default::default(),
 },
                origin: Origin::default(),
            }],
        };
        let live_state = MailDomainState {
            domain: ZONE.into(),
            mailboxes: live_boxes.iter().map(|(i, (named, st))| Mailbox {
                id: Some(format!("id{i}")),
                address: addr(*i),
                display_name: named.then(|| format!("Old {i}")),
                state: state_of(*st),
                successor: None,
                aliases: vec![],
kind: Default::default(),
delegates: vec![],

            }).collect(),
            aliases: live_aliases.iter().map(|(i, t)| Alias { address: addr(*i), targets: t.iter().map(|x| addr(*x)).collect() }).collect(),
            groups: vec![],
        };
        let mut caps = MemoryMail::default().caps;
        caps.mailbox_aliases = mailbox_aliases_cap;
        caps.group_aliases = mailbox_aliases_cap;
        caps.password = PasswordPolicy { hash_schemes: vec!["SHA512-CRYPT".into()], plain: true, required: false };
        let _: &MailCapabilities = &caps;

        let mut state = live_state.clone();
        let plan = plan_domain(&desired, &state, &caps, "memory", "f.yaml");
        for c in &plan.changes {
            if let MailChange::DeleteMailbox { old } = c {
                let d = desired.mailboxes.iter().find(|d| d.mailbox.address == old.address);
                prop_assert!(d.is_some_and(|d| d.delete), "deleted a mailbox not marked deleted: {}", old.address);
            }
            if let MailChange::DeleteAlias { .. } | MailChange::DeleteGroup { .. } = c {
                prop_assert!(manage_domain);
            }
        }
        apply_mail(&mut state, &plan.changes).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
        for d in &desired.mailboxes {
            let live_box = state.mailboxes.iter().find(|m| m.address == d.mailbox.address);
            if d.delete {
                prop_assert!(live_box.is_none(), "mailbox marked deleted still live");
            } else {
                let l = live_box.expect("desired mailbox live after apply");
                prop_assert_eq!(l.state, d.mailbox.state);
                if d.mailbox.display_name.is_some() {
                    prop_assert_eq!(&l.display_name, &d.mailbox.display_name);
                }
            }
        }
        for d in &desired.aliases {
            let l = state.aliases.iter().find(|a| a.address == d.item.address);
            prop_assert!(l.is_some_and(|l| l.same_as(&d.item)), "alias not live after apply");
        }
        let again = plan_domain(&desired, &state, &caps, "memory", "f.yaml");
        prop_assert!(again.changes.is_empty(), "second plan not empty: {:?}", again.changes);
        for m in &live_state.mailboxes {
            let marked = desired.mailboxes.iter().any(|d| d.mailbox.address == m.address && d.delete);
            if !marked {
                prop_assert!(state.mailboxes.iter().any(|s| s.address == m.address), "mailbox {} vanished", m.address);
            }
        }
    }
}

proptest! {
    #[test]
    fn additive_lists_never_remove_and_converge(
        live_members in prop::collection::btree_set(0u8..10, 0..6),
        wanted_members in prop::collection::btree_set(0u8..10, 0..6),
        live_aliases in prop::collection::btree_set(0u8..6, 0..4),
        wanted_aliases in prop::collection::btree_set(0u8..6, 0..4),
        additive in any::<bool>(),
    ) {
        let addr = |i: u8| format!("m{i}@example.com");
        let alias = |i: u8| format!("team{i}@example.com");
        let desired = DesiredMailDomain {
            additive: if additive { ["team@example.com".to_string()].into() } else { Default::default() },
            domain: ZONE.into(),
            alias_of: None,
            provider: "mem".into(),
            manage: MailManage::Declared,
            mailboxes: vec![],
            aliases: vec![],
            groups: vec![Declared {
                item: Group { id: None, address: "team@example.com".into(), display_name: None, members: wanted_members.iter().map(|i| addr(*i)).collect(), aliases: wanted_aliases.iter().map(|i| alias(*i)).collect(), allow_external: false,
kind: Default::default(),
 },
                origin: Origin::default(),
            }],
        };
        let live_group = Group { id: Some("g".into()), address: "team@example.com".into(), display_name: None, members: live_members.iter().map(|i| addr(*i)).collect(), aliases: live_aliases.iter().map(|i| alias(*i)).collect(), allow_external: false,
kind: Default::default(),
 };
        let live_state = MailDomainState { domain: ZONE.into(), mailboxes: vec![], aliases: vec![], groups: vec![live_group.clone()] };
        let caps = MemoryMail::default().caps;
        let mut state = live_state.clone();
        let plan = plan_domain(&desired, &state, &caps, "memory", "f.yaml");
        apply_mail(&mut state, &plan.changes).map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
        let g = &state.groups[0];
        for w in &desired.groups[0].item.members {
            prop_assert!(g.members.contains(w), "wanted member {w} missing");
        }
        for w in &desired.groups[0].item.aliases {
            prop_assert!(g.aliases.contains(w), "wanted alias {w} missing");
        }
        if additive {
            for m in &live_group.members {
                prop_assert!(g.members.contains(m), "additive list removed member {m}");
            }
            for a in &live_group.aliases {
                prop_assert!(g.aliases.contains(a), "additive list removed alias {a}");
            }
        } else {
            prop_assert_eq!(g.members.len(), wanted_members.len());
        }
        let again = plan_domain(&desired, &state, &caps, "memory", "f.yaml");
        prop_assert!(again.changes.is_empty(), "second plan not empty: {:?}", again.changes);
    }
}

#[tokio::test]
async fn memory_providers_refuse_stale_changes() {
    // The reference semantics the planner's convergence relies on.
    let set = RecordSet {
        name: "www.example.com".into(),
        rtype: RecordType::A,
        ttl: 300,
        values: vec![rdata(&RecordType::A, 1)],
    };
    let dns = MemoryDns::with_zone(ZONE, vec![set.clone()]);
    let mut stale = set.clone();
    stale.ttl = 60;
    let report = dns
        .apply_zone(ZONE, &[DnsChange::Delete { old: stale }])
        .await;
    assert!(matches!(
        report.outcomes[0],
        mailform_contract::ChangeOutcome::Failed(_)
    ));
    assert_eq!(dns.read_zone(ZONE).await.unwrap().records, vec![set]);
    let mail = MemoryMail::default();
    let alias = Alias {
        address: "a@example.com".into(),
        targets: vec!["b@example.com".into()],
    };
    let ok = mail
        .apply_domain(ZONE, &[MailChange::CreateAlias { new: alias.clone() }])
        .await;
    assert!(matches!(
        ok.outcomes[0],
        mailform_contract::ChangeOutcome::Applied
    ));
    let dup = mail
        .apply_domain(ZONE, &[MailChange::CreateAlias { new: alias }])
        .await;
    assert!(matches!(
        dup.outcomes[0],
        mailform_contract::ChangeOutcome::Failed(_)
    ));
}
