//! Internationalised host names in record data (an MX exchange, CNAME, NS
//! and SRV targets), end to end on the zone-file provider: a Unicode target
//! is refused before anything is written, with its xn-- form as the fix,
//! and the value the fix suggests applies and then plans nothing (a raw
//! UTF-8 target used to be written as is, read back as escaped bytes, and
//! planned again on every run).

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

const YAML: &str = r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
domains:
  example.com:
    dns: {provider: zones}
    dmarc: {p: reject}
    records:
      "@":
        MX: "10 mx.bücher.example."
      www:
        CNAME: shop.bücher.example.
      dev:
        NS: ns1.bücher.example.
      _imaps._tcp:
        SRV: "0 1 993 imap.bücher.example."
"#;

fn run(dir: &Path, args: &[&str]) -> Output {
    #[allow(deprecated)] // `cargo_bin` is the documented way in assert_cmd 2.x
    let mut cmd = Command::cargo_bin("mailform").expect("mailform binary is built");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .arg("-f")
        .arg(dir.join("mailform.yaml"))
        .args(args)
        .output()
        .expect("mailform runs")
}

/// The values the `= fix:` lines suggest (`write `<value>`, ...`), in order.
fn suggested_values(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("= fix: write `"))
        .filter_map(|l| l.split_once('`').map(|(v, _)| v.to_string()))
        .collect()
}

#[test]
fn unicode_targets_are_refused_and_their_xn_form_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("mailform.yaml"), YAML).unwrap();

    for command in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
        let out = run(d, command);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command:?}:\n{stderr}");
        for rtype in ["MX", "CNAME", "NS", "SRV"] {
            assert!(
                stderr.contains(&format!("{rtype} target `")) && stderr.contains("is not ASCII"),
                "{command:?} does not refuse the {rtype} target:\n{stderr}"
            );
        }
        assert!(
            !d.join("zones").exists(),
            "{command:?} wrote a zone for a refused file"
        );
    }

    let out = run(d, &["validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let fixes = suggested_values(&stderr);
    assert_eq!(
        fixes,
        [
            "10 mx.xn--bcher-kva.example.",
            "shop.xn--bcher-kva.example.",
            "ns1.xn--bcher-kva.example.",
            "0 1 993 imap.xn--bcher-kva.example.",
        ],
        "{stderr}"
    );

    // Take the fixes as the messages give them.
    let mut yaml = YAML.to_string();
    for (raw, fixed) in [
        "10 mx.bücher.example.",
        "shop.bücher.example.",
        "ns1.bücher.example.",
        "0 1 993 imap.bücher.example.",
    ]
    .iter()
    .zip(&fixes)
    {
        yaml = yaml.replace(raw, fixed);
    }
    std::fs::write(d.join("mailform.yaml"), &yaml).unwrap();
    let out = run(d, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zone = std::fs::read_to_string(d.join("zones/example.com.zone")).unwrap();
    assert!(zone.contains("mx.xn--bcher-kva.example."), "{zone}");
    assert!(
        zone.lines()
            .filter(|l| !l.starts_with(';'))
            .all(|l| l.is_ascii()),
        "{zone}"
    );
    let out = run(d, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the applied zone does not converge:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
