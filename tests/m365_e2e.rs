//! End-to-end tests of the `mailform` binary against the in-process fake
//! Microsoft Graph (`mailform_m365::fake`), which checks every request —
//! `$batch` sub-requests included — against the Graph description.

use std::path::PathBuf;

use assert_cmd::Command;
use mailform_m365::fake::{FakeConfig, FakeGraph};

struct Tenant {
    dir: tempfile::TempDir,
    fake: FakeGraph,
}

impl Tenant {
    fn new() -> Tenant {
        Tenant {
            dir: tempfile::tempdir().unwrap(),
            fake: FakeGraph::start_background(FakeConfig::default()).unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn set_yaml(&self, body: &str) {
        self.set_yaml_with("", body)
    }

    /// With more provider settings (`extra`: indented lines).
    fn set_yaml_with(&self, extra: &str, body: &str) {
        let c = self.fake.config();
        let text = format!(
            "version: 1\nproviders:\n  m365:\n    microsoft_365:\n      tenant: \"{}\"\n      client_id: \"{}\"\n      graph_endpoint: \"{u}\"\n      login_endpoint: \"{u}\"\n      usage_location: DE\n{extra}{body}",
            c.tenant_id,
            c.client_id,
            u = self.fake.url()
        );
        std::fs::write(self.path("mailform.yaml"), text).unwrap();
    }

    /// `apply --auto-approve` writing generated passwords to `file` in the
    /// tenant's directory, which it returns.
    fn apply_with_passwords(&self, file: &str) -> PathBuf {
        let path = self.path(file);
        self.run(
            &[
                "apply",
                "--auto-approve",
                "--password-file",
                path.to_str().unwrap(),
            ],
            0,
        );
        path
    }

    fn run(&self, args: &[&str], code: i32) -> String {
        // Each run of the binary comes a while after the last: Graph's
        // listings have caught up by then (within a run they still lag).
        self.fake.settle();
        let secret = self.fake.config().client_secret.clone();
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("M365_CLIENT_SECRET", &secret)
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
        assert!(!text.contains(&secret), "secret printed:\n{text}");
        assert_eq!(out.status.code(), Some(code), "{args:?}:\n{text}");
        text
    }
}

const ESTATE: &str = r#"domains:
  example.com:
    mail: {provider: m365}
mailboxes:
  alice@example.com:
    name: Alice Example
    initial_password: generate
  bob@example.com:
    name: Bob Builder
    initial_password: generate
  carol@example.com:
    name: Carol Jones
    state: suspended
    initial_password: generate
groups:
  sales@example.com:
    name: Sales
    members: [alice@example.com, bob@example.com]
"#;

#[test]
fn plan_apply_plan_is_empty_and_edits_converge() {
    let t = Tenant::new();
    t.set_yaml(ESTATE);
    t.run(&["validate"], 0);
    t.run(&["plan", "--detailed-exitcode"], 2);
    let pw = t.apply_with_passwords("pw.txt");
    assert_eq!(std::fs::read_to_string(&pw).unwrap().lines().count(), 3);
    t.run(&["plan", "--detailed-exitcode"], 0);

    t.set_yaml(
        &ESTATE
            .replace("name: Bob Builder", "name: Robert Builder")
            .replace(
                "members: [alice@example.com, bob@example.com]",
                "members: [alice@example.com, carol@example.com]",
            ),
    );
    t.run(&["plan", "--detailed-exitcode"], 2);
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn what_graph_cannot_write_is_refused_at_plan_time() {
    let t = Tenant::new();
    t.set_yaml(
        r#"domains:
  example.com:
    mail: {provider: m365}
mailboxes:
  alice@example.com:
    name: Alice Example
    password_hash: "{SHA512-CRYPT}$6$abc$def"
groups:
  sales@example.com: {members: [alice@example.com], allow_external: true}
aliases:
  info@example.com: {to: [alice@example.com]}
"#,
    );
    let out = t.run(&["plan"], 1);
    assert!(
        out.contains("does not take `{SHA512-CRYPT}` hashes") && out.contains("initial_password"),
        "{out}"
    );
    assert!(out.contains("outside senders"), "{out}");
    assert!(out.contains("info@example.com"), "{out}");

    // Shared mailboxes and distribution lists need the Exchange backend:
    // the plan says which setting, at the declaration.
    t.set_yaml(
        r#"domains:
  example.com:
    mail: {provider: m365}
mailboxes:
  alice@example.com:
    name: Alice Example
    initial_password: generate
  info@example.com:
    type: shared
    access: [alice@example.com]
groups:
  all@example.com: {type: distribution, members: [alice@example.com]}
"#,
    );
    let out = t.run(&["plan"], 1);
    assert!(out.contains("cannot manage shared mailboxes"), "{out}");
    assert!(out.contains("cannot manage distribution lists"), "{out}");
    assert!(out.contains("exchange: {enabled: true}"), "{out}");
    assert!(out.contains("mailform.yaml:17:"), "{out}");
}

/// Without the Exchange backend, alias edits and offboarding are
/// plan-time problems naming the setting, like shared mailboxes: before,
/// they failed at apply and stopped the changes after them.
#[test]
fn without_exchange_alias_edits_and_offboarding_are_refused_at_plan_time() {
    let t = Tenant::new();
    let alice = t.fake.add_user("alice@example.com", "Alice Example");
    t.fake.add_user("bob@example.com", "Bob Builder");
    t.fake.add_proxy_address(&alice, "ali@example.com");
    t.set_yaml(
        r#"domains:
  example.com:
    mail: {provider: m365}
mailboxes:
  alice@example.com:
    name: Alice Example
    aliases: [ali@example.com, a@example.com]
  bob@example.com:
    name: Bob Builder
    state: offboarded
    successor: alice@example.com
  carol@example.com:
    name: Carol Jones
    initial_password: generate
groups:
  sales@example.com:
    name: Sales
    members: [alice@example.com]
    aliases: [vertrieb@example.com]
"#,
    );
    let requests = t.fake.requests();
    let writes = t.fake.writes();
    let out = t.run(&["plan"], 1);
    assert!(
        out.contains("mailbox `alice@example.com` has `aliases:`")
            && out.contains("mailform.yaml:14:3:"),
        "{out}"
    );
    assert!(
        out.contains("`bob@example.com` is (or is declared) `state: offboarded`")
            && out.contains("mailform.yaml:17:3:"),
        "{out}"
    );
    assert!(
        out.contains("group `sales@example.com` has `aliases:`"),
        "{out}"
    );
    assert_eq!(out.matches("exchange: {enabled: true}").count(), 3, "{out}");
    // apply refuses the same plan before writing anything.
    t.run(&["apply", "--auto-approve"], 1);
    assert_eq!(t.fake.writes(), writes, "nothing written");
    assert!(t.fake.requests() > requests, "the plan read the tenant");
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

const EXCHANGE_ESTATE: &str = r#"domains:
  example.com:
    mail: {provider: m365}
mailboxes:
  alice@example.com:
    name: Alice Example
    initial_password: generate
    aliases: [a@example.com, ali@example.com]
  bob@example.com:
    name: Bob Builder
    initial_password: generate
  info@example.com:
    name: Info
    type: shared
    access: [alice@example.com, bob@example.com]
    aliases: [hello@example.com]
groups:
  sales@example.com:
    name: Sales
    members: [alice@example.com, bob@example.com]
    aliases: [vertrieb@example.com]
    allow_external: true
  team@example.com:
    name: Team
    members: [bob@example.com]
  all@example.com:
    name: Everyone
    type: distribution
    members: [alice@example.com, bob@example.com]
    aliases: [everyone@example.com]
"#;

impl Tenant {
    fn exchange_settings(&self) -> String {
        format!(
            "      exchange: {{enabled: true}}\n      exchange_endpoint: \"{}\"\n      default_licence: ENTERPRISEPACK\n",
            self.fake.url()
        )
    }
}

#[test]
fn with_exchange_aliases_and_outside_senders_converge() {
    let t = Tenant::new();
    t.set_yaml_with(&t.exchange_settings(), EXCHANGE_ESTATE);
    t.run(&["validate"], 0);
    t.run(&["plan", "--detailed-exitcode"], 2);
    t.apply_with_passwords("pw.txt");
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        let info = s
            .users
            .values()
            .find(|u| u.user_principal_name == "info@example.com")
            .unwrap();
        assert!(info.shared && info.licenses.is_empty() && info.full_access.len() == 2);
        assert!(s
            .users
            .values()
            .filter(|u| !u.shared)
            .all(|u| u.licenses.len() == 1));
        let all = s
            .groups
            .values()
            .find(|g| g.mail.as_deref() == Some("all@example.com"))
            .unwrap();
        assert!(all.group_types.is_empty() && all.members.len() == 2);
        let sales = s
            .groups
            .values()
            .find(|g| g.mail.as_deref() == Some("sales@example.com"))
            .unwrap();
        assert!(!sales.require_sender_auth);
        assert!(sales
            .proxy_addresses
            .contains(&"smtp:vertrieb@example.com".to_string()));
    });

    // Edits converge too: an alias swapped, outside senders turned off.
    t.set_yaml_with(
        &t.exchange_settings(),
        &EXCHANGE_ESTATE
            .replace(
                "[a@example.com, ali@example.com]",
                "[a@example.com, alice.x@example.com]",
            )
            .replace("allow_external: true", "allow_external: false")
            .replace(
                "access: [alice@example.com, bob@example.com]",
                "access: [bob@example.com]",
            )
            .replace(
                "    type: distribution\n    members: [alice@example.com, bob@example.com]",
                "    type: distribution\n    members: [alice@example.com]\n    allow_external: true",
            ),
    );
    let out = t.run(&["plan", "--detailed-exitcode"], 2);
    assert!(out.contains("access: -alice@example.com"), "{out}");
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);

    // Declared the other kind, they are refused, not converted.
    t.set_yaml_with(
        &t.exchange_settings(),
        &EXCHANGE_ESTATE
            .replace(
                "    type: shared\n    access: [alice@example.com, bob@example.com]\n",
                "    initial_password: generate\n",
            )
            .replace("    type: distribution\n", ""),
    );
    let out = t.run(&["plan"], 1);
    assert!(
        out.contains("does not convert mailboxes between user and shared"),
        "{out}"
    );
    assert!(out.contains("does not convert one kind of group"), "{out}");
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn an_imported_tenant_rebuilds_an_empty_one() {
    let a = Tenant::new();
    a.set_yaml_with(&a.exchange_settings(), EXCHANGE_ESTATE);
    a.apply_with_passwords("pw.txt");
    let imported = a.path("imported.yaml");
    a.run(&["import", "--out", imported.to_str().unwrap()], 0);
    let text = std::fs::read_to_string(&imported).unwrap();
    assert!(text.contains("initial_password: generate"), "{text}");
    assert!(text.contains("vertrieb@example.com"), "{text}");
    assert!(text.contains("allow_external: true"), "{text}");
    assert!(!text.contains("onmicrosoft.com"), "{text}");
    assert!(text.contains("type: shared"), "{text}");
    assert!(text.contains("type: distribution"), "{text}");

    // The same file on a fresh, empty tenant (its endpoints instead).
    let b = Tenant::new();
    let text_b = text.replace(&a.fake.url(), &b.fake.url());
    std::fs::write(b.path("mailform.yaml"), &text_b).unwrap();
    let pw = b.apply_with_passwords("pw.txt");
    assert_eq!(std::fs::read_to_string(&pw).unwrap().lines().count(), 2);
    b.run(&["plan", "--detailed-exitcode"], 0);
    // And the imported file describes the first tenant exactly.
    std::fs::copy(&imported, a.path("mailform.yaml")).unwrap();
    a.run(&["plan", "--detailed-exitcode"], 0);
    assert!(a.fake.violations().is_empty(), "{:?}", a.fake.violations());
    assert!(b.fake.violations().is_empty(), "{:?}", b.fake.violations());
}

#[test]
fn with_exchange_a_user_offboarded_to_a_successor_converges() {
    let t = Tenant::new();
    t.set_yaml_with(&t.exchange_settings(), EXCHANGE_ESTATE);
    t.apply_with_passwords("pw.txt");
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.set_yaml_with(
        &t.exchange_settings(),
        &EXCHANGE_ESTATE.replace(
            "    aliases: [a@example.com, ali@example.com]\n",
            "    aliases: [a@example.com, ali@example.com]\n    state: offboarded\n    successor: bob@example.com\n",
        ),
    );
    t.run(&["plan", "--detailed-exitcode"], 2);
    t.run(&["apply", "--auto-approve"], 0);
    t.run(&["plan", "--detailed-exitcode"], 0);
    t.fake.with_store(|s| {
        let alice = s
            .users
            .values()
            .find(|u| u.user_principal_name == "alice@example.com")
            .unwrap();
        assert!(alice.shared && !alice.account_enabled);
        assert_eq!(alice.forwarding.as_deref(), Some("smtp:bob@example.com"));
        assert!(alice.licenses.is_empty());
        assert_eq!(alice.full_access.len(), 1);
    });
    assert!(t.fake.violations().is_empty(), "{:?}", t.fake.violations());
}

#[test]
fn the_microsoft_365_example_is_valid() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/microsoft-365/mailform.yaml");
    let out = Command::cargo_bin("mailform")
        .unwrap()
        .env("NO_COLOR", "1")
        .env("M365_CLIENT_SECRET", "not-used-by-validate")
        .arg("-f")
        .arg(&example)
        .arg("validate")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("is valid"), "{text}");
}
