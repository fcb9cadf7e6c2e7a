//! The `rfc2136` provider against a real BIND 9 `named` (see
//! `support/named_server.rs`): AXFR reads, UPDATE writes of every type
//! mailform declares with no diff afterwards, unmanaged records left
//! alone, prerequisites refusing an edit made with `nsupdate` between read
//! and apply, message splitting with exact per-change outcomes, and TSIG
//! failures that say what to fix.

#[path = "support/named_server.rs"]
mod named_server;

use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsChange, DnsProvider, ProviderError, RData, RecordSet, RecordType,
};
use mailform_rfc2136::{Config, Rfc2136Provider};
use named_server::{server, Named, KEY_NAME};

fn provider(s: &Named) -> Rfc2136Provider {
    let mut c = Config::new(&s.address, KEY_NAME);
    c.secret = Some(s.secret.clone().into());
    Rfc2136Provider::new(c)
}

fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet::parse(name, rtype, ttl, values).unwrap_or_else(|e| panic!("{e}"))
}

fn txt(name: &str, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: RecordType::Txt,
        ttl,
        values: values.iter().map(|v| RData::txt(v)).collect(),
    }
}

fn find<'a>(records: &'a [RecordSet], name: &str, rtype: RecordType) -> Option<&'a RecordSet> {
    records.iter().find(|s| s.name == name && s.rtype == rtype)
}

fn assert_applied(report: &ApplyReport, count: usize) {
    assert_eq!(report.outcomes.len(), count, "{report:#?}");
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{report:#?}"
    );
}

fn creates(sets: &[RecordSet]) -> Vec<DnsChange> {
    sets.iter()
        .cloned()
        .map(|new| DnsChange::Create { new })
        .collect()
}

#[tokio::test]
async fn writes_every_type_and_reads_it_back_without_a_diff() {
    let Some(s) = server() else { return };
    let zone = "read.example";
    let p = provider(s);
    let before = p.read_zone(zone).await.unwrap();
    assert!(before.exists);
    assert!(find(&before.records, zone, RecordType::Soa).is_some());
    assert!(find(&before.records, &format!("legacy.{zone}"), RecordType::A).is_some());

    let n = |l: &str| format!("{l}.{zone}");
    let dkim = format!(
        "v=DKIM1; k=rsa; p={}",
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA".repeat(9)
    );
    let sets = vec![
        set(
            zone,
            "MX",
            300,
            &["10 aspmx.l.google.com", "20 MX2.example.net."],
        ),
        txt(
            zone,
            300,
            &[
                "v=spf1 include:_spf.google.com ~all",
                "google-site-verification=abc123",
            ],
        ),
        txt(&n("google._domainkey"), 300, &[&dkim]),
        txt(&n("quoted"), 300, &["say \"hi\" \\ 邮件 é"]),
        set(&n("mail"), "A", 300, &["192.0.2.25", "192.0.2.26"]),
        set(&n("mail"), "AAAA", 300, &["2001:db8::25"]),
        set(
            &n("autodiscover"),
            "CNAME",
            3600,
            &["autodiscover.outlook.com."],
        ),
        set(
            &n("_submission._tcp"),
            "SRV",
            3600,
            &[&format!("0 1 587 mail.{zone}.")],
        ),
        set(
            zone,
            "CAA",
            3600,
            &[
                "0 issue \"letsencrypt.org\"",
                "0 iodef \"mailto:security@example.com\"",
            ],
        ),
        set(&n("sub"), "NS", 3600, &[&format!("ns.sub.{zone}.")]),
        set(&n("ns.sub"), "A", 3600, &["192.0.2.53"]),
    ];
    assert_applied(&p.apply_zone(zone, &creates(&sets)).await, sets.len());

    let live = p.read_zone(zone).await.unwrap();
    for want in &sets {
        let got = find(&live.records, &want.name, want.rtype.clone())
            .unwrap_or_else(|| panic!("{} {} missing", want.name, want.rtype));
        assert!(got.same_as(want), "{got:?}\n  vs\n{want:?}");
    }
    assert!(
        find(&live.records, &n("legacy"), RecordType::A).is_some(),
        "unmanaged record lost"
    );
    // The apex NS and SOA were never touched; the SOA serial went up.
    let soa = |z: &mailform_contract::ZoneState| {
        find(&z.records, zone, RecordType::Soa).unwrap().values[0].presentation()
    };
    assert_ne!(soa(&before), soa(&live));
}

#[tokio::test]
async fn updates_and_deletes_touch_only_their_rrsets() {
    let Some(s) = server() else { return };
    let zone = "update.example";
    let p = provider(s);
    let mx = set(zone, "MX", 300, &["10 mx1.example.com."]);
    let spf = txt(zone, 300, &["v=spf1 -all"]);
    assert_applied(
        &p.apply_zone(zone, &creates(&[mx.clone(), spf.clone()]))
            .await,
        2,
    );
    let new_mx = set(
        zone,
        "MX",
        600,
        &["10 mx1.example.com.", "20 mx2.example.com."],
    );
    let changes = vec![
        DnsChange::Update {
            old: mx,
            new: new_mx.clone(),
        },
        DnsChange::Delete { old: spf },
    ];
    assert_applied(&p.apply_zone(zone, &changes).await, 2);
    let live = p.read_zone(zone).await.unwrap();
    assert!(find(&live.records, zone, RecordType::Mx)
        .unwrap()
        .same_as(&new_mx));
    assert!(find(&live.records, zone, RecordType::Txt).is_none());
    assert!(find(&live.records, &format!("legacy.{zone}"), RecordType::A).is_some());
    assert_eq!(
        find(&live.records, zone, RecordType::Ns)
            .unwrap()
            .values
            .len(),
        2
    );
}

#[tokio::test]
async fn prerequisites_refuse_an_edit_made_between_read_and_apply() {
    let Some(s) = server() else { return };
    let zone = "conflict.example";
    let p = provider(s);
    let mx = set(zone, "MX", 300, &["10 mx1.example.com."]);
    assert_applied(&p.apply_zone(zone, &creates(&[mx])).await, 1);

    // The plan is made from this read...
    let seen = p.read_zone(zone).await.unwrap();
    let seen_mx = find(&seen.records, zone, RecordType::Mx).unwrap().clone();
    // ...another admin changes the MX set and creates www with nsupdate...
    s.nsupdate(
        zone,
        &[
            &format!("update delete {zone}. MX"),
            &format!("update add {zone}. 300 MX 5 mx-other.example.com."),
            &format!("update add www.{zone}. 300 A 192.0.2.80"),
        ],
    );
    // ...and the UPDATE computed from the stale read is refused by the
    // server, as one unit: the TXT create in the same message is not made.
    let changes = vec![
        DnsChange::Create {
            new: txt(zone, 300, &["v=spf1 mx -all"]),
        },
        DnsChange::Update {
            old: seen_mx.clone(),
            new: set(zone, "MX", 300, &["10 mx9.example.com."]),
        },
    ];
    let report = p.apply_zone(zone, &changes).await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Conflict(m)) if m.contains("prerequisite failed")),
        "{report:#?}"
    );
    assert!(
        matches!(report.outcomes[1], ChangeOutcome::NotAttempted(_)),
        "{report:#?}"
    );
    let live = p.read_zone(zone).await.unwrap();
    assert!(find(&live.records, zone, RecordType::Mx)
        .unwrap()
        .same_as(&set(zone, "MX", 300, &["5 mx-other.example.com."])));
    assert!(find(&live.records, zone, RecordType::Txt).is_none());

    // A create of a set someone else created meanwhile is refused too...
    let www = DnsChange::Create {
        new: set(&format!("www.{zone}"), "A", 300, &["192.0.2.99"]),
    };
    let report = p.apply_zone(zone, &[www]).await;
    assert!(
        matches!(
            &report.outcomes[0],
            ChangeOutcome::Failed(ProviderError::Conflict(_))
        ),
        "{report:#?}"
    );
    // ...and so is a delete of a set that has changed.
    let report = p
        .apply_zone(zone, &[DnsChange::Delete { old: seen_mx }])
        .await;
    assert!(
        matches!(
            &report.outcomes[0],
            ChangeOutcome::Failed(ProviderError::Conflict(_))
        ),
        "{report:#?}"
    );
    let live = p.read_zone(zone).await.unwrap();
    assert!(find(&live.records, zone, RecordType::Mx).is_some());
    assert!(find(&live.records, &format!("www.{zone}"), RecordType::A)
        .unwrap()
        .same_as(&set(&format!("www.{zone}"), "A", 300, &["192.0.2.80"])));
}

#[tokio::test]
async fn oversized_applies_are_split_and_reported_per_change() {
    let Some(s) = server() else { return };
    let zone = "split.example";
    // Room for a few records per message, to split without 64 KiB of data.
    let p = provider(s).with_message_limit(200);
    let sets: Vec<RecordSet> = (0..12)
        .map(|i| {
            set(
                &format!("h{i}.{zone}"),
                "A",
                300,
                &[&format!("192.0.2.{i}")],
            )
        })
        .collect();
    assert_applied(&p.apply_zone(zone, &creates(&sets)).await, sets.len());
    let live = p.read_zone(zone).await.unwrap();
    assert!(sets
        .iter()
        .all(|w| find(&live.records, &w.name, RecordType::A).is_some_and(|g| g.same_as(w))));

    // Someone deletes h8 first: the message holding h8's update fails,
    // earlier messages were applied, later ones never sent.
    s.nsupdate(zone, &[&format!("update delete h8.{zone}. A")]);
    let changes: Vec<DnsChange> = sets
        .iter()
        .map(|old| {
            let mut new = old.clone();
            new.ttl = 900;
            DnsChange::Update {
                old: old.clone(),
                new,
            }
        })
        .collect();
    let report = p.apply_zone(zone, &changes).await;
    let failed = report
        .outcomes
        .iter()
        .position(|o| matches!(o, ChangeOutcome::Failed(_)))
        .expect("one failure");
    assert!(failed > 0 && failed <= 8, "{report:#?}");
    assert!(
        report.outcomes[..failed]
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{report:#?}"
    );
    assert!(
        report.outcomes[failed + 1..]
            .iter()
            .all(|o| matches!(o, ChangeOutcome::NotAttempted(_))),
        "{report:#?}"
    );
    let live = p.read_zone(zone).await.unwrap();
    for (i, w) in sets.iter().enumerate() {
        let got = find(&live.records, &w.name, RecordType::A);
        match (i < failed, i == 8) {
            (_, true) => assert!(got.is_none()),
            (true, _) => assert_eq!(got.unwrap().ttl, 900, "{i} was reported applied"),
            (false, _) => assert_eq!(got.unwrap().ttl, 300, "{i} was reported not attempted"),
        }
    }
}

#[tokio::test]
async fn tsig_and_zone_problems_say_what_to_fix() {
    let Some(s) = server() else { return };
    let mut c = Config::new(&s.address, KEY_NAME);
    c.secret = Some("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==".into());
    let err = Rfc2136Provider::new(c)
        .read_zone("read.example")
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(
        matches!(err, ProviderError::Permission(_)) && m.contains("TSIG"),
        "{m}"
    );
    assert!(!m.contains("d3Jvbmct"), "{m}");

    let mut c = Config::new(&s.address, "unknown-key");
    c.secret = Some(s.secret.clone().into());
    let report = Rfc2136Provider::new(c)
        .apply_zone(
            "read.example",
            &creates(&[set("x.read.example", "A", 60, &["192.0.2.1"])]),
        )
        .await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Permission(m)) if m.contains("unknown-key")),
        "{report:#?}"
    );

    // A zone the server does not serve reads as absent (the engine then
    // says the provider cannot create zones).
    let state = provider(s).read_zone("not-served.example").await.unwrap();
    assert!(!state.exists && state.records.is_empty());
}
