//! Onboarding a domain against the fake: where a domain stands and the
//! record it asks for, the token → publish → verify → add order, a
//! verification Google cannot make yet, re-runs that converge, and the
//! fake's checks (discovery document, DNS lookup).

use std::net::SocketAddr;

use mailform_contract::{
    DomainStage, MailProvider, ProviderError, ProviderRecord, RData, RecordPurpose, RecordType,
};
use mailform_google::auth::scopes;
use mailform_google::fake::{FakeConfig, FakeGoogle};

mod support;

use support::{provider, ADMIN};

const NEW: &str = "new.example";

fn token_record(domain: &str) -> ProviderRecord {
    ProviderRecord {
        purpose: RecordPurpose::Verification,
        set: mailform_contract::RecordSet {
            name: domain.into(),
            rtype: RecordType::Txt,
            ttl: 3600,
            values: vec![RData::txt(&FakeGoogle::verification_token(domain, ADMIN))],
        },
    }
}

fn calls(fake: &FakeGoogle, id: &str) -> usize {
    fake.request_log().iter().filter(|m| *m == id).count()
}

fn clean(fake: &FakeGoogle) {
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_domain_reads_absent_unverified_or_ready_with_its_token() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.with_store(|s| s.unverified_domains.push("half.example".into()));
    let p = provider(&fake);

    let absent = p.domain_status(NEW).await.unwrap();
    assert_eq!(absent.stage, DomainStage::Absent);
    assert_eq!(absent.records, [token_record(NEW)]);
    assert_eq!(absent.keep_txt_prefixes, ["google-site-verification="]);
    let token = absent.records[0].set.values[0].canonical();
    assert!(token.starts_with("google-site-verification="), "{token}");

    let half = p.domain_status("half.example").await.unwrap();
    assert_eq!(half.stage, DomainStage::Unverified);
    assert_eq!(half.records, [token_record("half.example")]);
    assert_eq!(half.keep_txt_prefixes, ["google-site-verification="]);

    let ready = p.domain_status("example.com").await.unwrap();
    assert!(ready.is_ready());
    assert!(ready.records.is_empty());
    assert_eq!(ready.keep_txt_prefixes, ["google-site-verification="]);
    // Asking for the token wrote nothing.
    assert_eq!(fake.writes(), 0);
    clean(&fake);
}

#[tokio::test]
async fn a_ready_domain_needs_only_the_read_scopes_and_one_domain_check() {
    let fake = FakeGoogle::start(FakeConfig {
        delegated_scopes: scopes::READ.iter().map(|s| s.to_string()).collect(),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    assert!(p.domain_status("example.com").await.unwrap().is_ready());
    p.read_domain("example.com").await.unwrap();
    assert_eq!(calls(&fake, "directory.domains.get"), 1);
    assert_eq!(calls(&fake, "siteVerification.webResource.getToken"), 0);
    // One token for the check and the read.
    assert_eq!(fake.token_requests(), 1);

    // A domain not ready needs the Site Verification scope: the error
    // says which to delegate.
    let e = p.domain_status(NEW).await.unwrap_err();
    assert!(matches!(e, ProviderError::Permission(_)), "{e:?}");
    assert!(e.to_string().contains(scopes::SITE_VERIFICATION), "{e}");
    clean(&fake);
}

#[tokio::test]
async fn a_domain_alias_reads_as_an_alias_of_its_parent() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.with_store(|s| {
        s.domain_aliases
            .insert("alias.example".into(), "example.com".into());
        s.domain_aliases
            .insert("half-alias.example".into(), "example.com".into());
        s.unverified_aliases.push("half-alias.example".into());
    });
    let p = provider(&fake);
    let ready = p.domain_status("alias.example").await.unwrap();
    assert!(ready.is_ready(), "{ready:?}");
    assert_eq!(ready.alias_of.as_deref(), Some("example.com"));
    assert!(ready.records.is_empty());
    assert_eq!(ready.keep_txt_prefixes, ["google-site-verification="]);

    let half = p.domain_status("half-alias.example").await.unwrap();
    assert_eq!(half.stage, DomainStage::Unverified);
    assert_eq!(half.alias_of.as_deref(), Some("example.com"));
    assert_eq!(half.records, [token_record("half-alias.example")]);

    // A plain absent domain costs the alias lookup too, and nothing else.
    let absent = p.domain_status(NEW).await.unwrap();
    assert_eq!(absent.stage, DomainStage::Absent);
    assert_eq!(absent.alias_of, None);
    assert_eq!(calls(&fake, "directory.domainAliases.get"), 3);
    // A domain of its own is no alias.
    assert_eq!(p.domain_status("example.com").await.unwrap().alias_of, None);

    // An alias has no objects: reading one says what it is.
    let e = p.read_domain("alias.example").await.unwrap_err();
    assert!(matches!(e, ProviderError::Rejected(_)), "{e:?}");
    assert!(e.to_string().contains("alias_of: example.com"), "{e}");
    assert_eq!(fake.writes(), 0);
    clean(&fake);
}

#[tokio::test]
async fn onboarding_as_an_alias_adds_a_domain_alias_not_a_domain() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.add_user("alice@example.com", "Alice", "Example");
    let seeded = fake.writes();
    let p = provider(&fake);
    let records = p.begin_onboarding(NEW, Some("example.com")).await.unwrap();
    assert_eq!(records, [token_record(NEW)]);
    assert_eq!(fake.writes(), seeded);

    fake.publish_txt(NEW, &records[0].set.values[0].canonical());
    assert_eq!(
        p.finish_onboarding(NEW, Some("example.com")).await.unwrap(),
        []
    );
    assert_eq!(calls(&fake, "directory.domains.insert"), 0);
    assert_eq!(calls(&fake, "directory.domainAliases.insert"), 1);
    fake.with_store(|s| {
        assert!(!s.domains.iter().any(|d| d == NEW));
        assert_eq!(
            s.domain_aliases.get(NEW).map(String::as_str),
            Some("example.com")
        );
        // Every user of the parent has the address at the alias.
        assert!(s.owner("alice@new.example").is_some());
    });
    let status = p.domain_status(NEW).await.unwrap();
    assert!(status.is_ready(), "{status:?}");
    assert_eq!(status.alias_of.as_deref(), Some("example.com"));
    let order: Vec<String> = fake
        .request_log()
        .into_iter()
        .filter(|m| m.ends_with(".insert"))
        .collect();
    assert_eq!(
        order,
        [
            "siteVerification.webResource.insert",
            "directory.domainAliases.insert"
        ]
    );

    // A re-run (the insert's answer lost, say) gets 409: done.
    p.finish_onboarding(NEW, Some("example.com")).await.unwrap();
    assert_eq!(calls(&fake, "directory.domainAliases.insert"), 2);
    assert!(p.domain_status(NEW).await.unwrap().is_ready());
    clean(&fake);
}

#[tokio::test]
async fn an_alias_of_a_domain_the_tenant_lacks_is_refused_with_the_fix() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let records = p
        .begin_onboarding(NEW, Some("other.example"))
        .await
        .unwrap();
    fake.publish_txt(NEW, &records[0].set.values[0].canonical());
    let e = p
        .finish_onboarding(NEW, Some("other.example"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Rejected(_)), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("verified domain of the tenant"), "{m}");
    assert!(m.contains("Manage domains"), "{m}");
    assert!(fake.with_store(|s| s.domain_aliases.is_empty()));
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );
    clean(&fake);
}

#[tokio::test]
async fn a_read_without_a_status_still_checks_the_domain() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.with_store(|s| s.unverified_domains.push("half.example".into()));
    let p = provider(&fake);
    let e = p.read_domain("half.example").await.unwrap_err().to_string();
    assert!(e.contains("not verified yet"), "{e}");
    // Not ready, so not remembered as ready.
    p.domain_status("half.example").await.unwrap();
    assert!(p.read_domain("half.example").await.is_err());
    clean(&fake);
}

#[tokio::test]
async fn begin_publish_finish_makes_the_domain_ready() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let records = p.begin_onboarding(NEW, None).await.unwrap();
    assert_eq!(records, [token_record(NEW)]);
    // Google adds a domain only after its verification.
    assert_eq!(p.begin_onboarding(NEW, None).await.unwrap(), records);
    assert_eq!(fake.writes(), 0);
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );

    fake.publish_txt(NEW, "v=spf1 include:_spf.google.com ~all");
    fake.publish_txt(NEW, &records[0].set.values[0].canonical());
    assert_eq!(p.finish_onboarding(NEW, None).await.unwrap(), []);
    assert!(fake.with_store(|s| s.domains.iter().any(|d| d == NEW)));
    let status = p.domain_status(NEW).await.unwrap();
    assert!(status.is_ready(), "{status:?}");
    assert!(status.records.is_empty());
    assert!(p.read_domain(NEW).await.unwrap().mailboxes.is_empty());
    let log = fake.request_log();
    let order: Vec<&String> = log
        .iter()
        .filter(|m| {
            m.as_str() == "siteVerification.webResource.insert"
                || m.as_str() == "directory.domains.insert"
        })
        .collect();
    assert_eq!(
        order,
        [
            "siteVerification.webResource.insert",
            "directory.domains.insert"
        ]
    );
    clean(&fake);
}

#[tokio::test]
async fn finishing_before_google_sees_the_token_says_so_and_adds_nothing() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    p.begin_onboarding(NEW, None).await.unwrap();
    // Another admin's token is not this one.
    fake.publish_txt(
        NEW,
        &FakeGoogle::verification_token(NEW, "other@example.com"),
    );
    let e = p.finish_onboarding(NEW, None).await.unwrap_err();
    assert!(matches!(e, ProviderError::Rejected(_)), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("not visible to Google yet"), "{m}");
    assert!(m.contains("apply") && m.contains("later"), "{m}");
    assert_eq!(calls(&fake, "siteVerification.webResource.insert"), 3);
    assert_eq!(calls(&fake, "directory.domains.insert"), 0);
    assert_eq!(fake.writes(), 0);
    assert_eq!(
        p.domain_status(NEW).await.unwrap().stage,
        DomainStage::Absent
    );
    clean(&fake);
}

#[tokio::test]
async fn finishing_again_or_for_a_domain_already_added_converges() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let records = p.begin_onboarding(NEW, None).await.unwrap();
    fake.publish_txt(NEW, &records[0].set.values[0].canonical());
    p.finish_onboarding(NEW, None).await.unwrap();
    // A re-run after the insert (its answer lost, say) gets 409: done.
    p.finish_onboarding(NEW, None).await.unwrap();
    assert_eq!(calls(&fake, "directory.domains.insert"), 2);
    assert!(p.domain_status(NEW).await.unwrap().is_ready());

    // Added in the Admin console but never verified.
    fake.with_store(|s| s.unverified_domains.push("half.example".into()));
    let status = p.domain_status("half.example").await.unwrap();
    assert_eq!(status.stage, DomainStage::Unverified);
    fake.publish_txt("half.example", &status.records[0].set.values[0].canonical());
    p.finish_onboarding("half.example", None).await.unwrap();
    assert!(p.domain_status("half.example").await.unwrap().is_ready());
    clean(&fake);
}

#[tokio::test]
async fn the_fake_checks_site_verification_against_the_discovery_document() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let (http, token) = support::token(&fake, None, &[scopes::SITE_VERIFICATION]).await;
    let post = |body: serde_json::Value| {
        http.request(
            mailform_http::Method::POST,
            format!(
                "{}/siteVerification/v1/webResource?verificationMethod=DNS_TXT",
                fake.url()
            )
            .parse()
            .unwrap(),
        )
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
    };
    // The method belongs in the query, not the resource.
    let r = post(serde_json::json!({
        "site": {"type": "INET_DOMAIN", "identifier": NEW},
        "verificationMethod": "DNS_TXT",
    }))
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v = fake.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("unknown field `verificationMethod`"), "{v:?}");

    // A valid body is checked for the token next.
    let r = post(serde_json::json!({"site": {"type": "INET_DOMAIN", "identifier": NEW}}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("The necessary verification token could not be found on your site."),
        "{text}"
    );
    assert_eq!(fake.violations().len(), 1);

    // Adding a domain needs the domain scope, not the read-only one.
    let (http, token) = support::token(&fake, None, &[scopes::DOMAIN_READONLY]).await;
    let r = http
        .request(
            mailform_http::Method::POST,
            format!(
                "{}/admin/directory/v1/customer/my_customer/domains",
                fake.url()
            )
            .parse()
            .unwrap(),
        )
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(serde_json::json!({"domainName": NEW}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

/// A one-zone authoritative DNS server over TCP serving `txt` at `name`.
async fn dns_server(name: &'static str, txt: String) -> SocketAddr {
    use hickory_proto::op::{Message, OpCode};
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{Name, RData as HRData, Record};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut len = [0u8; 2];
            conn.read_exact(&mut len).await.unwrap();
            let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
            conn.read_exact(&mut raw).await.unwrap();
            let q = Message::from_vec(&raw).unwrap();
            assert!(!q.metadata.recursion_desired);
            let mut a = Message::response(q.metadata.id, OpCode::Query);
            a.metadata.authoritative = true;
            a.add_queries(q.queries.clone());
            let owner = Name::from_ascii(format!("{name}.")).unwrap();
            if q.queries[0].name() == &owner {
                a.add_answer(Record::from_rdata(
                    owner,
                    300,
                    HRData::TXT(TXT::new(vec![txt.clone()])),
                ));
            }
            let bytes = a.to_vec().unwrap();
            let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            conn.write_all(&framed).await.unwrap();
        }
    });
    addr
}

#[tokio::test]
async fn the_fake_can_look_for_the_token_on_a_dns_server() {
    let server = dns_server(NEW, FakeGoogle::verification_token(NEW, ADMIN)).await;
    let fake = FakeGoogle::start(FakeConfig {
        dns_server: Some(server),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    p.begin_onboarding(NEW, None).await.unwrap();
    p.finish_onboarding(NEW, None).await.unwrap();
    assert!(p.domain_status(NEW).await.unwrap().is_ready());
    // The server has nothing for this one.
    let e = p
        .finish_onboarding("other.example", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not visible to Google yet"), "{e}");
    clean(&fake);
}
