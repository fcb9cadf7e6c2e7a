//! Offboarding against the fake: every step that matters (data transfer,
//! forwarding, password, sessions) is done before the user is moved to
//! the leavers' unit that marks it offboarded, so a run that fails at any
//! step is planned again and finished; each call is made with a scope its
//! discovery document accepts.

use mailform_contract::{
    ChangeOutcome, MailChange, MailProvider, Mailbox, MailboxState, ProviderError,
};
use mailform_google::auth::scopes;
use mailform_google::fake::{FakeConfig, FakeGoogle, FakeUser, Fault, FaultKind};
use mailform_http::Method;

mod support;

use support::{applied, hash, mailbox, provider};

const DOMAIN: &str = "example.com";

/// Creates alice and bob; the change that offboards alice to bob.
async fn offboard_alice(fake: &FakeGoogle) -> MailChange {
    let p = provider(fake);
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: mailbox("alice@example.com", "Alice Example", &[]),
                    password: hash(),
                },
                MailChange::CreateMailbox {
                    new: mailbox("bob@example.com", "Bob Builder", &[]),
                    password: hash(),
                },
            ],
        )
        .await;
    applied(&report);
    offboarding(&p.read_domain(DOMAIN).await.unwrap().mailboxes[0])
}

fn offboarding(old: &Mailbox) -> MailChange {
    assert_eq!(old.address, "alice@example.com");
    let mut new = old.clone();
    new.state = MailboxState::Offboarded;
    new.successor = Some("bob@example.com".into());
    MailChange::UpdateMailbox {
        old: old.clone(),
        new,
    }
}

fn alice<R>(fake: &FakeGoogle, f: impl FnOnce(&FakeUser) -> R) -> R {
    fake.with_store(|s| {
        f(s.users
            .values()
            .find(|u| u.primary_email == "alice@example.com")
            .unwrap())
    })
}

/// Plans alice again: her live state must still be active, so the plan
/// offers the offboarding; applies it and checks it is now complete.
async fn finish(fake: &FakeGoogle) {
    let p = provider(fake);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes[0].state, MailboxState::Active, "marked done");
    applied(
        &p.apply_domain(DOMAIN, &[offboarding(&live.mailboxes[0])])
            .await,
    );
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes[0].state, MailboxState::Offboarded);
    assert_eq!(
        live.mailboxes[0].successor.as_deref(),
        Some("bob@example.com")
    );
    alice(fake, |a| {
        assert_eq!(a.org_unit_path, "/Offboarded");
        assert_eq!(a.auto_forwarding.as_deref(), Some("bob@example.com"));
        assert!(a.sign_outs >= 1, "sessions never ended");
    });
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_failed_sign_out_leaves_the_offboarding_to_finish() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let change = offboard_alice(&fake).await;
    // A POST answered 500 is not repeated: one failure fails the run.
    fake.inject(Fault::on(
        Some("directory.users.signOut"),
        FaultKind::ServerError,
    ));
    let report = provider(&fake).apply_domain(DOMAIN, &[change]).await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(_)),
        "{report:?}"
    );
    alice(&fake, |a| {
        assert_eq!(a.sign_outs, 0);
        assert_eq!(a.org_unit_path, "/", "moved before its sessions ended");
    });
    finish(&fake).await;
}

#[tokio::test]
async fn sessions_are_ended_with_the_one_scope_sign_out_accepts() {
    let fake = FakeGoogle::start(FakeConfig {
        delegated_scopes: scopes::DELEGATED
            .iter()
            .filter(|s| **s != scopes::USER_SECURITY)
            .map(|s| s.to_string())
            .collect(),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let change = offboard_alice(&fake).await;
    let report = provider(&fake).apply_domain(DOMAIN, &[change]).await;
    let ChangeOutcome::Failed(ProviderError::Permission(m)) = &report.outcomes[0] else {
        panic!("{report:?}");
    };
    assert!(m.contains(scopes::USER_SECURITY), "{m}");
    assert!(m.contains("Domain Wide Delegation"), "{m}");
    let live = provider(&fake).read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes[0].state, MailboxState::Active);
}

#[tokio::test]
async fn an_offboarding_finishes_once_its_forwarding_address_exists() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let change = offboard_alice(&fake).await;
    // The PUT is idempotent, so retried: fail every attempt of one run.
    fake.inject(
        Fault::on(
            Some("gmail.users.settings.updateAutoForwarding"),
            FaultKind::ServerError,
        )
        .times(4),
    );
    let report = provider(&fake).apply_domain(DOMAIN, &[change]).await;
    assert!(
        matches!(&report.outcomes[0], ChangeOutcome::Failed(_)),
        "{report:?}"
    );
    alice(&fake, |a| {
        assert_eq!(a.forwarding_addresses.len(), 1);
        assert!(a.auto_forwarding.is_none());
    });
    // The next run meets the address (409) and reads it back.
    finish(&fake).await;
}

/// Sends one call to the fake with `token`; its status and body.
async fn call(
    fake: &FakeGoogle,
    (http, token): &(mailform_http::HttpClient, String),
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let mut r = http
        .request(method, format!("{}{path}", fake.url()).parse().unwrap())
        .header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_fake_takes_each_methods_scopes_from_the_discovery_documents() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.add_user("alice@example.com", "Alice", "Example");
    let sign_out = "/admin/directory/v1/users/alice@example.com/signOut";
    let general = support::token(&fake, None, &[scopes::USER]).await;
    let (status, body) = call(&fake, &general, Method::POST, sign_out, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("ACCESS_TOKEN_SCOPE_INSUFFICIENT"), "{body}");
    assert!(
        body.contains("Request had insufficient authentication scopes."),
        "{body}"
    );
    let security = support::token(&fake, None, &[scopes::USER_SECURITY]).await;
    let (status, body) = call(&fake, &security, Method::POST, sign_out, None).await;
    assert_eq!(status, 204, "{body}");

    // Gmail, as the mailbox's owner: `sharing` creates a forwarding
    // address but may not read one back; `basic` may.
    let user = Some("alice@example.com");
    let addresses = "/gmail/v1/users/alice@example.com/settings/forwardingAddresses";
    let sharing = support::token(&fake, user, &[scopes::GMAIL_SETTINGS_SHARING]).await;
    let create = serde_json::json!({"forwardingEmail": "bob@example.com"});
    let (status, body) = call(&fake, &sharing, Method::POST, addresses, Some(create)).await;
    assert_eq!(status, 200, "{body}");
    let one = format!("{addresses}/bob@example.com");
    let (status, body) = call(&fake, &sharing, Method::GET, &one, None).await;
    assert_eq!(status, 403, "{body}");
    let basic = support::token(&fake, user, &[scopes::GMAIL_SETTINGS_BASIC]).await;
    let (status, body) = call(&fake, &basic, Method::GET, &one, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
