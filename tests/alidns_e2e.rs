//! End-to-end tests of the `mailform` binary against the in-process fake
//! Alidns API (`mailform_alidns::fake`), which verifies every request's
//! signature and checks its parameters against Alibaba Cloud's API metadata.

use std::path::PathBuf;

use assert_cmd::Command;
use mailform_alidns::fake::{FakeAlidns, FakeConfig, Fault, FaultKind};

const ZONE: &str = "example.com";
const KEY_ID: &str = "LTAI5tE2eKeyId";
const SECRET: &str = "e2e-alidns-secret-Zx9";

struct Estate {
    dir: tempfile::TempDir,
    fake: FakeAlidns,
}

impl Estate {
    fn new() -> Estate {
        let fake = FakeAlidns::start_background(FakeConfig {
            access_key_id: KEY_ID.into(),
            access_key_secret: SECRET.into(),
            ..FakeConfig::default()
        })
        .unwrap();
        fake.add_domain(ZONE);
        Estate {
            dir: tempfile::tempdir().unwrap(),
            fake,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn provider(&self) -> String {
        format!(
            "providers:\n  ali:\n    alidns: {{endpoint: \"{}\"}}\n",
            self.fake.url()
        )
    }

    fn set_yaml(&self, text: &str) {
        std::fs::write(self.path("mailform.yaml"), text).unwrap();
    }

    /// Runs with the key pair in the environment; checks the secret never
    /// reaches the output.
    fn run(&self, args: &[&str], code: i32) -> String {
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .current_dir(self.dir.path())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
            .env("NO_COLOR", "1")
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
        assert!(!text.contains(SECRET), "secret printed:\n{text}");
        assert_eq!(out.status.code(), Some(code), "mailform {args:?}:\n{text}");
        text
    }

    fn no_violations(&self) {
        assert_eq!(self.fake.violations(), Vec::<String>::new());
    }
}

const DKIM: &str = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxAJo3P037lZj7aPk+hWFgceVyShzzkZPlgaBO5VF5p7CCJbNJIDEmT+ZJ6SDqk3DQdnUvikfme7lTTA3v1Gz2EPWJMVXrA2TYoiOk//+5HSir5hlJLvgauHfJM5Bi8Xp/vzG6DaUVrmuNJqbwoyC4qD/9cyoC6x9dLWrtpGue5pD3rqOycFTRn/9TB6DQ0ssSxkB8CnLb7GdkVVTGKY/lrJNbEk3q5K5g0OeHrcNKijZ0qMhvYis+9gtU4mnEW1RnaTzomaTS4gqz56/MX5wi+3VmVBx8NTeU9IHGg2oVaDWSomNqDs3toO6wRB4G9aeWM3jFO3X+pY0HN9JFU/T/wIDAQAB";

/// Every record type mail uses, Aliyun enterprise mail style, plus an IDN
/// label in its punycode form (`邮件` = `xn--5nq051n`; the engine requires it).
fn mail_zone(e: &Estate) -> String {
    format!(
        "version: 1\n{}defaults: {{ttl: 600}}\ndomains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n\
         \x20     \"@\":\n\
         \x20       A: 192.0.2.10\n\
         \x20       AAAA: \"2001:db8::10\"\n\
         \x20       MX: [\"5 mxw.mxhichina.com.\", \"10 mxn.mxhichina.com.\"]\n\
         \x20       TXT: \"v=spf1 include:spf.mxhichina.com -all\"\n\
         \x20       CAA: ['0 issue \"letsencrypt.org\"']\n\
         \x20     mail:\n        CNAME: qiye.aliyun.com.\n\
         \x20     aliyun-20240101._domainkey:\n        TXT: {{chunks: [\"{}\", \"{}\"]}}\n\
         \x20     _dmarc:\n        TXT: {{ttl: 3600, values: [\"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com\"]}}\n\
         \x20     _imaps._tcp:\n        SRV: \"0 1 993 imap.qiye.aliyun.com.\"\n\
         \x20     lab:\n        NS: [ns1.example.net., ns2.example.net.]\n\
         \x20     xn--5nq051n:\n        A: 192.0.2.25\n",
        e.provider(),
        &DKIM[..200],
        &DKIM[200..]
    )
}

#[test]
fn plan_apply_plan_is_empty_and_unmanaged_records_survive() {
    let e = Estate::new();
    let blog = e
        .fake
        .add_record(ZONE, "blog", "A", "192.0.2.99", 600, None);
    let acme = e
        .fake
        .add_record(ZONE, "_acme-challenge", "TXT", "token-abc", 600, None);
    e.set_yaml(&mail_zone(&e));
    e.run(&["validate"], 0);
    let plan = e.run(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.contains("_domainkey") && plan.contains("xn--"),
        "{plan}"
    );
    let applied = e.run(&["apply", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete"), "{applied}");
    let again = e.run(&["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    let recs = e.fake.records(ZONE);
    assert!(recs
        .iter()
        .any(|r| r.record_id == blog && r.value == "192.0.2.99"));
    assert!(recs
        .iter()
        .any(|r| r.record_id == acme && r.value == "token-abc"));
    assert!(
        recs.iter()
            .any(|r| r.rr == "xn--5nq051n" && r.value == "192.0.2.25"),
        "{recs:?}"
    );
    let dkim = recs
        .iter()
        .find(|r| r.rr == "aliyun-20240101._domainkey")
        .unwrap();
    assert_eq!(dkim.value, DKIM, "TXT written whole and unquoted");
    // Import writes a file that plans to nothing.
    e.run(&["import", "--out", "imported.yaml"], 0);
    std::fs::copy(e.path("imported.yaml"), e.path("mailform.yaml")).unwrap();
    let after_import = e.run(&["plan", "--detailed-exitcode"], 0);
    assert!(after_import.contains("No changes"), "{after_import}");
    e.no_violations();
}

#[test]
fn microsoft_365_mx_priority_zero_is_stored_as_one_without_a_diff() {
    // DNS on Alidns, mail on Microsoft 365 through the preset: its MX has
    // priority 0, which Alidns cannot store (1..=50).
    let e = Estate::new();
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n\
         \x20   service: {{preset: microsoft-365, params: {{tenant: contoso}}}}\n\
         \x20   dmarc: {{p: none}}\n",
        e.provider()
    ));
    e.run(&["apply", "--auto-approve"], 0);
    let records = e.fake.records(ZONE);
    let mx = records.iter().find(|r| r.rtype == "MX").unwrap();
    assert_eq!(
        (mx.priority, mx.value.as_str()),
        (Some(1), "example-com.mail.protection.outlook.com")
    );
    for (rr, value) in [
        ("autodiscover", "autodiscover.outlook.com"),
        (
            "selector1._domainkey",
            "selector1-example-com._domainkey.contoso.onmicrosoft.com",
        ),
        (
            "selector2._domainkey",
            "selector2-example-com._domainkey.contoso.onmicrosoft.com",
        ),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r.rtype == "CNAME" && r.rr == rr && r.value == value),
            "{rr} CNAME missing: {records:?}"
        );
    }
    assert!(records
        .iter()
        .any(|r| r.rtype == "TXT" && r.value.contains("include:spf.protection.outlook.com")));
    let again = e.run(&["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    e.no_violations();
}

#[test]
fn google_workspace_through_the_preset_with_builders() {
    // DNS on Alidns, mail on Google Workspace: the preset's MX and SPF
    // include, a DKIM key long enough to need two strings, and DMARC.
    let e = Estate::new();
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n\
         \x20   service: {{preset: google-workspace}}\n\
         \x20   spf: {{all: fail}}\n\
         \x20   dkim: {{google: {{key: \"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+zU1E6iI69SFwJHDggHvFDd2mjrOE+JuOA8DuwTiX8Y3BoKKkShelV9oRanAKVwMzX6iogkeF/S5jPTwsiZHtEZ4cck3RuE2NfABfG4InxkGVrGVmJyOGDIezZ7Yn/xSpxWJh/uD9MYahupYcE8dwx45nP/Mf8zdiHEl3ulz4TJw6whzr+7kP4aH3N9nr3vRvaf1CflTCEh9fXLTT5TLZG3VIjFpGCHWezoet8ULARUizwKy9BN4g6IcdevE9yVTN/3RCCus5w0xg2EsQLM/yvTzzigj0UiDYwNlLDMNzTDd/flHJAcwuw0hG16xUMkW5Y+kBPyvjQhja4ZXXVb76QIDAQAB\"}}}}\n\
         \x20   dmarc: {{p: reject}}\n",
        e.provider()
    ));
    e.run(&["apply", "--auto-approve"], 0);
    let records = e.fake.records(ZONE);
    let mx = records.iter().find(|r| r.rtype == "MX").unwrap();
    assert_eq!(
        (mx.priority, mx.value.as_str()),
        (Some(1), "smtp.google.com")
    );
    assert!(records.iter().any(|r| r.rtype == "TXT"
        && r.rr == "@"
        && r.value == "v=spf1 include:_spf.google.com -all"));
    assert!(records
        .iter()
        .any(|r| r.rtype == "TXT" && r.rr == "google._domainkey" && r.value.ends_with("IDAQAB")));
    assert!(records
        .iter()
        .any(|r| r.rtype == "TXT" && r.rr == "_dmarc" && r.value == "v=DMARC1; p=reject"));
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}

#[test]
fn a_ttl_below_the_edition_minimum_is_reported_before_any_write() {
    let e = Estate::new();
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n      www:\n        A: {{ttl: 60, values: [192.0.2.1]}}\n",
        e.provider()
    ));
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("TTL 60"), "{out}");
    assert_eq!(e.fake.writes(), 0);
}

/// Values Alidns cannot hold are refused by `validate` and `plan`, with the
/// fix, before any write: a null MX (once sent as an empty `Value` after
/// earlier changes were written), MX preference 0 on a host other than
/// Microsoft's (once written as 1 and planned again forever), and a TXT
/// value past Alidns's 511 bytes.
#[test]
fn values_alidns_cannot_store_are_refused_before_any_write() {
    let e = Estate::new();
    let cases = [
        ("MX: \"0 .\"", "null MX"),
        ("MX: \"0 mx.example.net.\"", "MX preference 0"),
        ("MX: \"51 mx.example.net.\"", "MX preference 51"),
    ];
    let a200 = "a".repeat(200);
    let long_txt = format!("TXT: {{chunks: [\"{a200}\", \"{a200}\", \"{a200}\"]}}");
    let cases = cases
        .iter()
        .map(|(r, m)| (r.to_string(), *m))
        .chain([(long_txt, "600 bytes")]);
    for (record, message) in cases {
        e.set_yaml(&format!(
            "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n      www:\n        A: 192.0.2.1\n      mail:\n        {record}\n",
            e.provider()
        ));
        let out = e.run(&["validate"], 1);
        assert!(out.contains(message), "{record}: {out}");
        assert!(
            out.contains("mailform.yaml:12:"),
            "{record}: located at the record: {out}"
        );
        let out = e.run(&["apply", "--auto-approve"], 1);
        assert!(out.contains(message), "{record}: {out}");
        assert_eq!(e.fake.writes(), 0, "{record}: nothing written");
    }
    // Microsoft 365's own preference 0 stays allowed (read back as 0).
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n      \"@\":\n        MX: \"0 example-com.mail.protection.outlook.com.\"\n",
        e.provider()
    ));
    e.run(&["validate"], 0);
    e.no_violations();
}

#[test]
fn a_failure_mid_apply_is_reported_exactly_and_a_rerun_converges() {
    let e = Estate::new();
    let mut yaml = format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n",
        e.provider()
    );
    for i in 0..6 {
        yaml.push_str(&format!(
            "      h{i}:\n        A: {{ttl: 600, values: [192.0.2.{i}]}}\n"
        ));
    }
    e.set_yaml(&yaml);
    // The first write is throttled once (then goes through when sent again,
    // freshly signed); the fourth fails with an internal error and is not
    // sent again: its outcome is unknown to the client.
    e.fake.inject(Fault::on(
        Some("AddDomainRecord"),
        FaultKind::Throttle { retry_after: None },
    ));
    e.fake
        .inject(Fault::on(Some("AddDomainRecord"), FaultKind::Unavailable).skip(3));
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(e.fake.pending_faults().is_empty(), "both faults fired");
    assert!(
        out.contains("FAILED   example.com + h3 A") && out.contains("InternalError"),
        "{out}"
    );
    assert!(
        out.contains("not attempted: change 4 of 6 failed before it"),
        "{out}"
    );
    assert!(
        out.contains("3 applied, 1 failed, 2 not attempted"),
        "{out}"
    );
    let adds = e
        .fake
        .request_log()
        .iter()
        .filter(|a| *a == "AddDomainRecord")
        .count();
    assert_eq!(adds, 5, "1 throttled + 3 applied + 1 failed, none repeated");
    assert_eq!(e.fake.records(ZONE).len(), 3, "{out}");
    e.run(&["apply", "--auto-approve"], 0);
    assert_eq!(e.fake.records(ZONE).len(), 6);
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}

#[test]
fn a_wrong_secret_is_a_clear_error() {
    let e = Estate::new();
    e.set_yaml(&format!(
        "version: 1\nproviders:\n  ali:\n    alidns: {{endpoint: \"{}\", access_key_secret: \"${{env:ALI_SECRET}}\"}}\ndomains:\n  example.com:\n    dns: {{provider: ali}}\n    records:\n      www:\n        A: 192.0.2.1\n",
        e.fake.url()
    ));
    // An unset variable is found at load time, before any request.
    let out = e.run(&["plan"], 1);
    assert!(
        out.contains("ALI_SECRET")
            && out.contains("is not set")
            && out.contains("mailform.yaml:3:3"),
        "{out}"
    );
    assert!(e.fake.request_log().is_empty(), "no request was sent");
}

#[test]
fn a_chinese_domain_is_managed_by_its_punycode_name() {
    let e = Estate::new();
    e.fake.add_domain("xn--fsqu00a.xn--fiqs8s");
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  例子.中国:\n    dns: {{provider: ali}}\n    records:\n\
         \x20     \"@\":\n        MX: [\"5 mxw.mxhichina.com.\"]\n        TXT: \"v=spf1 include:spf.mxhichina.com -all\"\n",
        e.provider()
    ));
    e.run(&["apply", "--auto-approve"], 0);
    assert_eq!(e.fake.records("xn--fsqu00a.xn--fiqs8s").len(), 2);
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}
