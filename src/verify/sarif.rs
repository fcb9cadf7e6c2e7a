//! The report as SARIF 2.1.0, for code-scanning UIs (GitHub code
//! scanning among them): every rule of `mailform rules` as a reporting
//! descriptor with its help, every finding as a result pointing at the
//! line of its domain (or declared record) in the file.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::report::{Finding, Report};
use crate::config::diagnostic::Severity;
use crate::lint::rules;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// `file` is the mailform file as the user named it; results point into it.
pub fn render(report: &Report, file: &str) -> Value {
    let rules_json: Vec<Value> = rules::ALL
        .iter()
        .map(|r| {
            let level = level(r.severity);
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": format!("{} ({})", r.summary, r.spec)},
                "help": {
                    "text": format!("{}\nSpecification: {}.\nList every rule with `mailform rules`.", r.summary, r.spec),
                    "markdown": format!("{}\n\nSpecification: {}.\n\nList every rule with `mailform rules`.", r.summary, r.spec),
                },
                "defaultConfiguration": {"level": level},
                "properties": {"tags": ["email", "dns"], "precision": "high", "problem.severity": level},
            })
        })
        .collect();
    let results: Vec<Value> = report.findings().map(|f| result(f, file)).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "mailform",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules_json,
            }},
            "results": results,
        }],
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn result(f: &Finding, file: &str) -> Value {
    let index = rules::ALL.iter().position(|r| r.id == f.rule);
    let mut text = format!("{}: {}", f.domain, f.message);
    if let Some(record) = &f.record {
        let served = if f.served.is_empty() {
            "nothing".to_string()
        } else {
            f.served.join(" | ")
        };
        text.push_str(&format!(" [{record} served: {served}]"));
    }
    if let Some(fix) = &f.fix {
        text.push_str(&format!(" Fix: {fix}"));
    }
    let (uri, line, column) = match &f.location {
        Some(l) => (uri(&l.file), l.line, l.column),
        None => (uri(file), 1, 1),
    };
    // Stable across runs while the same problem stays: not the message,
    // whose wording may carry counts.
    let identity = format!(
        "{}\n{}\n{}\n{}\n{}",
        f.rule,
        f.domain,
        f.record.as_deref().unwrap_or(""),
        f.server.as_deref().unwrap_or(""),
        f.cause.map(|c| c.as_str()).unwrap_or("")
    );
    let fingerprint = hex(&Sha256::digest(identity.as_bytes()));
    let mut r = json!({
        "ruleId": f.rule,
        "level": f.severity,
        "message": {"text": text},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": uri},
                "region": {"startLine": line, "startColumn": column},
            }
        }],
        "partialFingerprints": {"mailformFinding/v1": fingerprint},
    });
    if let Some(i) = index {
        r["ruleIndex"] = json!(i);
    }
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A relative path stays relative (code scanning resolves it against the
/// repository root), with `/` separators and no leading `./`; an absolute
/// one becomes a `file://` URI. Characters a URI cannot hold are escaped.
pub fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.trim_start_matches("./");
    let escaped: String = p
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    if p.starts_with('/') {
        format!("file://{escaped}")
    } else {
        escaped
    }
}
