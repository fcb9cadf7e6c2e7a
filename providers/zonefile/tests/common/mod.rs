//! Helpers shared by the integration tests: finding the BIND binaries (and
//! skipping, or failing under `MAILFORM_REQUIRE_REAL_SERVERS=1`, when they
//! are missing), building record sets, and a provider over a temp directory.

#![allow(dead_code)]

pub mod named;

use std::path::{Path, PathBuf};

use mailform_contract::{ChangeOutcome, DnsChange, DnsProvider, RData, RecordSet, RecordType};
use mailform_zonefile::{Config, ZonefileProvider};

/// The binary at `path`, or `None` after printing why the test is skipped
/// (a panic under `MAILFORM_REQUIRE_REAL_SERVERS=1`).
pub fn require_binary(path: &str, package: &str) -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[path], package)
}

pub fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
    let rtype = RecordType::parse(rtype);
    RecordSet {
        name: name.to_string(),
        values: values
            .iter()
            .map(|v| RData::parse(&rtype, v).unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        rtype,
        ttl,
    }
}

pub fn txt_set(name: &str, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        rtype: RecordType::Txt,
        ttl,
        values: values.iter().map(|v| RData::txt(v)).collect(),
    }
}

pub fn create(set: RecordSet) -> DnsChange {
    DnsChange::Create { new: set }
}

/// A provider writing into `dir`, with two name servers configured.
pub fn provider(dir: &Path) -> ZonefileProvider {
    let mut config = Config::new("zones");
    config.nameservers = vec!["ns1.example.net".into(), "ns2.example.net".into()];
    ZonefileProvider::new(config, dir)
}

pub async fn apply_ok(p: &ZonefileProvider, zone: &str, changes: &[DnsChange]) {
    let report = p.apply_zone(zone, changes).await;
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{report:#?}"
    );
}

/// A 2048-bit DKIM public key record: far longer than one 255-byte
/// character-string, as real ones are.
pub fn long_dkim() -> String {
    let key: String = (0..392)
        .map(|i| {
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 % 64] as char
        })
        .collect();
    format!("v=DKIM1; k=rsa; p={key}")
}

/// The changes that build a mail zone with every type mailform declares.
pub fn mail_zone_changes(zone: &str) -> Vec<DnsChange> {
    let n = |label: &str| format!("{label}.{zone}");
    vec![
        create(set(
            zone,
            "MX",
            300,
            &["10 aspmx.l.google.com", "20 mx2.example.net."],
        )),
        create(txt_set(
            zone,
            300,
            &[
                "v=spf1 include:_spf.google.com ~all",
                "google-site-verification=abc123",
            ],
        )),
        create(txt_set(&n("google._domainkey"), 300, &[&long_dkim()])),
        create(txt_set(
            &n("_dmarc"),
            300,
            &["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
        )),
        create(txt_set(&n("quoted"), 300, &["say \"hi\" \\ 邮件 é"])),
        create(set(&n("mail"), "A", 300, &["192.0.2.25", "192.0.2.26"])),
        create(set(&n("mail"), "AAAA", 300, &["2001:db8::25"])),
        create(set(
            &n("autodiscover"),
            "CNAME",
            3600,
            &["autodiscover.outlook.com."],
        )),
        create(set(
            &n("_submission._tcp"),
            "SRV",
            3600,
            &[&format!("0 1 587 mail.{zone}.")],
        )),
        create(set(
            &n("_autodiscover._tcp"),
            "SRV",
            3600,
            &["0 0 443 autodiscover.outlook.com"],
        )),
        create(set(
            zone,
            "CAA",
            3600,
            &[
                "0 issue \"letsencrypt.org\"",
                "0 iodef \"mailto:security@example.com\"",
            ],
        )),
        create(set(&n("sub"), "NS", 3600, &[&format!("ns.sub.{zone}.")])),
        create(set(&n("ns.sub"), "A", 3600, &["192.0.2.53"])),
    ]
}
