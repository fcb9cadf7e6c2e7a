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

    fn text(&self) -> String {
        std::fs::read_to_string(self.path("mailform.yaml")).unwrap()
    }

    /// Removes the first mapping entry `key` (its line and the more
    /// indented lines under it), whatever comments the example carries.
    fn remove_entry(&self, key: &str) {
        let text = self.text();
        let mut out = Vec::new();
        let mut skipping: Option<usize> = None;
        let mut found = false;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            if let Some(level) = skipping {
                if indent > level || line.trim().is_empty() {
                    continue;
                }
                skipping = None;
            }
            if !found && line.trim_start().starts_with(&format!("{key}:")) {
                found = true;
                skipping = Some(indent);
                continue;
            }
            out.push(line);
        }
        assert!(found, "no entry {key}");
        std::fs::write(self.path("mailform.yaml"), out.join("\n") + "\n").unwrap();
    }

    /// The quickstart with `manage: domain` and both role addresses.
    fn owning_its_aliases(self) -> Estate {
        self.edit(
            "    mail:\n      provider: mailserver\n",
            "    mail:\n      provider: mailserver\n      manage: domain\n",
        );
        if !self.text().contains("  abuse@example.com:") {
            self.edit(
                "aliases:\n",
                "aliases:\n  abuse@example.com:\n    to: [alice@example.com]\n",
            );
        }
        self
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
        .stdout(predicate::str::contains(
            "done     example.com - mailbox bob@example.com",
        ))
        .stdout(predicate::str::contains(
            "done     example.com + alias bob@example.com",
        ));
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
    let e = Estate::new().owning_its_aliases();
    let more: String = (0..12)
        .map(|i| format!("  team{i}@example.com:\n    to: [alice@example.com]\n"))
        .collect();
    e.edit("aliases:\n", &format!("aliases:\n{more}"));
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    e
}

#[test]
fn dropping_the_aliases_section_needs_force() {
    let e = estate_with_many_aliases();
    // The role addresses stay, as aliases of alice's mailbox (the same
    // Postfix entries); everything else under `aliases:` goes.
    e.edit(
        "    aliases: [a.example@example.com]\n",
        "    aliases: [a.example@example.com, postmaster@example.com, abuse@example.com]\n",
    );
    let text = e.text();
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
        .stdout(predicate::str::contains("- alias dmarc-reports@example.com"))
        .stdout(predicate::str::contains("postmaster").not())
        .stdout(predicate::str::contains(
            "13 of 19 aliases and groups of example.com would change (68% > 10%); apply needs --force",
        ));
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "13 of 19 aliases and groups of example.com (68%) would change; the limit is 10%",
        ))
        .stderr(predicate::str::contains("--force"))
        .stderr(predicate::str::contains("nothing was changed"));
    assert!(e
        .mail_file("virtual_alias_maps")
        .contains("team0@example.com"));
    e.cmd(&["apply", "--auto-approve", "--force"])
        .assert()
        .success();
    let aliases = e.mail_file("virtual_alias_maps");
    assert!(!aliases.contains("team0@example.com"), "{aliases}");
    assert!(
        aliases.contains("postmaster@example.com alice@example.com"),
        "{aliases}"
    );
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn deleting_postmaster_or_abuse_needs_allow_destroy() {
    let e = Estate::new().owning_its_aliases();
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    // A domain that no longer declares MX may drop its role addresses
    // (the lint asks for them only where mail is received), but not by
    // accident: however small the share, it takes --allow-destroy.
    e.remove_entry("MX");
    e.remove_entry("postmaster@example.com");
    e.remove_entry("abuse@example.com");
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "- alias postmaster@example.com → alice@example.com  (a role address; needs --allow-destroy)",
        ))
        .stdout(predicate::str::contains(
            "Deletes 2 role addresses every mail domain must answer (abuse@example.com, postmaster@example.com): apply needs --allow-destroy.",
        ))
        .stdout(predicate::str::contains("safety limit").not());
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the plan deletes 2 role addresses (abuse@example.com, postmaster@example.com)",
        ))
        .stderr(predicate::str::contains("--allow-destroy"))
        .stderr(predicate::str::contains("nothing was changed"));
    assert!(e.mail_file("virtual_alias_maps").contains("postmaster@"));
    e.cmd(&["apply", "--auto-approve", "--allow-destroy"])
        .assert()
        .success();
    assert!(!e.mail_file("virtual_alias_maps").contains("postmaster@"));
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn removing_most_members_of_groups_needs_force() {
    let e = Estate::new();
    let outside: String = (0..12).map(|i| format!(", p{i}@partner.example")).collect();
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
    e.cmd(&["apply", "--auto-approve", "--force"])
        .assert()
        .success();
}

/// A pipe whose reading end is already closed: every write to it fails
/// with EPIPE, however little is written, so the test does not depend on
/// how much fits in a pipe's buffer.
fn closed_pipe() -> std::process::Stdio {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors on success; each is then owned
    // exactly once.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    writer.into()
}

#[test]
fn every_command_survives_a_reader_that_went_away() {
    // Rust ignores SIGPIPE in its programs; a test harness may not.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let e = Estate::new();
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    let commands: &[&[&str]] = &[
        &["schema"],
        &["completions", "bash"],
        &["rules"],
        &["presets"],
        &["import"],
        &["plan"],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown"],
        &["validate", "--format", "json"],
        &["mta-sts-policy", "example.com"],
    ];
    for args in commands {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailform"));
        c.current_dir(e.dir.path()).args(*args);
        if !matches!(args[0], "schema" | "completions" | "rules" | "presets") {
            c.arg("-f").arg(e.path("mailform.yaml"));
        }
        let out = c.stdout(closed_pipe()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
    // An apply whose output nobody reads still applies everything and
    // says so in its exit code.
    e.edit("    name: Bob Builder\n", "    name: Bob the Builder\n");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailform"))
        .args(["apply", "--auto-approve", "-f"])
        .arg(e.path("mailform.yaml"))
        .stdout(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    e.cmd(&["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn a_full_disk_under_the_output_is_an_error() {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailform"))
        .arg("schema")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("error: cannot write to standard output: No space left on device"));
}

#[test]
fn each_command_lists_only_the_flags_that_apply() {
    let help = |args: &[&str]| -> String {
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let flags = ["--file", "--profile", "--target", "--no-color", "--verbose"];
    let expect: &[(&[&str], &[&str])] = &[
        (&["schema"], &[]),
        (&["completions"], &[]),
        (&["presets"], &[]),
        (&["rules"], &[]),
        (&[], &[]),
        (&["mta-sts-policy"], &["--file"]),
        (&["validate"], &["--file", "--profile", "--target"]),
        (&["import"], &["--file", "--target", "--verbose"]),
        (
            &["verify"],
            &["--file", "--profile", "--target", "--verbose"],
        ),
        (&["plan"], &flags),
        (&["apply"], &flags),
    ];
    for (cmd, listed) in expect {
        let text = help(cmd);
        for f in flags {
            assert_eq!(
                text.contains(f),
                listed.contains(&f),
                "`mailform {} --help` and {f}:\n{text}",
                cmd.join(" ")
            );
        }
    }
    // Written before the command name, as scripts do: still accepted where
    // it applies, refused by name where it does nothing.
    let e = Estate::new();
    Command::cargo_bin("mailform")
        .unwrap()
        .arg("-f")
        .arg(e.path("mailform.yaml"))
        .arg("validate")
        .assert()
        .success();
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["-f", "x.yaml", "schema"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "-f/--file does not apply to `mailform schema`",
        ));
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["validate", "-v"])
        .assert()
        .code(2);
}

#[test]
fn control_characters_in_user_data_are_escaped_in_plans() {
    let e = Estate::new();
    e.edit(
        "    name: Bob Builder\n",
        "    name: \"Bob\\e[2J\\e]0;pwned\\aBuilder\\nApply complete\\u202e\"\n",
    );
    e.edit("    name: Sales\n", "    name: \"Sa\\e[31mles\"\n");
    for format in ["text", "markdown"] {
        let out = e
            .cmd(&["plan", "--format", format])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{text}");
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{format}: {text:?}"
        );
        // Markdown names only the objects, not their display names.
        assert!(
            format == "markdown"
                || text.contains(r"Bob\u{1b}[2J\u{1b}]0;pwned\u{7}Builder\nApply complete\u{202e}"),
            "{format}: {text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("Apply complete")),
            "{text}"
        );
    }
    let out = e.cmd(&["plan"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""Sa\u{1b}[31mles""#), "{text}");
    // Applied, the name reads back from the provider and an update shows
    // both sides escaped.
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}").not());
    e.edit("Sa\\e[31mles", "Sales\\r");
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains(r"name: Sa\u{1b}[31mles → Sales\r"));
}

#[test]
fn counts_are_in_words_not_in_parentheses() {
    let e = Estate::new();
    e.cmd(&["validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "is valid: 1 zone, 12 record sets, 3 mailboxes.",
        ));
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(s)").not());
    // One unmanaged record set, one unmanaged mailbox.
    std::fs::write(
        e.path("zones/example.com.zone"),
        std::fs::read_to_string(e.path("zones/example.com.zone")).unwrap()
            + "legacy 3600 IN A 192.0.2.99\n",
    )
    .unwrap();
    e.edit("    state: offboarded\n", "    state: deleted\n");
    e.cmd(&["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 record set not in the file"))
        .stdout(predicate::str::contains("Deletes 1 mailbox:"))
        .stdout(predicate::str::contains("(s)").not())
        .stdout(predicate::str::contains("(es)").not());
    // A saved plan of an unknown format version is named in words.
    std::fs::write(e.path("plan.json"), r#"{"format_version": 99}"#).unwrap();
    e.cmd(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has plan format version 99;"))
        .stderr(predicate::str::contains("Some(").not());
    std::fs::write(e.path("plan.json"), r#"{"format_version": "1"}"#).unwrap();
    e.cmd(&["apply", "plan.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "invalid plan format version (\"1\")",
        ))
        .stderr(predicate::str::contains("None").not());
}

#[test]
fn apply_fails_on_a_problem_even_without_changes() {
    let e = Estate::new();
    e.cmd(&["apply", "--auto-approve"]).assert().success();
    // bob@ is a live mailbox; the file now calls it an alias.
    e.edit(
        "  bob@example.com:\n    name: Bob Builder\n    password_hash: ${file:secrets/bob.hash}\n",
        "",
    );
    e.edit(
        "aliases:\n",
        "aliases:\n  bob@example.com:\n    to: [alice@example.com]\n",
    );
    e.cmd(&["plan", "--detailed-exitcode"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "is declared as an alias but exists at the provider as a mailbox",
        ))
        .stdout(predicate::str::contains("No changes."));
    e.cmd(&["apply", "--auto-approve"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the plan has problems"))
        .stderr(predicate::str::contains("nothing was changed"));
}
