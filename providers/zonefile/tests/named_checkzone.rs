//! Every zone file the provider writes must load in BIND: checked with
//! `named-checkzone` (Debian package bind9-utils), whose own dump of the
//! zone must also read back to the same record sets as the provider's.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use mailform_contract::{DnsChange, DnsProvider, RData, RecordSet, ZoneState};
use mailform_zonefile::ZonefileProvider;

const CHECKZONE: &str = "/usr/bin/named-checkzone";

/// Runs named-checkzone on the zone's file and returns the zone as BIND
/// understood it (its `-D` dump), read back through the provider.
async fn check(checkzone: &Path, p: &ZonefileProvider, zone: &str) -> ZoneState {
    let file = p.zone_path(zone).unwrap();
    let dump_dir = tempfile::tempdir().unwrap();
    let dump = dump_dir.path().join(format!("{zone}.zone"));
    let out = Command::new(checkzone)
        .args(["-k", "fail", "-D", "-o"])
        .arg(&dump)
        .arg(zone)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "named-checkzone refused {}:\n{stdout}{}\n--- file ---\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&file).unwrap()
    );
    let bind_view = ZonefileProvider::new(mailform_zonefile::Config::new("."), dump_dir.path());
    bind_view.read_zone(zone).await.unwrap()
}

/// BIND's view and the provider's view of a zone hold the same sets. Types
/// carried as text are compared ignoring case (BIND upper-cases hex).
fn assert_same_zone(bind: &ZoneState, ours: &ZoneState) {
    let fold = |s: &RecordSet| -> Vec<String> {
        let mut v: Vec<String> = s
            .values
            .iter()
            .map(|v| match v {
                RData::Other { .. } => v.canonical().to_ascii_lowercase(),
                _ => v.canonical(),
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        bind.records.len(),
        ours.records.len(),
        "{bind:#?}\n{ours:#?}"
    );
    for b in &bind.records {
        let o = ours
            .records
            .iter()
            .find(|o| o.key() == b.key())
            .unwrap_or_else(|| panic!("BIND has {} {} which the provider lacks", b.name, b.rtype));
        assert_eq!((b.ttl, fold(b)), (o.ttl, fold(o)), "{b:?} vs {o:?}");
    }
}

#[tokio::test]
async fn a_created_zone_loads_in_bind() {
    let Some(checkzone) = require_binary(CHECKZONE, "bind9-utils") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    apply_ok(&p, "example.com", &mail_zone_changes("example.com")).await;

    let ours = p.read_zone("example.com").await.unwrap();
    let bind = check(&checkzone, &p, "example.com").await;
    assert_same_zone(&bind, &ours);
    let dkim = ours
        .records
        .iter()
        .find(|s| s.name == "google._domainkey.example.com")
        .unwrap();
    assert_eq!(dkim.values[0].canonical(), long_dkim());
}

#[tokio::test]
async fn updates_deletes_and_a_hand_written_zone_load_in_bind() {
    let Some(checkzone) = require_binary(CHECKZONE, "bind9-utils") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    std::fs::create_dir_all(p.directory()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.com.zone"),
        p.zone_path("example.com").unwrap(),
    )
    .unwrap();
    let live = p.read_zone("example.com").await.unwrap();
    let old = |name: &str, t: &str| {
        live.records
            .iter()
            .find(|s| s.name == name && s.rtype.as_str() == t)
            .unwrap()
            .clone()
    };

    let mut changes = vec![
        DnsChange::Update {
            old: old("example.com", "MX"),
            new: set("example.com", "MX", 300, &["1 smtp.google.com"]),
        },
        DnsChange::Delete {
            old: old("www.example.com", "AAAA"),
        },
        DnsChange::Update {
            old: old("example.com", "NS"),
            new: set(
                "example.com",
                "NS",
                86400,
                &["a.ns.example.org", "b.ns.example.org"],
            ),
        },
    ];
    // The new names only: the fixture already has some of these.
    let added: Vec<DnsChange> = mail_zone_changes("example.com")
        .into_iter()
        .filter(|c| !live.records.iter().any(|s| s.name == c.key().0))
        .collect();
    assert!(added.len() >= 5, "{added:?}");
    let added_count = added.len();
    changes.extend(added);
    apply_ok(&p, "example.com", &changes).await;

    let ours = p.read_zone("example.com").await.unwrap();
    let bind = check(&checkzone, &p, "example.com").await;
    assert_same_zone(&bind, &ours);
    // The hand-written records nobody asked to change are all still there.
    assert_eq!(ours.records.len(), live.records.len() - 1 + added_count);

    // A second apply on the file the provider wrote itself.
    apply_ok(
        &p,
        "example.com",
        &[DnsChange::Delete {
            old: txt_set("quoted.example.com", 300, &["say \"hi\" \\ 邮件 é"]),
        }],
    )
    .await;
    check(&checkzone, &p, "example.com").await;
}
