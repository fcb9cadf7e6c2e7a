//! End-to-end: the `mailform` binary against a real PowerDNS Authoritative
//! server (started once for this test binary; see
//! `providers/powerdns/tests/support/pdns_server.rs`). Plan, apply, plan
//! again with nothing to do; zone creation; unmanaged records survive; an
//! edit made through the server's API between `plan --out` and `apply` is
//! refused; the API key never reaches the output.

#[path = "../providers/powerdns/tests/support/pdns_server.rs"]
mod pdns_server;

use assert_cmd::Command;
use pdns_server::{server, Pdns};
use predicates::prelude::*;

struct Estate {
    dir: tempfile::TempDir,
}

impl Estate {
    fn new(s: &Pdns, zone: &str, new_zone: &str) -> Estate {
        let dir = tempfile::tempdir().unwrap();
        let e = Estate { dir };
        e.write(s, zone, new_zone, "192.0.2.25");
        e
    }

    fn write(&self, s: &Pdns, zone: &str, new_zone: &str, mail_ip: &str) {
        let yaml = format!(
            r#"version: 1
providers:
  pdns:
    powerdns:
      endpoint: {endpoint}
      nameservers: [ns1.example.net, ns2.example.net]
domains:
  {zone}:
    dns: {{provider: pdns}}
    records:
      "@":
        MX: ["10 mx1.{zone}.", "20 mx2.{zone}."]
        TXT: "v=spf1 mx -all"
        CAA: '0 issue "letsencrypt.org"'
      _dmarc:
        TXT: "v=DMARC1; p=reject; rua=mailto:dmarc@{zone}"
      mail:
        A: {mail_ip}
      autodiscover:
        CNAME: autodiscover.outlook.com.
  {new_zone}:
    dns: {{provider: pdns}}
    records:
      "@":
        MX: "10 mx.{zone}."
"#,
            endpoint = s.endpoint
        );
        std::fs::write(self.dir.path().join("mailform.yaml"), yaml).unwrap();
    }

    fn cmd(&self, s: &Pdns, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("PDNS_API_KEY", &s.api_key)
            .args(args);
        c
    }
}

#[test]
fn plan_apply_converge_and_refuse_a_concurrent_edit() {
    let Some(s) = server() else { return };
    let (zone, new_zone) = ("e2e.example", "created.example");
    s.create_zone(zone, &["ns1.example.net", "ns2.example.net"]);
    s.replace_rrset(zone, &format!("legacy.{zone}"), "A", 600, &["198.51.100.7"]);
    let e = Estate::new(s, zone, new_zone);
    let no_key = || predicate::str::contains(s.api_key.as_str()).not();

    e.cmd(s, &["plan", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("+ @ MX"))
        .stdout(predicate::str::contains(new_zone))
        .stdout(predicate::str::contains("legacy A"))
        .stdout(no_key());
    e.cmd(s, &["apply", "--auto-approve"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Apply complete"))
        .stdout(no_key());
    // Nothing left to do: what PowerDNS returns compares equal to the file.
    e.cmd(s, &["-vv", "plan", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes"))
        .stdout(no_key())
        .stderr(no_key())
        // One API request per zone read: two zones, two requests in all
        // (the provider's counter is cumulative).
        .stderr(predicate::str::contains("requests=2"))
        .stderr(predicate::str::contains("requests=3").not());
    let live = s.zone_json(zone);
    assert!(
        live.contains("198.51.100.7"),
        "unmanaged record removed: {live}"
    );
    assert!(
        s.zone_json(new_zone).contains("ns1.example.net."),
        "created zone lacks its NS"
    );

    // A reviewed change, saved...
    e.write(s, zone, new_zone, "192.0.2.26");
    let plan = e.dir.path().join("plan.json");
    e.cmd(s, &["plan", "--out", plan.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("192.0.2.26"));
    // ...then another admin edits the zone through the API...
    s.replace_rrset(zone, &format!("mail.{zone}"), "A", 3600, &["203.0.113.9"]);
    // ...and the saved plan is refused, leaving their edit in place.
    e.cmd(s, &["apply", "--auto-approve", plan.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("changed since the plan was made"))
        .stderr(no_key());
    assert!(s.zone_json(zone).contains("203.0.113.9"));
    assert!(!s.zone_json(zone).contains("192.0.2.26"));

    // Planning again shows the edit and applies over it once reviewed.
    e.cmd(s, &["apply", "--auto-approve"]).assert().success();
    e.cmd(s, &["plan", "--detailed-exitcode"]).assert().code(0);
    assert!(s.zone_json(zone).contains("192.0.2.26"));
}

#[test]
fn a_wrong_api_key_fails_the_plan_with_the_fix() {
    let Some(s) = server() else { return };
    let e = Estate::new(s, "wrongkey.example", "wrongkey2.example");
    e.cmd(s, &["plan"])
        .env("PDNS_API_KEY", "not-the-key-91ab")
        .assert()
        .failure()
        .stderr(predicate::str::contains("api=yes"))
        .stderr(predicate::str::contains("not-the-key-91ab").not());
}
