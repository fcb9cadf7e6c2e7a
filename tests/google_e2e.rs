//! End-to-end tests of the `mailform` binary against the in-process fake
//! Google Workspace APIs (`mailform_google::fake`), which check the JWT
//! grant and every request against Google's discovery documents.

use std::path::PathBuf;

use assert_cmd::Command;
use mailform_google::fake::{FakeConfig, FakeGoogle, Fault, FaultKind};

const HASH: &str = "{SHA512-CRYPT}$6$rounds=5000$e2esalt$0123456789abcdefghijklmnopqrstuv";

struct Tenant {
    dir: tempfile::TempDir,
    fake: FakeGoogle,
}

impl Tenant {
    fn new() -> Tenant {
        let fake = FakeGoogle::start_background(FakeConfig::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sa.json"), fake.service_account_key()).unwrap();
        std::fs::write(dir.path().join("initial.hash"), HASH).unwrap();
        Tenant { dir, fake }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn providers(&self) -> String {
        format!(
            "providers:\n  gw:\n    google_workspace:\n      admin: admin@example.com\n      credentials: ${{file:sa.json}}\n      directory_endpoint: \"{u}\"\n      groups_settings_endpoint: \"{u}\"\n      gmail_endpoint: \"{u}\"\n      token_endpoint: \"{t}\"\n",
            u = self.fake.url(),
            t = self.fake.token_url()
        )
    }

    fn set_yaml(&self, body: &str) {
        let text = format!("version: 1\n{}{body}", self.providers());
        std::fs::write(self.path("mailform.yaml"), text).unwrap();
    }

    fn run(&self, args: &[&str], code: i32) -> String {
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .arg("-f")
            .arg(self.path("mailform.yaml"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}");
        for secret in ["PRIVATE KEY", "$6$rounds", "ya29."] {
            assert!(!text.contains(secret), "output shows {secret}:\n{text}");
        }
        text
    }
}

const ESTATE: &str = r#"domains:
  example.com:
    mail: {provider: gw}
mailboxes:
  alice@example.com:
    name: Alice Example
    aliases: [a@example.com, alice.example@example.com]
    password_hash: ${file:initial.hash}
  bob@example.com:
    name: Bob Builder
    password_hash: ${file:initial.hash}
  carol@example.com:
    name: Carol Jones
    state: suspended
    password_hash: ${file:initial.hash}
groups:
  sales@example.com:
    name: Sales
    members: [alice@example.com, bob@example.com, agent@partner.example]
    aliases: [vertrieb@example.com]
    allow_external: true
  staff@example.com:
    name: Staff
    members: [alice@example.com, bob@example.com, carol@example.com]
"#;

#[test]
fn plan_apply_plan_is_empty_and_edits_converge() {
    let t = Tenant::new();
    t.fake.add_user("admin@example.com", "Admin", "Istrator");
    t.set_yaml(ESTATE);
    t.run(&["validate"], 0);
    let plan = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("alice@example.com"), "{plan}");
    assert!(plan.contains("sales@example.com"), "{plan}");
    // The admin account is not in the file: reported, never touched.
    assert!(plan.contains("admin@example.com"), "{plan}");
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);

    // An edit: a renamed user, an alias moved, a member removed, a group
    // closed to outside senders.
    t.set_yaml(
        &ESTATE
            .replace("name: Bob Builder", "name: Robert Builder")
            .replace(
                "aliases: [a@example.com, alice.example@example.com]",
                "aliases: [a@example.com]",
            )
            .replace(
                "members: [alice@example.com, bob@example.com, agent@partner.example]",
                "members: [alice@example.com, agent@partner.example]",
            )
            .replace("allow_external: true", "allow_external: false"),
    );
    let plan = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("Robert Builder"), "{plan}");
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        let bob = s
            .users
            .values()
            .find(|u| u.primary_email == "bob@example.com")
            .unwrap();
        assert_eq!(bob.given_name, "Robert");
        assert_eq!(bob.hash_function.as_deref(), Some("crypt"));
        // A migrated hash is the user's own password: kept.
        assert!(!bob.change_password_at_next_login);
        let sales = s
            .groups
            .values()
            .find(|g| g.email == "sales@example.com")
            .unwrap();
        assert_eq!(sales.who_can_post, "ALL_IN_DOMAIN_CAN_POST");
        assert_eq!(sales.members.len(), 2);
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn faults_mid_apply_are_reported_and_a_rerun_converges_without_duplicates() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    // The third user insert is carried out but its answer is lost.
    t.fake.inject(
        Fault::on(
            Some("directory.users.insert"),
            FaultKind::ProcessedThenServerError,
        )
        .skip(2),
    );
    t.fake
        .inject(Fault::on(Some("directory.members.insert"), FaultKind::RateLimit).times(3));
    let out = t.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("may have been carried out"), "{out}");
    let users = t.fake.with_store(|s| s.users.len());
    assert_eq!(users, 3);
    // Running again continues from what is live.
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        assert_eq!(s.users.len(), 3, "no duplicate users");
        assert_eq!(s.groups.len(), 2, "no duplicate groups");
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn what_google_cannot_hold_is_refused_at_plan_time() {
    let t = Tenant::new();
    t.set_yaml(
        r#"domains:
  example.com:
    mail: {provider: gw}
mailboxes:
  alice@example.com:
    name: Alice Example
aliases:
  info@example.com: {to: [alice@example.com]}
"#,
    );
    let out = t.run(&["plan"], 1);
    assert!(out.contains("info@example.com"), "{out}");
    assert!(out.contains("cannot hold"), "{out}");
    assert!(out.contains("password_hash"), "{out}");
    assert_eq!(t.fake.writes(), 0);
}

#[test]
fn a_missing_key_file_fails_validate_with_the_fix() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    std::fs::remove_file(t.path("sa.json")).unwrap();
    let out = t.run(&["validate"], 1);
    assert!(out.contains("sa.json"), "{out}");
    assert_eq!(t.fake.requests(), 0);
}

#[test]
fn generated_passwords_go_to_a_private_file_before_the_users_exist() {
    let t = Tenant::new();
    t.set_yaml(
        r#"domains:
  example.com:
    mail: {provider: gw}
mailboxes:
  dave@example.com: {name: Dave Smith, initial_password: generate}
  erin@example.com: {name: Erin Jones, initial_password: generate}
"#,
    );
    let plan = t.run(&["plan"], 0);
    assert!(
        plan.contains("initial password generated at apply"),
        "{plan}"
    );
    let out = t.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("--password-file"), "{out}");
    assert_eq!(t.fake.writes(), 0);
    let file = t.path("passwords.txt");
    let out = t.run(
        &[
            "apply",
            "--auto-approve",
            "--password-file",
            file.to_str().unwrap(),
        ],
        0,
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        let (_, password) = line.split_once('\t').unwrap();
        assert_eq!(password.len(), 24);
        assert!(!out.contains(password), "the password is printed:\n{out}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    t.fake.with_store(|s| {
        assert_eq!(s.users.len(), 2);
        assert!(s.users.values().all(|u| u.hash_function.is_none()));
        // A handed-over password is replaced at first sign-in.
        assert!(s.users.values().all(|u| u.change_password_at_next_login));
    });
    t.run(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn an_imported_tenant_rebuilds_an_empty_one() {
    let a = Tenant::new();
    a.set_yaml(ESTATE);
    a.run(&["apply", "--auto-approve"], 0);
    let imported = a.path("imported.yaml");
    a.run(&["import", "--out", imported.to_str().unwrap()], 0);
    let text = std::fs::read_to_string(&imported).unwrap();
    assert!(text.contains("initial_password: generate"), "{text}");

    // The same file on a fresh tenant (its endpoints and key instead).
    let b = Tenant::new();
    let text_b = text.replace(&a.fake.url(), &b.fake.url());
    std::fs::write(b.path("mailform.yaml"), &text_b).unwrap();
    let pw = b.path("pw.txt");
    b.run(
        &[
            "apply",
            "--auto-approve",
            "--password-file",
            pw.to_str().unwrap(),
        ],
        0,
    );
    b.run(&["plan", "--detailed-exitcode"], 0);
    // And the imported file describes the first tenant exactly.
    std::fs::copy(&imported, a.path("mailform.yaml")).unwrap();
    a.run(&["plan", "--detailed-exitcode"], 0);
    assert!(a.fake.violations().is_empty() && b.fake.violations().is_empty());
}

#[test]
fn offboarding_forwards_to_the_successor_and_converges() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    t.run(&["apply", "--auto-approve"], 0);
    t.set_yaml(&ESTATE.replace(
        "    name: Bob Builder\n",
        "    name: Bob Builder\n    state: offboarded\n    successor: alice@example.com\n",
    ));
    let plan = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("bob@example.com"), "{plan}");
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        let bob = s
            .users
            .values()
            .find(|u| u.primary_email == "bob@example.com")
            .unwrap();
        assert_eq!(bob.org_unit_path, "/Offboarded");
        assert_eq!(bob.auto_forwarding.as_deref(), Some("alice@example.com"));
        assert!(!bob.suspended);
        assert_eq!((bob.password_changes, bob.sign_outs), (1, 1));
        assert_eq!(s.transfers.len(), 1);
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn a_failed_sign_out_leaves_the_offboarding_for_the_next_plan() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    t.run(&["apply", "--auto-approve"], 0);
    t.set_yaml(&ESTATE.replace(
        "    name: Bob Builder\n",
        "    name: Bob Builder\n    state: offboarded\n    successor: alice@example.com\n",
    ));
    t.fake.inject(Fault::on(
        Some("directory.users.signOut"),
        FaultKind::ServerError,
    ));
    let out = t.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("signing bob@example.com out"), "{out}");
    // Bob's sessions may still be open: not done, so planned again.
    let plan = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("bob@example.com"), "{plan}");
    // The forwarding address exists now (409), and is read back.
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        let bob = s
            .users
            .values()
            .find(|u| u.primary_email == "bob@example.com")
            .unwrap();
        assert_eq!(bob.org_unit_path, "/Offboarded");
        assert_eq!(bob.sign_outs, 1);
        assert_eq!(bob.auto_forwarding.as_deref(), Some("alice@example.com"));
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

/// The README's Google Workspace section tells admins which scopes to
/// delegate; the fake tenant delegates exactly those by default, and
/// refuses a grant for any other, so every scope mailform asks for must
/// be in the README.
#[test]
fn the_readme_lists_every_scope_to_delegate() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("### `google_workspace` (mail)")
        .expect("the Google Workspace section");
    let section = &readme[start + 4..];
    let section = &section[..section.find("\n### ").unwrap_or(section.len())];
    let prefix = "https://www.googleapis.com/auth/";
    let listed: std::collections::BTreeSet<&str> = section
        .match_indices(prefix)
        .map(|(i, _)| {
            let rest = &section[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "./:_-".contains(c)))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches('.')
        })
        .collect();
    let delegated: std::collections::BTreeSet<&str> = mailform_google::auth::scopes::DELEGATED
        .iter()
        .copied()
        .collect();
    assert_eq!(listed, delegated);
}

#[test]
fn a_deleted_user_hands_its_address_to_the_successor() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    t.run(&["apply", "--auto-approve"], 0);
    // Bob is in groups; the file takes him out of them as he leaves.
    let after = ESTATE
        .replace(
            "    name: Bob Builder\n    password_hash: ${file:initial.hash}\n",
            "    state: deleted\n    successor: alice@example.com\n",
        )
        .replace(
            "members: [alice@example.com, bob@example.com, agent@partner.example]",
            "members: [alice@example.com, agent@partner.example]",
        )
        .replace(
            "members: [alice@example.com, bob@example.com, carol@example.com]",
            "members: [alice@example.com, carol@example.com]",
        );
    t.set_yaml(&after);
    let refused = t.run(&["apply", "--auto-approve"], 1);
    assert!(refused.contains("--allow-destroy"), "{refused}");
    let applied = t.run(&["apply", "--auto-approve", "--allow-destroy"], 0);
    // In the report (after the plan it prints first): the deletion, then
    // the successor's update that takes the address.
    let report = &applied[applied.find("\n  done").expect(&applied)..];
    let deleted = report.find("- mailbox bob@example.com").expect(&applied);
    let handed = report.find("~ mailbox alice@example.com").expect(&applied);
    assert!(deleted < handed, "{applied}");
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        assert!(s
            .users
            .values()
            .all(|u| u.primary_email != "bob@example.com"));
        let alice = s
            .users
            .values()
            .find(|u| u.primary_email == "alice@example.com")
            .unwrap();
        assert!(
            alice.aliases.iter().any(|a| a == "bob@example.com"),
            "{:?}",
            alice.aliases
        );
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn additive_lists_adopt_a_group_without_removing_anyone() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    t.run(&["apply", "--auto-approve"], 0);
    // Someone adds a member by hand in the console.
    t.fake.with_store(|s| {
        let id = s.group_id("staff@example.com").unwrap();
        s.insert_member(
            &id,
            &serde_json::json!({"email": "contractor@partner.example"}),
        )
        .unwrap();
    });
    let additive = ESTATE.replace(
        "    name: Staff\n",
        "    name: Staff\n    lists: additive\n",
    );
    t.set_yaml(&additive);
    t.run(&["plan", "--detailed-exitcode"], 0);
    // Exact (the default): the hand-added member is planned for removal.
    t.set_yaml(ESTATE);
    let plan = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("contractor@partner.example"), "{plan}");
    // Additive still adds what the file names.
    t.set_yaml(&additive.replace(
        "members: [alice@example.com, bob@example.com, carol@example.com]",
        "members: [alice@example.com, bob@example.com, carol@example.com, agent@partner.example]",
    ));
    t.run(&["apply", "--auto-approve"], 0);
    t.fake.with_store(|s| {
        let staff = s
            .groups
            .values()
            .find(|g| g.email == "staff@example.com")
            .unwrap();
        let members: Vec<&str> = staff.members.iter().map(|m| m.email.as_str()).collect();
        assert!(
            members.contains(&"contractor@partner.example"),
            "{members:?}"
        );
        assert!(members.contains(&"agent@partner.example"), "{members:?}");
    });
}
