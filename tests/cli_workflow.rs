//! End-to-end tests of the `mailform` binary on the offline providers:
//! the quickstart workflow, ownership, safety switches and saved plans.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

/// A copy of the quickstart in a temporary directory.
struct Estate {
    dir: tempfile::TempDir,
}

impl Estate {
    fn new() -> Estate {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        std::fs::copy(src.join("mailform.yaml"), dir.path().join("mailform.yaml")).unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        // The postfix provider wants its directory to exist (a typo must not
        // read as an empty estate), as the quickstart ships it.
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        for f in std::fs::read_dir(src.join("secrets")).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.path().join("secrets").join(f.file_name())).unwrap();
        }
        Estate { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn yaml(&self) -> String {
        std::fs::read_to_string(self.path("mailform.yaml")).unwrap()
    }

    fn set_yaml(&self, text: &str) {
        std::fs::write(self.path("mailform.yaml"), text).unwrap();
    }

    /// `mailform <args> -f <estate>/mailform.yaml`, run from another directory
    /// to prove relative paths resolve against the file.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.current_dir(std::env::temp_dir())
            .env_remove("NO_COLOR")
            .arg("-f")
            .arg(self.path("mailform.yaml"))
            .args(args);
        c
    }

    fn apply(&self) {
        self.cmd(&["apply", "--auto-approve"]).assert().success();
    }

    fn zone_file(&self) -> String {
        std::fs::read_to_string(self.path("zones/example.com.zone")).unwrap()
    }
}

#[test]
fn quickstart_plans_applies_and_converges() {
    let e = Estate::new();
    e.cmd(&["validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("is valid"));
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("+ mailbox alice@example.com"))
        .stdout(predicate::str::contains("+ @ MX"))
        .stdout(predicate::str::contains("to create"));
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Apply complete"));
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"));
    // Applying again does nothing and succeeds.
    e.cmd(&["apply", "--auto-approve"]).assert().success();
}

#[test]
fn secrets_never_reach_plans_or_output() {
    let e = Estate::new();
    let hash = std::fs::read_to_string(e.path("secrets/alice.hash")).unwrap();
    let secret_part = hash.trim().split('$').next_back().unwrap().to_string();
    for format in ["text", "json", "markdown"] {
        e.cmd(&["plan", "--format", format])
            .assert()
            .success()
            .stdout(predicate::str::contains(&secret_part).not());
    }
    e.cmd(&["plan", "--out"])
        .arg(e.path("p.json"))
        .assert()
        .success();
    assert!(!std::fs::read_to_string(e.path("p.json"))
        .unwrap()
        .contains(&secret_part));
    e.cmd(&["apply", "--auto-approve", "-vv"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&secret_part).not())
        .stderr(predicate::str::contains(&secret_part).not());
    // The hash did reach its destination.
    assert!(std::fs::read_to_string(e.path("mail/dovecot-users"))
        .unwrap()
        .contains(hash.trim()));
}

#[test]
fn a_mailbox_removed_from_the_file_is_reported_not_deleted() {
    let e = Estate::new();
    e.apply();
    let without_bob = e.yaml().replace(
        "  bob@example.com:\n    name: Bob Builder\n    password_hash: ${file:secrets/bob.hash}\n",
        "",
    );
    assert_ne!(without_bob, e.yaml());
    // Bob is still referenced by groups; drop those references too.
    let without_bob = without_bob.replace(
        "[alice@example.com, bob@example.com]",
        "[alice@example.com]",
    );
    e.set_yaml(&without_bob);
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("- mailbox").not())
        .stdout(predicate::str::contains("bob@example.com"))
        .stdout(predicate::str::contains("mailboxes are never deleted"));
    e.apply();
    assert!(std::fs::read_to_string(e.path("mail/virtual_mailbox_maps"))
        .unwrap()
        .contains("bob@example.com"));
}

#[test]
fn deleting_a_mailbox_needs_state_deleted_and_allow_destroy() {
    let e = Estate::new();
    e.apply();
    e.set_yaml(
        &e.yaml()
            .replace(
                "    name: Bob Builder\n",
                "    name: Bob Builder\n    state: deleted\n",
            )
            .replace(
                "[alice@example.com, bob@example.com]",
                "[alice@example.com]",
            ),
    );
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("- mailbox bob@example.com"));
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--allow-destroy"))
        .stderr(predicate::str::contains("nothing was changed"));
    assert!(std::fs::read_to_string(e.path("mail/virtual_mailbox_maps"))
        .unwrap()
        .contains("bob@example.com"));
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .success();
    assert!(
        !std::fs::read_to_string(e.path("mail/virtual_mailbox_maps"))
            .unwrap()
            .contains("bob@example.com")
    );
}

#[test]
fn undeclared_records_are_unmanaged_and_left_alone() {
    let e = Estate::new();
    e.apply();
    let zone = e.zone_file();
    let edited = format!("{zone}legacy               600 IN A      203.0.113.7\n_acme-challenge      60 IN TXT    \"token\"\n");
    std::fs::write(e.path("zones/example.com.zone"), edited).unwrap();
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("legacy A"))
        .stdout(predicate::str::contains("not in the file, left alone"));
    // A declared change is applied while the undeclared records survive it.
    e.set_yaml(&e.yaml().replace(
        "A: {ttl: 300, values: [192.0.2.80]}",
        "A: {ttl: 300, values: [192.0.2.81]}",
    ));
    e.apply();
    let after = e.zone_file();
    assert!(after.contains("203.0.113.7"));
    assert!(after.contains("\"token\""));
    assert!(after.contains("192.0.2.81"));
    // With `manage: zone`, the undeclared record is deleted, the ignored one kept.
    e.set_yaml(&e.yaml().replace("manage: declared", "manage: zone"));
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("- legacy A"))
        .stdout(predicate::str::contains("matching `ignore`"));
    e.apply();
    let after = e.zone_file();
    assert!(!after.contains("203.0.113.7"));
    assert!(after.contains("\"token\""));
}

#[test]
fn a_saved_plan_is_refused_when_live_state_or_file_changed() {
    let e = Estate::new();
    e.cmd(&["plan", "--out"])
        .arg(e.path("p.json"))
        .assert()
        .success();
    // Someone else applies first: the live state moves.
    e.apply();
    e.cmd(&["apply", "--auto-approve"])
        .arg(e.path("p.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("live state changed"));

    e.set_yaml(&e.yaml().replace("192.0.2.80", "192.0.2.82"));
    e.cmd(&["plan", "--out"])
        .arg(e.path("q.json"))
        .assert()
        .success();
    e.set_yaml(&e.yaml().replace("192.0.2.82", "192.0.2.83"));
    e.cmd(&["apply", "--auto-approve"])
        .arg(e.path("q.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("changed since the plan was made"));
    e.set_yaml(&e.yaml().replace("192.0.2.83", "192.0.2.82"));
    e.cmd(&["apply", "--auto-approve"])
        .arg(e.path("q.json"))
        .assert()
        .success();
    assert!(e.zone_file().contains("192.0.2.82"));
}

#[test]
fn apply_without_a_terminal_or_approval_refuses() {
    let e = Estate::new();
    e.cmd(&["apply"])
        .write_stdin("yes\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--auto-approve"));
    assert!(!e.path("zones/example.com.zone").exists());
}

#[test]
fn large_rewrites_need_force() {
    let e = Estate::new();
    e.apply();
    // Owning the zone and declaring almost nothing would delete most of it.
    let yaml = e.yaml();
    let start = yaml.find("      mx1:\n").unwrap();
    let end = yaml.find("mailboxes:").unwrap();
    let cut = format!("{}\n{}", &yaml[..start], &yaml[end..])
        .replace("manage: declared", "manage: zone")
        .replace("CNAME: mx1.example.com.", "");
    e.set_yaml(&cut);
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("apply needs --force"));
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("safety limits"));
    assert!(e.zone_file().contains("mx2"));
    e.cmd(&["apply", "--auto-approve", "--force"])
        .assert()
        .success();
    assert!(!e.zone_file().contains("mx2 "));
}

#[test]
fn a_profile_switches_mx_in_one_reviewed_apply() {
    let e = Estate::new();
    e.apply();
    e.cmd(&["plan", "--profile", "mx-failover", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("~ @ MX"))
        .stdout(predicate::str::contains("Profile: mx-failover"));
    e.cmd(&["plan", "--profile", "mx-failovr"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean `mx-failover`?"));
}

#[test]
fn import_writes_a_file_that_plans_clean() {
    let e = Estate::new();
    e.apply();
    let out = e
        .cmd(&["import"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let imported = String::from_utf8(out).unwrap();
    assert!(imported.contains("alice@example.com"));
    assert!(!imported.contains("$6$"), "no password hash is imported");
    // Passwords cannot be read back; the imported file plans no changes
    // against the estate it came from.
    std::fs::write(e.path("imported.yaml"), &imported).unwrap();
    let mut c = Command::cargo_bin("mailform").unwrap();
    c.args(["plan", "--detailed-exitcode", "-f"])
        .arg(e.path("imported.yaml"));
    c.assert().code(0);
}

#[test]
fn target_limits_the_run_and_unknown_targets_are_errors() {
    let e = Estate::new();
    e.cmd(&["plan", "--target", "example.com"])
        .assert()
        .success();
    e.cmd(&["plan", "--target", "exmaple.com"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean `example.com`?"));
}

#[test]
fn json_plan_is_versioned_and_markdown_renders() {
    let e = Estate::new();
    let out = e
        .cmd(&["plan", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["format_version"], 1);
    assert!(v["live_fingerprint"].as_str().unwrap().len() == 64);
    assert_eq!(v["zones"][0]["zone"], "example.com");
    e.cmd(&["plan", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::contains("### mailform plan"))
        .stdout(predicate::str::contains("```diff"));
}

#[test]
fn schema_file_is_current() {
    let out = Command::cargo_bin("mailform")
        .unwrap()
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/mailform.schema.json"),
    )
    .unwrap();
    assert!(
        String::from_utf8(out).unwrap().trim() == committed.trim(),
        "schemas/mailform.schema.json is stale: run `cargo run -- schema > schemas/mailform.schema.json`"
    );
}

#[test]
fn help_and_completions_work() {
    Command::cargo_bin("mailform")
        .unwrap()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("plan"));
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("mailform"));
}

#[test]
fn a_changed_long_txt_value_is_shown_as_a_word_diff() {
    let e = Estate::new();
    e.apply();
    e.set_yaml(&e.yaml().replace("p=quarantine;", "p=reject;"));
    e.cmd(&["plan", "--no-color"])
        .assert()
        .success()
        .stdout(predicate::str::contains("~ _dmarc TXT"))
        .stdout(predicate::str::contains("[-p=quarantine;-]{+p=reject;+}"))
        .stdout(predicate::str::contains("\u{1b}[").not());
}
