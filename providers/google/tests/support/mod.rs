//! What the provider's tests share: a provider pointed at the fake, the
//! mailboxes they create, and tokens for calling the fake directly.

#![allow(dead_code)]

use std::time::Duration;

use mailform_contract::{ChangeOutcome, InitialPassword, Mailbox, MailboxState, Secret};
use mailform_google::fake::FakeGoogle;
use mailform_google::{Config, GoogleProvider};
use mailform_http::{HttpClient, Retry};

pub const ADMIN: &str = "admin@example.com";

/// A provider acting as [`ADMIN`] on every API of `fake`, retrying fast.
pub fn provider(fake: &FakeGoogle) -> GoogleProvider {
    let config = Config {
        admin: ADMIN.into(),
        credentials: Some(fake.service_account_key().into()),
        directory_endpoint: Some(fake.url()),
        groups_settings_endpoint: Some(fake.url()),
        gmail_endpoint: Some(fake.url()),
        site_verification_endpoint: Some(fake.url()),
        token_endpoint: Some(fake.token_url()),
        verification_retry_ms: Some(1),
        base_dir: std::env::temp_dir(),
        ..Config::default()
    };
    GoogleProvider::with_retry(
        config,
        Retry {
            max_attempts: 4,
            base: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
    )
}

pub fn mailbox(address: &str, name: &str, aliases: &[&str]) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: Some(name.into()),
        state: MailboxState::Active,
        successor: None,
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        kind: Default::default(),
        delegates: vec![],
    }
}

pub fn hash() -> Option<InitialPassword> {
    Some(InitialPassword::Hash(Secret::new(
        "{SHA512-CRYPT}$6$rounds=5000$salt$abcdefghijklmnop",
    )))
}

pub fn applied(report: &mailform_contract::ApplyReport) {
    for o in &report.outcomes {
        assert!(matches!(o, ChangeOutcome::Applied), "{o:?}");
    }
}

/// An access token from `fake` for `scopes`, acting as `subject` (the
/// admin when `None`), with the client that got it.
pub async fn token(
    fake: &FakeGoogle,
    subject: Option<&str>,
    scopes: &[&str],
) -> (HttpClient, String) {
    let sa =
        mailform_google::auth::ServiceAccountKey::parse(&Secret::new(fake.service_account_key()))
            .unwrap();
    let tokens = mailform_google::auth::TokenSource::new(sa, ADMIN, &fake.token_url()).unwrap();
    let http = HttpClient::new(mailform_http::ClientConfig::default()).unwrap();
    let token = tokens.token_as(&http, subject, scopes).await.unwrap();
    (http, token.expose().to_string())
}
