//! `mailform validate`: offline checks.

use clap::Args;

use super::output::{errln, outln};
use super::{Global, EXIT_ERROR, EXIT_OK};
use crate::config::diagnostic::{Diagnostic, Severity};
use crate::config::{self, interpolate::ProcessEnv, LoadError, LoadOptions};
use crate::registry::Registry;
use crate::render::count;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// How to print findings: `text` for people, `github` for GitHub
    /// Actions annotations on the pull request's lines, `json` for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: DiagFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagFormat {
    Text,
    Github,
    Json,
}

pub fn run(global: &Global, args: &ValidateArgs) -> anyhow::Result<i32> {
    let options = LoadOptions {
        profile: global.profile.clone(),
        targets: global.targets.clone(),
    };
    let (loaded, mut findings) = match config::load(&global.file, &options, &ProcessEnv) {
        Ok(loaded) => {
            let w = loaded.warnings.clone();
            (Some(loaded), w)
        }
        Err(LoadError::Invalid(diags)) => (None, diags),
        Err(e) => return Err(e.into()),
    };
    if let Some(loaded) = &loaded {
        findings.extend(audit(loaded));
    }
    let errors = findings.iter().filter(|d| d.is_error()).count();
    match args.format {
        DiagFormat::Text => {
            for d in &findings {
                errln!("{d}\n");
            }
            if errors > 0 {
                errln!(
                    "{errors} error{} found; nothing was changed",
                    if errors == 1 { "" } else { "s" }
                );
            }
        }
        DiagFormat::Github => {
            for d in &findings {
                outln!("{}", github(d));
            }
        }
        DiagFormat::Json => {
            let list: Vec<serde_json::Value> = findings.iter().map(json).collect();
            outln!("{}", serde_json::to_string_pretty(&list)?);
        }
    }
    if errors > 0 {
        return Ok(EXIT_ERROR);
    }
    if let (Some(loaded), DiagFormat::Text) = (&loaded, args.format) {
        let zones = loaded.desired.zones.len();
        let records: usize = loaded.desired.zones.iter().map(|z| z.records.len()).sum();
        let mailboxes: usize = loaded.desired.mail.iter().map(|m| m.mailboxes.len()).sum();
        outln!(
            "{} is valid: {}, {}, {}{}.",
            loaded.path.display(),
            count(zones, "zone", "zones"),
            count(records, "record set", "record sets"),
            count(mailboxes, "mailbox", "mailboxes"),
            if findings.is_empty() {
                String::new()
            } else {
                format!(", {}", count(findings.len(), "warning", "warnings"))
            }
        );
    }
    Ok(EXIT_OK)
}

/// What each DNS provider cannot store, known without asking it anything.
fn audit(loaded: &crate::config::Loaded) -> Vec<Diagnostic> {
    let registry = Registry::from_config(&loaded.config, &loaded.base_dir);
    let mut out = Vec::new();
    for z in &loaded.desired.zones {
        let caps = registry.dns(&z.provider).capabilities();
        for d in &z.records {
            for p in caps.audit(&d.item) {
                out.push(Diagnostic {
                    severity: Severity::Error,
                    file: loaded.path.clone(),
                    loc: d.origin.loc,
                    path: d.origin.path.clone(),
                    message: format!(
                        "{} {}: provider `{}` cannot store this: {p}",
                        d.item.name, d.item.rtype, z.provider
                    ),
                    fix: Some(
                        "change the record, or serve this zone from a provider that supports it"
                            .into(),
                    ),
                    source_line: None,
                    rule: None,
                });
            }
        }
    }
    out
}

/// A GitHub Actions workflow command: an annotation on the file's line.
fn github(d: &Diagnostic) -> String {
    let level = if d.is_error() { "error" } else { "warning" };
    let esc = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let title = d
        .rule
        .map(|r| format!("mailform {r}"))
        .unwrap_or_else(|| "mailform".into());
    let mut msg = d.message.clone();
    if let Some(fix) = &d.fix {
        msg.push_str(&format!(" — fix: {fix}"));
    }
    let place = if d.loc.line > 0 {
        format!(",line={},col={}", d.loc.line, d.loc.column)
    } else {
        String::new()
    };
    format!(
        "::{level} file={}{place},title={}::{}",
        esc(&d.file.display().to_string()).replace(',', "%2C"),
        esc(&title).replace(',', "%2C"),
        esc(&msg)
    )
}

fn json(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "severity": if d.is_error() { "error" } else { "warning" },
        "rule": d.rule,
        "file": d.file.display().to_string(),
        "line": d.loc.line,
        "column": d.loc.column,
        "path": d.path,
        "message": d.message,
        "fix": d.fix,
    })
}
