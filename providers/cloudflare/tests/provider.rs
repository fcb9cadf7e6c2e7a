//! The provider against the in-process fake: reads with paging, applies
//! through batches, faults, permissions — and every request checked against
//! Cloudflare's official API description (no violations allowed).

use std::time::Duration;

use mailform_cloudflare::fake::{CloudflareFault, FakeCloudflare, FakeConfig, Fault, FaultKind};
use mailform_cloudflare::{CloudflareProvider, Config};
use mailform_contract::{
    ChangeOutcome, DnsChange, DnsProvider, ProviderError, RData, RecordSet, RecordType,
};
use serde_json::json;

const ZONE: &str = "example.com";

async fn fake(config: FakeConfig) -> FakeCloudflare {
    let f = FakeCloudflare::start(config).await.unwrap();
    f.add_zone(ZONE);
    f
}

fn provider(f: &FakeCloudflare, tweak: impl FnOnce(&mut Config)) -> CloudflareProvider {
    let mut c = Config::new(f.url(), f.token());
    tweak(&mut c);
    CloudflareProvider::new(c)
}

fn set(name: &str, t: RecordType, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: t.clone(),
        ttl,
        values: values
            .iter()
            .map(|v| RData::parse(&t, v).unwrap())
            .collect(),
    }
}

fn find<'a>(sets: &'a [RecordSet], name: &str, t: RecordType) -> Option<&'a RecordSet> {
    sets.iter().find(|s| s.name == name && s.rtype == t)
}

fn no_violations(f: &FakeCloudflare) {
    assert_eq!(f.violations(), Vec::<String>::new());
}

fn all_applied(outcomes: &[ChangeOutcome]) -> bool {
    outcomes.iter().all(|o| matches!(o, ChangeOutcome::Applied))
}

#[tokio::test]
async fn reads_every_page_and_normalises() {
    let f = fake(FakeConfig::default()).await;
    for i in 0..23 {
        f.add_record(ZONE, json!({"type": "A", "name": format!("h{i}"), "content": format!("192.0.2.{i}"), "ttl": 1}));
    }
    f.add_record(ZONE, json!({"type": "MX", "name": "@", "content": "MX1.example.com", "priority": 10, "ttl": 3600}));
    f.add_record(ZONE, json!({"type": "TXT", "name": "@", "content": "v=spf1 include:_spf.google.com ~all", "ttl": 3600}));
    f.add_record(ZONE, json!({"type": "SRV", "name": "_imaps._tcp", "data": {"priority": 0, "weight": 1, "port": 993, "target": "imap.example.com"}, "ttl": 3600}));
    f.add_record(ZONE, json!({"type": "CAA", "name": "@", "data": {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}, "ttl": 3600}));
    f.add_record(
        ZONE,
        json!({"type": "A", "name": "www", "content": "192.0.2.80", "ttl": 1, "proxied": true}),
    );
    let p = provider(&f, |c| c.page_size = Some(5));
    let z = p.read_zone(ZONE).await.unwrap();
    assert!(z.exists);
    assert_eq!(z.records.iter().map(|s| s.values.len()).sum::<usize>(), 28);
    // 1 zone lookup + ceil(28 / 5) pages.
    assert_eq!(f.requests(), 1 + 6);
    assert_eq!(p.requests_sent(), 7);
    let h0 = find(&z.records, "h0.example.com", RecordType::A).unwrap();
    assert_eq!(h0.ttl, 300, "ttl 1 (automatic) reads as 300");
    assert!(find(&z.records, "example.com", RecordType::Mx)
        .unwrap()
        .same_as(&set(
            "example.com",
            RecordType::Mx,
            3600,
            &["10 mx1.example.com."]
        )));
    assert!(find(&z.records, "_imaps._tcp.example.com", RecordType::Srv)
        .unwrap()
        .same_as(&set(
            "_imaps._tcp.example.com",
            RecordType::Srv,
            3600,
            &["0 1 993 imap.example.com."]
        )));
    assert!(find(&z.records, "example.com", RecordType::Caa)
        .unwrap()
        .same_as(&set(
            "example.com",
            RecordType::Caa,
            3600,
            &["0 issue \"letsencrypt.org\""]
        )));
    assert!(find(&z.records, "example.com", RecordType::Txt)
        .unwrap()
        .same_as(&set(
            "example.com",
            RecordType::Txt,
            3600,
            &["\"v=spf1 include:_spf.google.com ~all\""]
        )));
    no_violations(&f);
}

#[tokio::test]
async fn applies_creates_updates_and_deletes_in_one_batch_keeping_ids_comments_and_proxy() {
    let f = fake(FakeConfig::default()).await;
    let www = f.add_record(ZONE, json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1, "proxied": true, "comment": "web", "tags": ["team:web"]}));
    f.add_record(
        ZONE,
        json!({"type": "TXT", "name": "old", "content": "bye", "ttl": 300}),
    );
    f.add_record(
        ZONE,
        json!({"type": "A", "name": "alias", "content": "192.0.2.7", "ttl": 300}),
    );
    let p = provider(&f, |_| {});
    let z = p.read_zone(ZONE).await.unwrap();
    let before = f.requests();
    let dkim = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
    let dkim_set = RecordSet {
        name: "google._domainkey.example.com".into(),
        rtype: RecordType::Txt,
        ttl: 3600,
        values: vec![RData::txt(&dkim)],
    };
    let changes = vec![
        DnsChange::Update {
            old: find(&z.records, "www.example.com", RecordType::A)
                .unwrap()
                .clone(),
            new: set("www.example.com", RecordType::A, 300, &["192.0.2.2"]),
        },
        DnsChange::Delete {
            old: find(&z.records, "old.example.com", RecordType::Txt)
                .unwrap()
                .clone(),
        },
        DnsChange::Create {
            new: dkim_set.clone(),
        },
        // A → CNAME at one name: must land in one batch, delete first.
        DnsChange::Delete {
            old: find(&z.records, "alias.example.com", RecordType::A)
                .unwrap()
                .clone(),
        },
        DnsChange::Create {
            new: set(
                "alias.example.com",
                RecordType::Cname,
                3600,
                &["ghs.googlehosted.com."],
            ),
        },
    ];
    let report = p.apply_zone(ZONE, &changes).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    assert_eq!(
        f.requests() - before,
        1,
        "one batch request: {:?}",
        f.request_log()
    );
    let recs = f.records(ZONE);
    let w = recs
        .iter()
        .find(|r| r["name"] == "www.example.com")
        .unwrap();
    assert_eq!(
        (
            w["id"].as_str().unwrap(),
            &w["content"],
            &w["proxied"],
            &w["comment"],
            &w["tags"]
        ),
        (
            www.as_str(),
            &json!("192.0.2.2"),
            &json!(true),
            &json!("web"),
            &json!(["team:web"])
        )
    );
    let dk = recs
        .iter()
        .find(|r| r["name"] == "google._domainkey.example.com")
        .unwrap();
    assert!(
        dk["content"].as_str().unwrap().starts_with("\"v=DKIM1"),
        "{dk}"
    );
    // Read back: what was desired is what is live.
    let z = p.read_zone(ZONE).await.unwrap();
    assert!(
        find(&z.records, "google._domainkey.example.com", RecordType::Txt)
            .unwrap()
            .same_as(&dkim_set)
    );
    assert!(find(&z.records, "alias.example.com", RecordType::Cname).is_some());
    assert!(find(&z.records, "old.example.com", RecordType::Txt).is_none());
    no_violations(&f);
}

fn creates(n: usize) -> Vec<DnsChange> {
    (0..n)
        .map(|i| DnsChange::Create {
            new: set(
                &format!("n{i}.example.com"),
                RecordType::Txt,
                300,
                &[&format!("\"v{i}\"")],
            ),
        })
        .collect()
}

#[tokio::test]
async fn a_lagging_listing_hides_new_records_until_it_catches_up() {
    let f = fake(FakeConfig::default()).await;
    let p = provider(&f, |_| {});
    p.read_zone(ZONE).await.unwrap();
    f.set_lag(1);
    let report = p.apply_zone(ZONE, &creates(1)).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    let first = p.read_zone(ZONE).await.unwrap();
    assert!(
        find(&first.records, "n0.example.com", RecordType::Txt).is_none(),
        "{:?}",
        f.request_log()
    );
    let second = p.read_zone(ZONE).await.unwrap();
    assert!(find(&second.records, "n0.example.com", RecordType::Txt).is_some());
    no_violations(&f);
}

#[tokio::test]
async fn a_failed_batch_applies_nothing_and_later_batches_are_not_sent() {
    let f = fake(FakeConfig {
        batch_limit: 3,
        ..FakeConfig::default()
    })
    .await;
    let p = provider(&f, |c| c.batch_limit = Some(3));
    p.read_zone(ZONE).await.unwrap();
    // The second batch's third item fails: batch 2 rolls back, batch 3 is not sent.
    f.inject(
        Fault::on(
            Some("POST /batch"),
            FaultKind::Vendor(CloudflareFault::FailBatchItem { index: 2 }),
        )
        .skip(1),
    );
    let changes = creates(8);
    let report = p.apply_zone(ZONE, &changes).await;
    let o = &report.outcomes;
    assert_eq!(o.len(), 8);
    assert!(
        o[..3].iter().all(|o| matches!(o, ChangeOutcome::Applied)),
        "{o:?}"
    );
    // The refusal names `posts[2]`: the third change of the batch is
    // blamed, the others of its batch were rolled back.
    assert!(
        matches!(&o[5], ChangeOutcome::Failed(ProviderError::Rejected(m)) if m.contains("invalid")),
        "{o:?}"
    );
    assert!(
        matches!(&o[3], ChangeOutcome::NotAttempted(m) if m.contains("rolled back") && m.contains("n5.example.com")),
        "{o:?}"
    );
    assert!(
        matches!(&o[6], ChangeOutcome::NotAttempted(m) if m.contains("batch 2 of 3 failed")),
        "{o:?}"
    );
    let names: Vec<String> = f
        .records(ZONE)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["n0.example.com", "n1.example.com", "n2.example.com"]
    );
    assert_eq!(f.batches_applied(), 1);
    // Running it again converges: the plan would now hold only the rest.
    let z = p.read_zone(ZONE).await.unwrap();
    assert_eq!(z.records.len(), 3);
    let report = p.apply_zone(ZONE, &changes[3..]).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    assert_eq!(f.records(ZONE).len(), 8);
    no_violations(&f);
}

/// A 5xx after Cloudflare carried out a batch is not "rolled back": a
/// read settles it as applied; when the read fails too, every change of the
/// batch is UNKNOWN, never reported as not done.
#[tokio::test]
async fn a_5xx_after_the_batch_was_applied_is_settled_by_a_read_or_unknown() {
    let f = fake(FakeConfig::default()).await;
    let p = provider(&f, |_| {});
    p.read_zone(ZONE).await.unwrap();
    f.inject(Fault::on(Some("POST /batch"), FaultKind::AfterWrite));
    let changes = creates(3);
    let r = p.apply_zone(ZONE, &changes).await;
    assert!(
        r.outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{r:?}"
    );
    assert_eq!(f.records(ZONE).len(), 3);

    // The settling read fails as well: UNKNOWN for each change of the batch.
    let more: Vec<DnsChange> = creates(5)[3..].to_vec();
    f.inject(Fault::on(Some("POST /batch"), FaultKind::AfterWrite));
    // (The apply's own read of the zone first, then the settling read fails.)
    f.inject(
        Fault::on(Some("GET /dns_records"), FaultKind::Unavailable)
            .skip(1)
            .times(usize::MAX),
    );
    let r = p.apply_zone(ZONE, &more).await;
    assert!(
        r.outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Failed(ProviderError::Unknown(_)))),
        "{r:?}"
    );
    assert_eq!(f.records(ZONE).len(), 5, "it was in fact applied");
    no_violations(&f);
}

#[tokio::test]
async fn stale_plans_write_nothing() {
    let f = fake(FakeConfig::default()).await;
    f.add_record(
        ZONE,
        json!({"type": "TXT", "name": "t", "content": "live", "ttl": 300}),
    );
    let p = provider(&f, |_| {});
    p.read_zone(ZONE).await.unwrap();
    let changes = vec![
        DnsChange::Create {
            new: set("a.example.com", RecordType::Txt, 300, &["\"x\""]),
        },
        DnsChange::Delete {
            old: set(
                "t.example.com",
                RecordType::Txt,
                300,
                &["\"not what is live\""],
            ),
        },
    ];
    let before = f.requests();
    let report = p.apply_zone(ZONE, &changes).await;
    assert!(
        matches!(
            &report.outcomes[1],
            ChangeOutcome::Failed(ProviderError::Conflict(_))
        ),
        "{report:?}"
    );
    assert!(matches!(
        &report.outcomes[0],
        ChangeOutcome::NotAttempted(_)
    ));
    assert_eq!(f.requests(), before, "nothing sent");
}

#[tokio::test]
async fn retries_reads_after_429_500_and_drops_but_never_blind_writes() {
    let f = fake(FakeConfig::default()).await;
    f.add_record(
        ZONE,
        json!({"type": "TXT", "name": "t", "content": "x", "ttl": 300}),
    );
    f.inject(Fault::on(
        Some("GET /zones"),
        FaultKind::Throttle {
            retry_after: Some(1),
        },
    ));
    f.inject(Fault::on(Some("GET /dns_records"), FaultKind::Unavailable));
    f.inject(Fault::on(Some("GET /dns_records"), FaultKind::Drop));
    let p = provider(&f, |_| {});
    let started = std::time::Instant::now();
    let z = p.read_zone(ZONE).await.unwrap();
    assert_eq!(z.records.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert!(f.pending_faults().is_empty());
    assert_eq!(f.requests(), 5);

    // A 429 on the batch is retried (Cloudflare did not process it)...
    f.inject(Fault::on(
        Some("POST /batch"),
        FaultKind::Throttle {
            retry_after: Some(0),
        },
    ));
    let r = p.apply_zone(ZONE, &creates(1)).await;
    assert!(matches!(r.outcomes[0], ChangeOutcome::Applied), "{r:?}");
    // ...a 500 or a dropped connection is not: one read of the zone
    // settles what became of it (here: nothing was written).
    f.inject(Fault::on(Some("POST /batch"), FaultKind::Unavailable));
    let r = p.apply_zone(ZONE, &creates(2)[1..]).await;
    assert!(
        matches!(
            &r.outcomes[0],
            ChangeOutcome::Failed(ProviderError::Service(m)) if m.contains("was not applied")
        ),
        "{r:?}"
    );
    f.inject(Fault::on(Some("POST /batch"), FaultKind::Drop));
    let before = f.requests();
    let r = p.apply_zone(ZONE, &creates(2)[1..]).await;
    assert!(
        matches!(&r.outcomes[0], ChangeOutcome::Failed(ProviderError::Service(m)) if m.contains("was not applied")),
        "{r:?}"
    );
    assert_eq!(
        f.requests() - before,
        3,
        "a re-read, one batch (not retried), a read that settles it: {:?}",
        f.request_log()
    );
    no_violations(&f);
}

#[tokio::test]
async fn permissions_and_tokens_are_explained_and_never_printed() {
    let f = fake(FakeConfig {
        can_write: false,
        ..FakeConfig::default()
    })
    .await;
    let p = provider(&f, |_| {});
    p.read_zone(ZONE).await.unwrap();
    let r = p.apply_zone(ZONE, &creates(1)).await;
    let ChangeOutcome::Failed(e) = &r.outcomes[0] else {
        panic!("{r:?}")
    };
    let msg = e.to_string();
    assert!(msg.contains("DNS:Edit") && msg.contains(ZONE), "{msg}");

    let bad = CloudflareProvider::new(Config::new(f.url(), "wrong-secret-token"));
    let msg = bad.read_zone(ZONE).await.unwrap_err().to_string();
    assert!(
        msg.contains("invalid") && !msg.contains("wrong-secret-token"),
        "{msg}"
    );
    let msg = p
        .read_zone("missing.example")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("not found") && msg.contains("Zone:Read"),
        "{msg}"
    );
    let env = CloudflareProvider::new(Config {
        token: Some(mailform_contract::settings::SecretSetting::new(
            "${env:MAILFORM_TEST_CF_TOKEN_UNSET}",
        )),
        ..Config::new(f.url(), "")
    });
    let msg = env.read_zone(ZONE).await.unwrap_err().to_string();
    assert!(
        msg.contains("MAILFORM_TEST_CF_TOKEN_UNSET") && msg.contains("is not set"),
        "{msg}"
    );
    no_violations(&f);
}

#[tokio::test]
async fn falls_back_to_per_record_calls_when_the_batch_endpoint_is_missing() {
    let f = fake(FakeConfig::default()).await;
    f.add_record(
        ZONE,
        json!({"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 300, "comment": "keep"}),
    );
    f.inject(
        Fault::on(
            Some("POST /batch"),
            FaultKind::Vendor(CloudflareFault::NoBatchEndpoint),
        )
        .times(usize::MAX),
    );
    let p = provider(&f, |_| {});
    let z = p.read_zone(ZONE).await.unwrap();
    let changes = vec![
        DnsChange::Update {
            old: z.records[0].clone(),
            new: set("a.example.com", RecordType::A, 600, &["192.0.2.9"]),
        },
        DnsChange::Create {
            new: set(
                "b.example.com",
                RecordType::Mx,
                300,
                &["10 mx.example.com."],
            ),
        },
    ];
    let r = p.apply_zone(ZONE, &changes).await;
    assert!(
        r.outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{r:?}"
    );
    let log = f.request_log();
    assert!(
        log.iter().any(|l| l.starts_with("PATCH"))
            && log
                .iter()
                .any(|l| l.ends_with("/dns_records") && l.starts_with("POST")),
        "{log:?}"
    );
    let recs = f.records(ZONE);
    assert_eq!(recs[0]["comment"], "keep");
    assert_eq!(recs[0]["ttl"], 600);
    no_violations(&f);
}

/// A null MX (`0 .`) and a "no service" SRV are stored and read back as
/// written, and the fake accepts them although the published description's
/// `hostname` format refuses `.` (a departure it documents).
#[tokio::test]
async fn a_null_mx_and_a_no_service_srv_are_stored_and_read_back() {
    let f = fake(FakeConfig::default()).await;
    let p = provider(&f, |_| {});
    p.read_zone(ZONE).await.unwrap();
    let mx = set("example.com", RecordType::Mx, 300, &["0 ."]);
    let srv = set(
        "_submission._tcp.example.com",
        RecordType::Srv,
        300,
        &["0 0 0 ."],
    );
    let changes = vec![
        DnsChange::Create { new: mx.clone() },
        DnsChange::Create { new: srv.clone() },
    ];
    let r = p.apply_zone(ZONE, &changes).await;
    assert!(
        r.outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "{r:?}"
    );
    let z = p.read_zone(ZONE).await.unwrap();
    assert!(find(&z.records, "example.com", RecordType::Mx)
        .unwrap()
        .same_as(&mx));
    assert!(
        find(&z.records, "_submission._tcp.example.com", RecordType::Srv)
            .unwrap()
            .same_as(&srv)
    );
    no_violations(&f);
}
