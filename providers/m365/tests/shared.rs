//! Shared mailboxes (`type: shared`, `access`) and distribution lists
//! (`type: distribution`) through the Exchange Online backend, against the
//! fake: created, read back equal, changed, and refused where they cannot
//! be.

use std::time::Duration;

use mailform_contract::{
    ApplyReport, ChangeOutcome, Group, GroupKind, MailChange, MailDomainState, MailProvider,
    Mailbox, MailboxKind, MailboxState, ProviderError,
};
use mailform_http::Retry;
use mailform_m365::config::ExchangeSettings;
use mailform_m365::fake::{FakeConfig, FakeGraph, Fault, FaultKind};
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

fn shared(address: &str, delegates: &[&str], aliases: &[&str]) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: Some("Info".into()),
        state: MailboxState::Active,
        successor: None,
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        kind: MailboxKind::Shared,
        delegates: delegates.iter().map(|s| s.to_string()).collect(),
    }
}

fn list(address: &str, members: &[&str], aliases: &[&str], allow_external: bool) -> Group {
    Group {
        id: None,
        address: address.into(),
        display_name: Some("Everyone".into()),
        members: members.iter().map(|s| s.to_string()).collect(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        allow_external,
        kind: GroupKind::Distribution,
    }
}

fn mailbox<'a>(live: &'a MailDomainState, address: &str) -> &'a Mailbox {
    live.mailboxes
        .iter()
        .find(|m| m.address == address)
        .unwrap_or_else(|| panic!("{address} not read: {live:#?}"))
}

fn group<'a>(live: &'a MailDomainState, address: &str) -> &'a Group {
    live.groups
        .iter()
        .find(|g| g.address == address)
        .unwrap_or_else(|| panic!("{address} not read: {live:#?}"))
}

/// Alice and Bob, users of the tenant.
fn people(fake: &FakeGraph) {
    fake.add_user("alice@example.com", "Alice");
    fake.add_user("bob@example.com", "Bob");
}

#[tokio::test]
async fn a_shared_mailbox_is_created_with_its_delegates_and_read_back_equal() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    let caps = p.capabilities();
    assert!(caps.shared_mailboxes && caps.distribution_lists && caps.settings_hint.is_none());
    let info = shared(
        "info@example.com",
        &["alice@example.com"],
        &["hello@example.com"],
    );
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: info.clone(),
                password: None,
            }],
        )
        .await;
    applied(&report);
    fake.with_store(|s| {
        let u = s
            .users
            .values()
            .find(|u| u.user_principal_name == "info@example.com")
            .unwrap();
        assert!(u.shared && !u.account_enabled && u.licenses.is_empty());
        assert_eq!(u.full_access.len(), 1);
    });
    let live = p.read_domain(DOMAIN).await.unwrap();
    let read = mailbox(&live, "info@example.com");
    assert!(read.same_as(&info), "{read:?}");
    // `NT AUTHORITY\SELF` and inherited entries are not delegates.
    assert_eq!(read.delegates, ["alice@example.com"]);
    // The people stay user mailboxes.
    assert_eq!(mailbox(&live, "alice@example.com").kind, MailboxKind::User);

    // Bob in, Alice out, the name changed.
    let mut next = read.clone();
    next.delegates = vec!["bob@example.com".into()];
    next.display_name = Some("Information".into());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: read.clone(),
                new: next.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let read = mailbox(&live, "info@example.com");
    assert!(read.same_as(&next), "{read:?}");

    // Deleted through the ordinary path.
    let report = p
        .apply_domain(DOMAIN, &[MailChange::DeleteMailbox { old: read.clone() }])
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(!live
        .mailboxes
        .iter()
        .any(|m| m.address == "info@example.com"));
    no_violations(&fake);
}

#[tokio::test]
async fn a_shared_mailbox_address_taken_or_a_delegate_unknown_is_refused() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: shared("info@example.com", &["carol@elsewhere.org"], &[]),
                password: None,
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(e.contains("users of the tenant"), "{e}");
    assert_eq!(fake.writes(), writes);

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: shared("alice@example.com", &[], &[]),
                password: None,
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("already being used"), "{e}");
    no_violations(&fake);
}

#[tokio::test]
async fn a_distribution_list_is_created_changed_and_deleted() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    let all = list(
        "all@example.com",
        &["alice@example.com", "bob@example.com"],
        &["everyone@example.com"],
        true,
    );
    let report = p
        .apply_domain(DOMAIN, &[MailChange::CreateGroup { new: all.clone() }])
        .await;
    applied(&report);
    fake.with_store(|s| {
        let g = s.groups.values().next().unwrap();
        assert!(g.group_types.is_empty() && g.mail_enabled && !g.security_enabled);
        assert!(!g.require_sender_auth);
    });
    let live = p.read_domain(DOMAIN).await.unwrap();
    let read = group(&live, "all@example.com");
    assert!(read.same_as(&all), "{read:?}");

    // Bob out, internal senders only, renamed, the alias gone.
    let mut next = read.clone();
    next.members = vec!["alice@example.com".into()];
    next.allow_external = false;
    next.aliases = vec![];
    next.display_name = Some("All staff".into());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: read.clone(),
                new: next.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let read = group(&live, "all@example.com");
    assert!(read.same_as(&next), "{read:?}");

    // Bob back: the members are edited one by one.
    let mut again = read.clone();
    again.members.push("bob@example.com".into());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: read.clone(),
                new: again.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(group(&live, "all@example.com").same_as(&again));

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::DeleteGroup {
                old: group(&live, "all@example.com").clone(),
            }],
        )
        .await;
    applied(&report);
    assert!(p.read_domain(DOMAIN).await.unwrap().groups.is_empty());
    let log = fake.request_log();
    assert!(
        !log.iter()
            .any(|o| o.starts_with("POST /groups") || o.starts_with("DELETE /groups")),
        "a distribution list is Exchange's, not Graph's: {log:?}"
    );
    no_violations(&fake);
}

#[tokio::test]
async fn a_distribution_list_with_an_outside_member_is_not_created() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateGroup {
                new: list(
                    "all@example.com",
                    &["alice@example.com", "partner@elsewhere.org"],
                    &[],
                    false,
                ),
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(e.contains("mail contact"), "{e}");
    assert!(p.read_domain(DOMAIN).await.unwrap().groups.is_empty());
    no_violations(&fake);
}

#[tokio::test]
async fn a_change_of_kind_is_refused_and_offboarded_users_stay_users() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    let live = p.read_domain(DOMAIN).await.unwrap();
    let alice = mailbox(&live, "alice@example.com").clone();
    let as_shared = Mailbox {
        kind: MailboxKind::Shared,
        ..alice.clone()
    };
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: alice.clone(),
                new: as_shared,
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    assert_eq!(fake.writes(), writes);

    // Offboarding converts to shared, yet the mailbox reads as an
    // offboarded user, not as a shared mailbox.
    let off = Mailbox {
        state: MailboxState::Offboarded,
        successor: Some("bob@example.com".into()),
        ..alice.clone()
    };
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: alice.clone(),
                new: off.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let read = mailbox(&live, "alice@example.com");
    assert_eq!(read.kind, MailboxKind::User);
    assert_eq!(read.state, MailboxState::Offboarded);
    assert!(read.delegates.is_empty());
    assert!(read.same_as(&off), "{read:?}");
    no_violations(&fake);
}

#[tokio::test]
async fn without_the_exchange_backend_they_are_unsupported_and_say_how() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, false));
    let caps = p.capabilities();
    assert!(!caps.shared_mailboxes && !caps.distribution_lists);
    assert!(caps
        .settings_hint
        .as_deref()
        .is_some_and(|h| h.contains("exchange: {enabled: true}")));
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: shared("info@example.com", &[], &[]),
                    password: None,
                },
                MailChange::CreateGroup {
                    new: list("all@example.com", &["alice@example.com"], &[], false),
                },
            ],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("exchange: {enabled: true}"), "{e}");
    assert!(!fake
        .request_log()
        .iter()
        .any(|o| o.contains("InvokeCommand")));
    no_violations(&fake);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_sent_again() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    people(&fake);
    let p = provider(config(&fake, true));
    fake.inject(Fault::on(
        Some("InvokeCommand New-Mailbox"),
        FaultKind::ServerError,
    ));
    fake.inject(Fault::on(
        Some("InvokeCommand New-DistributionGroup"),
        FaultKind::ServerError,
    ));
    for change in [
        MailChange::CreateMailbox {
            new: shared("info@example.com", &["alice@example.com"], &[]),
            password: None,
        },
        MailChange::CreateGroup {
            new: list("all@example.com", &["alice@example.com"], &[], false),
        },
    ] {
        let report = p.apply_domain(DOMAIN, &[change]).await;
        let e = failed(&report, 0).to_string();
        assert!(e.contains("plan again"), "{e}");
    }
    // One call each: a write answered 5xx may have been made, so it is
    // not sent again.
    let invokes = fake
        .request_log()
        .iter()
        .filter(|o| o.contains("InvokeCommand"))
        .count();
    assert_eq!(invokes, 2);
    no_violations(&fake);
}
