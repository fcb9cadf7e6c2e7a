//! The written files against the real programs that read them: Postfix's
//! `postmap` compiles and queries the lookup tables, Dovecot's `doveadm`
//! checks the fixture hashes and authenticates against the passwd-file.
//!
//! Needs the Debian packages `postfix` (`/usr/sbin/postmap`) and
//! `dovecot-core` (`/usr/bin/doveadm`, `/usr/sbin/dovecot`). Without them the
//! tests say they were skipped and pass, unless `MAILFORM_REQUIRE_REAL_SERVERS=1`
//! (set in CI), when they fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mailform_contract::{
    Alias, ChangeOutcome, Group, InitialPassword, MailChange, MailProvider, Mailbox, MailboxState,
    Secret,
};
use mailform_postfix::{Config, PostfixProvider};

const MAPS: [&str; 4] = [
    "virtual_mailbox_domains",
    "virtual_mailbox_maps",
    "virtual_alias_maps",
    "recipient_access",
];

/// The program, or `None` after saying why the test is skipped; panics when
/// real servers are required.
fn program(candidates: &[&str], package: &str) -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(candidates, package)
}

fn postmap() -> Option<PathBuf> {
    program(&["/usr/sbin/postmap", "/usr/bin/postmap"], "postfix")
}

fn doveadm() -> Option<PathBuf> {
    program(&["/usr/bin/doveadm", "/usr/sbin/doveadm"], "dovecot-core")
}

/// `(password, hash)` pairs made once with `doveadm pw`.
fn fixtures() -> Vec<(String, String)> {
    include_str!("fixtures/hashes.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (p, h) = l.split_once('\t').unwrap();
            (p.to_string(), h.to_string())
        })
        .collect()
}

fn hash_for(scheme: &str) -> (String, String) {
    fixtures()
        .into_iter()
        .find(|(p, _)| p == &format!("test-only-{scheme}"))
        .unwrap()
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn query(postmap: &Path, key: &str, map: &Path) -> Option<String> {
    let out = run(postmap, &["-q", key, &format!("hash:{}", map.display())]);
    // postmap -q exits 1 when the key is absent, 2+ on errors.
    match out.status.code() {
        Some(0) => Some(
            String::from_utf8(out.stdout)
                .unwrap()
                .trim_end()
                .to_string(),
        ),
        Some(1) => None,
        _ => panic!(
            "postmap -q failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn provider(dir: &Path, postmap: Option<&Path>) -> PostfixProvider {
    let config: Config = serde_json::from_value(serde_json::json!({
        "directory": dir,
        "postmap": postmap.map(|p| p.display().to_string()),
    }))
    .unwrap();
    PostfixProvider::new(config, Path::new("/"))
}

fn mailbox(address: &str, name: &str, state: MailboxState, successor: Option<&str>) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: Some(name.into()),
        state,
        successor: successor.map(str::to_string),
        aliases: vec![],
        kind: Default::default(),
        delegates: vec![],
    }
}

/// A small company: two people, one who left, an alias and two groups.
fn company() -> Vec<MailChange> {
    let create = |mb: Mailbox, scheme: &str| MailChange::CreateMailbox {
        new: mb,
        password: Some(InitialPassword::Hash(Secret::new(hash_for(scheme).1))),
    };
    vec![
        create(
            mailbox("alice@example.com", "Alice", MailboxState::Active, None),
            "SHA512-CRYPT",
        ),
        create(
            mailbox("bob@example.com", "Bob", MailboxState::Active, None),
            "ARGON2ID",
        ),
        create(
            mailbox(
                "carol@example.com",
                "Carol: former CFO",
                MailboxState::Offboarded,
                Some("alice@example.com"),
            ),
            "BLF-CRYPT",
        ),
        MailChange::CreateAlias {
            new: Alias {
                address: "info@example.com".into(),
                targets: vec!["alice@example.com".into(), "bob@example.com".into()],
            },
        },
        MailChange::CreateGroup {
            new: Group {
                id: None,
                address: "sales@example.com".into(),
                display_name: Some("Sales".into()),
                members: vec!["alice@example.com".into(), "agent@partner.example".into()],
                aliases: vec![],
                allow_external: false,
                kind: Default::default(),
            },
        },
    ]
}

fn assert_applied(outcomes: &[ChangeOutcome]) {
    for o in outcomes {
        assert!(matches!(o, ChangeOutcome::Applied), "{o:?}");
    }
}

#[tokio::test]
async fn postmap_compiles_and_answers_from_the_written_maps() {
    let Some(postmap) = postmap() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Another domain's lines and a comment must survive into the maps too.
    fs::write(
        d.join("virtual_alias_maps"),
        "# hand-made\npostmaster@other.org root@other.org\n",
    )
    .unwrap();

    let p = provider(d, None);
    assert_applied(&p.apply_domain("example.com", &company()).await.outcomes);
    for map in MAPS {
        let out = run(&postmap, &[&format!("hash:{}", d.join(map).display())]);
        assert!(
            out.status.success(),
            "postmap hash:{map}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "postmap warned about {map}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vam = d.join("virtual_alias_maps");
    assert_eq!(
        query(&postmap, "info@example.com", &vam).as_deref(),
        Some("alice@example.com, bob@example.com")
    );
    assert_eq!(
        query(
            &postmap,
            "alice@example.com",
            &d.join("virtual_mailbox_maps")
        )
        .as_deref(),
        Some("example.com/alice/")
    );
    assert_eq!(
        query(&postmap, "example.com", &d.join("virtual_mailbox_domains")).as_deref(),
        Some("OK")
    );
    assert_eq!(
        query(&postmap, "sales@example.com", &d.join("recipient_access")).as_deref(),
        Some("internal_only")
    );
    // The offboarded mailbox's new mail goes to its successor.
    assert_eq!(
        query(&postmap, "carol@example.com", &vam).as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        query(&postmap, "sales@example.com", &vam).as_deref(),
        Some("alice@example.com, agent@partner.example")
    );
    assert_eq!(
        query(&postmap, "postmaster@other.org", &vam).as_deref(),
        Some("root@other.org")
    );
    assert_eq!(query(&postmap, "bob@example.com", &vam), None);

    // With `postmap` configured, the provider compiles what it changes.
    let p = provider(d, Some(&postmap));
    let live = p.read_domain("example.com").await.unwrap();
    let info = live
        .aliases
        .iter()
        .find(|a| a.address == "info@example.com")
        .unwrap()
        .clone();
    let update = MailChange::UpdateAlias {
        old: info.clone(),
        new: Alias {
            targets: vec!["bob@example.com".into()],
            ..info
        },
    };
    let sales = live.groups[0].clone();
    let open = MailChange::UpdateGroup {
        old: sales.clone(),
        new: Group {
            allow_external: true,
            ..sales
        },
    };
    assert_applied(
        &p.apply_domain("example.com", &[update, open])
            .await
            .outcomes,
    );
    assert_eq!(
        query(&postmap, "info@example.com", &vam).as_deref(),
        Some("bob@example.com")
    );
    assert_eq!(
        query(&postmap, "sales@example.com", &d.join("recipient_access")),
        None
    );
    let leftovers: Vec<_> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("mailform-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn doveadm_verifies_the_fixture_hashes() {
    let Some(doveadm) = doveadm() else { return };
    let all = fixtures();
    assert_eq!(all.len(), 5);
    for (password, hash) in all {
        let ok = run(&doveadm, &["pw", "-t", &hash, "-p", &password]);
        assert!(
            ok.status.success(),
            "{password}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let wrong = run(&doveadm, &["pw", "-t", &hash, "-p", "not-the-password"]);
        assert!(
            !wrong.status.success(),
            "{password} accepted a wrong password"
        );
    }
}

/// A Dovecot master started in the foreground for one test with its own
/// base_dir, stopped when dropped so that a failing test leaves no daemon
/// behind. (Daemonised, it would keep the pipes of `output()` open forever.)
struct Dovecot {
    child: Child,
    config: PathBuf,
    doveadm: PathBuf,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let stopped = Command::new(&self.doveadm)
            .arg("-c")
            .arg(&self.config)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn dovecot_authenticates_from_the_written_passwd_file() {
    let Some(doveadm) = doveadm() else { return };
    let Some(dovecot) = program(&["/usr/sbin/dovecot"], "dovecot-core") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let estate = d.join("estate");
    fs::create_dir(&estate).unwrap();
    let p = provider(&estate, None);
    assert_applied(&p.apply_domain("example.com", &company()).await.outcomes);

    let users = estate.join("dovecot-users");
    let config = d.join("dovecot.conf");
    fs::write(
        &config,
        format!(
            "base_dir = {run}\nstate_dir = {state}\nlog_path = {log}\nprotocols =\nssl = no\n\
             auth_mechanisms = plain\n\
             default_internal_user = {user}\ndefault_login_user = {user}\ndefault_internal_group = {group}\n\
             passdb {{\n  driver = passwd-file\n  args = username_format=%Lu {users}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={home}/%d/%n\n}}\n",
            run = d.join("run").display(),
            state = d.join("state").display(),
            log = d.join("dovecot.log").display(),
            user = id("-un"),
            group = id("-gn"),
            uid = id("-u"),
            gid = id("-g"),
            users = users.display(),
            home = d.join("vmail").display(),
        ),
    )
    .unwrap();
    let child = Command::new(&dovecot)
        .arg("-F")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Dovecot {
        child,
        config: config.clone(),
        doveadm: doveadm.clone(),
    };
    let socket = d.join("run/auth-client");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !socket.exists() {
        if let Some(status) = guard.child.try_wait().unwrap() {
            let log = fs::read_to_string(d.join("dovecot.log")).unwrap_or_default();
            panic!("dovecot exited ({status}): {log}");
        }
        assert!(
            Instant::now() < deadline,
            "dovecot's auth socket never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let auth = |user: &str, password: &str| {
        let out = Command::new(&doveadm)
            .arg("-c")
            .arg(&config)
            .args(["auth", "test", user, password])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (ok, out) = auth("alice@example.com", "test-only-SHA512-CRYPT");
    assert!(ok, "{out}");
    assert!(!out.contains("nologin"), "{out}");
    let (ok, out) = auth("bob@example.com", "test-only-ARGON2ID");
    assert!(ok, "{out}");
    let (ok, out) = auth("alice@example.com", "wrong");
    assert!(!ok, "{out}");
    // The password matches, but Dovecot hands back the refusal: login
    // processes deny sign-in on `nologin` and show the reason.
    let (_, out) = auth("carol@example.com", "test-only-BLF-CRYPT");
    assert!(
        out.contains("nologin") && out.contains("reason=offboarded"),
        "{out}"
    );
}
