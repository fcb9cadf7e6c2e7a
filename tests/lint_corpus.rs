//! The lint corpus: each file in tests/lint/ names on its first line the
//! rule it must trigger (`# expect-rule: MF101`, or `none` for a clean
//! file); README's rule table must be the one the code generates.

use std::path::Path;

use assert_cmd::Command;

#[test]
fn every_lint_file_triggers_its_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    let mut failures = Vec::new();
    let mut seen_rules = std::collections::BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect-rule: "))
            .unwrap_or_else(|| panic!("{} has no expect-rule line", file.display()))
            .trim()
            .to_string();
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .args(["validate", "--format", "json", "-f"])
            .arg(file)
            .output()
            .unwrap();
        let findings: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}: {}",
                    file.display(),
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        let rules: Vec<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
        let has_error = findings.iter().any(|f| f["severity"] == "error");
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if expect == "none" {
            if !findings.is_empty() {
                failures.push(format!("{name}: expected no findings, got {findings:?}"));
            }
        } else if !rules.contains(&expect.as_str()) {
            failures.push(format!("{name}: expected {expect}, got {rules:?}"));
        }
        for f in &findings {
            if f["line"].as_u64().unwrap_or(0) == 0 {
                failures.push(format!("{name}: a finding without a line: {f}"));
            }
        }
        if out.status.code() != Some(if has_error { 1 } else { 0 }) {
            failures.push(format!(
                "{name}: exit {:?} with errors={has_error}",
                out.status.code()
            ));
        }
        seen_rules.insert(expect);
    }
    for rule in mailform::lint::rules::ALL {
        if !seen_rules.contains(rule.id) && !mailform::lint::rules::LIVE_ONLY.contains(&rule.id) {
            failures.push(format!(
                "no corpus file exercises {} {}",
                rule.id, rule.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn readme_rule_table_is_generated_from_the_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = mailform::lint::rules::markdown_table();
    assert!(
        readme.contains(&table),
        "README's rule table is stale; replace it with the output of `mailform rules`:\n{table}"
    );
}

#[test]
fn examples_validate_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path().join("mailform.yaml");
        if !path.exists() {
            continue;
        }
        let out = Command::cargo_bin("mailform")
            .unwrap()
            .args(["validate", "--format", "json", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "[]",
            "{} has findings",
            path.display()
        );
        assert!(out.status.success());
        checked += 1;
    }
    assert!(checked >= 1);
}
