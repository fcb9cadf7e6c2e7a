//! `mailform verify` never passes when it could not see: a real BIND 9 on
//! loopback that refuses the zone, serves only its parent (a referral: a
//! lame server), fails to load it (SERVFAIL), a port nobody listens on and
//! a server that never answers each give a `dns-could-not-check` (MF602)
//! finding and exit 1, with or without `--detailed-exitcode`; the zone
//! served properly still verifies clean, asking nothing of public
//! resolvers when only `--authoritative` is given.

#[path = "../providers/zonefile/tests/common/named.rs"]
mod named;

use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn named_binary() -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[named::NAMED], "bind9")
}

const YAML: &str = r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
domains:
  example.com:
    dns: {provider: zones}
    records:
      "@": {MX: "10 mx.example.com."}
      mx: {A: 192.0.2.1}
      _spf: {TXT: "v=spf1 ip4:192.0.2.0/24 -all"}
    spf: {mx: true, include: [_spf.example.com], all: fail}
    dmarc: {p: reject}
"#;

/// The file and the zone file mailform writes for it (the clean zone).
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let file = dir.join("mailform.yaml");
    std::fs::write(&file, YAML).unwrap();
    Command::cargo_bin("mailform")
        .unwrap()
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file)
        .assert()
        .success();
    (file, dir.join("zones/example.com.zone"))
}

/// A running named, killed on drop.
struct Bind {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bind {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A named serving the given `(zone, file)` pairs, whether or not they
/// load: ready when it logs that it is running. (The shared start-up in
/// `named.rs` waits for the zone to answer, which a zone that fails to
/// load never does.)
fn serve(named_bin: &Path, zones: &[(&str, &Path)]) -> Bind {
    let mut last_log = String::new();
    for _attempt in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = named::free_port();
        let d = dir.path().display();
        let mut conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ any; }};
}};
controls {{ }};
"#
        );
        for (zone, file) in zones {
            conf.push_str(&format!(
                "zone \"{zone}\" {{ type primary; file \"{}\"; }};\n",
                file.display()
            ));
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = dir.path().join("named.log");
        let child = Process::new(named_bin)
            .args(["-g", "-4", "-n", "1", "-c"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start named");
        let mut server = Bind {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            last_log = server.log();
            if named::port_taken(&last_log) {
                break;
            }
            if let Some(status) = server.child.try_wait().ok().flatten() {
                panic!("named exited with {status}:\n{last_log}");
            }
            if last_log.lines().any(|l| l.ends_with(" running")) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !named::port_taken(&last_log) {
            panic!("named did not start within 30 s:\n{last_log}");
        }
    }
    panic!("could not start named on a free port:\n{last_log}");
}

struct Run {
    code: i32,
    stdout: String,
    elapsed: Duration,
}

fn verify(file: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let out = Command::cargo_bin("mailform")
        .unwrap()
        .arg("verify")
        .args(args)
        .arg("-f")
        .arg(file)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        elapsed: start.elapsed(),
    }
}

fn auth(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Runs verify against `servers` as authoritative (no resolver given), in
/// JSON with `--detailed-exitcode`, then in text without it; both must
/// exit 1 with an MF602 finding of `cause`. Returns the JSON report.
fn assert_could_not_check(file: &Path, servers: &[String], cause: &str) -> serde_json::Value {
    let mut args = vec!["--timeout", "0.5"];
    for s in servers {
        args.extend(["--authoritative", s.as_str()]);
    }
    let json_args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--format", "json", "--detailed-exitcode"])
        .collect();
    let run = verify(file, &json_args);
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(run.code, 1, "{report:#}");
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
    let findings = report["zones"][0]["findings"].as_array().unwrap();
    let unchecked: Vec<&serde_json::Value> =
        findings.iter().filter(|f| f["rule"] == "MF602").collect();
    assert!(
        unchecked
            .iter()
            .any(|f| f["cause"] == cause && f["severity"] == "error"),
        "no MF602 with cause {cause}: {report:#}"
    );
    for f in &unchecked {
        assert_eq!(f["rule_name"], "dns-could-not-check");
        assert!(!f["questions"].as_array().unwrap().is_empty(), "{f:#}");
        assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "{f:#}");
    }
    assert_eq!(
        report["summary"]["outcome"], "could-not-check",
        "{report:#}"
    );
    let names = report["summary"]["names_not_checked"].as_u64().unwrap();
    assert!(names >= 3, "{report:#}");

    let run = verify(file, &args);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let summary = run.stdout.lines().last().unwrap();
    assert!(
        summary.contains(&format!(
            "{names} {} could not be checked",
            if names == 1 { "name" } else { "names" }
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l
            .trim_start()
            .starts_with("error[MF602 dns-could-not-check] example.com")
            && l.contains("; fix: ")),
        "{}",
        run.stdout
    );
    report
}

#[test]
fn the_clean_zone_verifies_clean_through_the_authoritative_server_alone() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, zone_file) = setup(dir.path());
    let server = serve(&named_bin, &[("example.com", &zone_file)]);
    // No --resolver: the MX host, the SPF include and every other name of
    // the zone are asked of the authoritative server; a question to a
    // public resolver would fail here (no network) and show as MF602.
    let run = verify(
        &file,
        &[
            "--timeout",
            "1",
            "--authoritative",
            &auth(server.port),
            "--format",
            "json",
            "--detailed-exitcode",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(run.code, 0, "{report:#}");
    assert_eq!(report["summary"]["outcome"], "clean", "{report:#}");
    assert_eq!(report["summary"]["names_not_checked"], 0, "{report:#}");
    assert!(
        report["zones"][0]["findings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{report:#}"
    );
    let servers = report["zones"][0]["servers"].as_array().unwrap();
    assert!(
        servers.iter().all(|s| s["role"] == "authoritative"),
        "public resolvers were asked for the zone's names: {report:#}"
    );
    let run = verify(
        &file,
        &["--timeout", "1", "--authoritative", &auth(server.port)],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.lines().last().unwrap().ends_with(
            "0 error findings, 0 warnings, 0 record sets not served as declared, 0 names could not be checked."
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_server_that_refuses_the_zone_is_could_not_check() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = setup(dir.path());
    let other = dir.path().join("other.zone");
    std::fs::write(
        &other,
        "$TTL 300\n@ SOA ns.other.test. h.other.test. 1 7200 3600 1209600 300\n@ NS ns.other.test.\nns A 127.0.0.1\n",
    )
    .unwrap();
    let server = serve(&named_bin, &[("other.test", &other)]);
    let report = assert_could_not_check(&file, &[auth(server.port)], "refused");
    // Refused questions are not "missing": no not-served finding.
    assert_eq!(report["summary"]["not_served"], 0, "{report:#}");
    let records = report["zones"][0]["servers"][0]["records"]
        .as_array()
        .unwrap();
    assert!(
        records.iter().all(|r| r["status"] == "could-not-check"),
        "{report:#}"
    );
}

#[test]
fn a_lame_server_answering_with_a_referral_is_could_not_check() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = setup(dir.path());
    let parent = dir.path().join("com.zone");
    std::fs::write(
        &parent,
        "$ORIGIN com.\n$TTL 300\n@ SOA ns.com. h.com. 1 7200 3600 1209600 300\n@ NS ns.com.\nns A 127.0.0.1\nexample NS ns1.example.net.\n",
    )
    .unwrap();
    let server = serve(&named_bin, &[("com", &parent)]);
    let report = assert_could_not_check(&file, &[auth(server.port)], "lame");
    let f = report["zones"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "lame")
        .unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("referral to ns1.example.net"),
        "{f:#}"
    );
}

#[test]
fn a_zone_that_failed_to_load_is_servfail_and_could_not_check() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = setup(dir.path());
    let broken = dir.path().join("broken.zone");
    std::fs::write(&broken, "$TTL 300\n@ SOA this is not a zone\n").unwrap();
    let server = serve(&named_bin, &[("example.com", &broken)]);
    assert!(server.log().contains("not loaded"), "{}", server.log());
    assert_could_not_check(&file, &[auth(server.port)], "servfail");
}

#[test]
fn a_port_nobody_listens_on_and_a_silent_server_are_could_not_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mailform.yaml");
    std::fs::write(&file, YAML).unwrap();

    let closed = named::free_port();
    let report = assert_could_not_check(&file, &[auth(closed)], "timeout");
    let _ = report;

    // Bound but never answering: a firewall that drops, a hung server.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let report = assert_could_not_check(&file, &[auth(port)], "timeout");
    // The server is not asked again once it timed out: one wait, and every
    // name it should have answered is listed.
    let f = &report["zones"][0]["findings"][0];
    assert!(f["questions"].as_array().unwrap().len() >= 5, "{f:#}");
    drop(silent);
}

#[test]
fn could_not_check_wins_over_findings_and_over_a_healthy_second_server() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, zone_file) = setup(dir.path());
    // The file now declares a record the zone does not serve: a finding.
    std::fs::write(
        &file,
        YAML.replace(
            "mx: {A: 192.0.2.1}",
            "mx: {A: 192.0.2.1}\n      www: {A: 192.0.2.80}",
        ),
    )
    .unwrap();
    let good = serve(&named_bin, &[("example.com", &zone_file)]);
    let json = |servers: &[String]| {
        let mut args = vec![
            "--timeout",
            "0.5",
            "--format",
            "json",
            "--detailed-exitcode",
        ];
        for s in servers {
            args.extend(["--authoritative", s.as_str()]);
        }
        let run = verify(&file, &args);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        (run.code, report)
    };
    let (code, report) = json(&[auth(good.port)]);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["summary"]["outcome"], "findings");
    assert_eq!(report["summary"]["not_served"], 1, "{report:#}");

    let closed = auth(named::free_port());
    let (code, report) = json(&[auth(good.port), closed.clone()]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"]["outcome"], "could-not-check");
    assert!(report["summary"]["not_served"].as_u64().unwrap() >= 1);
    let f = report["zones"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "MF602")
        .unwrap();
    assert_eq!(f["server"], closed, "{f:#}");

    // Without --detailed-exitcode an error finding alone is exit 1 too.
    let run = verify(
        &file,
        &["--timeout", "0.5", "--authoritative", &auth(good.port)],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
}
