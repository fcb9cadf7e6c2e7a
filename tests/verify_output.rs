//! `mailform verify --format text|json|sarif` on a zone with defects,
//! served by a real BIND 9 on loopback: the three outputs carry the same
//! findings; text is one line per finding and a summary line; JSON has the
//! stable fields; SARIF has every field SARIF 2.1.0 requires (checked by
//! hand: no schema is vendored) plus what GitHub code scanning needs, with
//! each result pointing at the domain's (or the declared record's) line.

#[path = "../providers/zonefile/tests/common/named.rs"]
mod named;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn named_binary() -> Option<PathBuf> {
    mailform_testkit::real_server::require_program(&[named::NAMED], "bind9")
}

// Line 5 is the domain's key, line 8 the `_dmarc` record declared by hand.
const YAML: &str = r#"version: 1
providers:
  zones: {zonefile: {directory: ./zones, nameservers: [ns1.example.net]}}
domains:
  example.com:
    dns: {provider: zones}
    records:
      _dmarc: {TXT: "v=DMARC1; p=reject"}
      "@": {MX: "10 mx.example.com."}
      mx: {A: 192.0.2.1}
    spf: {mx: true, all: fail}
"#;

const SERVED: &str = r#"$ORIGIN example.com.
$TTL 300
@ SOA ns1.example.net. hostmaster.example.com. 1 7200 3600 1209600 300
@ NS ns1.example.net.
@ MX 10 mx.example.com.
mx A 192.0.2.1
@ TXT "v=spf1 mx +all"
_dmarc TXT "v=DMARC1; p=rejct"
"#;

fn run(file: &Path, port: u16, format: &str) -> (i32, String) {
    let out = Command::cargo_bin("mailform")
        .unwrap()
        .args(["verify", "--detailed-exitcode", "--timeout", "2"])
        .args(["--authoritative", &format!("127.0.0.1:{port}")])
        .args(["--format", format, "-f"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn text_json_and_sarif_carry_the_same_findings() {
    let Some(named_bin) = named_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mailform.yaml");
    std::fs::write(&file, YAML).unwrap();
    let zone = dir.path().join("served.zone");
    std::fs::write(&zone, SERVED).unwrap();
    let server = named::start_named(&named_bin, "example.com", &zone);

    let (code, json) = run(&file, server.port, "json");
    assert_eq!(code, 2, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["format_version"], 1);
    let findings = report["zones"][0]["findings"].as_array().unwrap();
    for f in findings {
        for key in ["domain", "rule", "rule_name", "severity", "message"] {
            assert!(
                f[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key}: {f:#}"
            );
        }
        assert!(f["served"].is_array(), "{f:#}");
        assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "{f:#}");
        assert_eq!(f["location"]["file"], file.display().to_string(), "{f:#}");
    }
    let rules: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for rule in ["MF105", "MF201", "MF601"] {
        assert!(rules.contains(rule), "{rule} missing: {report:#}");
    }
    let not_served = findings
        .iter()
        .find(|f| f["rule"] == "MF601" && f["record"] == "_dmarc.example.com TXT")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        not_served["served"][0], "\"v=DMARC1; p=rejct\"",
        "{not_served:#}"
    );
    assert_eq!(not_served["location"]["line"], 8, "{not_served:#}");
    let permissive = findings.iter().find(|f| f["rule"] == "MF105").unwrap();
    assert_eq!(permissive["record"], "example.com TXT", "{permissive:#}");
    assert_eq!(
        permissive["served"][0], "\"v=spf1 mx +all\"",
        "{permissive:#}"
    );
    assert_eq!(permissive["location"]["line"], 5, "{permissive:#}");
    assert_eq!(report["summary"]["outcome"], "findings");
    assert_eq!(
        report["summary"]["errors"].as_u64().unwrap()
            + report["summary"]["warnings"].as_u64().unwrap(),
        findings.len() as u64
    );

    // Text: one line per finding, with its domain, rule, severity, what
    // was served and the fix; then the summary line.
    let (code, text) = run(&file, server.port, "text");
    assert_eq!(code, 2, "{text}");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("error[") || l.starts_with("warning["))
        .collect();
    assert_eq!(lines.len(), findings.len(), "{text}");
    for f in findings {
        let head = format!(
            "{}[{} {}] {}",
            f["severity"].as_str().unwrap(),
            f["rule"].as_str().unwrap(),
            f["rule_name"].as_str().unwrap(),
            f["domain"].as_str().unwrap()
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&head) && l.contains("; fix: ")),
            "no line for {head}:\n{text}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("_dmarc.example.com TXT")
                && l.contains("served: \"v=DMARC1; p=rejct\"")),
        "{text}"
    );
    let summary = text.lines().last().unwrap();
    assert!(summary.starts_with("Verify: 1 zone, "), "{text}");
    assert!(
        summary.contains("2 record sets not served as declared"),
        "{text}"
    );
    assert!(summary.contains("0 names could not be checked"), "{text}");

    let (code, sarif) = run(&file, server.port, "sarif");
    assert_eq!(code, 2, "{sarif}");
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    check_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len(), "{sarif:#}");
    for (r, f) in results.iter().zip(findings) {
        assert_eq!(r["ruleId"], f["rule"]);
        assert_eq!(r["level"], f["severity"]);
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], f["location"]["line"], "{r:#}");
    }
    // Every rule `mailform rules` lists is described, so code scanning
    // can show help for any result.
    let listed = Command::cargo_bin("mailform")
        .unwrap()
        .arg("rules")
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    let ids: BTreeSet<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for line in listed.lines().filter(|l| l.starts_with("| MF")) {
        let id = line.split('|').nth(1).unwrap().trim();
        assert!(ids.contains(id), "{id} not among the SARIF rules");
    }
    assert!(ids.contains("MF602"));
}

/// The SARIF 2.1.0 requirements (OASIS schema `required` lists and value
/// constraints) for every object the output uses, plus GitHub code
/// scanning's extra ones (rules' descriptions and help, a location per
/// result). Unknown property names are refused, so a misspelt key (which
/// the schema would let through as an extension nowhere) is caught.
fn check_sarif(log: &Value) {
    fn keys(v: &Value, allowed: &[&str], what: &str) {
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
        for k in obj.keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{what} has unknown property `{k}`"
            );
        }
    }
    fn text(v: &Value, what: &str) {
        keys(v, &["text", "markdown"], what);
        assert!(
            v["text"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}.text missing"
        );
    }
    const LEVELS: [&str; 4] = ["none", "note", "warning", "error"];
    keys(log, &["$schema", "version", "runs"], "sarifLog");
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    keys(run, &["tool", "results"], "run");
    keys(&run["tool"], &["driver"], "tool");
    let driver = &run["tool"]["driver"];
    keys(driver, &["name", "version", "rules"], "toolComponent");
    assert_eq!(driver["name"], "mailform");
    let rules = driver["rules"].as_array().expect("rules");
    let mut ids = BTreeSet::new();
    for r in rules {
        keys(
            r,
            &[
                "id",
                "name",
                "shortDescription",
                "fullDescription",
                "help",
                "defaultConfiguration",
                "properties",
            ],
            "reportingDescriptor",
        );
        let id = r["id"].as_str().expect("rule id");
        assert!(ids.insert(id), "rule {id} twice");
        text(&r["shortDescription"], "shortDescription");
        text(&r["fullDescription"], "fullDescription");
        text(&r["help"], "help");
        keys(
            &r["defaultConfiguration"],
            &["level"],
            "reportingConfiguration",
        );
        assert!(LEVELS.contains(&r["defaultConfiguration"]["level"].as_str().unwrap()));
        assert!(r["properties"]["tags"].is_array());
    }
    for res in run["results"].as_array().expect("results") {
        keys(
            res,
            &[
                "ruleId",
                "ruleIndex",
                "level",
                "message",
                "locations",
                "partialFingerprints",
            ],
            "result",
        );
        text(&res["message"], "message");
        let id = res["ruleId"].as_str().expect("ruleId");
        let index = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id, "ruleIndex points at another rule");
        assert!(LEVELS.contains(&res["level"].as_str().unwrap()));
        let locations = res["locations"].as_array().expect("locations");
        assert!(!locations.is_empty());
        for l in locations {
            keys(l, &["physicalLocation"], "location");
            let p = &l["physicalLocation"];
            keys(p, &["artifactLocation", "region"], "physicalLocation");
            keys(&p["artifactLocation"], &["uri"], "artifactLocation");
            let uri = p["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.is_empty() && !uri.contains(' '), "uri {uri}");
            keys(&p["region"], &["startLine", "startColumn"], "region");
            assert!(p["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(p["region"]["startColumn"].as_u64().unwrap() >= 1);
        }
        let fp = res["partialFingerprints"].as_object().unwrap();
        assert!(fp
            .values()
            .all(|v| v.as_str().is_some_and(|s| !s.is_empty())));
    }
}
