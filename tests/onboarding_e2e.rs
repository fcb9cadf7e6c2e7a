//! End-to-end onboarding of a mail domain from nothing, across providers:
//! the `mailform` binary publishes the mail provider's verification record
//! through the `rfc2136` provider on a real BIND 9, waits until BIND serves
//! it, and the fake mail provider verifies the domain by asking that BIND
//! (non-recursive, nothing cached) — as Google and Microsoft ask the
//! domain's servers. Then the mailboxes are created, the provider's records
//! published with MX last, and the next plan is empty.

#[path = "../providers/rfc2136/tests/support/named_server.rs"]
mod named_server;

use std::path::Path;

use assert_cmd::Command;
use named_server::{server, Named, KEY_NAME};

const HASH: &str = "{SHA512-CRYPT}$6$rounds=5000$e2esalt$0123456789abcdefghijklmnopqrstuv";

fn run(dir: &Path, s: &Named, envs: &[(&str, &str)], args: &[&str], code: i32) -> String {
    let mut c = Command::cargo_bin("mailform").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("MAILFORM_TSIG_SECRET", &s.secret)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}");
    assert!(
        !text.contains(&s.secret),
        "the TSIG secret was printed:\n{text}"
    );
    for secret in ["PRIVATE KEY", "$6$rounds"] {
        assert!(!text.contains(secret), "output shows {secret}:\n{text}");
    }
    text
}

fn apply_args(s: &Named) -> Vec<String> {
    vec![
        "apply".into(),
        "--auto-approve".into(),
        "--authoritative".into(),
        s.address.clone(),
        "--dns-wait".into(),
        "20".into(),
    ]
}

/// A fake Google tenant that verifies tokens by asking `s`, its service
/// account key and an initial password hash in a new directory, and the
/// `providers:` block (BIND through RFC 2136, the tenant) for a file there.
fn google_tenant(s: &Named) -> (mailform_google::fake::FakeGoogle, tempfile::TempDir, String) {
    use mailform_google::fake::{FakeConfig, FakeGoogle};
    let fake = FakeGoogle::start_background(FakeConfig {
        dns_server: Some(s.address.parse().unwrap()),
        ..FakeConfig::default()
    })
    .unwrap();
    fake.add_user("admin@example.com", "Admin", "Istrator");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sa.json"), fake.service_account_key()).unwrap();
    std::fs::write(dir.path().join("initial.hash"), HASH).unwrap();
    let providers = format!(
        r#"providers:
  bind:
    rfc2136: {{server: "{address}", key_name: {KEY_NAME}}}
  gw:
    google_workspace:
      admin: admin@example.com
      credentials: ${{file:sa.json}}
      directory_endpoint: "{u}"
      groups_settings_endpoint: "{u}"
      gmail_endpoint: "{u}"
      site_verification_endpoint: "{u}"
      token_endpoint: "{t}"
"#,
        address = s.address,
        u = fake.url(),
        t = fake.token_url()
    );
    (fake, dir, providers)
}

#[test]
fn google_workspace_domain_onboarded_through_bind() {
    let Some(s) = server() else { return };
    const ZONE: &str = "gw-onboard.example";
    let (fake, dir, providers) = google_tenant(s);
    let d = dir.path();
    let yaml = format!(
        r#"version: 1
{providers}domains:
  {ZONE}:
    dns: {{provider: bind}}
    mail: {{provider: gw}}
    records:
      "@":
        MX: "1 smtp.google.com."
        TXT: "v=spf1 include:_spf.google.com ~all"
mailboxes:
  ann@{ZONE}:
    name: Ann Onboard
    password_hash: ${{file:initial.hash}}
    aliases: [postmaster@{ZONE}, abuse@{ZONE}]
"#
    );
    std::fs::write(d.join("mailform.yaml"), yaml).unwrap();

    let plan = run(d, s, &[], &["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains(&format!("onboard domain {ZONE}")), "{plan}");
    assert!(plan.contains("google-site-verification="), "{plan}");
    assert!(plan.contains(&format!("ann@{ZONE}")), "{plan}");

    // First with a server that does not answer as the zone's authoritative
    // server: the token is published, but the wait gives up, so the
    // domain's mail and MX are not touched, and the report says why.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let failed = run(
        d,
        s,
        &[],
        &[
            "apply",
            "--auto-approve",
            "--authoritative",
            &silent_addr,
            "--dns-wait",
            "2",
        ],
        1,
    );
    assert!(
        failed.contains("FAILED   gw-onboard.example onboard domain"),
        "{failed}"
    );
    assert!(
        failed.contains("running apply again goes on from here"),
        "{failed}"
    );
    assert!(
        failed.contains(&format!("skipped  {ZONE} + mailbox ann@{ZONE}")),
        "{failed}"
    );
    assert!(
        failed.contains("skipped  gw-onboard.example + @ MX"),
        "{failed}"
    );
    drop(silent);

    let args = apply_args(s);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let applied = run(d, s, &[], &args, 0);
    // Positions in the apply report, after the plan it prints first.
    let report = &applied[applied.find("\n  done").expect("a report")..];
    let at = |needle: &str| {
        report
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{applied}"))
    };
    assert!(
        at("onboard domain") < at(&format!("ann@{ZONE}")),
        "{applied}"
    );
    assert!(at(&format!("ann@{ZONE}")) < at("@ MX"), "{applied}");

    let again = run(d, s, &[], &["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[test]
fn google_workspace_domain_alias_onboarded_through_bind() {
    let Some(s) = server() else { return };
    const ZONE: &str = "gw-alias.example";
    // example.com is a verified domain of the fake tenant.
    let (fake, dir, providers) = google_tenant(s);
    let d = dir.path();
    let yaml = format!(
        r#"version: 1
{providers}domains:
  example.com:
    mail: {{provider: gw}}
  {ZONE}:
    dns: {{provider: bind}}
    mail: {{provider: gw, alias_of: example.com}}
    records:
      "@":
        MX: "1 smtp.google.com."
        TXT: "v=spf1 include:_spf.google.com ~all"
mailboxes:
  admin@example.com:
    name: Admin Istrator
  ann@example.com:
    name: Ann Alias
    password_hash: ${{file:initial.hash}}
    aliases: [postmaster@example.com, abuse@example.com]
"#
    );
    std::fs::write(d.join("mailform.yaml"), yaml).unwrap();

    let plan = run(d, s, &[], &["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.contains(&format!(
            "onboard domain {ZONE}: add it as an alias of example.com"
        )),
        "{plan}"
    );
    assert!(plan.contains("google-site-verification="), "{plan}");

    let args = apply_args(s);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let applied = run(d, s, &[], &args, 0);
    assert!(applied.contains("onboard domain"), "{applied}");
    fake.with_store(|st| {
        assert_eq!(
            st.domain_aliases.get(ZONE).map(String::as_str),
            Some("example.com")
        );
        assert!(!st.domains.iter().any(|x| x == ZONE), "{:?}", st.domains);
        // The parent's new user has its address at the alias too.
        assert!(st.owner(&format!("ann@{ZONE}")).is_some());
    });
    let log = fake.request_log();
    assert!(
        !log.iter().any(|m| m == "directory.domains.insert"),
        "{log:?}"
    );
    let again = run(d, s, &[], &["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[test]
fn microsoft_365_domain_onboarded_through_bind_with_its_service_records() {
    let Some(s) = server() else { return };
    use mailform_m365::fake::{FakeConfig, FakeGraph};
    const ZONE: &str = "m365-onboard.example";
    let fake = FakeGraph::start_background(FakeConfig {
        dns_server: Some(s.address.parse().unwrap()),
        ..FakeConfig::default()
    })
    .unwrap();
    let c = fake.config();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let yaml = format!(
        r#"version: 1
providers:
  bind:
    rfc2136: {{server: "{address}", key_name: {KEY_NAME}}}
  m365:
    microsoft_365:
      tenant: "{tenant}"
      client_id: "{client}"
      graph_endpoint: "{u}"
      login_endpoint: "{u}"
      exchange_endpoint: "{u}"
      exchange: {{enabled: true, dkim: true}}
      usage_location: DE
domains:
  {ZONE}:
    dns: {{provider: bind}}
    mail: {{provider: m365}}
    records:
      _dmarc:
        TXT: "v=DMARC1; p=reject"
mailboxes:
  ann@{ZONE}:
    name: Ann Onboard
    initial_password: generate
"#,
        address = s.address,
        tenant = c.tenant_id,
        client = c.client_id,
        u = fake.url(),
    );
    std::fs::write(d.join("mailform.yaml"), yaml).unwrap();
    let secret = c.client_secret.clone();
    let env = [("M365_CLIENT_SECRET", secret.as_str())];

    let plan = run(d, s, &env, &["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.contains(&format!("onboard domain {ZONE}: add it to the tenant")),
        "{plan}"
    );
    assert!(plan.contains("apply plans this zone again"), "{plan}");
    assert!(!plan.contains(&secret));

    let mut args = apply_args(s);
    args.extend([
        "--password-file".into(),
        d.join("passwords").display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let applied = run(d, s, &env, &args, 0);
    assert!(!applied.contains(&secret));
    // Positions in the apply report, after the plan it prints first.
    let report = &applied[applied.find("\n  done").expect("a report")..];
    let at = |needle: &str| {
        report
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{applied}"))
    };
    assert!(
        at("onboard domain") < at(&format!("ann@{ZONE}")),
        "{applied}"
    );
    // Microsoft's records, named only after verification, are published;
    // MX after the mailbox exists.
    assert!(at(&format!("ann@{ZONE}")) < at("@ MX"), "{applied}");
    at("autodiscover CNAME");
    // DKIM: the config made at verification, its selector CNAMEs published
    // with the rest, then signing enabled once BIND serves them.
    at("selector1._domainkey CNAME");
    assert!(
        at("selector1._domainkey CNAME") < at("enable DKIM signing"),
        "{applied}"
    );

    // A later run: Graph's listings have caught up with the user apply
    // created (the fake lags them by default, as Graph does).
    fake.settle();
    let again = run(d, s, &env, &["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
