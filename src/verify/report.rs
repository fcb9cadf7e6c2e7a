//! What `verify` found: per zone, what each server serves of the declared
//! record sets, and the findings (rule, severity, what was served, the
//! fix). The JSON output is this structure; the text and SARIF outputs
//! render it. Counts and the outcome (clean, findings, could not check)
//! are derived here so every output and the exit code agree.

use std::collections::BTreeSet;

use serde::Serialize;

use super::dns::Cause;
use crate::config::diagnostic::Loc;
use crate::config::diagnostic::Severity;
use crate::lint::rules::{self, Rule};

/// Version of the JSON output; bumped when a field changes meaning or goes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub summary: Summary,
    pub zones: Vec<ZoneReport>,
}

/// The counts the summary line and the exit code are made from.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub zones: usize,
    /// `clean`, `findings` or `could-not-check` (which wins).
    pub outcome: &'static str,
    pub errors: usize,
    pub warnings: usize,
    /// Declared record sets not served as declared (MF601 findings).
    pub not_served: usize,
    /// Distinct names at least one question about which got no usable
    /// answer (MF602 findings).
    pub names_not_checked: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZoneReport {
    pub zone: String,
    pub servers: Vec<ServerReport>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub server: String,
    pub role: &'static str,
    pub records: Vec<RecordCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordCheck {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `served`, `missing`, `differs` or `could-not-check`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub served: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One finding: a rule broken by what is served, or a name that could not
/// be checked.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub domain: String,
    /// Stable rule id, e.g. `MF601`.
    pub rule: &'static str,
    /// The rule's name, e.g. `not-served`.
    pub rule_name: &'static str,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The record set concerned, `name TYPE`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The server whose answer this is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// What was served, in presentation format; empty when nothing was.
    pub served: Vec<String>,
    pub message: String,
    pub fix: Option<String>,
    /// Why the questions could not be answered (MF602 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The questions (`name TYPE`) that got no usable answer (MF602 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<String>,
    /// Where in the file the domain (or the declared record) is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The declared record's position, when the finding is about one.
    #[serde(skip)]
    pub declared_at: Option<Loc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Finding {
    pub fn new(domain: &str, rule: &Rule, severity: Severity, message: String) -> Finding {
        Finding {
            domain: domain.to_string(),
            rule: rule.id,
            rule_name: rule.name,
            severity: severity_str(severity),
            record: None,
            server: None,
            served: vec![],
            message,
            fix: None,
            cause: None,
            questions: vec![],
            location: None,
            declared_at: None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

pub fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// What the run as a whole says, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Findings,
    CouldNotCheck,
}

impl Report {
    pub fn new(zones: Vec<ZoneReport>) -> Report {
        let mut report = Report {
            format_version: FORMAT_VERSION,
            summary: Summary::default(),
            zones,
        };
        report.summary = report.summarize();
        report
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.zones.iter().flat_map(|z| &z.findings)
    }

    fn summarize(&self) -> Summary {
        let count = |f: &dyn Fn(&Finding) -> bool| self.findings().filter(|x| f(x)).count();
        let names_not_checked = self
            .zones
            .iter()
            .map(|z| {
                z.findings
                    .iter()
                    .filter(|f| f.rule == rules::DNS_COULD_NOT_CHECK.id)
                    .flat_map(|f| &f.questions)
                    .map(|q| q.split(' ').next().unwrap_or(q).to_ascii_lowercase())
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum();
        let errors = count(&|f| f.is_error());
        Summary {
            zones: self.zones.len(),
            outcome: if names_not_checked > 0 {
                "could-not-check"
            } else if errors > 0 {
                "findings"
            } else {
                "clean"
            },
            errors,
            warnings: count(&|f| !f.is_error()),
            not_served: count(&|f| f.rule == rules::NOT_SERVED.id),
            names_not_checked,
        }
    }

    /// Could-not-check wins over findings: a monitor must not read "only
    /// findings" when part of what it watches was not seen at all.
    pub fn outcome(&self) -> Outcome {
        match self.summary.outcome {
            "could-not-check" => Outcome::CouldNotCheck,
            "findings" => Outcome::Findings,
            _ => Outcome::Clean,
        }
    }

    /// Points every finding at the file: the declared record's line when
    /// it is about one, else the line of its domain's key.
    pub fn locate(&mut self, file: &str, domain_loc: impl Fn(&str) -> Option<Loc>) {
        for z in &mut self.zones {
            for f in &mut z.findings {
                let loc = f
                    .declared_at
                    .filter(|l| l.line > 0)
                    .or_else(|| domain_loc(&f.domain));
                f.location = loc.map(|l| Location {
                    file: file.to_string(),
                    line: l.line.max(1),
                    column: l.column.max(1),
                });
            }
        }
    }
}
