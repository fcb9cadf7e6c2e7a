//! A domain whose DNS is on Alidns and whose mail is on Alibaba Mail:
//! the binary against both in-process fakes — the `aliyun-qiye` preset's
//! records to Alidns, mailboxes and their aliases to Alibaba Mail, with
//! generated initial passwords; plan → apply → plan is empty.

use assert_cmd::Command;
use mailform_alidns::fake::{FakeAlidns, FakeConfig as DnsConfig};
use mailform_alimail::fake::{FakeAlimail, FakeConfig as MailConfig};

const KEY_ID: &str = "LTAI5tAliyunE2e";
const KEY_SECRET: &str = "aliyun-e2e-dns-secret-Q7";
const APP_SECRET: &str = "aliyun-e2e-app-secret-W3";

struct Estate {
    dir: tempfile::TempDir,
    dns: FakeAlidns,
    mail: FakeAlimail,
}

impl Estate {
    fn new() -> Estate {
        let dns = FakeAlidns::start_background(DnsConfig {
            access_key_id: KEY_ID.into(),
            access_key_secret: KEY_SECRET.into(),
            ..DnsConfig::default()
        })
        .unwrap();
        dns.add_domain("example.com");
        let mail = FakeAlimail::start_background(MailConfig {
            client_secret: APP_SECRET.into(),
            ..MailConfig::default()
        })
        .unwrap();
        Estate {
            dir: tempfile::tempdir().unwrap(),
            dns,
            mail,
        }
    }

    fn set_yaml(&self, body: &str) {
        let text = format!(
            "version: 1\nproviders:\n  ali:\n    alidns: {{endpoint: \"{}\"}}\n  qiye:\n    alimail: {{endpoint: \"{}\", client_id: \"{}\"}}\ndefaults: {{ttl: 600}}\n{body}",
            self.dns.url(),
            self.mail.url(),
            self.mail.client_id()
        );
        std::fs::write(self.dir.path().join("mailform.yaml"), text).unwrap();
    }

    fn run(&self, args: &[&str], code: i32) -> String {
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .current_dir(self.dir.path())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
            .env("ALIMAIL_CLIENT_SECRET", APP_SECRET)
            .env("NO_COLOR", "1")
            .arg("-f")
            .arg(self.dir.path().join("mailform.yaml"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [KEY_SECRET, APP_SECRET] {
            assert!(!text.contains(secret), "secret printed:\n{text}");
        }
        assert_eq!(out.status.code(), Some(code), "mailform {args:?}:\n{text}");
        text
    }
}

const ESTATE: &str = r#"domains:
  example.com:
    dns: {provider: ali}
    mail: {provider: qiye}
    service: {preset: aliyun-qiye}
    dmarc: {p: quarantine, rua: ["mailto:dmarc@example.com"]}
mailboxes:
  zhang.wei@example.com:
    name: 张伟
    aliases: [wei@example.com, sales-cn@example.com, postmaster@example.com, abuse@example.com]
    initial_password: generate
  li.na@example.com:
    name: Li Na
    initial_password: generate
  old.staff@example.com:
    name: Old Staff
    state: suspended
    initial_password: generate
"#;

#[test]
fn dns_on_alidns_and_mail_on_alibaba_mail_converge() {
    let e = Estate::new();
    e.set_yaml(ESTATE);
    e.run(&["validate"], 0);
    let plan = e.run(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.contains("mx1.qiye.aliyun.com"), "{plan}");
    assert!(plan.contains("zhang.wei@example.com"), "{plan}");
    let pw = e.dir.path().join("passwords.txt");
    let out = e.run(
        &[
            "apply",
            "--auto-approve",
            "--password-file",
            pw.to_str().unwrap(),
        ],
        0,
    );
    assert!(out.contains("Apply complete"), "{out}");
    assert_eq!(std::fs::read_to_string(&pw).unwrap().lines().count(), 3);
    e.run(&["plan", "--detailed-exitcode"], 0);
    let users = e.mail.users();
    assert_eq!(users.len(), 3);
    let zhang = e.mail.user("zhang.wei@example.com").unwrap();
    assert_eq!(zhang.name.as_deref(), Some("张伟"));
    assert_eq!(
        e.mail.user("old.staff@example.com").unwrap().status,
        "FREEZE"
    );
    assert!(e.dns.violations().is_empty(), "{:?}", e.dns.violations());

    // An alias moves and a mailbox is suspended; then nothing is left.
    e.set_yaml(
        &ESTATE
            .replace(
                "[wei@example.com, sales-cn@example.com]",
                "[wei@example.com]",
            )
            .replace(
                "    name: Li Na\n",
                "    name: Li Na\n    state: suspended\n",
            ),
    );
    e.run(&["plan", "--detailed-exitcode"], 2);
    e.run(&["apply", "--auto-approve"], 0);
    e.run(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(e.mail.user("li.na@example.com").unwrap().status, "FREEZE");
}

#[test]
fn groups_and_forwarding_aliases_are_refused_before_any_write() {
    let e = Estate::new();
    e.set_yaml(&format!(
        "{ESTATE}groups:\n  team@example.com: {{members: [li.na@example.com]}}\naliases:\n  info@example.com: {{to: [li.na@example.com]}}\n"
    ));
    let out = e.run(&["plan"], 1);
    assert!(out.contains("cannot manage groups"), "{out}");
    assert!(out.contains("info@example.com"), "{out}");
    assert_eq!(e.mail.writes(), 0);
}
