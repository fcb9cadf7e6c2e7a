//! The `powerdns` provider against a real PowerDNS Authoritative server
//! (see `support/pdns_server.rs`): zone creation, a round trip of every
//! record type mailform declares with no diff afterwards, updates and
//! deletions that leave unmanaged RRsets alone, the request budget, and
//! the precondition check refusing an edit made behind its back.
//!
//! Each test uses its own zone, so they can share the one server.

#[path = "support/pdns_server.rs"]
mod pdns_server;

use mailform_contract::{
    ChangeOutcome, DnsChange, DnsProvider, ProviderError, RData, RecordSet, RecordType,
};
use mailform_powerdns::{Config, PowerdnsProvider};
use pdns_server::{server, Pdns};

fn provider(s: &Pdns) -> PowerdnsProvider {
    let mut c = Config::new(&s.endpoint);
    c.api_key = Some(s.api_key.clone().into());
    c.nameservers = vec!["ns1.example.net".into(), "ns2.example.net".into()];
    PowerdnsProvider::new(c)
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

fn long_dkim() -> String {
    let key: String = (0..392)
        .map(|i| {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64] as char
        })
        .collect();
    format!("v=DKIM1; k=rsa; p={key}")
}

/// Every type a mailform file can declare, with the awkward spellings.
fn mail_sets(zone: &str) -> Vec<RecordSet> {
    let n = |l: &str| format!("{l}.{zone}");
    vec![
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
        txt(&n("google._domainkey"), 300, &[&long_dkim()]),
        txt(
            &n("_dmarc"),
            300,
            &["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
        ),
        txt(&n("quoted"), 300, &["say \"hi\" \\ 邮件 é"]),
        set(&n("mail"), "A", 300, &["192.0.2.25", "192.0.2.26"]),
        set(&n("mail"), "AAAA", 300, &["2001:db8:0:0::25"]),
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
        set(zone, "NS", 3600, &["ns1.example.net.", "ns2.example.net."]),
        set(&n("sub"), "NS", 3600, &[&format!("ns.sub.{zone}.")]),
        set(&n("ns.sub"), "A", 3600, &["192.0.2.53"]),
    ]
}

fn creates(sets: &[RecordSet]) -> Vec<DnsChange> {
    sets.iter()
        .cloned()
        .map(|new| DnsChange::Create { new })
        .collect()
}

fn assert_applied(report: &mailform_contract::ApplyReport, count: usize) {
    assert_eq!(report.outcomes.len(), count, "{report:#?}");
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{report:#?}"
    );
}

fn find<'a>(records: &'a [RecordSet], name: &str, rtype: RecordType) -> Option<&'a RecordSet> {
    records.iter().find(|s| s.name == name && s.rtype == rtype)
}

#[tokio::test]
async fn creates_a_zone_and_reads_back_every_type_without_a_diff() {
    let Some(s) = server() else { return };
    let zone = "roundtrip.example";
    let p = provider(s);
    let before = p.read_zone(zone).await.unwrap();
    assert!(!before.exists && before.records.is_empty());
    assert_eq!(
        p.requests_sent(),
        2,
        "a missing zone costs the zone GET and the server check"
    );

    let sets = mail_sets(zone);
    assert_applied(&p.apply_zone(zone, &creates(&sets)).await, sets.len());

    let p = provider(s);
    let live = p.read_zone(zone).await.unwrap();
    assert_eq!(p.requests_sent(), 1, "one read per zone");
    assert!(live.exists);
    for want in &sets {
        let got = find(&live.records, &want.name, want.rtype.clone()).unwrap_or_else(|| {
            panic!(
                "{} {} missing from {:#?}",
                want.name, want.rtype, live.records
            )
        });
        assert!(got.same_as(want), "{got:?}\n  vs\n{want:?}");
    }
    // PowerDNS made the SOA itself; mailform reads it but never declares it.
    assert!(find(&live.records, zone, RecordType::Soa).is_some());
    // The multi-chunk DKIM key and the escaped TXT reached the server as
    // written: compare with what the API itself says.
    let json = s.zone_json(zone);
    assert!(
        json.contains(r#"say \\\"hi\\\" \\\\ \\233\\130\\174"#),
        "{json}"
    );
}

#[tokio::test]
async fn updates_and_deletes_touch_only_their_rrsets() {
    let Some(s) = server() else { return };
    let zone = "update.example";
    s.create_zone(zone, &["ns1.example.net"]);
    // Unmanaged: made by someone else, never in a change.
    s.replace_rrset(zone, &format!("legacy.{zone}"), "A", 600, &["198.51.100.7"]);
    let p = provider(s);
    let mx = set(zone, "MX", 300, &["10 mx1.example.com."]);
    let spf = txt(zone, 300, &["v=spf1 -all"]);
    assert_applied(
        &p.apply_zone(zone, &creates(&[mx.clone(), spf.clone()]))
            .await,
        2,
    );

    let p = provider(s);
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
    assert_eq!(p.requests_sent(), 2, "one verifying read and one PATCH");

    let live = provider(s).read_zone(zone).await.unwrap();
    assert!(find(&live.records, zone, RecordType::Mx)
        .unwrap()
        .same_as(&new_mx));
    assert!(find(&live.records, zone, RecordType::Txt).is_none());
    let legacy = find(&live.records, &format!("legacy.{zone}"), RecordType::A).unwrap();
    assert!(legacy.same_as(&set(&format!("legacy.{zone}"), "A", 600, &["198.51.100.7"])));
}

#[tokio::test]
async fn an_edit_between_read_and_apply_is_refused_and_nothing_is_written() {
    let Some(s) = server() else { return };
    let zone = "conflict.example";
    s.create_zone(zone, &["ns1.example.net"]);
    let p = provider(s);
    let mx = set(zone, "MX", 300, &["10 mx1.example.com."]);
    assert_applied(
        &p.apply_zone(zone, &creates(std::slice::from_ref(&mx)))
            .await,
        1,
    );

    // The plan is made from this read...
    let seen = p.read_zone(zone).await.unwrap();
    let seen_mx = find(&seen.records, zone, RecordType::Mx).unwrap().clone();
    // ...then another admin changes the MX set and adds a www record...
    s.replace_rrset(zone, zone, "MX", 300, &["5 mx-other.example.com."]);
    s.replace_rrset(zone, &format!("www.{zone}"), "A", 300, &["192.0.2.80"]);
    // ...and the apply computed from the stale read must not overwrite them.
    let changes = vec![
        DnsChange::Create {
            new: txt(zone, 300, &["v=spf1 mx -all"]),
        },
        DnsChange::Update {
            old: seen_mx,
            new: set(zone, "MX", 300, &["10 mx9.example.com."]),
        },
        DnsChange::Create {
            new: set(&format!("www.{zone}"), "A", 300, &["192.0.2.99"]),
        },
    ];
    let report = p.apply_zone(zone, &changes).await;
    assert!(
        matches!(report.outcomes[0], ChangeOutcome::NotAttempted(_)),
        "{report:#?}"
    );
    assert!(
        matches!(&report.outcomes[1], ChangeOutcome::Failed(ProviderError::Conflict(m)) if m.contains("changed since the plan")),
        "{report:#?}"
    );
    assert!(
        matches!(report.outcomes[2], ChangeOutcome::NotAttempted(_)),
        "{report:#?}"
    );

    let live = provider(s).read_zone(zone).await.unwrap();
    assert!(find(&live.records, zone, RecordType::Mx)
        .unwrap()
        .same_as(&set(zone, "MX", 300, &["5 mx-other.example.com."])));
    assert!(
        find(&live.records, zone, RecordType::Txt).is_none(),
        "the batch is all or nothing"
    );

    // A create of a set someone else created meanwhile is refused too.
    let report = p
        .apply_zone(
            zone,
            &[DnsChange::Create {
                new: set(&format!("www.{zone}"), "A", 300, &["192.0.2.99"]),
            }],
        )
        .await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Conflict(m)) if m.contains("already exists")),
        "{report:#?}"
    );
}

#[tokio::test]
async fn server_side_refusals_keep_the_server_message_and_write_nothing() {
    let Some(s) = server() else { return };
    let zone = "refused.example";
    s.create_zone(zone, &["ns1.example.net"]);
    s.replace_rrset(zone, &format!("host.{zone}"), "A", 300, &["192.0.2.1"]);
    let p = provider(s);
    // A CNAME beside other data passes mailform's precondition (no CNAME
    // set exists) but PowerDNS refuses it; the PATCH is all or nothing.
    let changes = vec![
        DnsChange::Create {
            new: txt(&format!("ok.{zone}"), 300, &["fine"]),
        },
        DnsChange::Create {
            new: set(
                &format!("host.{zone}"),
                "CNAME",
                300,
                &["elsewhere.example.net."],
            ),
        },
    ];
    let report = p.apply_zone(zone, &changes).await;
    match &report.outcomes[0] {
        ChangeOutcome::Failed(ProviderError::Rejected(m)) => {
            assert!(m.contains("Conflicts with pre-existing RRset"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let live = provider(s).read_zone(zone).await.unwrap();
    assert!(find(&live.records, &format!("ok.{zone}"), RecordType::Txt).is_none());
}

#[tokio::test]
async fn a_wrong_or_missing_key_says_what_to_fix_and_never_prints_the_key() {
    let Some(s) = server() else { return };
    let mut c = Config::new(&s.endpoint);
    c.api_key = Some("wrong-key-7f3a9c".into());
    let err = PowerdnsProvider::new(c)
        .read_zone("any.example")
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(matches!(err, ProviderError::Permission(_)), "{m}");
    assert!(
        m.contains("api=yes") && m.contains("webserver=yes") && m.contains("PDNS_API_KEY"),
        "{m}"
    );
    assert!(!m.contains("wrong-key-7f3a9c"), "{m}");

    let mut c = Config::new(&s.endpoint);
    c.server_id = Some("no-such-server".into());
    c.api_key = Some(s.api_key.clone().into());
    let err = PowerdnsProvider::new(c)
        .read_zone("any.example")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("server_id"), "{err}");
    assert!(!err.to_string().contains(&s.api_key));
}
