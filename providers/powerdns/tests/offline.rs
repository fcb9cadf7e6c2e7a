//! Failures that need no server: no API key, nothing listening, a bad
//! endpoint. Construction never fails; the first read reports the problem.
//! Alone in its own test binary because it changes the environment.

use mailform_contract::{DnsChange, DnsProvider, ProviderError, RecordSet};
use mailform_powerdns::{Config, PowerdnsProvider};

#[tokio::test]
async fn problems_surface_at_the_first_call_with_the_fix() {
    std::env::remove_var("PDNS_API_KEY");
    let err = PowerdnsProvider::new(Config::new("http://127.0.0.1:1"))
        .read_zone("example.com")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Permission(m) if m.contains("PDNS_API_KEY")),
        "{err}"
    );

    // The key comes from the environment when the settings have none.
    std::env::set_var("PDNS_API_KEY", "env-key-51c0");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = PowerdnsProvider::new(Config::new(format!("http://127.0.0.1:{port}")));
    let err = p.read_zone("example.com").await.unwrap_err();
    let m = err.to_string();
    assert!(
        matches!(err, ProviderError::Service(_)) && m.contains("cannot reach PowerDNS"),
        "{m}"
    );
    assert!(!m.contains("env-key-51c0"), "{m}");
    let change = DnsChange::Create {
        new: RecordSet::parse("example.com", "A", 60, &["192.0.2.1"]).unwrap(),
    };
    let report = p.apply_zone("example.com", &[change]).await;
    assert_eq!(report.outcomes.len(), 1);
    std::env::remove_var("PDNS_API_KEY");

    let mut c = Config::new("127.0.0.1:8081");
    c.api_key = Some("k".into());
    let err = PowerdnsProvider::new(c)
        .read_zone("example.com")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
}
