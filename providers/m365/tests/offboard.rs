//! Offboarding (`state: offboarded`, `successor`) through Graph and the
//! Exchange Online backend, against the fake.

use std::time::Duration;

use mailform_contract::{
    ApplyReport, ChangeOutcome, MailChange, MailProvider, Mailbox, MailboxState, ProviderError,
};
use mailform_http::Retry;
use mailform_m365::config::ExchangeSettings;
use mailform_m365::fake::{FakeConfig, FakeGraph, Fault, FaultKind};
use mailform_m365::{Config, M365Provider};

const DOMAIN: &str = "example.com";
const SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

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

fn failed(report: &ApplyReport) -> &ProviderError {
    match &report.outcomes[0] {
        ChangeOutcome::Failed(e) => e,
        other => panic!("{other:?}"),
    }
}

/// Alice (licensed) and Bob, her successor.
fn tenant(fake: &FakeGraph) -> String {
    let alice = fake.add_user("alice@example.com", "Alice");
    fake.add_user("bob@example.com", "Bob");
    fake.with_store(|s| {
        let u = s.users.get_mut(&alice).unwrap();
        u.usage_location = Some("DE".into());
        u.licenses.push(SKU.into());
        s.skus[0].consumed += 1;
    });
    alice
}

async fn alice(p: &M365Provider) -> Mailbox {
    let live = p.read_domain(DOMAIN).await.unwrap();
    live.mailboxes
        .into_iter()
        .find(|m| m.address == "alice@example.com")
        .unwrap()
}

fn offboarded(old: &Mailbox, successor: Option<&str>) -> Mailbox {
    Mailbox {
        state: MailboxState::Offboarded,
        successor: successor.map(str::to_string),
        ..old.clone()
    }
}

#[tokio::test]
async fn offboarding_and_reinstating_read_back_equal() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let id = tenant(&fake);
    let p = provider(Config {
        default_licence: Some("ENTERPRISEPACK".into()),
        ..config(&fake, true)
    });
    let old = alice(&p).await;
    assert_eq!(old.state, MailboxState::Active);
    let new = offboarded(&old, Some("Bob@Example.com"));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: old.clone(),
                new: new.clone(),
            }],
        )
        .await;
    applied(&report);
    let read = alice(&p).await;
    assert_eq!(read.state, MailboxState::Offboarded);
    assert_eq!(read.successor.as_deref(), Some("bob@example.com"));
    assert_eq!(
        read,
        Mailbox {
            successor: Some("bob@example.com".into()),
            ..new.clone()
        }
    );
    let bob = fake.with_store(|s| {
        let bob = s
            .users
            .values()
            .find(|u| u.user_principal_name == "bob@example.com")
            .unwrap()
            .id
            .clone();
        let u = &s.users[&id];
        assert!(u.shared && !u.account_enabled);
        assert_eq!(u.forwarding.as_deref(), Some("smtp:bob@example.com"));
        assert!(u.deliver_and_forward);
        assert_eq!(u.sessions_revoked, 1);
        assert!(u.licenses.is_empty());
        assert_eq!(s.skus[0].consumed, 0);
        assert_eq!(u.full_access, vec![bob.clone()]);
        bob
    });
    assert!(!bob.is_empty());
    // Nothing left to do: applying the same again changes nothing.
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: read.clone(),
                new: read.clone(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(fake.writes(), writes);

    // Reinstating.
    let active = Mailbox {
        state: MailboxState::Active,
        successor: None,
        ..read.clone()
    };
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: read,
                new: active.clone(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(alice(&p).await, active);
    fake.with_store(|s| {
        let u = &s.users[&id];
        assert!(!u.shared && u.account_enabled);
        assert_eq!(u.forwarding, None);
        assert_eq!(u.licenses, vec![SKU.to_string()]);
    });
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

#[tokio::test]
async fn a_failure_at_the_exchange_step_leaves_it_planned_again() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let id = tenant(&fake);
    let p = provider(config(&fake, true));
    let old = alice(&p).await;
    let new = offboarded(&old, Some("bob@example.com"));
    fake.inject(Fault::on(
        Some("InvokeCommand Set-Mailbox"),
        FaultKind::ServerError,
    ));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: old.clone(),
                new: new.clone(),
            }],
        )
        .await;
    let e = failed(&report).to_string();
    assert!(e.contains("sign-in was blocked"), "{e}");
    // Not shared yet: read as suspended, so still to do.
    let half = alice(&p).await;
    assert_eq!(half.state, MailboxState::Suspended);
    assert_ne!(half, new);
    fake.with_store(|s| {
        assert!(!s.users[&id].shared);
        assert_eq!(s.users[&id].licenses, vec![SKU.to_string()]);
    });
    // The next apply finishes it.
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: half,
                new: new.clone(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(alice(&p).await, new);
    fake.with_store(|s| assert!(s.users[&id].licenses.is_empty()));
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

#[tokio::test]
async fn an_outside_successor_gets_the_forwarding_but_no_full_access() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let id = tenant(&fake);
    let p = provider(config(&fake, true));
    let old = alice(&p).await;
    let new = offboarded(&old, Some("carol@elsewhere.org"));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old,
                new: new.clone(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(alice(&p).await, new);
    fake.with_store(|s| assert!(s.users[&id].full_access.is_empty()));
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

#[tokio::test]
async fn with_exchange_off_offboarding_is_unsupported() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    tenant(&fake);
    let p = provider(config(&fake, false));
    let old = alice(&p).await;
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: old.clone(),
                new: offboarded(&old, Some("bob@example.com")),
            }],
        )
        .await;
    let e = failed(&report);
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("exchange: {enabled: true}"), "{e}");
    assert_eq!(fake.writes(), writes);
    assert!(!fake
        .request_log()
        .iter()
        .any(|o| o.contains("InvokeCommand")));
}

#[tokio::test]
async fn a_failed_licence_removal_says_to_finish_by_hand() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let id = tenant(&fake);
    let p = provider(config(&fake, true));
    let old = alice(&p).await;
    let new = offboarded(&old, Some("bob@example.com"));
    fake.inject(Fault::on(
        Some("POST /users/{id}/assignLicense"),
        FaultKind::ServerError,
    ));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old,
                new: new.clone(),
            }],
        )
        .await;
    let e = failed(&report).to_string();
    assert!(
        e.contains("converted to shared") && e.contains("by hand"),
        "{e}"
    );
    // Shared: it reads as offboarded, still licensed.
    assert_eq!(alice(&p).await, new);
    fake.with_store(|s| assert_eq!(s.users[&id].licenses, vec![SKU.to_string()]));
}
