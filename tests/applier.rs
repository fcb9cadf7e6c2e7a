//! The applier's ordering and partial-failure behaviour, against the
//! in-memory reference providers.

use std::sync::Arc;

use mailform::apply::{apply, order::Phase, preflight, ApplyOptions};
use mailform::config::{interpolate::ProcessEnv, load, LoadOptions};
use mailform::live;
use mailform::plan::{build, PlanSource};
use mailform::registry::Registry;
use mailform_contract::memory::{MemoryDns, MemoryMail};
use mailform_contract::{ChangeOutcome, ProviderError};

const YAML: &str = r#"
version: 1
providers:
  zones: {zonefile: {directory: ./zones}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  a.example:
    dns: {provider: zones}
    mail: {provider: mailserver}
    records:
      "@": {MX: "10 mx.a.example.", TXT: "v=spf1 mx -all"}
      mx: {A: 192.0.2.1}
  b.example:
    dns: {provider: zones}
    records:
      www: {A: 192.0.2.2}
mailboxes:
  alice@a.example: {password_hash: "{SHA512-CRYPT}$6$abc$def", aliases: [abuse@a.example]}
aliases:
  postmaster@a.example: {to: [alice@a.example]}
"#;

fn setup() -> (tempfile::TempDir, mailform::config::Loaded) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), YAML).unwrap();
    let loaded = load(
        &dir.path().join("m.yaml"),
        &LoadOptions::default(),
        &ProcessEnv,
    )
    .unwrap();
    (dir, loaded)
}

fn source() -> PlanSource {
    PlanSource {
        file: "m.yaml".into(),
        sha256: String::new(),
        profile: None,
        targets: vec![],
    }
}

#[tokio::test]
async fn mx_waits_for_mail_and_a_rerun_converges() {
    let (_dir, loaded) = setup();
    let dns = Arc::new(MemoryDns::default());
    let mail = Arc::new(MemoryMail::default());
    mail.fail_domains.lock().unwrap().insert(
        "a.example".into(),
        ProviderError::Service("mail API down".into()),
    );
    let mut registry = Registry::default();
    registry.dns.insert("zones".into(), dns.clone());
    registry.mail.insert("mailserver".into(), mail.clone());

    let live = live::read(&loaded.desired, &registry).await.unwrap();
    let plan = build(&loaded.desired, &live, &registry, source());
    preflight(&plan, &ApplyOptions::default()).unwrap();
    let result = apply(&plan, &loaded.desired, &registry, &ApplyOptions::default()).await;

    // Mail failed; so the MX switch of that domain was not attempted, while
    // records that do not route mail, and the other zone, were applied.
    let outcome = |phase: Phase, needle: &str| {
        result
            .entries
            .iter()
            .find(|e| e.phase == phase && e.change.contains(needle))
            .map(|e| e.outcome.clone())
            .unwrap_or_else(|| panic!("no {needle} in {phase:?}"))
    };
    assert!(matches!(
        outcome(Phase::Mail, "alice@a.example"),
        ChangeOutcome::Failed(_)
    ));
    assert!(matches!(
        outcome(Phase::Mx, "@ MX"),
        ChangeOutcome::NotAttempted(_)
    ));
    assert!(matches!(
        outcome(Phase::Dns, "@ TXT"),
        ChangeOutcome::Applied
    ));
    assert!(matches!(
        outcome(Phase::Dns, "www A"),
        ChangeOutcome::Applied
    ));
    assert!(!result.complete());
    let mx_live = dns.zones.lock().unwrap()["a.example"]
        .records
        .iter()
        .any(|r| r.rtype == mailform_contract::RecordType::Mx);
    assert!(
        !mx_live,
        "MX must not point at a provider whose mailboxes do not exist"
    );

    // The cause is fixed; a new plan continues from what is live.
    mail.fail_domains.lock().unwrap().clear();
    let live = live::read(&loaded.desired, &registry).await.unwrap();
    let plan = build(&loaded.desired, &live, &registry, source());
    assert_eq!(plan.summary().total(), 3, "mailbox, alias and MX remain");
    let result = apply(&plan, &loaded.desired, &registry, &ApplyOptions::default()).await;
    assert!(result.complete());
    let live = live::read(&loaded.desired, &registry).await.unwrap();
    assert!(!build(&loaded.desired, &live, &registry, source()).has_changes());
}

#[tokio::test]
async fn mail_creations_come_before_the_mx_change() {
    let (_dir, loaded) = setup();
    let mut registry = Registry::default();
    registry
        .dns
        .insert("zones".into(), Arc::new(MemoryDns::default()));
    registry
        .mail
        .insert("mailserver".into(), Arc::new(MemoryMail::default()));
    let live = live::read(&loaded.desired, &registry).await.unwrap();
    let plan = build(&loaded.desired, &live, &registry, source());
    let result = apply(&plan, &loaded.desired, &registry, &ApplyOptions::default()).await;
    let phases: Vec<Phase> = result.entries.iter().map(|e| e.phase).collect();
    let first_mx = phases.iter().position(|p| *p == Phase::Mx).unwrap();
    let last_mail = phases.iter().rposition(|p| *p == Phase::Mail).unwrap();
    assert!(last_mail < first_mx, "{phases:?}");
    // Mailboxes before the aliases that point at them.
    let names: Vec<&str> = result.entries.iter().map(|e| e.change.as_str()).collect();
    let mb = names
        .iter()
        .position(|n| n.contains("mailbox alice"))
        .unwrap();
    let al = names
        .iter()
        .position(|n| n.contains("alias postmaster"))
        .unwrap();
    assert!(mb < al);
}
