//! Domain onboarding against the fake Graph: a domain's stage and the
//! records Microsoft asks for, adding a domain once, verifying it only
//! once its token is served, setting it up for Email, and what the
//! Graph description forbids being refused.

use std::time::Duration;

use mailform_contract::{
    DomainStage, MailProvider, ProviderError, ProviderRecord, RecordPurpose, RecordSet,
};
use mailform_http::{ClientConfig, HttpClient, Method, Retry};
use mailform_m365::fake::{FakeConfig, FakeGraph, Fault, FaultKind};
use mailform_m365::{Config, M365Provider};
use serde_json::json;

mod support;
use support::{call, count, no_violations, token};

const NEW: &str = "new.example";

fn config(fake: &FakeGraph) -> Config {
    Config {
        tenant: fake.config().tenant_id.clone(),
        client_id: fake.config().client_id.clone(),
        client_secret: Some(fake.config().client_secret.as_str().into()),
        graph_endpoint: Some(fake.url()),
        login_endpoint: Some(fake.url()),
        base_dir: std::env::temp_dir(),
        ..Config::default()
    }
}

fn provider(fake: &FakeGraph) -> M365Provider {
    M365Provider::with_retry(
        config(fake),
        Retry {
            max_attempts: 3,
            base: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    )
    .with_verify_delays(vec![Duration::from_millis(5), Duration::from_millis(5)])
}

fn set(name: &str, rtype: &str, values: &[&str]) -> RecordSet {
    RecordSet::parse(name, rtype, 3600, values).unwrap()
}

/// The records Microsoft names for mail at `domain` (the fake's values,
/// Microsoft's real ones).
fn email_records(domain: &str) -> Vec<(RecordPurpose, RecordSet)> {
    let dashed = domain.replace('.', "-");
    vec![
        (
            RecordPurpose::Mx,
            set(
                domain,
                "MX",
                &[&format!("0 {dashed}.mail.protection.outlook.com.")],
            ),
        ),
        (
            RecordPurpose::Spf,
            set(
                domain,
                "TXT",
                &["\"v=spf1 include:spf.protection.outlook.com -all\""],
            ),
        ),
        (
            RecordPurpose::Service,
            set(
                &format!("autodiscover.{domain}"),
                "CNAME",
                &["autodiscover.outlook.com."],
            ),
        ),
    ]
}

fn assert_records(got: &[ProviderRecord], want: &[(RecordPurpose, RecordSet)]) {
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, (p, s)) in got.iter().zip(want) {
        assert_eq!(g.purpose, *p, "{g:?}");
        assert!(g.set.same_as(s), "{:?} is not {s:?}", g.set);
    }
}

fn verification(domain: &str) -> Vec<(RecordPurpose, RecordSet)> {
    let token = FakeGraph::verification_token(domain);
    vec![(
        RecordPurpose::Verification,
        set(domain, "TXT", &[&format!("\"{token}\"")]),
    )]
}

#[tokio::test]
async fn a_domains_stage_and_the_records_microsoft_asks_for() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.with_store(|s| s.insert_domain(&json!({"id": NEW})))
        .unwrap();
    let p = provider(&fake);

    let ready = p.domain_status("example.com").await.unwrap();
    assert_eq!(ready.stage, DomainStage::Ready);
    // Email's records only: the fake's domain is also set up for Skype for
    // Business, whose SRV and CNAME are not mail's.
    assert_records(&ready.records, &email_records("example.com"));
    assert_eq!(ready.keep_txt_prefixes, vec!["MS=ms".to_string()]);

    let unverified = p.domain_status(NEW).await.unwrap();
    assert_eq!(unverified.stage, DomainStage::Unverified);
    // The TXT only, not the MX variant Graph also lists.
    assert_records(&unverified.records, &verification(NEW));
    assert!(FakeGraph::verification_token(NEW).starts_with("MS=ms"));
    assert_eq!(FakeGraph::verification_token(NEW).len(), 13);
    assert_eq!(unverified.keep_txt_prefixes, vec!["MS=ms".to_string()]);

    let absent = p.domain_status("Absent.Example").await.unwrap();
    assert_eq!(absent.stage, DomainStage::Absent);
    assert!(absent.records.is_empty());
    assert_eq!(absent.keep_txt_prefixes, vec!["MS=ms".to_string()]);

    // A plan of the ready domain: its status and its read share one
    // listing of the tenant's domains.
    p.read_domain("example.com").await.unwrap();
    assert_eq!(count(&fake, "GET /domains"), 1, "{:?}", fake.request_log());
    assert_eq!(count(&fake, "GET /domains/{id}"), 0);
    // The read's own check is a safety net for an engine that asks anyway.
    let e = p.read_domain(NEW).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected(ref m) if m.contains("not a verified domain")),
        "{e}"
    );
    no_violations(&fake);
}

#[tokio::test]
async fn onboarding_adds_once_verifies_once_the_token_is_served_and_sets_up_email() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );

    let first = p.begin_onboarding(NEW, None).await.unwrap();
    assert_records(&first, &verification(NEW));
    assert_eq!(count(&fake, "POST /domains"), 1);
    // Again (an apply run twice): not added twice, the same record.
    let again = p.begin_onboarding(NEW, None).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(count(&fake, "POST /domains"), 1);
    let status = p.domain_status(NEW).await.unwrap();
    assert_eq!(status.stage, DomainStage::Unverified);
    assert_eq!(status.records, first);

    // Not published yet: asked three times (two waits), then a clear
    // error; the domain stays unverified.
    let e = p.finish_onboarding(NEW, None).await.unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("could not verify new.example yet")
            && m.contains("TXT")
            && m.contains("run apply again later"),
        "{m}"
    );
    assert_eq!(count(&fake, "POST /domains/{id}/verify"), 3);
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Unverified
    );

    fake.publish_txt(NEW, "v=spf1 -all");
    fake.publish_txt(NEW, &FakeGraph::verification_token(NEW));
    let records = p.finish_onboarding(NEW, None).await.unwrap();
    assert_records(&records, &email_records(NEW));
    assert_eq!(count(&fake, "POST /domains/{id}/verify"), 4);
    assert_eq!(count(&fake, "PATCH /domains/{id}"), 1);
    let services = fake.with_store(|s| s.supported_services[NEW].clone());
    assert_eq!(services, vec!["Email".to_string()]);

    let status = p.domain_status(NEW).await.unwrap();
    assert_eq!(status.stage, DomainStage::Ready);
    assert_eq!(status.records, records);
    // Finishing again changes nothing and names the same records.
    assert_eq!(p.finish_onboarding(NEW, None).await.unwrap(), records);
    assert_eq!(count(&fake, "POST /domains/{id}/verify"), 4);
    assert_eq!(count(&fake, "PATCH /domains/{id}"), 1);
    // Mailboxes can be read (and so planned) there now.
    p.read_domain(NEW).await.unwrap();
    no_violations(&fake);
}

#[tokio::test]
async fn onboarding_without_domain_read_write_names_the_permission() {
    let fake = FakeGraph::start(FakeConfig {
        roles: mailform_m365::auth::permissions::ALL
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    // Reading needs only Domain.Read.All.
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );
    let e = p.begin_onboarding(NEW, None).await.unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, ProviderError::Permission(_))
            && m.contains("Domain.ReadWrite.All")
            && m.contains("API permissions")
            && m.contains("only onboarding needs it"),
        "{m}"
    );
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );
    no_violations(&fake);
}

#[tokio::test]
async fn a_dns_server_that_does_not_answer_serves_no_token() {
    // A port nothing listens on: verification must fail, not hang.
    let unused = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let fake = FakeGraph::start(FakeConfig {
        dns_server: Some(addr),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake).with_verify_delays(vec![]);
    p.begin_onboarding(NEW, None).await.unwrap();
    // Published in memory, which a fake asking DNS does not consult.
    fake.publish_txt(NEW, &FakeGraph::verification_token(NEW));
    let e = p.finish_onboarding(NEW, None).await.unwrap_err();
    assert!(e.to_string().contains("could not verify"), "{e}");
    no_violations(&fake);
}

#[tokio::test]
async fn the_fake_refuses_domain_requests_graph_does_not_take() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let t = token(&fake, &http).await;

    // The verify action takes no body.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/domains/example.com/verify",
        Some(json!({"force": true})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fake.violations().len(), 1, "{:?}", fake.violations());
    // A property a domain does not have.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        "/domains/example.com?$select=id,mxRecords",
        None,
    )
    .await;
    assert_eq!(status, 400);
    // `id` of the wrong type, and no `id` at all.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/domains",
        Some(json!({"id": 42})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/domains",
        Some(json!({"isDefault": true})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fake.violations().len(), 4, "{:?}", fake.violations());

    // Graph's own refusals (not violations): a domain that exists, one
    // that does not, services of an unverified domain.
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/domains",
        Some(json!({"id": "example.com"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{body}"
    );
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        "/domains/nowhere.example",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/domains",
        Some(json!({"id": NEW})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["isVerified"], false);
    assert_eq!(body["supportedServices"], json!([]));
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::PATCH,
        &format!("/domains/{NEW}"),
        Some(json!({"supportedServices": ["Email"]})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        &format!("/domains/{NEW}/verificationDnsRecords"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let types: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recordType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Txt", "Mx"]);
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        &format!("/domains/{NEW}/verify"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be found"),
        "{body}"
    );
    assert_eq!(fake.violations().len(), 4, "{:?}", fake.violations());
}

/// The `microsoft-365` preset's default variant names what the fake (and
/// Microsoft, for domains added before mx.microsoft) gives.
#[test]
fn the_preset_names_the_records_the_fake_gives() {
    let preset = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../presets/microsoft-365.yaml"
    ))
    .unwrap();
    for expected in [
        "\"0 {domain_dashed}.mail.protection.outlook.com.\"",
        "spf_include: spf.protection.outlook.com",
        "CNAME: autodiscover.outlook.com.",
    ] {
        assert!(preset.contains(expected), "{expected}");
    }
}

/// A one-zone authoritative server for the test: answers every TXT
/// question with `values` (and records whether recursion was asked for).
async fn txt_server(
    values: Vec<String>,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<bool>,
) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            let _ = tx.send(q[2] & 0x01 != 0);
            // The question: labels up to the root, then type and class.
            let mut end = 12;
            while end < n && q[end] != 0 {
                end += q[end] as usize + 1;
            }
            end += 5;
            if end > n {
                continue;
            }
            let mut r = Vec::with_capacity(512);
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x84, 0x00]); // answer, authoritative
            r.extend_from_slice(&[0, 1]);
            r.extend_from_slice(&(values.len() as u16).to_be_bytes());
            r.extend_from_slice(&[0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            for v in &values {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 1, 44]);
                r.extend_from_slice(&((v.len() + 1) as u16).to_be_bytes());
                r.push(v.len() as u8);
                r.extend_from_slice(v.as_bytes());
            }
            let _ = socket.send_to(&r, from).await;
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn verify_asks_the_configured_dns_server_without_recursion() {
    let token = FakeGraph::verification_token(NEW);
    let (addr, mut asked) = txt_server(vec!["v=spf1 -all".into(), token]).await;
    let fake = FakeGraph::start(FakeConfig {
        dns_server: Some(addr),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    p.begin_onboarding(NEW, None).await.unwrap();
    let records = p.finish_onboarding(NEW, None).await.unwrap();
    assert_records(&records, &email_records(NEW));
    let recursion = asked.recv().await.unwrap();
    assert!(!recursion, "the fake asked for recursion");
    no_violations(&fake);
}

#[tokio::test]
async fn a_lost_answer_to_adding_the_domain_is_not_repeated_blindly() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.inject(Fault::on(
        Some("POST /domains"),
        FaultKind::ProcessedThenServerError,
    ));
    let p = provider(&fake);
    let e = p.begin_onboarding(NEW, None).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unknown(_)), "{e}");
    assert_eq!(count(&fake, "POST /domains"), 1);
    // The next apply finds the domain added and only reads its record.
    let records = p.begin_onboarding(NEW, None).await.unwrap();
    assert_records(&records, &verification(NEW));
    assert_eq!(count(&fake, "POST /domains"), 1);
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Unverified
    );
    no_violations(&fake);
}

#[tokio::test]
async fn a_domain_of_another_tenant_is_not_taken_for_added() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.with_store(|s| s.other_tenants_domains.push(NEW.into()));
    let p = provider(&fake);
    let e = p.begin_onboarding(NEW, None).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Conflict(ref m) if m.contains("another Microsoft 365 or Entra tenant")),
        "{e}"
    );
    no_violations(&fake);
}

#[tokio::test]
async fn a_domain_alias_is_unsupported_and_adds_nothing() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    assert!(!p.capabilities().domain_aliases);
    for e in [
        p.begin_onboarding(NEW, Some("contoso.example"))
            .await
            .unwrap_err(),
        p.finish_onboarding(NEW, Some("contoso.example"))
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(e, ProviderError::Unsupported(_)), "{e:?}");
        assert!(e.to_string().contains("no domain aliases"), "{e}");
    }
    assert_eq!(count(&fake, "POST /domains"), 0);
    assert_eq!(p.domain_status(NEW).await.unwrap().alias_of, None);
    no_violations(&fake);
}
