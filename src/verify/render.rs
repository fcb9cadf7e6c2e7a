//! The text report: per zone, a line per server (how many declared sets it
//! serves as declared), then one line per finding — severity, rule, domain,
//! record, message, what was served, the fix — and a summary line.
//!
//! What a server serves is hostile input (`verify --domain` of anyone's
//! domain): every line goes through [`safe`], so served data can neither
//! drive the terminal nor fake a line of the report.

use super::report::{Finding, Report};
use crate::render::{count, safe};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for z in &report.zones {
        out.push_str(&format!("zone {}\n", safe(&z.zone)));
        for s in &z.servers {
            let ok = s.records.iter().filter(|r| r.status == "served").count();
            let unchecked = s
                .records
                .iter()
                .filter(|r| r.status == "could-not-check")
                .count();
            let unchecked = if unchecked > 0 {
                format!(", {unchecked} could not be checked")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "  {} ({}): {ok}/{} record sets served as declared{unchecked}\n",
                safe(&s.server),
                s.role,
                s.records.len()
            ));
        }
        for f in &z.findings {
            out.push_str(&format!("  {}\n", line(f)));
        }
        out.push('\n');
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// One finding on one line.
pub fn line(f: &Finding) -> String {
    let mut s = format!("{}[{} {}] {}", f.severity, f.rule, f.rule_name, f.domain);
    if let Some(r) = &f.record {
        s.push_str(&format!(" {r}"));
    }
    s.push_str(&format!(": {}", f.message));
    if f.record.is_some() {
        let served = if f.served.is_empty() {
            "nothing".to_string()
        } else {
            f.served.join(" | ")
        };
        s.push_str(&format!("; served: {served}"));
    }
    if let Some(fix) = &f.fix {
        s.push_str(&format!("; fix: {fix}"));
    }
    safe(&s).into_owned()
}

pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    format!(
        "Verify: {}, {}, {}, {} not served as declared, {} could not be checked.",
        count(s.zones, "zone", "zones"),
        count(s.errors, "error finding", "error findings"),
        count(s.warnings, "warning", "warnings"),
        count(s.not_served, "record set", "record sets"),
        count(s.names_not_checked, "name", "names")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Served data is hostile input: an ESC or a newline in a TXT value or
    /// in a message quoting it comes out escaped, on one line.
    #[test]
    fn served_control_characters_are_escaped() {
        let f = Finding {
            domain: "example.com".into(),
            rule: "MF101",
            rule_name: "spf-syntax",
            severity: "error",
            record: Some("example.com TXT".into()),
            server: None,
            served: vec!["\"v=spf1 \u{1b}[2J -all\"".into()],
            message: "bad term `\u{1b}[2J`\nverify: 0 error findings".into(),
            fix: None,
            cause: None,
            questions: Vec::new(),
            location: None,
            declared_at: None,
        };
        let l = line(&f);
        assert!(!l.contains('\u{1b}') && !l.contains('\n'), "{l}");
        assert!(l.contains("\\u{1b}[2J"), "{l}");
    }
}
