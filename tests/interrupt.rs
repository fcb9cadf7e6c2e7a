//! Ctrl-C during `apply`, on a real process against the Cloudflare fake
//! slowed down: the first SIGINT lets the change in flight finish, starts
//! nothing more, prints the summary and exits 130, and the next plan shows
//! exactly what was not started; a second SIGINT stops at once.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mailform_cloudflare::fake::{FakeCloudflare, FakeConfig};

const TOKEN: &str = "cf-interrupt-token-123";
const ZONES: usize = 8;

struct Estate {
    dir: tempfile::TempDir,
    fake: FakeCloudflare,
}

fn zone(i: usize) -> String {
    format!("z{i}.example")
}

impl Estate {
    fn new(latency: Duration) -> Estate {
        let fake = FakeCloudflare::start_background(FakeConfig {
            token: TOKEN.into(),
            latency,
            ..FakeConfig::default()
        })
        .unwrap();
        let mut yaml = format!(
            "version: 1\nproviders:\n  cf:\n    cloudflare: {{endpoint: \"{}\"}}\ndomains:\n",
            fake.url()
        );
        for i in 0..ZONES {
            fake.add_zone(&zone(i));
            yaml.push_str(&format!(
                "  {}:\n    dns: {{provider: cf}}\n    records:\n      www: {{A: 192.0.2.{i}}}\n      api: {{A: 198.51.100.{i}}}\n",
                zone(i)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mailform.yaml"), yaml).unwrap();
        Estate { dir, fake }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailform"));
        c.current_dir(self.dir.path())
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .args(args)
            .arg("-f")
            .arg(self.dir.path().join("mailform.yaml"));
        c
    }

    fn start_apply(&self) -> Child {
        self.command(&["apply", "--auto-approve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until the first zone's changes have reached the provider.
    fn wait_for_first_write(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while (0..ZONES).all(|i| self.fake.records(&zone(i)).is_empty()) {
            assert!(Instant::now() < deadline, "apply never wrote");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Changes the next plan shows, per zone.
    fn planned(&self) -> BTreeMap<String, usize> {
        let out = self
            .command(&["plan", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        plan["zones"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| {
                (
                    z["zone"].as_str().unwrap().to_string(),
                    z["changes"].as_array().unwrap().len(),
                )
            })
            .collect()
    }
}

fn sigint(child: &Child) {
    // SAFETY: signalling a child process we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
}

fn finish(mut child: Child) -> (Option<i32>, String, String) {
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), out, err)
}

#[test]
fn ctrl_c_finishes_what_is_in_flight_and_reports_the_rest() {
    let e = Estate::new(Duration::from_millis(300));
    let child = e.start_apply();
    e.wait_for_first_write();
    sigint(&child);
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(
        err.contains("Interrupted: finishing the changes in flight"),
        "{err}"
    );
    assert!(out.contains("Apply interrupted:"), "{out}");
    assert!(!out.contains("FAILED") && !out.contains("UNKNOWN"), "{out}");
    // What the summary says was not started is exactly what is left.
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_started: BTreeMap<String, usize> = BTreeMap::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["done", zone, ..] => *done.entry(zone.to_string()).or_default() += 1,
            ["skipped", zone, ..] if line.ends_with("not started: apply was interrupted") => {
                *not_started.entry(zone.to_string()).or_default() += 1
            }
            _ => {}
        }
    }
    assert!(!done.is_empty() && !not_started.is_empty(), "{out}");
    assert_eq!(
        done.values().sum::<usize>() + not_started.values().sum::<usize>(),
        ZONES * 2,
        "{out}"
    );
    let left: BTreeMap<String, usize> = e.planned().into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(left, not_started, "{out}");
    // And apply again finishes the job.
    let out = e.command(&["apply", "--auto-approve"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(e.planned().values().all(|n| *n == 0));
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let latency = Duration::from_millis(1500);
    let e = Estate::new(latency);
    let child = e.start_apply();
    // The first zone is written; the second zone's write is now in flight
    // for most of a latency.
    e.wait_for_first_write();
    sigint(&child);
    std::thread::sleep(Duration::from_millis(150));
    let second = Instant::now();
    sigint(&child);
    let (code, out, err) = finish(child);
    assert!(
        second.elapsed() < Duration::from_millis(700),
        "waited {:?} for the change in flight",
        second.elapsed()
    );
    assert_eq!(code, Some(130), "{out}\n{err}");
    assert!(err.contains("Stopped at once"), "{err}");
    assert!(!out.contains("Apply interrupted"), "{out}");
}

/// The library side: an interrupt also gives up a wait for DNS during
/// onboarding (only questions are in flight then), and nothing after it
/// starts. Against the in-memory providers, with a "server" that never
/// answers and a wait of ten minutes.
mod onboarding {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use mailform::apply::{apply, onboard::DnsWait, order::Phase, ApplyOptions, INTERRUPTED};
    use mailform::config::{interpolate::ProcessEnv, load, LoadOptions};
    use mailform::live;
    use mailform::plan::{build, PlanSource};
    use mailform::registry::Registry;
    use mailform_contract::memory::{MemoryDns, MemoryMail};
    use mailform_contract::{ChangeOutcome, DomainStage};

    const YAML: &str = r#"
version: 1
providers:
  zones: {zonefile: {directory: ./zones}}
  mailserver: {postfix: {directory: ./mail}}
domains:
  c.example:
    dns: {provider: zones, manage: zone}
    mail: {provider: mailserver}
    records:
      www: {A: 192.0.2.7}
mailboxes:
  alice@c.example: {password_hash: "{SHA512-CRYPT}$6$abc$def"}
"#;

    #[tokio::test]
    async fn an_interrupt_gives_up_the_wait_for_dns_and_starts_nothing_after() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), YAML).unwrap();
        let loaded = load(
            &dir.path().join("m.yaml"),
            &LoadOptions::default(),
            &ProcessEnv,
        )
        .unwrap();
        let dns = Arc::new(MemoryDns::default());
        let mail = Arc::new(MemoryMail::default());
        mail.onboarding
            .lock()
            .unwrap()
            .insert("c.example".into(), DomainStage::Absent);
        let mut registry = Registry::default();
        registry.dns.insert("zones".into(), dns.clone());
        registry.mail.insert("mailserver".into(), mail.clone());
        let live = live::read(&loaded.desired, &registry).await.unwrap();
        let source = PlanSource {
            file: "m.yaml".into(),
            sha256: String::new(),
            profile: None,
            targets: vec![],
        };
        let plan = build(&loaded.desired, &live, &registry, source);
        assert!(plan.mail[0].onboarding.is_some());
        let options = ApplyOptions {
            dns_wait: DnsWait {
                // Nothing listens there: the record is never seen served.
                authoritative: vec!["127.0.0.1:9".parse().unwrap()],
                timeout: Duration::from_secs(600),
                interval: Duration::from_millis(200),
                ..DnsWait::default()
            },
            ..ApplyOptions::default()
        };
        let interrupt = options.interrupt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            interrupt.raise();
        });
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            apply(&plan, &loaded.desired, &registry, &options),
        )
        .await
        .expect("the wait for DNS was not given up");
        assert!(started.elapsed() < Duration::from_secs(10));
        let onboard = result
            .entries
            .iter()
            .find(|e| e.phase == Phase::Onboard)
            .unwrap();
        match &onboard.outcome {
            ChangeOutcome::Failed(e) => {
                assert!(e.to_string().contains("interrupted while waiting"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let later: Vec<_> = result
            .entries
            .iter()
            .filter(|e| e.phase != Phase::Onboard)
            .collect();
        assert!(!later.is_empty());
        for e in later {
            assert!(
                matches!(&e.outcome, ChangeOutcome::NotAttempted(why) if why == INTERRUPTED),
                "{e:?}"
            );
        }
        assert!(result.interrupted() > 0);
        let state = mail.domains.lock().unwrap();
        assert!(state
            .get("c.example")
            .is_none_or(|d| d.mailboxes.is_empty()));
    }
}
