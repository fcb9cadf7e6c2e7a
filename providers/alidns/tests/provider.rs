//! The provider against the in-process fake: paged reads, per-record
//! applies keeping record ids, normalisation, faults mid-apply, throttling,
//! signatures and credentials — every request checked against the API
//! metadata (no violations allowed).

use std::collections::BTreeMap;
use std::time::Duration;

use mailform_alidns::api::ApiRecord;
use mailform_alidns::fake::{AlidnsFault, FakeAlidns, FakeConfig, Fault, FaultKind};
use mailform_alidns::{signer, AlidnsProvider, Config};
use mailform_contract::{
    ChangeOutcome, DnsChange, DnsProvider, ProviderError, RData, RecordSet, RecordType,
};
use mailform_http::{header, ClientConfig, HttpClient, Idempotence, Method, Retry, Url};

const ZONE: &str = "example.com";

async fn fake() -> FakeAlidns {
    let f = FakeAlidns::start(FakeConfig::default()).await.unwrap();
    f.add_domain(ZONE);
    f
}

fn fast_retry() -> Retry {
    Retry {
        max_attempts: 4,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

fn provider(f: &FakeAlidns) -> AlidnsProvider {
    AlidnsProvider::with_retry(
        Config::new(f.url(), f.access_key_id(), f.access_key_secret()),
        fast_retry(),
    )
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

fn no_violations(f: &FakeAlidns) {
    assert_eq!(f.violations(), Vec::<String>::new());
}

fn all_applied(outcomes: &[ChangeOutcome]) -> bool {
    outcomes.iter().all(|o| matches!(o, ChangeOutcome::Applied))
}

#[tokio::test]
async fn reads_every_page_and_normalises() {
    let f = fake().await;
    for i in 0..1_203 {
        f.add_record(
            ZONE,
            &format!("h{i}"),
            "A",
            &format!("10.0.{}.{}", i / 250, i % 250),
            600,
            None,
        );
    }
    f.add_record(ZONE, "@", "MX", "mxw.mxhichina.com", 600, Some(5));
    f.add_record(ZONE, "@", "MX", "MXN.mxhichina.com", 600, Some(10));
    f.add_record(
        ZONE,
        "_sip._tls",
        "SRV",
        "100 1 443 sipdir.online.lync.com",
        3600,
        None,
    );
    f.add_record(ZONE, "@", "CAA", "0 issue \"letsencrypt.org\"", 600, None);
    // A TXT value with quotes, as some tools store it, reads unquoted.
    f.insert_raw(
        ZONE,
        raw("1", "@", "TXT", "\"v=spf1 include:spf.mxhichina.com -all\""),
    );
    let p = provider(&f);
    let z = p.read_zone(ZONE).await.unwrap();
    assert!(z.exists);
    assert_eq!(
        z.records.iter().map(|s| s.values.len()).sum::<usize>(),
        1_208
    );
    assert_eq!(
        f.requests(),
        3,
        "ceil(1208 / 500) pages: {:?}",
        f.request_log()
    );
    assert_eq!(p.requests_sent(), 3);
    assert!(find(&z.records, ZONE, RecordType::Mx)
        .unwrap()
        .same_as(&set(
            ZONE,
            RecordType::Mx,
            600,
            &["10 mxn.mxhichina.com.", "5 mxw.mxhichina.com."]
        )));
    assert!(find(&z.records, ZONE, RecordType::Txt)
        .unwrap()
        .same_as(&set(
            ZONE,
            RecordType::Txt,
            600,
            &["\"v=spf1 include:spf.mxhichina.com -all\""]
        )));
    assert!(find(&z.records, "_sip._tls.example.com", RecordType::Srv)
        .unwrap()
        .same_as(&set(
            "_sip._tls.example.com",
            RecordType::Srv,
            3600,
            &["100 1 443 sipdir.online.lync.com."]
        )));
    assert!(find(&z.records, ZONE, RecordType::Caa).is_some());
    no_violations(&f);
}

fn raw(id: &str, rr: &str, t: &str, value: &str) -> ApiRecord {
    ApiRecord {
        record_id: id.into(),
        rr: rr.into(),
        rtype: t.into(),
        value: value.into(),
        ttl: 600,
        priority: None,
        line: "default".into(),
        status: "ENABLE".into(),
        locked: false,
    }
}

#[tokio::test]
async fn a_missing_domain_reads_as_absent_and_cannot_be_created() {
    let f = fake().await;
    let p = provider(&f);
    let z = p.read_zone("absent.example").await.unwrap();
    assert!(!z.exists);
    assert!(!p.capabilities().creates_zones);
    no_violations(&f);
}

#[tokio::test]
async fn applies_in_place_keeping_record_ids_and_normalising_mx_zero() {
    let f = fake().await;
    let mx_id = f.add_record(ZONE, "@", "MX", "old.example.net", 600, Some(10));
    let a1 = f.add_record(ZONE, "www", "A", "192.0.2.1", 600, None);
    let a2 = f.add_record(ZONE, "www", "A", "192.0.2.2", 600, None);
    f.add_record(ZONE, "alias", "A", "192.0.2.7", 600, None);
    f.add_record(ZONE, "old", "TXT", "bye", 600, None);
    let p = provider(&f);
    let z = p.read_zone(ZONE).await.unwrap();
    let before = f.requests();
    let m365 = set(
        ZONE,
        RecordType::Mx,
        3600,
        &["0 contoso-com.mail.protection.outlook.com."],
    );
    let dkim = RecordSet {
        name: "selector1._domainkey.example.com".into(),
        rtype: RecordType::Txt,
        ttl: 3600,
        values: vec![RData::txt(&format!(
            "v=DKIM1; k=rsa; p={}",
            "A".repeat(400)
        ))],
    };
    let changes = vec![
        DnsChange::Update {
            old: find(&z.records, ZONE, RecordType::Mx).unwrap().clone(),
            new: m365.clone(),
        },
        // A → CNAME at one name, given create-first: the delete must run first.
        DnsChange::Create {
            new: set(
                "alias.example.com",
                RecordType::Cname,
                600,
                &["autodiscover.outlook.com."],
            ),
        },
        DnsChange::Delete {
            old: find(&z.records, "alias.example.com", RecordType::A)
                .unwrap()
                .clone(),
        },
        DnsChange::Create { new: dkim.clone() },
        DnsChange::Delete {
            old: find(&z.records, "old.example.com", RecordType::Txt)
                .unwrap()
                .clone(),
        },
        // Keep .1, change .2 → .3 in place, add .4.
        DnsChange::Update {
            old: find(&z.records, "www.example.com", RecordType::A)
                .unwrap()
                .clone(),
            new: set(
                "www.example.com",
                RecordType::A,
                600,
                &["192.0.2.1", "192.0.2.3", "192.0.2.4"],
            ),
        },
    ];
    let report = p.apply_zone(ZONE, &changes).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    // 1 MX update + 1 CNAME add + 1 A delete + 1 TXT add + 1 TXT delete + 1 update + 1 add.
    assert_eq!(f.requests() - before, 7, "{:?}", f.request_log());
    let recs = f.records(ZONE);
    let mx = recs.iter().find(|r| r.rtype == "MX").unwrap();
    assert_eq!(
        (
            mx.record_id.as_str(),
            mx.value.as_str(),
            mx.priority,
            mx.ttl
        ),
        (
            mx_id.as_str(),
            "contoso-com.mail.protection.outlook.com",
            Some(1),
            3600
        )
    );
    let www: Vec<&ApiRecord> = recs.iter().filter(|r| r.rr == "www").collect();
    assert_eq!(www.len(), 3);
    assert!(www
        .iter()
        .any(|r| r.record_id == a1 && r.value == "192.0.2.1"));
    assert!(
        www.iter()
            .any(|r| r.record_id == a2 && r.value == "192.0.2.3"),
        "changed in place: {www:?}"
    );
    let dk = recs
        .iter()
        .find(|r| r.rr == "selector1._domainkey")
        .unwrap();
    assert!(
        dk.value.starts_with("v=DKIM1") && !dk.value.contains('"'),
        "{dk:?}"
    );
    // Read back by a fresh provider: desired == live, MX 0 included.
    let z = provider(&f).read_zone(ZONE).await.unwrap();
    assert!(find(&z.records, ZONE, RecordType::Mx)
        .unwrap()
        .same_as(&m365));
    assert!(find(
        &z.records,
        "selector1._domainkey.example.com",
        RecordType::Txt
    )
    .unwrap()
    .same_as(&dkim));
    assert!(find(&z.records, "alias.example.com", RecordType::Cname).is_some());
    assert!(find(&z.records, "alias.example.com", RecordType::A).is_none());
    assert!(find(&z.records, "old.example.com", RecordType::Txt).is_none());
    no_violations(&f);
}

fn creates(n: usize) -> Vec<DnsChange> {
    (0..n)
        .map(|i| DnsChange::Create {
            new: set(
                &format!("n{i}.example.com"),
                RecordType::Txt,
                600,
                &[&format!("\"v{i}\"")],
            ),
        })
        .collect()
}

#[tokio::test]
async fn a_failure_mid_apply_is_reported_exactly_and_a_rerun_converges() {
    let f = fake().await;
    let p = provider(&f);
    p.read_zone(ZONE).await.unwrap();
    // The third AddDomainRecord fails with a 500: its fate is unknown to the
    // client, so it must not be sent again.
    f.inject(Fault::on(Some("AddDomainRecord"), FaultKind::Unavailable).skip(2));
    let changes = creates(5);
    let report = p.apply_zone(ZONE, &changes).await;
    let o = &report.outcomes;
    assert_eq!(o.len(), 5);
    assert!(all_applied(&o[..2]), "{o:?}");
    assert!(
        matches!(&o[2], ChangeOutcome::Failed(ProviderError::Service(m)) if m.contains("InternalError")),
        "{o:?}"
    );
    assert!(
        matches!(&o[3], ChangeOutcome::NotAttempted(m) if m.contains("change 3 of 5 failed")),
        "{o:?}"
    );
    assert!(matches!(&o[4], ChangeOutcome::NotAttempted(_)), "{o:?}");
    assert_eq!(
        f.request_log()
            .iter()
            .filter(|a| *a == "AddDomainRecord")
            .count(),
        3,
        "a failed write is not retried"
    );
    assert_eq!(f.records(ZONE).len(), 2);
    // Re-run: read, plan the rest, apply.
    let z = p.read_zone(ZONE).await.unwrap();
    assert_eq!(z.records.len(), 2);
    let report = p.apply_zone(ZONE, &changes[2..]).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    assert_eq!(f.records(ZONE).len(), 5);
    no_violations(&f);
}

#[tokio::test]
async fn a_lagging_listing_hides_a_new_record_until_it_catches_up() {
    let f = fake().await;
    let p = provider(&f);
    p.read_zone(ZONE).await.unwrap();
    f.set_lag(1);
    let report = p.apply_zone(ZONE, &creates(1)).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    let first = p.read_zone(ZONE).await.unwrap();
    assert!(find(&first.records, "n0.example.com", RecordType::Txt).is_none());
    let second = p.read_zone(ZONE).await.unwrap();
    assert!(find(&second.records, "n0.example.com", RecordType::Txt).is_some());
    no_violations(&f);
}

#[tokio::test]
async fn throttling_is_retried_with_a_fresh_signature_and_reads_survive_500s() {
    let f = fake().await;
    let p = provider(&f);
    f.inject(Fault::on(
        Some("DescribeDomainRecords"),
        FaultKind::Unavailable,
    ));
    p.read_zone(ZONE).await.unwrap();
    f.inject(
        Fault::on(
            Some("AddDomainRecord"),
            FaultKind::Throttle { retry_after: None },
        )
        .times(2),
    );
    f.inject(Fault::on(
        Some("DeleteDomainRecord"),
        FaultKind::Vendor(AlidnsFault::ServiceUnavailable),
    ));
    let report = p.apply_zone(ZONE, &creates(1)).await;
    assert!(all_applied(&report.outcomes), "{report:?}");
    // 2 reads (one 500) + 3 adds (two throttled); a resent nonce would have been refused.
    assert_eq!(
        f.request_log(),
        [
            "DescribeDomainRecords",
            "DescribeDomainRecords",
            "AddDomainRecord",
            "AddDomainRecord",
            "AddDomainRecord"
        ]
    );
    assert_eq!(f.records(ZONE).len(), 1);
    // A 503 on a write is not retried: its outcome is unknown.
    let z = p.read_zone(ZONE).await.unwrap();
    let report = p
        .apply_zone(
            ZONE,
            &[DnsChange::Delete {
                old: z.records[0].clone(),
            }],
        )
        .await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Service(m)) if m.contains("ServiceUnavailable")),
        "{report:?}"
    );
    // Throttling that does not stop ends as a clear error.
    f.inject(
        Fault::on(
            Some("DescribeDomainRecords"),
            FaultKind::Throttle { retry_after: None },
        )
        .times(usize::MAX),
    );
    let e = p.read_zone(ZONE).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Service(m) if m.contains("throttling") && m.contains("Throttling.User")),
        "{e}"
    );
    no_violations(&f);
}

#[tokio::test]
async fn stale_plans_and_unstorable_values_write_nothing() {
    let f = fake().await;
    f.add_record(ZONE, "t", "TXT", "live", 600, None);
    let p = provider(&f);
    p.read_zone(ZONE).await.unwrap();
    let before = f.writes();
    let changes = vec![
        DnsChange::Create {
            new: set("a.example.com", RecordType::Txt, 600, &["\"x\""]),
        },
        DnsChange::Delete {
            old: set(
                "t.example.com",
                RecordType::Txt,
                600,
                &["\"not what is live\""],
            ),
        },
    ];
    let report = p.apply_zone(ZONE, &changes).await;
    assert!(
        matches!(&report.outcomes[1], ChangeOutcome::Failed(ProviderError::Conflict(m)) if m.contains("changed since")),
        "{report:?}"
    );
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::NotAttempted(m) if m.contains("nothing was written")),
        "{report:?}"
    );
    let report = p
        .apply_zone(
            ZONE,
            &[DnsChange::Create {
                new: set(
                    "b.example.com",
                    RecordType::Mx,
                    600,
                    &["60 mx.example.com."],
                ),
            }],
        )
        .await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Unsupported(m)) if m.contains("1 to 50")),
        "{report:?}"
    );
    let report = p
        .apply_zone(
            ZONE,
            &[DnsChange::Create {
                new: set("c.example.com", RecordType::A, 300, &["192.0.2.1"]),
            }],
        )
        .await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(ProviderError::Unsupported(m)) if m.contains("TTL 300")),
        "{report:?}"
    );
    assert_eq!(f.writes(), before);
    // The audit says so before any apply, from the configured edition.
    let caps = p.capabilities();
    assert_eq!(caps.min_ttl, 600);
    assert!(!caps
        .audit(&set("c.example.com", RecordType::A, 300, &["192.0.2.1"]))
        .is_empty());
    let enterprise = AlidnsProvider::new(Config {
        min_ttl: Some(1),
        ..Config::default()
    });
    assert!(enterprise
        .capabilities()
        .audit(&set("c.example.com", RecordType::A, 300, &["192.0.2.1"]))
        .is_empty());
    no_violations(&f);
}

#[tokio::test]
async fn wrong_credentials_give_clear_errors_without_the_secret() {
    let f = fake().await;
    let wrong = "wrong-secret-4242";
    let p =
        AlidnsProvider::with_retry(Config::new(f.url(), f.access_key_id(), wrong), fast_retry());
    let e = p.read_zone(ZONE).await.unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, ProviderError::Permission(_))
            && m.contains("SignatureDoesNotMatch")
            && m.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{m}"
    );
    assert!(!m.contains(wrong), "{m}");
    let p = AlidnsProvider::with_retry(
        Config::new(f.url(), "LTAIunknown", f.access_key_secret()),
        fast_retry(),
    );
    let m = p.read_zone(ZONE).await.unwrap_err().to_string();
    assert!(
        m.contains("InvalidAccessKeyId.NotFound") && m.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{m}"
    );
    let p = AlidnsProvider::new(Config {
        endpoint: Some(f.url()),
        access_key_secret: Some("${env:MAILFORM_TEST_ALI_SECRET_UNSET}".into()),
        access_key_id: Some("id".into()),
        ..Config::default()
    });
    let m = p.read_zone(ZONE).await.unwrap_err().to_string();
    assert!(
        m.contains("MAILFORM_TEST_ALI_SECRET_UNSET") && m.contains("is not set"),
        "{m}"
    );
    assert_eq!(
        f.request_log().len(),
        2,
        "no request without usable credentials"
    );
}

/// A request signed by hand, sent as is or with one byte changed after signing.
async fn send_raw(
    f: &FakeAlidns,
    extra: &[(&str, &str)],
    tamper: bool,
) -> (u16, serde_json::Value) {
    let mut p: BTreeMap<String, String> = [
        ("AccessKeyId", f.access_key_id()),
        ("Action", "DescribeDomainRecords"),
        ("DomainName", ZONE),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2026-01-23T12:46:24Z"),
        ("Version", "2015-01-09"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.insert("SignatureNonce".into(), signer::nonce());
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    let mut body = signer::signed_form("POST", &p, f.access_key_secret());
    if tamper {
        body = body.replacen("DomainName=example.com", "DomainName=example.con", 1);
    }
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let req = http
        .request(Method::POST, Url::parse(&f.url()).unwrap())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    let resp = http.send(req, Idempotence::Idempotent).await.unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn the_fake_verifies_every_signature_and_the_metadata() {
    let f = fake().await;
    let (status, body) = send_raw(&f, &[("Lang", "中文 ~*")], false).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send_raw(&f, &[], true).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "SignatureDoesNotMatch"),
        "{body}"
    );
    for key in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(body.get(key).is_some(), "envelope lacks {key}: {body}");
    }
    let (status, body) = send_raw(&f, &[("PageSize", "501")], false).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "InvalidPageSize"),
        "{body}"
    );
    let (_, body) = send_raw(&f, &[("Bogus", "1")], false).await;
    assert_eq!(body["Code"], "InvalidParameter", "{body}");
    assert_eq!(f.violations().len(), 2, "{:?}", f.violations());
}
