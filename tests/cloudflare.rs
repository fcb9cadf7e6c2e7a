//! End-to-end tests of the `mailform` binary against the in-process fake
//! Cloudflare API (`mailform_cloudflare::fake`), which checks every request
//! against Cloudflare's official API description.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use mailform_cloudflare::fake::{CloudflareFault, FakeCloudflare, FakeConfig, Fault, FaultKind};
use serde_json::{json, Value};

const ZONE: &str = "example.com";
const TOKEN: &str = "cf-e2e-secret-token-123";

struct Estate {
    dir: tempfile::TempDir,
    fake: FakeCloudflare,
}

impl Estate {
    fn new(config: FakeConfig) -> Estate {
        let fake = FakeCloudflare::start_background(FakeConfig {
            token: TOKEN.into(),
            ..config
        })
        .unwrap();
        fake.add_zone(ZONE);
        Estate {
            dir: tempfile::tempdir().unwrap(),
            fake,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn provider(&self, extra: &str) -> String {
        format!(
            "providers:\n  cf:\n    cloudflare: {{endpoint: \"{}\"{extra}}}\n",
            self.fake.url()
        )
    }

    fn set_yaml(&self, text: &str) {
        std::fs::write(self.path("mailform.yaml"), text).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mailform").unwrap();
        c.current_dir(self.dir.path())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .arg("-f")
            .arg(self.path("mailform.yaml"))
            .args(args);
        c
    }

    /// Runs and checks that the token never reaches the output.
    fn run(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(TOKEN), "token printed:\n{text}");
        assert_eq!(out.status.code(), Some(code), "mailform {args:?}:\n{text}");
        text
    }

    fn records(&self) -> Vec<Value> {
        self.fake.records(ZONE)
    }

    fn no_violations(&self) {
        assert_eq!(self.fake.violations(), Vec::<String>::new());
    }
}

const DKIM_1: &str = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyYZRwadECH1vV4AhcFLF2EtJl8q7qSoSSuS4gvnvOpCmXgP6hQSkB30t3KNHjDRMRIejvrhSg1s25yEeeh0H7odrbOjS6n/swCv2y7QEa/+Yua5Jry1PgwpNCn3rHygA7qoHjRKndBWJj8OyggzrCiOy68pEiuK4I5hofLVI103mFIObClLWCCVECDf5";
const DKIM_2: &str = "/vxIxEAgg244v32i8IBwVMQ10SxsSDv1K1EOwUHqCEREYh6zKH9lGTD/1Lan514Bwsb//rH2iEEwPfhduMjux6HLgiv0sqI2tKTfz2ztL4qhtWx/satzVVzK1zz901YxRqaf8YCUT6mb5ZGClJ/1h2mrbQIDAQAB";

fn mail_zone(e: &Estate) -> String {
    format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: cf}}\n    records:\n\
         \x20     \"@\":\n\
         \x20       A: 192.0.2.10\n\
         \x20       AAAA: \"2001:db8::10\"\n\
         \x20       MX: [\"1 smtp.google.com.\", \"10 backup-mx.example.net.\"]\n\
         \x20       TXT: \"v=spf1 include:_spf.google.com ~all\"\n\
         \x20       CAA: ['0 issue \"letsencrypt.org\"', '0 iodef \"mailto:security@example.com\"']\n\
         \x20     mail:\n        CNAME: ghs.googlehosted.com.\n\
         \x20     google._domainkey:\n        TXT: {{chunks: [\"{DKIM_1}\", \"{DKIM_2}\"]}}\n\
         \x20     _dmarc:\n        TXT: {{ttl: 300, values: [\"v=DMARC1; p=reject\"]}}\n\
         \x20     _imaps._tcp:\n        SRV: \"0 1 993 imap.gmail.com.\"\n\
         \x20     _submission._tcp:\n        SRV: [\"0 1 587 smtp.gmail.com.\"]\n\
         \x20     lab:\n        NS: [ns1.example.net., ns2.example.net.]\n",
        e.provider("")
    )
}

#[test]
fn plan_apply_plan_is_empty_and_unmanaged_records_survive() {
    let e = Estate::new(FakeConfig::default());
    // Unmanaged: a proxied web record with a comment, and a TXT at a managed name's neighbour.
    e.fake.add_record(ZONE, json!({"type": "A", "name": "blog", "content": "192.0.2.99", "ttl": 1, "proxied": true, "comment": "not mailform's", "tags": ["owner:web"]}));
    e.fake.add_record(
        ZONE,
        json!({"type": "TXT", "name": "_acme-challenge", "content": "token-abc", "ttl": 120}),
    );
    let unmanaged = e.records();
    e.set_yaml(&mail_zone(&e));

    e.run(&["validate"], 0);
    let plan = e.run(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.contains("google._domainkey") && plan.contains("lab"),
        "{plan}"
    );
    let applied = e.run(&["apply", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete"), "{applied}");
    let again = e.run(&["plan", "--detailed-exitcode"], 0);
    assert!(again.contains("No changes"), "{again}");
    for r in &unmanaged {
        assert!(e.records().contains(r), "unmanaged record changed: {r}");
    }
    // Every record (16, under the limit of 200) went in one batch.
    assert_eq!(e.fake.batches_applied(), 1);
    let dkim = e
        .records()
        .into_iter()
        .find(|r| r["name"] == "google._domainkey.example.com")
        .unwrap();
    assert_eq!(dkim["content"], format!("\"{DKIM_1}\" \"{DKIM_2}\""));

    // Import writes a file that plans to nothing.
    e.run(&["import", "--out", "imported.yaml"], 0);
    let imported = std::fs::read_to_string(e.path("imported.yaml")).unwrap();
    assert!(imported.contains("smtp.google.com"), "{imported}");
    std::fs::copy(e.path("imported.yaml"), e.path("mailform.yaml")).unwrap();
    let after_import = e.run(&["plan", "--detailed-exitcode"], 0);
    assert!(
        after_import.contains("No changes"),
        "{after_import}\n{imported}"
    );
    e.no_violations();
}

#[test]
fn a_batch_that_fails_leaves_the_zone_exactly_as_before() {
    let e = Estate::new(FakeConfig::default());
    e.fake.add_record(ZONE, json!({"type": "MX", "name": "@", "content": "old-mx.example.com", "priority": 5, "ttl": 3600}));
    e.set_yaml(&mail_zone(&e));
    let before = e.records();
    // The 7th item of the one batch is refused: Cloudflare rolls the whole batch back.
    e.fake.inject(Fault::on(
        Some("POST /batch"),
        FaultKind::Vendor(CloudflareFault::FailBatchItem { index: 6 }),
    ));
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("rolled back"), "{out}");
    assert!(out.contains("invalid"), "{out}");
    assert_eq!(
        e.records(),
        before,
        "nothing of a failed batch may be applied"
    );
    // Running it again converges.
    e.run(&["apply", "--auto-approve"], 0);
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}

#[test]
fn chunked_applies_report_applied_failed_and_not_attempted_batches() {
    let e = Estate::new(FakeConfig {
        batch_limit: 4,
        ..FakeConfig::default()
    });
    let mut yaml = format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: cf}}\n    records:\n",
        e.provider(", batch_limit: 4")
    );
    for i in 0..10 {
        yaml.push_str(&format!("      h{i:02}:\n        A: 192.0.2.{i}\n"));
    }
    e.set_yaml(&yaml);
    e.fake.inject(
        Fault::on(
            Some("POST /batch"),
            FaultKind::Vendor(CloudflareFault::FailBatchItem { index: 0 }),
        )
        .skip(1),
    );
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("batch 2 of 3"), "{out}");
    assert_eq!(e.records().len(), 4, "only the first batch applied");
    let out = e.run(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("6 to create") || out.contains("h09"), "{out}");
    e.run(&["apply", "--auto-approve"], 0);
    assert_eq!(e.records().len(), 10);
    e.no_violations();
}

#[test]
fn rate_limits_server_errors_and_drops_are_survived() {
    let e = Estate::new(FakeConfig::default());
    e.set_yaml(&mail_zone(&e));
    e.fake.inject(Fault::on(
        Some("GET /zones"),
        FaultKind::Throttle {
            retry_after: Some(1),
        },
    ));
    e.fake
        .inject(Fault::on(Some("GET /dns_records"), FaultKind::Unavailable));
    e.fake
        .inject(Fault::on(Some("GET /dns_records"), FaultKind::Drop));
    e.run(&["plan", "--detailed-exitcode"], 2);
    assert!(e.fake.pending_faults().is_empty());
    e.fake.inject(Fault::on(
        Some("POST /batch"),
        FaultKind::Throttle {
            retry_after: Some(1),
        },
    ));
    e.run(&["apply", "--auto-approve"], 0);
    assert!(e.fake.pending_faults().is_empty());
    e.run(&["plan", "--detailed-exitcode"], 0);
    // A failed read is an error, never an empty zone.
    e.fake
        .inject(Fault::on(Some("GET /dns_records"), FaultKind::Unavailable).times(usize::MAX));
    let out = e.run(&["plan"], 1);
    assert!(out.contains("Cloudflare failed"), "{out}");
    e.no_violations();
}

#[test]
fn missing_permission_is_named() {
    let e = Estate::new(FakeConfig {
        can_write: false,
        ..FakeConfig::default()
    });
    e.set_yaml(&mail_zone(&e));
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("DNS:Edit") && out.contains(ZONE), "{out}");
    e.no_violations();
}

#[test]
fn the_cloudflare_google_example_validates_and_converges() {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloudflare-google/mailform.yaml");
    Command::cargo_bin("mailform")
        .unwrap()
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["validate", "-f"])
        .arg(&src)
        .assert()
        .success();
    let e = Estate::new(FakeConfig::default());
    let text = std::fs::read_to_string(&src).unwrap();
    assert!(text.contains("1 smtp.google.com.") && text.contains("include:_spf.google.com"));
    e.set_yaml(&text.replace(
        "cloudflare: {}",
        &format!("cloudflare: {{endpoint: \"{}\"}}", e.fake.url()),
    ));
    let plan = e.run(&["plan"], 0);
    assert!(
        plan.contains("_dmarc") && plan.contains("google._domainkey"),
        "{plan}"
    );
    e.run(&["apply", "--auto-approve"], 0);
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}

/// A declared CNAME where the live zone keeps an unmanaged A at the same
/// name once planned silently and failed the whole batch at apply. It is a
/// plan-time problem now, located at the declaration; nothing is written.
#[test]
fn a_cname_clashing_with_unmanaged_live_data_is_a_plan_problem() {
    let e = Estate::new(FakeConfig::default());
    e.fake.add_record(
        ZONE,
        json!({"type": "A", "name": "smtp", "content": "192.0.2.25", "ttl": 300}),
    );
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: cf}}\n    records:\n      www:\n        A: 192.0.2.1\n      smtp:\n        CNAME: mail.example.net.\n",
        e.provider("")
    ));
    let before = e.records();
    let out = e.run(&["plan"], 1);
    assert!(out.contains("smtp.example.com CNAME"), "{out}");
    assert!(out.contains("RFC 1034"), "{out}");
    assert!(
        out.contains("mailform.yaml:12:9"),
        "located at the declaration: {out}"
    );
    let out = e.run(&["apply", "--auto-approve"], 1);
    assert!(out.contains("RFC 1034"), "{out}");
    assert_eq!(e.records(), before, "nothing written");
    // Under `manage: zone` the A is deleted in the same batch: no clash.
    e.set_yaml(&format!(
        "version: 1\n{}domains:\n  example.com:\n    dns: {{provider: cf, manage: zone}}\n    records:\n      www:\n        A: 192.0.2.1\n      smtp:\n        CNAME: mail.example.net.\n",
        e.provider("")
    ));
    e.run(&["apply", "--auto-approve", "--force"], 0);
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}

/// A 500 after Cloudflare carried out the batch: the apply settles it with
/// one read and reports it applied; the next plan is empty.
#[test]
fn a_5xx_after_the_batch_was_applied_is_reported_as_applied() {
    let e = Estate::new(FakeConfig::default());
    e.set_yaml(&mail_zone(&e));
    e.fake
        .inject(Fault::on(Some("POST /batch"), FaultKind::AfterWrite));
    let out = e.run(&["apply", "--auto-approve"], 0);
    assert!(!out.contains("rolled back"), "{out}");
    e.run(&["plan", "--detailed-exitcode"], 0);
    e.no_violations();
}
