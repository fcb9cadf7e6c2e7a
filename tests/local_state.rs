//! The providers whose state is local files (`zonefile`, `postfix`) through
//! the `mailform` binary: drift in any file they write is planned and
//! repaired, files reached through symbolic links are written at their
//! targets, and two applies run at the same time never lose an update.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use assert_cmd::Command;
use predicates::prelude::*;

/// A directory with `mailform` YAML files, `secrets/`, `mail/` and `zones/`.
struct Estate {
    dir: tempfile::TempDir,
}

const HASH: &str = "{SHA512-CRYPT}$6$HyXegb7yMAa9UxTA$cwgH.Zcvg1xyfMmBaUPCv2q9B/fKJWma2G5asiacg3Xj5cTIwGQFWl1IPonbCStAHaDhMrLF/87ffYxDssMgZ/";

impl Estate {
    /// A copy of the quickstart.
    fn quickstart() -> Estate {
        let e = Estate::empty();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        std::fs::copy(src.join("mailform.yaml"), e.path("mailform.yaml")).unwrap();
        e
    }

    fn empty() -> Estate {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["secrets", "mail", "zones"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        for name in ["alice", "bob", "carol"] {
            std::fs::write(dir.path().join(format!("secrets/{name}.hash")), HASH).unwrap();
        }
        Estate { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    fn cmd(&self, yaml: &str, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.env("NO_COLOR", "1")
            .arg("-f")
            .arg(self.path(yaml))
            .args(args);
        c
    }

    fn plan(&self) -> assert_cmd::assert::Assert {
        self.cmd("mailform.yaml", &["plan", "--detailed-exitcode"])
            .assert()
    }

    fn apply(&self) -> assert_cmd::assert::Assert {
        self.cmd("mailform.yaml", &["apply", "--auto-approve"])
            .assert()
    }

    /// Names in `rel` that look like temporary files left behind.
    fn leftovers(&self, rel: &str) -> Vec<String> {
        std::fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("tmp"))
            .collect()
    }
}

fn without_line(text: &str, starting: &str) -> String {
    let kept: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(starting))
        .collect();
    assert_ne!(kept.concat(), text, "no line starts with {starting:?}");
    kept.concat()
}

// ---------------------------------------------------------------- drift

#[test]
fn an_emptied_virtual_mailbox_domains_is_planned_and_repaired() {
    let e = Estate::quickstart();
    e.apply().success();
    assert!(e
        .read("mail/virtual_mailbox_domains")
        .contains("example.com"));
    // By hand: Postfix now rejects all mail for the domain.
    e.write("mail/virtual_mailbox_domains", "");
    e.plan()
        .code(2)
        .stdout(predicate::str::contains("virtual_mailbox_domains"))
        .stdout(predicate::str::contains("No changes").not());
    e.apply().success();
    assert_eq!(e.read("mail/virtual_mailbox_domains"), "example.com OK\n");
    e.plan().code(0);
}

#[test]
fn a_deleted_virtual_mailbox_maps_line_is_planned_and_repaired() {
    let e = Estate::quickstart();
    e.apply().success();
    let before = e.read("mail/virtual_mailbox_maps");
    e.write(
        "mail/virtual_mailbox_maps",
        &without_line(&before, "alice@example.com "),
    );
    e.plan()
        .code(2)
        .stdout(predicate::str::contains("alice@example.com"))
        .stdout(predicate::str::contains("virtual_mailbox_maps"));
    e.apply().success();
    let sorted = |t: &str| {
        let mut l: Vec<String> = t.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(
        sorted(&e.read("mail/virtual_mailbox_maps")),
        sorted(&before)
    );
    e.plan().code(0);
}

#[test]
fn drift_in_the_other_files_is_planned_as_the_fix() {
    let e = Estate::quickstart();
    e.apply().success();
    let users = e.read("mail/dovecot-users");
    let aliases = e.read("mail/virtual_alias_maps");
    // A successor line, an alias and a group (its marker and entry; its
    // recipient_access line is left behind) gone, a display name changed.
    let mut edited = without_line(&aliases, "carol@example.com ");
    edited = without_line(&edited, "postmaster@example.com ");
    edited = without_line(&edited, "staff@example.com ");
    edited = without_line(
        &edited,
        "# mailform-group: {\"display_name\":\"All staff\"}",
    );
    e.write("mail/virtual_alias_maps", &edited);
    e.write(
        "mail/dovecot-users",
        &users.replace("Bob Builder", "Bobby Tables"),
    );
    e.plan()
        .code(2)
        .stdout(predicate::str::contains("postmaster@example.com"))
        .stdout(predicate::str::contains("carol@example.com"))
        .stdout(predicate::str::contains("bob@example.com"))
        .stdout(predicate::str::contains("+ group staff@example.com"));
    e.apply().success();
    assert_eq!(e.read("mail/dovecot-users"), users);
    assert_eq!(
        e.read("mail/recipient_access"),
        "staff@example.com internal_only\n"
    );
    e.plan().code(0);
}

#[test]
fn a_maildir_without_a_sign_in_line_is_an_error_naming_file_line_and_fix() {
    let e = Estate::quickstart();
    e.apply().success();
    let users = e.read("mail/dovecot-users");
    e.write(
        "mail/dovecot-users",
        &without_line(&users, "bob@example.com:"),
    );
    let maps = e.read("mail/virtual_mailbox_maps");
    let line = maps
        .lines()
        .position(|l| l.starts_with("bob@example.com "))
        .unwrap()
        + 1;
    let out = e.plan().code(1).get_output().clone();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("virtual_mailbox_maps:{line}:")),
        "{text}"
    );
    assert!(text.contains("add its dovecot-users line"), "{text}");
}

/// The quickstart with `postmap:` set, or `None` (the test is skipped)
/// without Postfix's `postmap`.
fn quickstart_with_postmap() -> Option<(Estate, PathBuf)> {
    let postmap = mailform_testkit::real_server::require_program(
        &["/usr/sbin/postmap", "/usr/bin/postmap"],
        "postfix",
    )?;
    let e = Estate::quickstart();
    let yaml = e.read("mailform.yaml");
    e.write(
        "mailform.yaml",
        &yaml.replace(
            "      directory: ./mail\n",
            &format!(
                "      directory: ./mail\n      postmap: {}\n",
                postmap.display()
            ),
        ),
    );
    Some((e, postmap))
}

fn query(postmap: &Path, key: &str, map: &Path) -> String {
    let out = StdCommand::new(postmap)
        .args(["-q", key, &format!("hash:{}", map.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_missing_or_stale_db_is_compiled_again() {
    let Some((e, postmap)) = quickstart_with_postmap() else {
        return;
    };
    e.apply().success();
    std::fs::remove_file(e.path("mail/virtual_mailbox_domains.db")).unwrap();
    // Edited by hand without running postmap: Postfix still serves the old .db.
    let aliases = e.read("mail/virtual_alias_maps");
    std::thread::sleep(Duration::from_millis(20));
    e.write(
        "mail/virtual_alias_maps",
        &format!("{aliases}hand@other.org someone@other.org\n"),
    );
    e.plan()
        .code(2)
        .stdout(predicate::str::contains("virtual_mailbox_domains.db"))
        .stdout(predicate::str::contains("virtual_alias_maps.db"));
    e.apply().success();
    let vmd = e.path("mail/virtual_mailbox_domains");
    assert_eq!(query(&postmap, "example.com", &vmd), "OK");
    let vam = e.path("mail/virtual_alias_maps");
    assert_eq!(query(&postmap, "hand@other.org", &vam), "someone@other.org");
    e.plan().code(0);
}

// ---------------------------------------------------------------- links

#[cfg(unix)]
#[test]
fn a_linked_zone_file_is_written_at_its_target() {
    let e = Estate::quickstart();
    e.apply().success();
    std::fs::create_dir(e.path("served")).unwrap();
    std::fs::rename(
        e.path("zones/example.com.zone"),
        e.path("served/db.example"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../served/db.example", e.path("zones/example.com.zone")).unwrap();
    let yaml = e.read("mailform.yaml");
    e.write(
        "mailform.yaml",
        &yaml.replace("values: [192.0.2.80]", "values: [192.0.2.81]"),
    );
    e.apply().success();
    let link = std::fs::symlink_metadata(e.path("zones/example.com.zone")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(e.read("served/db.example").contains("192.0.2.81"));
    assert!(e.leftovers("zones").is_empty() && e.leftovers("served").is_empty());
    e.plan().code(0);
}

#[cfg(unix)]
#[test]
fn linked_postfix_files_are_written_at_their_targets() {
    let Some((e, postmap)) = quickstart_with_postmap() else {
        return;
    };
    e.apply().success();
    std::fs::create_dir(e.path("etc")).unwrap();
    let files = [
        "virtual_alias_maps",
        "virtual_mailbox_maps",
        "virtual_mailbox_domains",
        "dovecot-users",
    ];
    for f in files {
        std::fs::rename(e.path(&format!("mail/{f}")), e.path(&format!("etc/{f}"))).unwrap();
        std::os::unix::fs::symlink(format!("../etc/{f}"), e.path(&format!("mail/{f}"))).unwrap();
    }
    let yaml = e.read("mailform.yaml");
    // postmaster@ now goes to bob (the line after its key; comments may follow).
    let at = yaml
        .find("  postmaster@example.com:")
        .expect("quickstart has postmaster@");
    let to = at
        + yaml[at..]
            .find("to: [alice@example.com]")
            .expect("postmaster@ to alice");
    let yaml = format!(
        "{}to: [bob@example.com]{}",
        &yaml[..to],
        &yaml[to + "to: [alice@example.com]".len()..]
    )
    .replace("name: Bob Builder", "name: Bob Rebuilt");
    e.write("mailform.yaml", &yaml);
    // Drift of a linked file is repaired through the link too.
    e.write("etc/virtual_mailbox_domains", "");
    e.apply().success();
    for f in files {
        let meta = std::fs::symlink_metadata(e.path(&format!("mail/{f}"))).unwrap();
        assert!(meta.file_type().is_symlink(), "{f}: the link was replaced");
    }
    assert!(e
        .read("etc/virtual_alias_maps")
        .contains("postmaster@example.com bob@example.com"));
    assert!(e.read("etc/dovecot-users").contains("Bob Rebuilt"));
    assert_eq!(e.read("etc/virtual_mailbox_domains"), "example.com OK\n");
    assert!(e.leftovers("mail").is_empty() && e.leftovers("etc").is_empty());
    // Postfix opens `<the configured path>.db`.
    let map = e.path("mail/virtual_alias_maps");
    assert_eq!(
        query(&postmap, "postmaster@example.com", &map),
        "bob@example.com"
    );
    e.plan().code(0);
}

// ---------------------------------------------------------------- two applies at once

/// A file that only manages `mailbox` (mail) and the record `record`
/// (DNS), so that two such files never undo each other's objects.
fn small_yaml(mailbox: &str, record: &str) -> String {
    format!(
        r#"version: 1
providers:
  zones:
    zonefile:
      directory: ./zones
      nameservers: [ns1.example.net, ns2.example.net]
  mailserver:
    postfix:
      directory: ./mail
domains:
  example.com:
    dns:
      provider: zones
      manage: declared
    mail:
      provider: mailserver
    records:
      "@":
        NS: [ns1.example.net., ns2.example.net.]
        MX: "10 mx1.example.com."
        TXT: "v=spf1 mx -all"
      mx1:
        A: 192.0.2.25
      _dmarc:
        TXT: "v=DMARC1; p=none"
      {record}:
        A: 192.0.2.99
mailboxes:
  {mailbox}@example.com:
    password_hash: ${{file:secrets/alice.hash}}
aliases:
  postmaster@example.com:
    to: [hostmaster@example.net]
  abuse@example.com:
    to: [hostmaster@example.net]
"#
    )
}

/// Runs `mailform apply` on both files at the same moment; each output
/// with its success.
fn apply_both(e: &Estate, a: &str, b: &str) -> [(bool, String); 2] {
    let spawn = |yaml: &str| {
        StdCommand::cargo_bin("mailform")
            .unwrap()
            .env("NO_COLOR", "1")
            .arg("-f")
            .arg(e.path(yaml))
            .args(["apply", "--auto-approve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(a), spawn(b));
    let text = |o: Output| {
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    [
        text(pa.wait_with_output().unwrap()),
        text(pb.wait_with_output().unwrap()),
    ]
}

/// Rounds of two applies at once, each adding its own object; afterwards
/// both objects exist, or the run that lost said so and failed. `exists`
/// tells whether round `r`'s object of side `side` is there.
fn race(
    what: &str,
    yaml: impl Fn(usize, &str) -> String,
    exists: impl Fn(&Estate, usize, &str) -> bool,
) {
    let e = Estate::empty();
    e.write("mailform.yaml", &yaml(0, "base"));
    e.apply().success();
    let started = Instant::now();
    let mut conflicts = 0;
    let rounds = 20;
    for r in 1..=rounds {
        e.write("a.yaml", &yaml(r, "a"));
        e.write("b.yaml", &yaml(r, "b"));
        let outs = apply_both(&e, "a.yaml", "b.yaml");
        for (side, (ok, text)) in ["a", "b"].iter().zip(&outs) {
            if *ok {
                assert!(
                    exists(&e, r, side),
                    "{what}, round {r}: `{side}` reported success but its change is gone\n{text}\nother:\n{}",
                    outs.iter().map(|o| o.1.as_str()).collect::<String>()
                );
            } else {
                conflicts += 1;
                assert!(
                    text.contains("run plan again") && !exists(&e, r, side),
                    "{what}, round {r}: `{side}` failed without reporting a conflict, or half applied:\n{text}"
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "{what}: the rounds took too long"
        );
    }
    eprintln!("{what}: {rounds} rounds, {conflicts} conflicts reported, no update lost");
}

#[test]
fn two_postfix_applies_at_once_lose_no_mailbox() {
    race(
        "postfix",
        |r, side| small_yaml(&format!("{side}{r}"), "www"),
        |e, r, side| {
            let address = format!("{side}{r}@example.com");
            e.read("mail/dovecot-users")
                .contains(&format!("{address}:"))
                && e.read("mail/virtual_mailbox_maps")
                    .contains(&format!("{address} "))
        },
    );
}

#[test]
fn two_zonefile_applies_at_once_lose_no_record() {
    race(
        "zonefile",
        |r, side| small_yaml("alice", &format!("{side}{r}")),
        |e, r, side| {
            e.read("zones/example.com.zone")
                .lines()
                .any(|l| l.starts_with(&format!("{side}{r} ")))
        },
    );
}
