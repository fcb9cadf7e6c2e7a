//! End-to-end: the `mailform` binary against a real BIND 9 `named` through
//! the `rfc2136` provider (TSIG-signed AXFR and UPDATE; the server is
//! started once for this test binary, see
//! `providers/rfc2136/tests/support/named_server.rs`). Plan, apply, plan
//! again with nothing to do; unmanaged records survive; an `nsupdate` edit
//! between `plan --out` and `apply` is refused; the secret never shows.

#[path = "../providers/rfc2136/tests/support/named_server.rs"]
mod named_server;

use assert_cmd::Command;
use named_server::{server, Named, KEY_NAME};
use predicates::prelude::*;

const ZONE: &str = "e2e.example";

fn write_yaml(dir: &std::path::Path, s: &Named, mail_ip: &str) {
    let yaml = format!(
        r#"version: 1
providers:
  bind:
    rfc2136: {{server: "{address}", key_name: {KEY_NAME}}}
domains:
  {ZONE}:
    dns: {{provider: bind}}
    records:
      "@":
        MX: ["10 mx1.{ZONE}.", "20 mx2.{ZONE}."]
        TXT: "v=spf1 mx -all"
      _dmarc:
        TXT: "v=DMARC1; p=reject"
      mail:
        A: {mail_ip}
      # BIND refuses an update that leaves an in-zone MX target without an
      # address (its integrity check), so the targets get theirs.
      mx1:
        A: 192.0.2.10
      mx2:
        A: 192.0.2.11
"#,
        address = s.address
    );
    std::fs::write(dir.join("mailform.yaml"), yaml).unwrap();
}

fn cmd(dir: &std::path::Path, s: &Named, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("mailform").unwrap();
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("MAILFORM_TSIG_SECRET", &s.secret)
        .args(args);
    c
}

#[test]
fn plan_apply_converge_and_refuse_a_concurrent_edit() {
    let Some(s) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let no_secret = || predicate::str::contains(s.secret.as_str()).not();
    write_yaml(d, s, "192.0.2.25");

    cmd(d, s, &["plan", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("+ @ MX"))
        .stdout(predicate::str::contains("legacy A"))
        .stdout(no_secret());
    cmd(d, s, &["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Apply complete"));
    cmd(d, s, &["-vv", "plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"))
        .stderr(no_secret());

    write_yaml(d, s, "192.0.2.26");
    let plan = d.join("plan.json");
    cmd(d, s, &["plan", "--out", plan.to_str().unwrap()])
        .assert()
        .success();
    s.nsupdate(
        ZONE,
        &[
            &format!("update delete mail.{ZONE}. A"),
            &format!("update add mail.{ZONE}. 3600 A 203.0.113.9"),
        ],
    );
    cmd(d, s, &["apply", "--auto-approve", plan.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("changed since the plan was made"));
    cmd(d, s, &["plan"])
        .assert()
        .success()
        .stdout(predicate::str::contains("203.0.113.9"))
        .stdout(predicate::str::contains("legacy A"));
    cmd(d, s, &["apply", "--auto-approve"]).assert().success();
    cmd(d, s, &["plan", "--detailed-exitcode"]).assert().code(0);
}

#[test]
fn a_missing_secret_fails_the_plan_with_the_fix() {
    let Some(s) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_yaml(dir.path(), s, "192.0.2.25");
    cmd(dir.path(), s, &["plan"])
        .env_remove("MAILFORM_TSIG_SECRET")
        .assert()
        .failure()
        .stderr(predicate::str::contains("MAILFORM_TSIG_SECRET"));
}
