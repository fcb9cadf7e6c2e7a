//! Diagnostics: an error or warning about the user's file, with where it is
//! (file:line:column and the key path), what is wrong and how to fix it.

use crate::render::safe;
use std::cell::OnceCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a source file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub fn new(line: u64, column: u64) -> Loc {
        Loc {
            line: line.min(u32::MAX as u64) as u32,
            column: column.min(u32::MAX as u64) as u32,
        }
    }

    pub fn of<T>(s: &serde_saphyr::Spanned<T>) -> Loc {
        Loc::new(s.referenced.line(), s.referenced.column())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub loc: Loc,
    /// Where in the document, e.g. `domains."example.com".records.www.MX`.
    pub path: String,
    pub message: String,
    /// What to do about it.
    pub fix: Option<String>,
    /// The source line, for the snippet.
    pub source_line: Option<String>,
    /// The lint rule id (`MF101`), for lint findings.
    pub rule: Option<&'static str>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        // Messages quote values from the file (display names, TXT text):
        // control and bidi characters are escaped, so a file can neither
        // drive the terminal nor fake a line of the report.
        let message = safe(&self.message);
        match self.rule {
            Some(rule) => writeln!(f, "{kind}[{rule}]: {message}")?,
            None => writeln!(f, "{kind}: {message}")?,
        }
        if self.loc.line == 0 {
            // Not about one place in the file (a command-line option).
            write!(f, "  --> {}", self.file.display())?;
        } else {
            write!(
                f,
                "  --> {}:{}:{}",
                self.file.display(),
                self.loc.line,
                self.loc.column
            )?;
        }
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", safe(&self.path))?;
        }
        if let Some(line) = &self.source_line {
            let gutter = self.loc.line.to_string();
            let pad = " ".repeat(gutter.len());
            let col = self.loc.column.max(1) as usize - 1;
            let (before, after): (String, String) = {
                let before: String = line.chars().take(col).collect();
                let after: String = line.chars().skip(col).collect();
                (snippet(&before), snippet(&after))
            };
            write!(f, "\n {pad} |\n {gutter} | {before}{after}\n {pad} | ")?;
            let caret_pad: String = before
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "{caret_pad}^")?;
        }
        if let Some(fix) = &self.fix {
            write!(f, "\n  = fix: {}", safe(fix))?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file, filling in the snippet line.
pub struct Diagnostics<'a> {
    file: &'a Path,
    source: &'a str,
    /// Where each line starts, built at the first diagnostic: finding a
    /// line by scanning the source each time made many errors quadratic.
    line_starts: OnceCell<Vec<usize>>,
    pub items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Diagnostics {
            file,
            source,
            line_starts: OnceCell::new(),
            items: Vec::new(),
        }
    }

    /// Line `line` (1-based) of the source, without its line break.
    fn line(&self, line: u32) -> Option<&'a str> {
        let source = self.source;
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(source.match_indices('\n').map(|(i, _)| i + 1))
                .filter(|&i| i < source.len())
                .collect()
        });
        let idx = (line as usize).checked_sub(1)?;
        let start = *starts.get(idx)?;
        let end = starts.get(idx + 1).copied().unwrap_or(source.len());
        let text = &source[start..end];
        let text = text.strip_suffix('\n').unwrap_or(text);
        Some(text.strip_suffix('\r').unwrap_or(text))
    }

    fn push(
        &mut self,
        severity: Severity,
        loc: Loc,
        path: &str,
        message: String,
        fix: Option<String>,
    ) {
        let source_line = self.line(loc.line).map(redact_line);
        self.items.push(Diagnostic {
            severity,
            file: self.file.to_path_buf(),
            loc,
            path: path.to_string(),
            message,
            fix,
            source_line,
            rule: None,
        });
    }

    pub fn error(
        &mut self,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<Option<String>>,
    ) {
        self.push(Severity::Error, loc, path, message.into(), fix.into());
    }

    pub fn warning(
        &mut self,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<Option<String>>,
    ) {
        self.push(Severity::Warning, loc, path, message.into(), fix.into());
    }

    /// A finding of lint rule `rule`, at its severity unless `severity`
    /// overrides it; the rule's specification is cited in the message.
    pub fn lint(
        &mut self,
        rule: &crate::lint::rules::Rule,
        severity: Option<Severity>,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let message = format!("{} ({}, {})", message.into(), rule.name, rule.spec);
        self.push(
            severity.unwrap_or(rule.severity),
            loc,
            path,
            message,
            Some(fix.into()),
        );
        if let Some(last) = self.items.last_mut() {
            last.rule = Some(rule.id);
        }
    }

    pub fn file(&self) -> &'a Path {
        self.file
    }

    pub fn source(&self) -> &'a str {
        self.source
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by(|a, b| (a.loc, &a.message).cmp(&(b.loc, &b.message)));
        self.items.dedup();
        self.items
    }
}

/// Keys whose values may be secrets; their value never appears in a snippet.
const SECRET_KEYS: [&str; 3] = ["password_hash", "initial_password", "credentials"];

/// The source line for a snippet, with any secret value masked: a clear
/// text password written inline must not be echoed back into CI logs.
fn redact_line(line: &str) -> String {
    for key in SECRET_KEYS {
        if let Some(pos) = line.find(&format!("{key}:")) {
            let keep = pos + key.len() + 1;
            return format!("{} (value hidden)", &line[..keep]);
        }
    }
    line.to_string()
}

/// The closest of `candidates` to `word`, if it is close enough to be a
/// likely typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Quotes a key for a key path when it holds dots or other specials.
pub fn key(k: &str) -> String {
    if k.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.is_empty()
    {
        k.to_string()
    } else {
        format!("\"{k}\"")
    }
}

/// A source line as printed in a snippet: like [`safe`], but tabs stay
/// tabs so the caret lines up.
fn snippet(text: &str) -> String {
    text.split('\t')
        .map(|part| safe(part).into_owned())
        .collect::<Vec<_>>()
        .join("\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked_in_snippets() {
        assert_eq!(
            redact_line("    password_hash: hunter2"),
            "    password_hash: (value hidden)"
        );
        assert_eq!(redact_line("  name: Alice"), "  name: Alice");
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            did_you_mean("mailboxs", ["mailboxes", "domains"]),
            Some("mailboxes")
        );
        assert_eq!(did_you_mean("zzz", ["mailboxes", "domains"]), None);
    }

    #[test]
    fn finds_lines_like_str_lines() {
        let src = "a\r\nb\n\nd";
        let d = Diagnostics::new(Path::new("m.yaml"), src);
        let want: Vec<&str> = src.lines().collect();
        let got: Vec<&str> = (1..=4).map_while(|n| d.line(n)).collect();
        assert_eq!(got, want);
        assert_eq!(d.line(0), None);
        assert_eq!(d.line(5), None);
    }

    #[test]
    fn control_characters_from_the_file_are_escaped() {
        let src = "name: \"\u{1b}[31mred\"\n";
        let mut d = Diagnostics::new(Path::new("m.yaml"), src);
        d.error(
            Loc { line: 1, column: 7 },
            "name",
            "bad name `\u{1b}[31mred`\nerror: forged line",
            Some("fix \u{202e}it".into()),
        );
        let text = d.into_sorted()[0].to_string();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(!text.contains("\nerror: forged"), "{text}");
        assert!(text.contains("\\u{1b}[31mred"), "{text}");
    }

    #[test]
    fn renders_location_snippet_and_fix() {
        let src = "a: 1\nstate: activ\n";
        let mut d = Diagnostics::new(Path::new("m.yaml"), src);
        d.error(
            Loc { line: 2, column: 8 },
            "state",
            "unknown state",
            Some("use `active`".into()),
        );
        let text = d.into_sorted()[0].to_string();
        assert!(text.contains("m.yaml:2:8"), "{text}");
        assert!(text.contains("state: activ"));
        assert!(text.contains("       ^"));
        assert!(text.contains("fix: use `active`"));
    }
}
