//! The binary under hostile or careless use (issue 13): a handover that
//! must converge, mass deletions of aliases, output cut short by a closed
//! pipe, help that lists only what applies, and user data that must not
//! reach the terminal raw. SIGINT during apply is in `tests/interrupt.rs`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

/// A copy of the quickstart (zone files + Postfix) in a temporary directory.
struct Estate {
    dir: tempfile::TempDir,
}

impl Estate {
    fn new() -> Estate {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        std::fs::copy(src.join("mailform.yaml"), dir.path().join("mailform.yaml")).unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
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

    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path("mailform.yaml")).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(self.path("mailform.yaml"), text.replacen(from, to, 1)).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .arg("-f")
            .arg(self.path("mailform.yaml"))
            .args(args);
        c
    }

    fn mail_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("mail/{name}"))).unwrap_or_default()
    }
}

#[test]
fn a_deleted_mailbox_handed_to_its_successor_converges() {
    let e = Estate::new();
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    e.edit(
        "    name: Bob Builder\n",
        "    name: Bob Builder\n    state: deleted\n    successor: alice@example.com\n",
    );
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .success()
        .stdout(predicate::str::contains("done     example.com - mailbox bob@example.com"))
        .stdout(predicate::str::contains("done     example.com + alias bob@example.com"));
    // What the file asked for: the mailbox gone, its address the successor's.
    let aliases = e.mail_file("virtual_alias_maps");
    assert!(
        aliases
            .lines()
            .any(|l| l.trim() == "bob@example.com alice@example.com"),
        "{aliases}"
    );
    assert!(!e.mail_file("virtual_mailbox_maps").contains("bob@"));
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("problem").not())
        .stdout(predicate::str::contains("No changes."));
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .success()
        .stdout(predicate::str::contains("problem").not());
}

/// The quickstart with `manage: domain` and twelve more aliases, applied.
fn estate_with_many_aliases() -> Estate {
    let e = Estate::new();
    e.edit(
        "    mail:\n      provider: mailserver\n",
        "    mail:\n      provider: mailserver\n      manage: domain\n",
    );
    let more: String = (0..12)
        .map(|i| format!("  team{i}@example.com:\n    to: [alice@example.com]\n"))
        .collect();
    e.edit(
        "aliases:\n",
        &format!("aliases:\n  abuse@example.com:\n    to: [alice@example.com]\n{more}"),
    );
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    e
}

#[test]
fn dropping_the_aliases_section_needs_force_and_allow_destroy() {
    let e = estate_with_many_aliases();
    let text = std::fs::read_to_string(e.path("mailform.yaml")).unwrap();
    let start = text.find("\naliases:\n").unwrap() + 1;
    let end = text.find("\ngroups:\n").unwrap() + 1;
    std::fs::write(
        e.path("mailform.yaml"),
        format!("{}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("- alias team0@example.com"))
        .stdout(predicate::str::contains(
            "- alias postmaster@example.com → alice@example.com  (a role address; needs --allow-destroy)",
        ))
        .stdout(predicate::str::contains("aliases and groups of example.com would change"))
        .stdout(predicate::str::contains(
            "Deletes 2 role addresses every mail domain must answer (abuse@example.com, postmaster@example.com)",
        ));
    // The role addresses need explicit intent, however small their share.
    e.cmd(&["apply", "--auto-approve", "--force"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("abuse@example.com, postmaster@example.com"))
        .stderr(predicate::str::contains("--allow-destroy"))
        .stderr(predicate::str::contains("nothing was changed"));
    // The share needs --force.
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "15 of 19 aliases and groups of example.com (78%) would change; the limit is 10%",
        ))
        .stderr(predicate::str::contains("--force"));
    assert!(e.mail_file("virtual_alias_maps").contains("team0@example.com"));
    e.cmd(&["apply", "--auto-approve", "--allow-destroy", "--force"])
        .assert()
        .success();
    assert!(!e.mail_file("virtual_alias_maps").contains("team0@example.com"));
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn removing_most_members_of_groups_needs_force() {
    let e = Estate::new();
    let outside: String = (0..12)
        .map(|i| format!(", p{i}@partner.example"))
        .collect();
    e.edit(
        "    name: All staff\n    members: [alice@example.com, bob@example.com]",
        &format!("    name: All staff\n    members: [alice@example.com, bob@example.com{outside}]"),
    );
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    e.edit(&outside, "");
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "12 of 16 group members of example.com (75%) would change",
        ));
    e.cmd(&["apply", "--auto-approve", "--force"]).assert().success();
}
