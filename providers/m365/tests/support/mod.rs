//! What the provider's test files share: provider settings pointing at a
//! fake tenant, quick retries, outcome checks, and raw calls to the fake.

#![allow(dead_code)] // each test file uses a part

use std::time::Duration;

use mailform_contract::{ApplyReport, ChangeOutcome, ProviderError};
use mailform_http::{HttpClient, Idempotence, Method, Retry, Url};
use mailform_m365::config::ExchangeSettings;
use mailform_m365::fake::FakeGraph;
use mailform_m365::Config;
use serde_json::Value;

/// Settings for `fake`'s tenant, with or without the Exchange backend.
pub fn config(fake: &FakeGraph, exchange: bool) -> Config {
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

/// A provider for `config` with quick retries (three tries).
pub fn provider(config: Config) -> mailform_m365::M365Provider {
    mailform_m365::M365Provider::with_retry(
        config,
        Retry {
            max_attempts: 3,
            base: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    )
}

/// Retries quick enough for tests.
pub fn retry() -> Retry {
    Retry {
        max_attempts: 4,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

pub fn applied(report: &ApplyReport) {
    for o in &report.outcomes {
        assert!(matches!(o, ChangeOutcome::Applied), "{o:?}");
    }
}

pub fn failed(report: &ApplyReport, i: usize) -> &ProviderError {
    match &report.outcomes[i] {
        ChangeOutcome::Failed(e) => e,
        other => panic!("change {i}: {other:?}"),
    }
}

pub fn no_violations(fake: &FakeGraph) {
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
}

/// How many requests of `op` (as the fake logs them) were made.
pub fn count(fake: &FakeGraph, op: &str) -> usize {
    fake.request_log().iter().filter(|o| *o == op).count()
}

/// A Graph token for the fake's app, fetched by hand.
pub async fn token(fake: &FakeGraph, http: &HttpClient) -> String {
    token_for(fake, http, "https://graph.microsoft.com/.default").await
}

/// A token for `scope` (Graph or Exchange Online), fetched by hand.
pub async fn token_for(fake: &FakeGraph, http: &HttpClient, scope: &str) -> String {
    let c = fake.config();
    let url = Url::parse(&format!("{}/{}/oauth2/v2.0/token", fake.url(), c.tenant_id)).unwrap();
    let form = [
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("scope", scope),
        ("grant_type", "client_credentials"),
    ];
    let r = http
        .send(
            http.request(Method::POST, url).form(&form),
            Idempotence::Idempotent,
        )
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// One raw Graph call: its status and JSON body (null when none).
pub async fn call(
    fake: &FakeGraph,
    http: &HttpClient,
    token: &str,
    method: Method,
    path_and_query: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = Url::parse(&format!("{}/v1.0{path_and_query}", fake.url())).unwrap();
    let mut req = http
        .request(method, url)
        .header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = http.send(req, Idempotence::NonIdempotent).await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
