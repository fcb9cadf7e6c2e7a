//! The text report: per zone, a line per server (how many declared sets it
//! serves as declared), then one line per finding — severity, rule, domain,
//! record, message, what was served, the fix — and a summary line.

use super::report::{Finding, Report};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for z in &report.zones {
        out.push_str(&format!("zone {}\n", z.zone));
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
                s.server,
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
    s
}

pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    format!(
        "Verify: {} zone(s), {} error finding(s), {} warning(s), {} record set(s) not served as declared, {} name(s) could not be checked.",
        s.zones, s.errors, s.warnings, s.not_served, s.names_not_checked
    )
}
