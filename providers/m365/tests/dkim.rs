//! DKIM signing (`exchange: {enabled: true, dkim: true}`) against the fake
//! Graph and Exchange: the selector CNAMEs and setup steps a domain's
//! status names, `complete_setup` creating the config and enabling it only
//! once its CNAMEs are served, onboarding making it at once, and nothing
//! sent when the setting is off.

use mailform_contract::{DomainStage, MailProvider, ProviderError, RecordPurpose, RecordSet};
use mailform_m365::config::ExchangeSettings;
use mailform_m365::dkim::{CREATED, ENABLED, SETUP_CREATE, SETUP_ENABLE};
use mailform_m365::fake::{FakeConfig, FakeGraph};
use mailform_m365::{Config, M365Provider};

const DOMAIN: &str = "example.com";
const NEW: &str = "new.example";

mod support;
use support::no_violations;

fn config(fake: &FakeGraph, exchange: bool, dkim: bool) -> Config {
    let mut c = support::config(fake, exchange);
    c.usage_location = None;
    if let Some(e) = c.exchange.as_mut() {
        e.dkim = dkim;
    }
    c
}

fn provider(config: Config) -> M365Provider {
    support::provider(config).with_verify_delays(vec![])
}

/// Exchange calls sent (every cmdlet is one `InvokeCommand`).
fn exchange_calls(fake: &FakeGraph) -> usize {
    fake.request_log()
        .iter()
        .filter(|o| o.contains("InvokeCommand"))
        .count()
}

/// The two CNAME record sets Exchange names for `domain` in the fake.
fn selector_sets(fake: &FakeGraph, domain: &str) -> Vec<RecordSet> {
    fake.dkim_selectors(domain)
        .iter()
        .map(|(name, target)| {
            RecordSet::parse(name, "CNAME", 3600, &[&format!("{target}.")]).unwrap()
        })
        .collect()
}

fn dkim_records(records: &[mailform_contract::ProviderRecord]) -> Vec<&RecordSet> {
    records
        .iter()
        .filter(|r| r.set.name.contains("._domainkey."))
        .inspect(|r| assert_eq!(r.purpose, RecordPurpose::Service))
        .map(|r| &r.set)
        .collect()
}

fn assert_selectors(fake: &FakeGraph, domain: &str, records: &[mailform_contract::ProviderRecord]) {
    let got = dkim_records(records);
    let want = selector_sets(fake, domain);
    assert_eq!(got.len(), 2, "{records:#?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(g.same_as(w), "{g:?} is not {w:?}");
    }
}

fn publish_selectors(fake: &FakeGraph, domain: &str) {
    for (name, target) in fake.dkim_selectors(domain) {
        fake.publish_cname(&name, &target);
    }
}

#[tokio::test]
async fn an_existing_domain_signs_after_two_applies() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(config(&fake, true, true));
    // The fake's targets are Microsoft's form for a tenant's domains.
    assert_eq!(
        fake.dkim_selectors(DOMAIN)[0],
        (
            "selector1._domainkey.example.com".to_string(),
            "selector1-example-com._domainkey.contoso.onmicrosoft.com".to_string()
        )
    );

    // Plan 1: no config yet, so no CNAMEs (their targets exist only once
    // it is made) and the step that makes it.
    let status = p.domain_status(DOMAIN).await.unwrap();
    assert_eq!(status.stage, DomainStage::Ready);
    assert!(dkim_records(&status.records).is_empty(), "{status:#?}");
    assert_eq!(status.records.len(), 3, "Email's records stay");
    assert_eq!(status.setup, vec![SETUP_CREATE.to_string()]);

    // Apply 1: created, not enabled.
    let done = p.complete_setup(DOMAIN).await.unwrap();
    assert_eq!(done, vec![CREATED.to_string()]);
    assert_eq!(
        fake.with_store(|s| s.dkim.get(DOMAIN).copied()),
        Some(false)
    );

    // Plan 2: the CNAMEs, and the step that enables signing.
    let status = p.domain_status(DOMAIN).await.unwrap();
    assert_selectors(&fake, DOMAIN, &status.records);
    assert_eq!(status.setup, vec![SETUP_ENABLE.to_string()]);

    // Apply 2 before the CNAMEs are served: a clear error, still off.
    let e = p.complete_setup(DOMAIN).await.unwrap_err();
    let m = e.to_string();
    assert!(
        matches!(e, ProviderError::Service(_))
            && m.contains("selector CNAMEs")
            && m.contains("selector1._domainkey.example.com → selector1-example-com._domainkey.contoso.onmicrosoft.com")
            && m.contains("run apply again later"),
        "{m}"
    );
    assert_eq!(
        fake.with_store(|s| s.dkim.get(DOMAIN).copied()),
        Some(false)
    );
    // One CNAME is not enough.
    let [(n1, t1), _] = fake.dkim_selectors(DOMAIN);
    fake.publish_cname(&n1, &t1);
    assert!(p.complete_setup(DOMAIN).await.is_err());

    // Served: enabled.
    publish_selectors(&fake, DOMAIN);
    let done = p.complete_setup(DOMAIN).await.unwrap();
    assert_eq!(done, vec![ENABLED.to_string()]);
    assert_eq!(fake.with_store(|s| s.dkim.get(DOMAIN).copied()), Some(true));

    // Plan 3: the CNAMEs are kept, nothing waits; again is a no-op.
    let status = p.domain_status(DOMAIN).await.unwrap();
    assert_selectors(&fake, DOMAIN, &status.records);
    assert!(status.setup.is_empty(), "{status:#?}");
    let writes = fake.writes();
    assert!(p.complete_setup(DOMAIN).await.unwrap().is_empty());
    assert_eq!(fake.writes(), writes);
    no_violations(&fake);
}

#[tokio::test]
async fn dkim_off_sends_no_dkim_cmdlet() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    for p in [
        provider(config(&fake, false, false)),
        provider(config(&fake, true, false)),
    ] {
        let status = p.domain_status(DOMAIN).await.unwrap();
        assert!(status.setup.is_empty());
        assert!(dkim_records(&status.records).is_empty());
        assert!(p.complete_setup(DOMAIN).await.unwrap().is_empty());
    }
    assert_eq!(exchange_calls(&fake), 0, "{:?}", fake.request_log());
    assert!(fake.with_store(|s| s.dkim.is_empty()));

    // Onboarding with DKIM off names Email's records only.
    let p = provider(config(&fake, true, false));
    p.begin_onboarding(NEW, None).await.unwrap();
    fake.publish_txt(NEW, &FakeGraph::verification_token(NEW));
    let records = p.finish_onboarding(NEW, None).await.unwrap();
    assert_eq!(records.len(), 3);
    assert!(p.complete_setup(NEW).await.unwrap().is_empty());
    assert_eq!(exchange_calls(&fake), 0, "{:?}", fake.request_log());
    no_violations(&fake);
}

#[tokio::test]
async fn dkim_needs_the_exchange_backend() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let mut c = config(&fake, true, true);
    c.exchange = Some(ExchangeSettings {
        enabled: false,
        dkim: true,
    });
    let e = provider(c).domain_status(DOMAIN).await.unwrap_err();
    assert!(e.to_string().contains("exchange.enabled"), "{e}");
    assert_eq!(exchange_calls(&fake), 0);
}

#[tokio::test]
async fn an_onboarded_domain_names_its_cnames_in_the_same_apply() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(config(&fake, true, true));
    // Not in the tenant: Exchange is not asked.
    let status = p.domain_status(NEW).await.unwrap();
    assert_eq!(status.stage, DomainStage::Absent);
    assert!(status.setup.is_empty());
    p.begin_onboarding(NEW, None).await.unwrap();
    assert_eq!(exchange_calls(&fake), 0);

    fake.publish_txt(NEW, &FakeGraph::verification_token(NEW));
    let records = p.finish_onboarding(NEW, None).await.unwrap();
    // Email's three, then the two selector CNAMEs of the config made now.
    assert_eq!(records.len(), 5, "{records:#?}");
    assert_selectors(&fake, NEW, &records);
    assert_eq!(fake.with_store(|s| s.dkim.get(NEW).copied()), Some(false));
    // Finishing again makes no second config.
    assert_eq!(p.finish_onboarding(NEW, None).await.unwrap(), records);

    // The engine publishes them, then completes the setup: signing on.
    publish_selectors(&fake, NEW);
    assert_eq!(
        p.complete_setup(NEW).await.unwrap(),
        vec![ENABLED.to_string()]
    );
    let status = p.domain_status(NEW).await.unwrap();
    assert!(status.setup.is_empty());
    assert_selectors(&fake, NEW, &status.records);
    no_violations(&fake);
}

#[tokio::test]
async fn a_domain_exchange_does_not_know_yet_is_left_for_a_later_apply() {
    let fake = FakeGraph::start(FakeConfig {
        exchange_domain_lag: 2,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(config(&fake, true, true));
    p.begin_onboarding(NEW, None).await.unwrap();
    fake.publish_txt(NEW, &FakeGraph::verification_token(NEW));
    // Onboarding succeeds without DKIM: Exchange does not take the domain
    // yet.
    let records = p.finish_onboarding(NEW, None).await.unwrap();
    assert_eq!(records.len(), 3, "{records:#?}");
    assert!(fake.with_store(|s| s.dkim.is_empty()));
    // The same apply's complete_setup: a clear error to come back later.
    let e = p.complete_setup(NEW).await.unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("not take new.example as an accepted domain yet")
            && m.contains("run apply again in a few minutes"),
        "{m}"
    );
    // Minutes later (the lag is over): the next plan and apply.
    let status = p.domain_status(NEW).await.unwrap();
    assert_eq!(status.setup, vec![SETUP_CREATE.to_string()]);
    assert_eq!(
        p.complete_setup(NEW).await.unwrap(),
        vec![CREATED.to_string()]
    );
    no_violations(&fake);
}

/// A one-zone authoritative server for the test: answers a CNAME question
/// for a name in `cnames` with its target, anything else with no answer.
async fn cname_server(cnames: Vec<(String, String)>) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let encode = |name: &str| {
        let mut out = Vec::new();
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    };
    let table: Vec<(Vec<u8>, Vec<u8>)> =
        cnames.iter().map(|(n, t)| (encode(n), encode(t))).collect();
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
            let mut end = 12;
            while end < n && q[end] != 0 {
                end += q[end] as usize + 1;
            }
            end += 1;
            if end + 4 > n {
                continue;
            }
            let qname = q[12..end].to_ascii_lowercase();
            let qtype = u16::from_be_bytes([q[end], q[end + 1]]);
            let target = table
                .iter()
                .find(|(name, _)| *name == qname)
                .filter(|_| qtype == 5)
                .map(|(_, t)| t.clone());
            let mut r = Vec::with_capacity(512);
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x84, 0x00]); // answer, authoritative
            r.extend_from_slice(&[0, 1]);
            r.extend_from_slice(&[0, u8::from(target.is_some())]);
            r.extend_from_slice(&[0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end + 4]);
            if let Some(t) = target {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 14, 16]);
                r.extend_from_slice(&(t.len() as u16).to_be_bytes());
                r.extend_from_slice(&t);
            }
            let _ = socket.send_to(&r, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn enabling_asks_the_configured_dns_server_for_both_cnames() {
    let probe = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let selectors = probe.dkim_selectors(DOMAIN);
    drop(probe);
    // Only selector1 served: refused.
    let one = cname_server(vec![selectors[0].clone()]).await;
    let fake = FakeGraph::start(FakeConfig {
        dns_server: Some(one),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(config(&fake, true, true));
    assert_eq!(
        p.complete_setup(DOMAIN).await.unwrap(),
        vec![CREATED.to_string()]
    );
    // Published in memory, which a fake asking DNS does not consult.
    publish_selectors(&fake, DOMAIN);
    let e = p.complete_setup(DOMAIN).await.unwrap_err();
    assert!(e.to_string().contains("selector CNAMEs"), "{e}");
    no_violations(&fake);

    let both = cname_server(selectors.to_vec()).await;
    let fake = FakeGraph::start(FakeConfig {
        dns_server: Some(both),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(config(&fake, true, true));
    assert_eq!(
        p.complete_setup(DOMAIN).await.unwrap(),
        vec![CREATED.to_string()]
    );
    assert_eq!(
        p.complete_setup(DOMAIN).await.unwrap(),
        vec![ENABLED.to_string()]
    );
    assert_eq!(fake.with_store(|s| s.dkim.get(DOMAIN).copied()), Some(true));
    no_violations(&fake);
}
