//! `state: deleted` with a `successor` — the "alias after deletion" choice:
//! the mailbox is deleted (with `--allow-destroy`) and only then do its
//! address and aliases become the successor's, so the address is free when
//! it is taken over; a failed deletion hands nothing over. Against the
//! in-memory reference providers, with and without mailbox aliases.

use std::sync::Arc;

use mailform::apply::{apply, order::Phase, preflight, ApplyOptions};
use mailform::config::{interpolate::ProcessEnv, load, LoadOptions};
use mailform::live;
use mailform::plan::{build, PlanSource};
use mailform::registry::Registry;
use mailform_contract::memory::{MemoryDns, MemoryMail};
use mailform_contract::{ChangeOutcome, MailChange, ProviderError};

const BEFORE: &str = r#"
version: 1
providers:
  zones: {zonefile: {directory: ./zones}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  a.example:
    mail: {provider: mailserver}
mailboxes:
  alice@a.example: {password_hash: "{SHA512-CRYPT}$6$abc$def"}
  bob@a.example: {password_hash: "{SHA512-CRYPT}$6$abc$def", aliases: [b@a.example]}
"#;

fn after() -> String {
    BEFORE.replace(
        r#"bob@a.example: {password_hash: "{SHA512-CRYPT}$6$abc$def", aliases: [b@a.example]}"#,
        "bob@a.example: {state: deleted, successor: alice@a.example, aliases: [b@a.example]}",
    )
}

fn source() -> PlanSource {
    PlanSource {
        file: "m.yaml".into(),
        sha256: String::new(),
        profile: None,
        targets: vec![],
    }
}

fn loaded(dir: &std::path::Path, yaml: &str) -> mailform::config::Loaded {
    std::fs::write(dir.join("m.yaml"), yaml).unwrap();
    load(&dir.join("m.yaml"), &LoadOptions::default(), &ProcessEnv).unwrap()
}

fn registry(mail: Arc<MemoryMail>) -> Registry {
    let mut r = Registry::default();
    r.dns.insert("zones".into(), Arc::new(MemoryDns::default()));
    r.mail.insert("mailserver".into(), mail);
    r
}

fn destroy() -> ApplyOptions {
    ApplyOptions {
        allow_destroy: true,
        ..ApplyOptions::default()
    }
}

async fn converge(yaml: &str, dir: &std::path::Path, r: &Registry) {
    let l = loaded(dir, yaml);
    let live = live::read(&l.desired, r).await.unwrap();
    let plan = build(&l.desired, &live, r, source());
    assert!(plan.problems().is_empty(), "{:?}", plan.problems());
    let result = apply(&plan, &l.desired, r, &destroy()).await;
    assert!(result.complete(), "{:#?}", result.entries);
}

#[tokio::test]
async fn the_successor_takes_the_addresses_only_after_the_deletion() {
    for mailbox_aliases in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut mail = MemoryMail::default();
        mail.caps.mailbox_aliases = mailbox_aliases;
        let mail = Arc::new(mail);
        let r = registry(mail.clone());
        converge(BEFORE, dir.path(), &r).await;

        let l = loaded(dir.path(), &after());
        let live = live::read(&l.desired, &r).await.unwrap();
        let plan = build(&l.desired, &live, &r, source());
        assert!(plan.problems().is_empty(), "{:?}", plan.problems());
        assert_eq!(plan.mailbox_deletions(), vec!["bob@a.example"]);
        assert!(
            preflight(&plan, &ApplyOptions::default()).is_err(),
            "deleting needs --allow-destroy"
        );
        let result = apply(&plan, &l.desired, &r, &destroy()).await;
        assert!(result.complete(), "{:#?}", result.entries);
        let phases: Vec<Phase> = result.entries.iter().map(|e| e.phase).collect();
        let delete_at = phases
            .iter()
            .position(|p| *p == Phase::MailDeletes)
            .unwrap();
        let handover_at = phases.iter().position(|p| *p == Phase::Handover).unwrap();
        assert!(delete_at < handover_at, "{phases:?}");

        let state = mail.domains.lock().unwrap()["a.example"].clone();
        assert!(state.mailboxes.iter().all(|m| m.address != "bob@a.example"));
        if mailbox_aliases {
            let alice = state
                .mailboxes
                .iter()
                .find(|m| m.address == "alice@a.example")
                .unwrap();
            assert!(alice.aliases.contains(&"bob@a.example".to_string()));
            assert!(alice.aliases.contains(&"b@a.example".to_string()));
        } else {
            let bob = state
                .aliases
                .iter()
                .find(|a| a.address == "bob@a.example")
                .expect("bob@ forwards to alice");
            assert_eq!(bob.targets, vec!["alice@a.example".to_string()]);
        }
        let live = live::read(&l.desired, &r).await.unwrap();
        let again = build(&l.desired, &live, &r, source());
        // The handed-over address reads back as what the file asked for:
        // the mailbox gone, its address the successor's.
        assert!(again.problems().is_empty(), "{:?}", again.problems());
        assert!(
            !again.has_changes(),
            "{}",
            mailform::render::text::plan(&again, false)
        );
    }
}

#[tokio::test]
async fn a_failed_deletion_hands_nothing_over() {
    let dir = tempfile::tempdir().unwrap();
    let mail = Arc::new(MemoryMail::default());
    let r = registry(mail.clone());
    converge(BEFORE, dir.path(), &r).await;
    let l = loaded(dir.path(), &after());
    let live = live::read(&l.desired, &r).await.unwrap();
    let plan = build(&l.desired, &live, &r, source());
    assert!(plan.mail[0]
        .changes
        .iter()
        .any(|c| matches!(c, MailChange::UpdateMailbox { .. })));
    mail.fail_domains.lock().unwrap().insert(
        "a.example".into(),
        ProviderError::Service("mail API down".into()),
    );
    let result = apply(&plan, &l.desired, &r, &destroy()).await;
    let handover = result
        .entries
        .iter()
        .find(|e| e.phase == Phase::Handover)
        .expect("a handover entry");
    match &handover.outcome {
        ChangeOutcome::NotAttempted(why) => assert!(why.contains("not free"), "{why}"),
        other => panic!("{other:?}"),
    }
}
