//! Onboarding a mail domain the provider does not serve yet, against the
//! in-memory reference providers: the verification record is published
//! before the domain is verified, mail is created only after, the records
//! the provider names afterwards are published with MX last, and the next
//! plan is empty. Waiting on real authoritative servers is covered by the
//! end-to-end tests with BIND.

use std::sync::Arc;
use std::time::Duration;

use mailform::apply::{apply, onboard::DnsWait, order::Phase, preflight, ApplyOptions};
use mailform::config::{interpolate::ProcessEnv, load, LoadOptions};
use mailform::live;
use mailform::plan::{build, PlanSource};
use mailform::registry::Registry;
use mailform_contract::memory::{MemoryDns, MemoryMail};
use mailform_contract::{
    ChangeOutcome, DomainStage, MailDomainState, Mailbox, MailboxState, ProviderRecord,
    RecordPurpose, RecordSet, RecordType,
};

const YAML: &str = r#"
version: 1
providers:
  zones: {zonefile: {directory: ./zones}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  c.example:
    dns: {provider: zones, manage: zone}
    mail: {provider: mailserver}
    records:
      "@": {TXT: "v=spf1 include:spf.memory.example -all"}
      www: {A: 192.0.2.7}
mailboxes:
  alice@c.example: {password_hash: "{SHA512-CRYPT}$6$abc$def"}
"#;

fn source() -> PlanSource {
    PlanSource {
        file: "m.yaml".into(),
        sha256: String::new(),
        profile: None,
        targets: vec![],
    }
}

struct World {
    _dir: tempfile::TempDir,
    loaded: mailform::config::Loaded,
    dns: Arc<MemoryDns>,
    mail: Arc<MemoryMail>,
    registry: Registry,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), YAML).unwrap();
    let loaded = load(
        &dir.path().join("m.yaml"),
        &LoadOptions::default(),
        &ProcessEnv,
    )
    .unwrap();
    let dns = Arc::new(MemoryDns::default());
    let mail = Arc::new(MemoryMail::default());
    mail.onboarding
        .lock()
        .unwrap()
        .insert("c.example".into(), DomainStage::Absent);
    let asked = vec![
        ProviderRecord {
            purpose: RecordPurpose::Mx,
            set: RecordSet::parse("c.example", "MX", 3600, &["0 in.memory.example."]).unwrap(),
        },
        ProviderRecord {
            purpose: RecordPurpose::Spf,
            set: RecordSet::parse("c.example", "TXT", 3600, &["\"v=spf1 include:other -all\""])
                .unwrap(),
        },
        ProviderRecord {
            purpose: RecordPurpose::Service,
            set: RecordSet::parse(
                "autodiscover.c.example",
                "CNAME",
                3600,
                &["ad.memory.example."],
            )
            .unwrap(),
        },
    ];
    mail.ready_records
        .lock()
        .unwrap()
        .insert("c.example".into(), asked);
    let mut registry = Registry::default();
    registry.dns.insert("zones".into(), dns.clone());
    registry.mail.insert("mailserver".into(), mail.clone());
    World {
        _dir: dir,
        loaded,
        dns,
        mail,
        registry,
    }
}

fn no_wait() -> ApplyOptions {
    ApplyOptions {
        dns_wait: DnsWait {
            timeout: Duration::ZERO,
            ..DnsWait::default()
        },
        ..ApplyOptions::default()
    }
}

fn zone_values(dns: &MemoryDns, name: &str, rtype: RecordType) -> Vec<String> {
    dns.zones
        .lock()
        .unwrap()
        .get("c.example")
        .map(|z| {
            z.records
                .iter()
                .filter(|s| s.name == name && s.rtype == rtype)
                .flat_map(|s| s.canonical_values())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_domain_is_onboarded_before_its_mail_and_mx_comes_last() {
    let w = world();
    *w.mail.verify_in.lock().unwrap() = Some(w.dns.clone());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let m = &plan.mail[0];
    let o = m.onboarding.as_ref().expect("planned for onboarding");
    assert_eq!(o.stage, DomainStage::Absent);
    assert_eq!(o.zone, "c.example");
    assert_eq!(plan.zones[0].replanned_after, vec!["c.example".to_string()]);
    let text = mailform::render::text::plan(&plan, false);
    assert!(text.contains("onboard domain c.example"), "{text}");
    preflight(&plan, &no_wait()).unwrap();

    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    assert!(result.complete(), "{:#?}", result.entries);
    let phases: Vec<Phase> = result.entries.iter().map(|e| e.phase).collect();
    assert_eq!(phases.first(), Some(&Phase::Onboard), "{phases:?}");
    let mail_at = phases.iter().position(|p| *p == Phase::Mail).unwrap();
    let mx_at = phases.iter().position(|p| *p == Phase::Mx).unwrap();
    assert!(mail_at < mx_at, "{phases:?}");

    // The file's SPF is kept (the provider's is not added next to it), the
    // verification token stays, and what the provider asked for is there.
    let txt = zone_values(&w.dns, "c.example", RecordType::Txt);
    assert_eq!(txt.len(), 2, "{txt:?}");
    assert!(txt
        .iter()
        .any(|v| v.contains("memory-verification=c.example")));
    assert!(txt.iter().any(|v| v.contains("include:spf.memory.example")));
    assert_eq!(
        zone_values(&w.dns, "c.example", RecordType::Mx),
        vec!["0 in.memory.example.".to_string()]
    );
    assert_eq!(
        zone_values(&w.dns, "autodiscover.c.example", RecordType::Cname).len(),
        1
    );

    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let again = build(&w.loaded.desired, &live, &w.registry, source());
    assert!(
        !again.has_changes(),
        "{}",
        mailform::render::text::plan(&again, false)
    );
    assert!(again.mail[0].onboarding.is_none());
    assert!(
        again.zones[0].notes.iter().any(|n| n.contains("SPF")),
        "{:?}",
        again.zones[0].notes
    );
}

#[tokio::test]
async fn a_failed_verification_touches_no_mail_and_a_rerun_finishes() {
    let w = world();
    // The provider cannot see the record: verification fails.
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    assert!(!result.complete());
    let outcome = |phase: Phase| {
        result
            .entries
            .iter()
            .find(|e| e.phase == phase)
            .map(|e| e.outcome.clone())
            .unwrap_or_else(|| panic!("no {phase:?} entry: {:#?}", result.entries))
    };
    match outcome(Phase::Onboard) {
        ChangeOutcome::Failed(e) => {
            let e = e.to_string();
            assert!(e.contains("running apply again goes on"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcome(Phase::Mail),
        ChangeOutcome::NotAttempted(_)
    ));
    assert!(w.mail.domains.lock().unwrap().get("c.example").is_none());
    // Records that do not route mail still apply; no MX yet.
    assert!(matches!(outcome(Phase::Dns), ChangeOutcome::Applied));
    assert!(zone_values(&w.dns, "c.example", RecordType::Mx).is_empty());
    // The token published on the way is kept, not removed by the zone's plan.
    let txt = zone_values(&w.dns, "c.example", RecordType::Txt);
    assert!(
        txt.iter().any(|v| v.contains("memory-verification=")),
        "{txt:?}"
    );

    *w.mail.verify_in.lock().unwrap() = Some(w.dns.clone());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    assert_eq!(
        plan.mail[0].onboarding.as_ref().unwrap().stage,
        DomainStage::Unverified
    );
    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    assert!(result.complete(), "{:#?}", result.entries);
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    assert!(!build(&w.loaded.desired, &live, &w.registry, source()).has_changes());
}

#[tokio::test]
async fn a_domain_no_zone_of_the_file_holds_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = YAML.replace("    dns: {provider: zones, manage: zone}\n", "").replace(
        "    records:\n      \"@\": {TXT: \"v=spf1 include:spf.memory.example -all\"}\n      www: {A: 192.0.2.7}\n",
        "",
    );
    std::fs::write(dir.path().join("m.yaml"), yaml).unwrap();
    let loaded = load(
        &dir.path().join("m.yaml"),
        &LoadOptions::default(),
        &ProcessEnv,
    )
    .unwrap();
    let w = world();
    let live = live::read(&loaded.desired, &w.registry).await.unwrap();
    let plan = build(&loaded.desired, &live, &w.registry, source());
    let problems = plan.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .message
        .contains("no zone in this file holds it"));
    assert!(preflight(&plan, &no_wait()).is_err());
}

#[tokio::test]
async fn provider_side_setup_runs_once_its_records_are_published() {
    let w = world();
    w.mail.onboarding.lock().unwrap().clear();
    *w.mail.verify_in.lock().unwrap() = Some(w.dns.clone());
    w.mail
        .setup
        .lock()
        .unwrap()
        .insert("c.example".into(), vec!["enable signing".into()]);
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let text = mailform::render::text::plan(&plan, false);
    assert!(
        text.contains("~ enable signing (once the records"),
        "{text}"
    );

    // The zone's DNS fails: the setup is not attempted.
    w.dns.fail_zones.lock().unwrap().insert(
        "c.example".into(),
        mailform_contract::ProviderError::Service("DNS API down".into()),
    );
    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    let setup = result
        .entries
        .iter()
        .find(|e| e.phase == Phase::Setup)
        .expect("a setup entry");
    assert!(
        matches!(setup.outcome, ChangeOutcome::NotAttempted(_)),
        "{setup:?}"
    );
    assert_eq!(w.mail.setup.lock().unwrap().len(), 1);

    w.dns.fail_zones.lock().unwrap().clear();
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    assert!(result.complete(), "{:#?}", result.entries);
    let phases: Vec<Phase> = result.entries.iter().map(|e| e.phase).collect();
    assert_eq!(phases.last(), Some(&Phase::Setup), "{phases:?}");
    assert!(w.mail.setup.lock().unwrap().is_empty());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    assert!(!build(&w.loaded.desired, &live, &w.registry, source()).has_changes());
}

/// `b.example` is a domain alias of `c.example`; it sorts first, so
/// apply must reorder to add the parent first.
const ALIAS_YAML: &str = r#"
version: 1
providers:
  zones: {zonefile: {directory: ./zones}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  b.example:
    dns: {provider: zones, manage: zone}
    mail: {provider: mailserver, alias_of: c.example}
  c.example:
    dns: {provider: zones, manage: zone}
    mail: {provider: mailserver}
mailboxes:
  alice@c.example: {password_hash: "{SHA512-CRYPT}$6$abc$def"}
"#;

struct AliasWorld {
    _dir: tempfile::TempDir,
    loaded: mailform::config::Loaded,
    dns: Arc<MemoryDns>,
    mail: Arc<MemoryMail>,
    registry: Registry,
}

/// `absent` are the domains the memory provider does not serve yet.
fn alias_world(yaml: &str, absent: &[&str], mail: MemoryMail) -> AliasWorld {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), yaml).unwrap();
    let loaded = load(
        &dir.path().join("m.yaml"),
        &LoadOptions::default(),
        &ProcessEnv,
    )
    .unwrap();
    let dns = Arc::new(MemoryDns::default());
    for d in absent {
        mail.onboarding
            .lock()
            .unwrap()
            .insert(d.to_string(), DomainStage::Absent);
    }
    let mail = Arc::new(mail);
    let mut registry = Registry::default();
    registry.dns.insert("zones".into(), dns.clone());
    registry.mail.insert("mailserver".into(), mail.clone());
    AliasWorld {
        _dir: dir,
        loaded,
        dns,
        mail,
        registry,
    }
}

fn mail_plan<'a>(plan: &'a mailform::plan::Plan, domain: &str) -> &'a mailform::plan::MailPlan {
    plan.mail.iter().find(|m| m.domain == domain).unwrap()
}

#[tokio::test]
async fn an_alias_domain_is_onboarded_after_its_parent_and_converges() {
    let w = alias_world(
        ALIAS_YAML,
        &["b.example", "c.example"],
        MemoryMail::default(),
    );
    *w.mail.verify_in.lock().unwrap() = Some(w.dns.clone());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    assert!(plan.problems().is_empty(), "{:?}", plan.problems());
    let o = mail_plan(&plan, "b.example").onboarding.as_ref().unwrap();
    assert_eq!(o.alias_of.as_deref(), Some("c.example"));
    assert!(o
        .describe("b.example")
        .contains("add it as an alias of c.example"));
    assert_eq!(
        mail_plan(&plan, "c.example")
            .onboarding
            .as_ref()
            .unwrap()
            .alias_of,
        None
    );
    let json = serde_json::to_value(&plan).unwrap();
    let b = json["mail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["domain"] == "b.example")
        .unwrap();
    assert_eq!(b["onboarding"]["alias_of"], "c.example");

    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    assert!(result.complete(), "{:#?}", result.entries);
    let onboarded: Vec<&str> = result
        .entries
        .iter()
        .filter(|e| e.phase == Phase::Onboard)
        .map(|e| e.scope.as_str())
        .collect();
    assert_eq!(onboarded, ["c.example", "b.example"]);
    assert_eq!(
        w.mail
            .aliases
            .lock()
            .unwrap()
            .get("b.example")
            .map(String::as_str),
        Some("c.example")
    );

    // Were the alias read as a domain, this would show as unmanaged.
    w.mail.domains.lock().unwrap().insert(
        "b.example".into(),
        MailDomainState {
            domain: "b.example".into(),
            mailboxes: vec![Mailbox {
                id: None,
                address: "stray@b.example".into(),
                display_name: None,
                state: MailboxState::Active,
                successor: None,
                aliases: vec![],
                kind: Default::default(),
                delegates: vec![],
            }],
            ..MailDomainState::default()
        },
    );
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let again = build(&w.loaded.desired, &live, &w.registry, source());
    assert!(
        !again.has_changes(),
        "{}",
        mailform::render::text::plan(&again, false)
    );
    assert!(again.problems().is_empty(), "{:?}", again.problems());
    let b = mail_plan(&again, "b.example");
    assert!(b.unmanaged.is_empty(), "{:?}", b.unmanaged);
    assert_eq!(b.existing_mailboxes, 0);
    assert_eq!(
        mail_plan(&again, "b.example")
            .domain_status
            .alias_of
            .as_deref(),
        Some("c.example")
    );
}

#[tokio::test]
async fn an_alias_is_not_attempted_when_its_parent_fails() {
    // Nothing verifies: the parent's onboarding fails.
    let w = alias_world(
        ALIAS_YAML,
        &["b.example", "c.example"],
        MemoryMail::default(),
    );
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let result = apply(&plan, &w.loaded.desired, &w.registry, &no_wait()).await;
    let outcome = |scope: &str| {
        result
            .entries
            .iter()
            .find(|e| e.phase == Phase::Onboard && e.scope == scope)
            .map(|e| e.outcome.clone())
            .unwrap()
    };
    assert!(matches!(outcome("c.example"), ChangeOutcome::Failed(_)));
    match outcome("b.example") {
        ChangeOutcome::NotAttempted(why) => {
            assert!(why.contains("onboarding c.example"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // Nothing was published for the alias.
    assert!(w
        .dns
        .zones
        .lock()
        .unwrap()
        .get("b.example")
        .is_none_or(|z| z.records.is_empty()));
    assert!(w.mail.aliases.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_live_kind_the_file_contradicts_is_a_problem_not_a_conversion() {
    // Live: b.example is a domain of its own; the file says alias.
    let w = alias_world(ALIAS_YAML, &[], MemoryMail::default());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let problems = plan.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let m = &problems[0].message;
    assert!(m.contains("is a domain of its own"), "{m}");
    assert!(m.contains("does not convert"), "{m}");
    assert!(m.contains("Manage domains"), "{m}");
    assert!(preflight(&plan, &no_wait()).is_err());

    // Live: an alias of another parent.
    w.mail
        .aliases
        .lock()
        .unwrap()
        .insert("b.example".into(), "x.example".into());
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let problems = plan.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .message
            .contains("is a domain alias of x.example"),
        "{problems:?}"
    );
    assert!(problems[0].message.contains("alias_of: x.example"));

    // Live: an alias; the file declares a domain of its own.
    let own = ALIAS_YAML.replace(", alias_of: c.example", "");
    let w2 = alias_world(&own, &[], MemoryMail::default());
    w2.mail
        .aliases
        .lock()
        .unwrap()
        .insert("b.example".into(), "c.example".into());
    let live = live::read(&w2.loaded.desired, &w2.registry).await.unwrap();
    let plan = build(&w2.loaded.desired, &live, &w2.registry, source());
    let problems = plan.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let m = &problems[0].message;
    assert!(m.contains("declares it a mail domain of its own"), "{m}");
    assert!(m.contains("alias_of: c.example"), "{m}");
}

#[tokio::test]
async fn an_alias_at_a_provider_without_domain_aliases_is_a_problem() {
    let mut mail = MemoryMail::default();
    mail.caps.domain_aliases = false;
    let w = alias_world(ALIAS_YAML, &["b.example"], mail);
    let live = live::read(&w.loaded.desired, &w.registry).await.unwrap();
    let plan = build(&w.loaded.desired, &live, &w.registry, source());
    let problems = plan.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("has no domain aliases"),
        "{problems:?}"
    );
    assert!(mail_plan(&plan, "b.example").onboarding.is_none());
    assert!(preflight(&plan, &no_wait()).is_err());
}
