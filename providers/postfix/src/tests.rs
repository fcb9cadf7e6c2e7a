//! Tests of the provider as the engine drives it: applies and reads against
//! a temporary estate directory, checking the exact bytes of the files.

use std::fs;
use std::path::Path;

use mailform_contract::{
    Alias, ChangeOutcome, Group, InitialPassword, MailChange, MailDomainState, MailProvider,
    Mailbox, MailboxState, ProviderError, Secret,
};

use crate::{Config, PostfixProvider};

const FILES: [&str; 5] = [
    "virtual_mailbox_domains",
    "virtual_mailbox_maps",
    "virtual_alias_maps",
    "recipient_access",
    "dovecot-users",
];

/// The SHA512-CRYPT hash of `test-only-SHA512-CRYPT` from the fixtures.
fn hash() -> String {
    include_str!("../tests/fixtures/hashes.tsv")
        .lines()
        .find_map(|l| l.strip_prefix("test-only-SHA512-CRYPT\t"))
        .unwrap()
        .to_string()
}

fn provider(dir: &Path) -> PostfixProvider {
    let config: Config =
        serde_json::from_value(serde_json::json!({ "directory": dir, "uid": 5000, "gid": 5000 }))
            .unwrap();
    PostfixProvider::new(config, Path::new("/nonexistent"))
}

/// Every file of `dir` but the (empty) lock file, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != ".mailform.lock")
        .map(|e| {
            let e = e.unwrap();
            let bytes = if e.path().is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    all.sort();
    all
}

/// A file's text; one never written reads as empty, as the provider reads it.
fn read(dir: &Path, name: &str) -> String {
    crate::fsio::read_or_empty(&dir.join(name)).unwrap()
}

fn mailbox(address: &str, name: Option<&str>, state: MailboxState) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: name.map(str::to_string),
        state,
        successor: None,
        aliases: vec![],
        kind: Default::default(),
        delegates: vec![],
    }
}

fn group(address: &str, name: Option<&str>, members: &[&str], allow_external: bool) -> Group {
    Group {
        id: None,
        address: address.into(),
        display_name: name.map(str::to_string),
        members: members.iter().map(|m| m.to_string()).collect(),
        aliases: vec![],
        allow_external,
        kind: Default::default(),
    }
}

fn alias(address: &str, targets: &[&str]) -> Alias {
    Alias {
        address: address.into(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
    }
}

fn create_mailbox(mb: Mailbox) -> MailChange {
    MailChange::CreateMailbox {
        new: mb,
        password: Some(InitialPassword::Hash(Secret::new(hash()))),
    }
}

fn assert_all_applied(outcomes: &[ChangeOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert!(matches!(o, ChangeOutcome::Applied), "change {i}: {o:?}");
    }
}

/// The changes that build the example estate used by several tests.
fn initial_changes() -> Vec<MailChange> {
    let mut bob = mailbox("bob@example.com", Some("Bob"), MailboxState::Offboarded);
    bob.successor = Some("alice@example.com".into());
    vec![
        create_mailbox(mailbox(
            "alice@example.com",
            Some("Alice: Ops"),
            MailboxState::Active,
        )),
        create_mailbox(bob),
        create_mailbox(mailbox("carol@example.com", None, MailboxState::Suspended)),
        MailChange::CreateAlias {
            new: alias(
                "info@example.com",
                &["alice@example.com", "bob@example.com"],
            ),
        },
        MailChange::CreateGroup {
            new: group(
                "sales@example.com",
                Some("Sales \"EU\""),
                &["alice@example.com", "partner@other.org"],
                false,
            ),
        },
        MailChange::CreateGroup {
            new: group("team@example.com", None, &["carol@example.com"], true),
        },
    ]
}

fn same_state(a: &MailDomainState, b: &MailDomainState) -> bool {
    a.domain == b.domain
        && a.mailboxes.len() == b.mailboxes.len()
        && a.aliases.len() == b.aliases.len()
        && a.groups.len() == b.groups.len()
        && a.mailboxes
            .iter()
            .all(|m| b.mailboxes.iter().any(|n| m.same_as(n)))
        && a.aliases
            .iter()
            .all(|m| b.aliases.iter().any(|n| m.same_as(n)))
        && a.groups
            .iter()
            .all(|m| b.groups.iter().any(|n| m.same_as(n)))
}

#[tokio::test]
async fn apply_writes_the_real_formats_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    assert_eq!(
        p.read_domain("example.com").await.unwrap(),
        MailDomainState {
            domain: "example.com".into(),
            ..Default::default()
        }
    );
    let changes = initial_changes();
    let report = p.apply_domain("example.com", &changes).await;
    assert_eq!(report.outcomes.len(), changes.len());
    assert_all_applied(&report.outcomes);

    let d = dir.path();
    let h = hash();
    assert_eq!(read(d, "virtual_mailbox_domains"), "example.com OK\n");
    assert_eq!(
        read(d, "virtual_mailbox_maps"),
        "alice@example.com example.com/alice/\nbob@example.com example.com/bob/\ncarol@example.com example.com/carol/\n"
    );
    assert_eq!(
        read(d, "virtual_alias_maps"),
        "bob@example.com alice@example.com\n\
         info@example.com alice@example.com, bob@example.com\n\
         # mailform-group: {\"display_name\":\"Sales \\\"EU\\\"\"}\n\
         sales@example.com alice@example.com, partner@other.org\n\
         # mailform-group: {}\n\
         team@example.com carol@example.com\n"
    );
    assert_eq!(
        read(d, "recipient_access"),
        "sales@example.com internal_only\n"
    );
    assert_eq!(
        read(d, "dovecot-users"),
        format!(
            "alice@example.com:{h}:5000:5000:Alice%3A Ops:::\n\
             bob@example.com:{h}:5000:5000:Bob:::nologin=y reason=offboarded\n\
             carol@example.com:{h}:5000:5000::::nologin=y reason=suspended\n"
        )
    );

    let state = p.read_domain("Example.COM.").await.unwrap();
    let mut want = MailDomainState {
        domain: "example.com".into(),
        ..Default::default()
    };
    for c in &changes {
        match c {
            MailChange::CreateMailbox { new, .. } => want.mailboxes.push(new.clone()),
            MailChange::CreateAlias { new } => want.aliases.push(new.clone()),
            MailChange::CreateGroup { new } => want.groups.push(new.clone()),
            _ => unreachable!(),
        }
    }
    assert!(same_state(&state, &want), "{state:#?}");

    // The same creates again: every one conflicts and nothing moves.
    let before = snapshot(d);
    let again = p.apply_domain("example.com", &changes).await;
    for o in &again.outcomes {
        let ChangeOutcome::Failed(ProviderError::Conflict(msg)) = o else {
            panic!("{o:?}")
        };
        assert!(msg.contains("run plan again"), "{msg}");
    }
    assert_eq!(snapshot(d), before);
}

#[tokio::test]
async fn other_domains_comments_and_spacing_survive_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let h = hash();
    let seed = [
        ("virtual_mailbox_domains", "# domains\nother.org   OK\nexample.com OK\n".to_string()),
        (
            "virtual_mailbox_maps",
            "# maps\nzed@other.org other.org/zed/\nalice@example.com\texample.com/alice/\n\nyan@other.org other.org/yan/".to_string(),
        ),
        (
            "virtual_alias_maps",
            "# keep me\n@other.org zed@other.org\nold@example.com   alice@example.com,\n    zed@other.org\n# mailform-group: {\"display_name\":\"Other\"}\nteam@other.org zed@other.org\n@example.com alice@example.com\n".to_string(),
        ),
        ("recipient_access", "abuse@example.com OK\nteam@other.org internal_only\n".to_string()),
        (
            "dovecot-users",
            format!("# users\nzed@other.org:{h}:1:1:Zed:::\nyan@other.org:{h}::::::\nalice@example.com:{h}:5000:5000:Alice:/home/alice::userdb_quota_rule=*:storage=1G\n"),
        ),
    ];
    for (name, text) in &seed {
        fs::write(d.join(name), text).unwrap();
    }
    let p = provider(d);
    let other_before = p.read_domain("other.org").await.unwrap();

    // Reading changes nothing; an empty apply changes nothing.
    let before = snapshot(d);
    let state = p.read_domain("example.com").await.unwrap();
    assert_eq!(
        state.aliases,
        vec![alias(
            "old@example.com",
            &["alice@example.com", "zed@other.org"]
        )]
    );
    assert_all_applied(&p.apply_domain("example.com", &[]).await.outcomes);
    assert_eq!(snapshot(d), before);

    let changes = vec![
        create_mailbox(mailbox("bob@example.com", None, MailboxState::Active)),
        MailChange::UpdateMailbox {
            old: mailbox("alice@example.com", Some("Alice"), MailboxState::Active),
            new: mailbox(
                "alice@example.com",
                Some("Alice L."),
                MailboxState::Suspended,
            ),
        },
        MailChange::CreateGroup {
            new: group("sales@example.com", None, &["bob@example.com"], false),
        },
    ];
    assert_all_applied(&p.apply_domain("example.com", &changes).await.outcomes);

    assert_eq!(read(d, "virtual_mailbox_domains"), seed[0].1, "untouched");
    assert_eq!(
        read(d, "virtual_mailbox_maps"),
        "# maps\nzed@other.org other.org/zed/\nalice@example.com\texample.com/alice/\nbob@example.com example.com/bob/\n\nyan@other.org other.org/yan/"
    );
    assert_eq!(
        read(d, "virtual_alias_maps"),
        // New entries go right after the domain's last one.
        "# keep me\n@other.org zed@other.org\nold@example.com   alice@example.com,\n    zed@other.org\n\
         # mailform-group: {}\nsales@example.com bob@example.com\n\
         # mailform-group: {\"display_name\":\"Other\"}\nteam@other.org zed@other.org\n@example.com alice@example.com\n"
    );
    assert_eq!(
        read(d, "recipient_access"),
        "abuse@example.com OK\nteam@other.org internal_only\nsales@example.com internal_only\n"
    );
    assert_eq!(
        read(d, "dovecot-users"),
        format!(
            "# users\nzed@other.org:{h}:1:1:Zed:::\nyan@other.org:{h}::::::\n\
             alice@example.com:{h}:5000:5000:Alice L.:/home/alice::userdb_quota_rule=*:storage=1G nologin=y reason=suspended\n\
             bob@example.com:{h}:5000:5000::::\n"
        )
    );
    let other_after = p.read_domain("other.org").await.unwrap();
    assert_eq!(other_before, other_after);
    assert_eq!(other_after.groups[0].display_name.as_deref(), Some("Other"));
    assert!(!other_after.groups[0].allow_external);
}

#[tokio::test]
async fn a_stale_change_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = provider(d);
    assert_all_applied(
        &p.apply_domain("example.com", &initial_changes())
            .await
            .outcomes,
    );
    let before = snapshot(d);

    let stale = vec![
        MailChange::DeleteAlias {
            old: alias(
                "info@example.com",
                &["alice@example.com", "bob@example.com"],
            ),
        },
        MailChange::UpdateGroup {
            // The live group is closed; the plan thought it open.
            old: group(
                "sales@example.com",
                Some("Sales \"EU\""),
                &["alice@example.com", "partner@other.org"],
                true,
            ),
            new: group("sales@example.com", None, &["alice@example.com"], true),
        },
        MailChange::DeleteMailbox {
            old: mailbox("nobody@example.com", None, MailboxState::Active),
        },
    ];
    let report = p.apply_domain("example.com", &stale).await;
    assert!(matches!(report.outcomes[0], ChangeOutcome::NotAttempted(_)));
    for o in &report.outcomes[1..] {
        let ChangeOutcome::Failed(ProviderError::Conflict(msg)) = o else {
            panic!("{o:?}")
        };
        assert!(msg.contains("changed since the plan was made"), "{msg}");
    }
    assert_eq!(snapshot(d), before, "files must be byte-identical");
}

#[tokio::test]
async fn passwords_are_required_hashes_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = provider(d);
    let plain = "S3cret-plain-password";
    let changes = vec![
        MailChange::CreateMailbox {
            new: mailbox("alice@example.com", None, MailboxState::Active),
            password: None,
        },
        MailChange::CreateMailbox {
            new: mailbox("bob@example.com", None, MailboxState::Active),
            password: Some(InitialPassword::Plain(Secret::new(plain))),
        },
        MailChange::CreateMailbox {
            new: mailbox("carol@example.com", None, MailboxState::Active),
            password: Some(InitialPassword::Hash(Secret::new(format!(
                "{{SHA512-CRYPT}}{plain}"
            )))),
        },
        create_mailbox(mailbox("dave@example.com", None, MailboxState::Active)),
    ];
    let report = p.apply_domain("example.com", &changes).await;
    let printed = format!("{report:?} {}", serde_json::to_string(&report).unwrap());
    assert!(!printed.contains(plain), "{printed}");
    assert!(!printed.contains(&hash()[20..]), "{printed}");
    for (o, who) in report.outcomes[..3].iter().zip([
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]) {
        let ChangeOutcome::Failed(ProviderError::Rejected(msg)) = o else {
            panic!("{o:?}")
        };
        assert!(msg.contains(who) && msg.contains("doveadm pw"), "{msg}");
    }
    assert!(matches!(report.outcomes[3], ChangeOutcome::NotAttempted(_)));
    assert!(snapshot(d).is_empty(), "nothing may be written");
}

#[tokio::test]
async fn updates_keep_the_hash_and_deletes_keep_the_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = provider(d);
    let alice = mailbox("alice@example.com", Some("Alice"), MailboxState::Active);
    assert_all_applied(
        &p.apply_domain("example.com", &[create_mailbox(alice.clone())])
            .await
            .outcomes,
    );
    let maildir = d.join("vmail/example.com/alice/cur");
    fs::create_dir_all(&maildir).unwrap();
    fs::write(maildir.join("1.eml"), "Subject: kept\n\n").unwrap();

    let mut offboarded = alice.clone();
    offboarded.state = MailboxState::Offboarded;
    offboarded.successor = Some("boss@example.com".into());
    let update = MailChange::UpdateMailbox {
        old: alice.clone(),
        new: offboarded.clone(),
    };
    assert_all_applied(&p.apply_domain("example.com", &[update]).await.outcomes);
    assert_eq!(
        read(d, "dovecot-users"),
        format!(
            "alice@example.com:{}:5000:5000:Alice:::nologin=y reason=offboarded\n",
            hash()
        )
    );
    assert_eq!(
        read(d, "virtual_alias_maps"),
        "alice@example.com boss@example.com\n"
    );
    let live = p.read_domain("example.com").await.unwrap();
    assert!(live.mailboxes[0].same_as(&offboarded));
    assert!(live.aliases.is_empty(), "a successor is not an alias");

    let delete = MailChange::DeleteMailbox { old: offboarded };
    assert_all_applied(&p.apply_domain("example.com", &[delete]).await.outcomes);
    for name in FILES {
        assert_eq!(read(d, name), "", "{name}");
    }
    assert!(maildir.join("1.eml").exists(), "the mail stays on disk");
}

#[tokio::test]
async fn groups_open_close_and_rename() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = provider(d);
    let open = group("ops@example.com", None, &["a@example.org"], true);
    let create = MailChange::CreateGroup { new: open.clone() };
    assert_all_applied(&p.apply_domain("example.com", &[create]).await.outcomes);
    // Groups alone do not list the domain as a mailbox domain.
    assert_eq!(read(d, "virtual_mailbox_domains"), "");
    assert!(!d.join("recipient_access").exists());

    let closed = group(
        "ops@example.com",
        Some("Ops"),
        &["a@example.org", "b@example.org"],
        false,
    );
    let update = MailChange::UpdateGroup {
        old: open,
        new: closed.clone(),
    };
    assert_all_applied(&p.apply_domain("example.com", &[update]).await.outcomes);
    assert_eq!(
        read(d, "virtual_alias_maps"),
        "# mailform-group: {\"display_name\":\"Ops\"}\nops@example.com a@example.org, b@example.org\n"
    );
    assert_eq!(
        read(d, "recipient_access"),
        "ops@example.com internal_only\n"
    );
    assert!(p.read_domain("example.com").await.unwrap().groups[0].same_as(&closed));

    let rename = MailChange::UpdateGroup {
        old: closed.clone(),
        new: group("ops2@example.com", None, &["a@example.org"], true),
    };
    let report = p.apply_domain("example.com", &[rename]).await;
    assert!(matches!(
        report.outcomes[0],
        ChangeOutcome::Failed(ProviderError::Rejected(_))
    ));

    let delete = MailChange::DeleteGroup { old: closed };
    assert_all_applied(&p.apply_domain("example.com", &[delete]).await.outcomes);
    assert_eq!(read(d, "virtual_alias_maps"), "");
    assert_eq!(read(d, "recipient_access"), "");
}

#[tokio::test]
async fn a_failing_postmap_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config: Config = serde_json::from_value(serde_json::json!({
        "directory": ".", "postmap": "false"
    }))
    .unwrap();
    let p = PostfixProvider::new(config, d);
    assert_eq!(p.directory(), d.join("."));
    let changes = initial_changes();
    let report = p.apply_domain("example.com", &changes).await;
    assert_eq!(report.outcomes.len(), changes.len());
    for o in &report.outcomes {
        let ChangeOutcome::Failed(ProviderError::Service(msg)) = o else {
            panic!("{o:?}")
        };
        assert!(
            msg.contains("`false hash:") && msg.contains("nothing was changed"),
            "{msg}"
        );
    }
    assert!(snapshot(d).is_empty(), "{:?}", snapshot(d));
}

#[tokio::test]
async fn bad_input_is_refused_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path());
    let cases = [
        create_mailbox(mailbox("alice@other.org", None, MailboxState::Active)),
        create_mailbox(mailbox("a b@example.com", None, MailboxState::Active)),
        MailChange::CreateAlias {
            new: alias("info@example.com", &[]),
        },
        MailChange::CreateAlias {
            new: alias("info@example.com", &["x@y.z, evil@y.z"]),
        },
        MailChange::CreateGroup {
            new: group("g@example.com", None, &[], true),
        },
    ];
    for c in cases {
        let report = p
            .apply_domain("example.com", std::slice::from_ref(&c))
            .await;
        assert!(
            matches!(
                report.outcomes[0],
                ChangeOutcome::Failed(ProviderError::Rejected(_))
            ),
            "{c:?}: {:?}",
            report.outcomes
        );
    }
    let mut with_alias = mailbox("alice@example.com", None, MailboxState::Active);
    with_alias.aliases = vec!["al@example.com".into()];
    let report = p
        .apply_domain("example.com", &[create_mailbox(with_alias)])
        .await;
    assert!(matches!(
        report.outcomes[0],
        ChangeOutcome::Failed(ProviderError::Unsupported(_))
    ));
    assert!(snapshot(dir.path()).is_empty());

    let missing = provider(&dir.path().join("nope"));
    let err = missing.read_domain("example.com").await.unwrap_err();
    assert!(matches!(err, ProviderError::Io(_)) && err.to_string().contains("does not exist"));
}

#[tokio::test]
async fn a_malformed_line_fails_the_read_and_the_apply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("virtual_alias_maps"),
        "ok@example.com a@b.c\nbroken@example.com\n",
    )
    .unwrap();
    let p = provider(d);
    let err = p.read_domain("example.com").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Parse(m) if m.contains("virtual_alias_maps:2:")),
        "{err}"
    );
    let before = snapshot(d);
    let report = p
        .apply_domain(
            "example.com",
            &[MailChange::CreateAlias {
                new: alias("x@example.com", &["a@b.c"]),
            }],
        )
        .await;
    assert!(matches!(
        report.outcomes[0],
        ChangeOutcome::Failed(ProviderError::Parse(_))
    ));
    assert_eq!(snapshot(d), before);
    // Another domain's reads are not blocked by it.
    assert!(p.read_domain("other.org").await.is_ok());
}

#[test]
fn capabilities_ask_for_hashes() {
    let p = provider(Path::new("/tmp"));
    assert_eq!(p.kind(), "postfix");
    let caps = p.capabilities();
    assert!(!caps.mailbox_aliases && !caps.group_aliases);
    assert!(caps.groups && caps.group_external_senders && caps.display_names);
    assert!(caps.password.required && !caps.password.plain);
    let json = serde_json::to_value(&caps.password).unwrap();
    assert_eq!(
        json["hash_schemes"],
        serde_json::json!([
            "SHA512-CRYPT",
            "SHA256-CRYPT",
            "BLF-CRYPT",
            "ARGON2ID",
            "ARGON2I"
        ])
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_edit_by_hand_during_an_apply_is_a_conflict_not_lost() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = provider(d)
        .apply_domain("example.com", &initial_changes())
        .await;
    assert_all_applied(&report.outcomes);
    // A "postmap" that, while mailform compiles, lets someone edit the map.
    let script = d.join("edit-then-compile");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho 'hand@other.org x@other.org' >> {}\ntouch \"${{1#hash:}}.db\"\n",
            d.join("virtual_alias_maps").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let config: Config = serde_json::from_value(serde_json::json!({
        "directory": d, "postmap": script.display().to_string()
    }))
    .unwrap();
    let p = PostfixProvider::new(config, Path::new("/nonexistent"));
    let change = MailChange::CreateAlias {
        new: alias("new@example.com", &["alice@example.com"]),
    };
    let report = p.apply_domain("example.com", &[change]).await;
    let ChangeOutcome::Failed(ProviderError::Conflict(msg)) = &report.outcomes[0] else {
        panic!("{report:?}")
    };
    assert!(msg.contains("changed by someone else") && msg.contains("nothing was written"));
    let map = fs::read_to_string(d.join("virtual_alias_maps")).unwrap();
    assert!(
        map.contains("hand@other.org") && !map.contains("new@example.com"),
        "{map}"
    );
    assert!(!d.join("virtual_alias_maps.db").exists());
}
