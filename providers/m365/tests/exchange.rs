//! The Exchange Online backend (`exchange: {enabled: true}`) and the
//! default licence, against the fake Graph and its fake `InvokeCommand`
//! endpoint (same tenant store).

use std::time::Duration;

use mailform_contract::{
    ApplyReport, ChangeOutcome, Group, InitialPassword, MailChange, MailProvider, Mailbox,
    MailboxState, ProviderError, Secret,
};
use mailform_http::Retry;
use mailform_m365::config::ExchangeSettings;
use mailform_m365::fake::{FakeConfig, FakeGraph, FakeSku};
use mailform_m365::{Config, M365Provider};

const DOMAIN: &str = "example.com";

fn config(fake: &FakeGraph, exchange: bool) -> Config {
    Config {
        tenant: fake.config().tenant_id.clone(),
        client_id: fake.config().client_id.clone(),
        client_secret: Some(fake.config().client_secret.as_str().into()),
        graph_endpoint: Some(fake.url()),
        login_endpoint: Some(fake.url()),
        exchange_endpoint: Some(fake.url()),
        exchange: exchange.then_some(ExchangeSettings {
            enabled: true,
            ..ExchangeSettings::default()
        }),
        usage_location: Some("DE".into()),
        base_dir: std::env::temp_dir(),
        ..Config::default()
    }
}

fn provider(config: Config) -> M365Provider {
    M365Provider::with_retry(
        config,
        Retry {
            max_attempts: 3,
            base: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    )
}

fn mailbox(address: &str, aliases: &[&str]) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: Some("Someone".into()),
        state: MailboxState::Active,
        successor: None,
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        kind: Default::default(),
        delegates: vec![],
    }
}

fn group(address: &str, aliases: &[&str], members: &[&str], allow_external: bool) -> Group {
    Group {
        id: None,
        address: address.into(),
        display_name: Some("Sales".into()),
        members: members.iter().map(|s| s.to_string()).collect(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        allow_external,
        kind: Default::default(),
    }
}

fn create(m: Mailbox) -> MailChange {
    MailChange::CreateMailbox {
        new: m,
        password: Some(InitialPassword::Plain(Secret::new("Initial-Passw0rd!"))),
    }
}

fn applied(report: &ApplyReport) {
    for o in &report.outcomes {
        assert!(matches!(o, ChangeOutcome::Applied), "{o:?}");
    }
}

fn failed(report: &ApplyReport, i: usize) -> &ProviderError {
    match &report.outcomes[i] {
        ChangeOutcome::Failed(e) => e,
        other => panic!("change {i}: {other:?}"),
    }
}

fn no_violations(fake: &FakeGraph) {
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

#[tokio::test]
async fn aliases_are_added_and_removed_through_exchange_and_read_back_equal() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(config(&fake, true));
    assert!(p.capabilities().group_external_senders);
    let alice = mailbox("alice@example.com", &["a@example.com", "ali@example.com"]);
    let sales = group(
        "sales@example.com",
        &["vertrieb@example.com"],
        &["alice@example.com"],
        false,
    );
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                create(alice.clone()),
                MailChange::CreateGroup { new: sales.clone() },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.mailboxes[0].same_as(&alice), "{:?}", live.mailboxes[0]);
    assert!(live.groups[0].same_as(&sales), "{:?}", live.groups[0]);

    // Add one, remove one, on both.
    let mut alice2 = live.mailboxes[0].clone();
    alice2.aliases = vec!["a@example.com".into(), "alice.x@example.com".into()];
    let mut sales2 = live.groups[0].clone();
    sales2.aliases = vec!["ventas@example.com".into()];
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::UpdateMailbox {
                    old: live.mailboxes[0].clone(),
                    new: alice2.clone(),
                },
                MailChange::UpdateGroup {
                    old: live.groups[0].clone(),
                    new: sales2.clone(),
                },
            ],
        )
        .await;
    applied(&report);
    let again = p.read_domain(DOMAIN).await.unwrap();
    assert!(
        again.mailboxes[0].same_as(&alice2),
        "{:?}",
        again.mailboxes[0]
    );
    assert!(again.groups[0].same_as(&sales2), "{:?}", again.groups[0]);
    // Written as proxyAddresses, next to the primary and routing ones.
    fake.with_store(|s| {
        let u = s.users.values().next().unwrap();
        assert!(u
            .proxy_addresses
            .contains(&"SMTP:alice@example.com".to_string()));
        assert!(u
            .proxy_addresses
            .contains(&"smtp:alice.x@example.com".to_string()));
        assert!(!u
            .proxy_addresses
            .iter()
            .any(|a| a.ends_with(":ali@example.com")));
        assert!(u
            .proxy_addresses
            .iter()
            .any(|a| a.ends_with(".onmicrosoft.com")));
    });
    let log = fake.request_log();
    assert_eq!(
        log.iter().filter(|o| o.contains("InvokeCommand")).count(),
        // create: Set-Mailbox, Set-UnifiedGroup; update: the same two;
        // three reads: one Get-UnifiedGroup each (the first had no groups).
        4 + 2
    );
    no_violations(&fake);
}

#[tokio::test]
async fn allow_external_round_trips_through_require_sender_authentication() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let uid = fake.add_user("alice@example.com", "Alice");
    fake.add_group("team", "Team", &[uid]);
    let p = provider(config(&fake, true));
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(
        !live.groups[0].allow_external,
        "new groups are internal only"
    );

    let mut open = live.groups[0].clone();
    open.allow_external = true;
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::UpdateGroup {
                    old: live.groups[0].clone(),
                    new: open.clone(),
                },
                MailChange::CreateGroup {
                    new: group("sales@example.com", &[], &[], true),
                },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(
        live.groups.iter().all(|g| g.allow_external),
        "{:?}",
        live.groups
    );
    fake.with_store(|s| assert!(s.groups.values().all(|g| !g.require_sender_auth)));

    let mut closed = live.groups[1].clone();
    closed.allow_external = false;
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: live.groups[1].clone(),
                new: closed.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.groups[1].same_as(&closed), "{:?}", live.groups[1]);
    assert!(live.groups[0].allow_external);
    no_violations(&fake);
}

#[tokio::test]
async fn with_exchange_off_nothing_changes() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let uid = fake.add_user("alice@example.com", "Alice");
    fake.add_group("team", "Team", &[uid]);
    let p = provider(config(&fake, false));
    assert!(!p.capabilities().group_external_senders);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let mut open = live.groups[0].clone();
    open.allow_external = true;
    let mut aliased = live.groups[0].clone();
    aliased.aliases = vec!["t@example.com".into()];
    let writes = fake.writes();
    for new in [open, aliased] {
        let report = p
            .apply_domain(
                DOMAIN,
                &[MailChange::UpdateGroup {
                    old: live.groups[0].clone(),
                    new,
                }],
            )
            .await;
        let e = failed(&report, 0);
        assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
        assert!(e.to_string().contains("exchange: {enabled: true}"), "{e}");
    }
    let report = p
        .apply_domain(
            DOMAIN,
            &[create(mailbox("bob@example.com", &["b@example.com"]))],
        )
        .await;
    assert!(matches!(failed(&report, 0), ProviderError::Unsupported(_)));
    assert_eq!(fake.writes(), writes);
    assert!(!fake
        .request_log()
        .iter()
        .any(|o| o.contains("InvokeCommand")));
    no_violations(&fake);
}

#[tokio::test]
async fn a_new_user_gets_the_default_licence() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(Config {
        default_licence: Some("enterprisepack".into()),
        ..config(&fake, false)
    });
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                create(mailbox("alice@example.com", &[])),
                create(mailbox("bob@example.com", &[])),
            ],
        )
        .await;
    applied(&report);
    fake.with_store(|s| {
        assert!(s
            .users
            .values()
            .all(|u| u.licenses == ["6fd2c87f-b296-42f0-b197-1e91e994b900"]));
        assert_eq!(s.skus[0].consumed, 2);
    });
    let log = fake.request_log();
    assert_eq!(
        log.iter().filter(|o| *o == "GET /subscribedSkus").count(),
        1
    );
    assert_eq!(
        log.iter()
            .filter(|o| *o == "POST /users/{id}/assignLicense")
            .count(),
        2
    );
    no_violations(&fake);
}

#[tokio::test]
async fn no_free_seat_fails_before_the_user_is_created() {
    let fake = FakeGraph::start(FakeConfig {
        skus: vec![FakeSku {
            sku_id: "6fd2c87f-b296-42f0-b197-1e91e994b900".into(),
            sku_part_number: "ENTERPRISEPACK".into(),
            enabled: 1,
            consumed: 0,
        }],
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(Config {
        default_licence: Some("ENTERPRISEPACK".into()),
        ..config(&fake, false)
    });
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                create(mailbox("alice@example.com", &[])),
                create(mailbox("bob@example.com", &[])),
            ],
        )
        .await;
    assert!(matches!(report.outcomes[0], ChangeOutcome::Applied));
    let e = failed(&report, 1);
    assert!(matches!(e, ProviderError::Rejected(_)), "{e}");
    assert!(
        e.to_string().contains("no free ENTERPRISEPACK licence"),
        "{e}"
    );
    fake.with_store(|s| {
        assert_eq!(s.users.len(), 1, "bob was not created");
        assert_eq!(s.skus[0].consumed, 1);
    });

    // An unknown SKU names the ones there are.
    let p = provider(Config {
        default_licence: Some("SPE_E5".into()),
        ..config(&fake, false)
    });
    let report = p
        .apply_domain(DOMAIN, &[create(mailbox("carol@example.com", &[]))])
        .await;
    let e = failed(&report, 0).to_string();
    assert!(e.contains("SPE_E5") && e.contains("ENTERPRISEPACK"), "{e}");
    fake.with_store(|s| assert_eq!(s.users.len(), 1));
    // And a licence without a usage location is refused before anything.
    let p = provider(Config {
        default_licence: Some("ENTERPRISEPACK".into()),
        usage_location: None,
        ..config(&fake, false)
    });
    let report = p
        .apply_domain(DOMAIN, &[create(mailbox("carol@example.com", &[]))])
        .await;
    assert!(failed(&report, 0).to_string().contains("usage_location"));
    no_violations(&fake);
}

#[tokio::test]
async fn an_exchange_401_names_the_permission_and_the_role() {
    let fake = FakeGraph::start(FakeConfig {
        exchange_admin: false,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let uid = fake.add_user("alice@example.com", "Alice");
    let p = provider(config(&fake, true));
    let live = p.read_domain(DOMAIN).await.unwrap();
    let mut more = live.mailboxes[0].clone();
    more.aliases = vec!["a@example.com".into()];
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: live.mailboxes[0].clone(),
                new: more,
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Permission(_)), "{e}");
    let text = e.to_string();
    assert!(text.contains("Exchange.ManageAsApp"), "{text}");
    assert!(text.contains("Office 365 Exchange Online"), "{text}");
    assert!(text.contains("Exchange Administrator"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(!text.contains(&fake.config().client_secret));
    fake.with_store(|s| assert_eq!(s.users[&uid].proxy_addresses.len(), 2));
    // Reads fail the same way once there is a group to read.
    fake.add_group("team", "Team", &[uid]);
    let e = p.read_domain(DOMAIN).await.unwrap_err().to_string();
    assert!(e.contains("Exchange.ManageAsApp"), "{e}");
    no_violations(&fake);
}

#[tokio::test]
async fn exchange_refusals_are_reported() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("alice@example.com", "Alice");
    let bob = fake.add_user("bob@example.com", "Bob");
    fake.add_proxy_address(&bob, "b@example.com");
    let p = provider(config(&fake, true));
    let live = p.read_domain(DOMAIN).await.unwrap();
    let mut taken = live.mailboxes[0].clone();
    taken.aliases = vec!["b@example.com".into()];
    let mut elsewhere = live.mailboxes[0].clone();
    elsewhere.aliases = vec!["a@not-ours.example".into()];
    for (new, want) in [
        (taken, "already being used"),
        (elsewhere, "accepted domain"),
    ] {
        let report = p
            .apply_domain(
                DOMAIN,
                &[MailChange::UpdateMailbox {
                    old: live.mailboxes[0].clone(),
                    new,
                }],
            )
            .await;
        let e = failed(&report, 0).to_string();
        assert!(e.contains(want), "{e}");
    }
    no_violations(&fake);
}

#[tokio::test]
async fn a_new_recipient_is_waited_for_until_exchange_knows_it() {
    let fake = FakeGraph::start(FakeConfig {
        exchange_provisioning_lag: 2,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(config(&fake, true));
    let alice = mailbox("alice@example.com", &["a@example.com"]);
    let sales = group("sales@example.com", &[], &["alice@example.com"], true);
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                create(alice.clone()),
                MailChange::CreateGroup { new: sales.clone() },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.mailboxes[0].same_as(&alice), "{:?}", live.mailboxes[0]);
    assert!(live.groups[0].same_as(&sales), "{:?}", live.groups[0]);
    // Two 404s, then done, for each.
    let invokes = fake
        .request_log()
        .iter()
        .filter(|o| o.contains("InvokeCommand"))
        .count();
    assert_eq!(invokes, 3 + 3 + 1);

    // Longer than the attempts: the user is made, its aliases are not,
    // and the message says to apply again later.
    let fake = FakeGraph::start(FakeConfig {
        exchange_provisioning_lag: 10,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(config(&fake, true));
    let report = p.apply_domain(DOMAIN, &[create(alice.clone())]).await;
    let e = failed(&report, 0).to_string();
    assert!(
        e.contains("the user was created") && e.contains("apply again"),
        "{e}"
    );
    fake.with_store(|s| assert_eq!(s.users.len(), 1));
    no_violations(&fake);
}
