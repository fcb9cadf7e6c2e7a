//! Loading a mailform file: read, parse, overlay a profile, check, compile.
//!
//! [`load`] is the only entry point. It either returns the [`Loaded`]
//! configuration with its desired state and any warnings, or every error
//! found, each with file:line:column. It never touches the network.

pub mod compile;
pub mod diagnostic;
pub mod interpolate;
pub mod model;
pub mod names;
pub mod policy;
pub mod profile;
pub mod records;
pub mod spanned_map;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::desired::Desired;
use diagnostic::{did_you_mean, Diagnostic, Diagnostics, Loc};
use interpolate::Env;
use model::Config;

/// Files larger than this are refused before parsing.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The profile to overlay (`--profile`).
    pub profile: Option<String>,
    /// Limit to these domains (`--target`); empty means all.
    pub targets: Vec<String>,
}

/// A loaded, valid configuration.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    /// The directory relative paths in the file resolve against.
    pub base_dir: PathBuf,
    pub config: Config,
    pub desired: Desired,
    pub warnings: Vec<Diagnostic>,
    /// SHA-256 of the file's bytes, recorded in saved plans.
    pub source_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {error}{}", path.display(), if error.kind() == std::io::ErrorKind::NotFound { " (pass the file with -f FILE, or set MAILFORM_FILE)" } else { "" })]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let mut out: Vec<String> = diags.iter().map(ToString::to_string).collect();
    out.push(format!(
        "{errors} error{} found; nothing was changed",
        if errors == 1 { "" } else { "s" }
    ));
    out.join("\n\n")
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path, options: &LoadOptions, env: &dyn Env) -> Result<Loaded, LoadError> {
    let read_err = |error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(read_err(std::io::Error::other(format!(
            "the file is {} bytes; mailform reads at most {MAX_FILE_BYTES}",
            meta.len()
        ))));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let source = String::from_utf8(bytes).map_err(|_| {
        read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not valid UTF-8",
        ))
    })?;
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let source_sha256 = to_hex(&Sha256::digest(source.as_bytes()));
    let mut diags = Diagnostics::new(path, &source);

    let mut config = match parse(&source) {
        Ok(c) => c,
        Err(e) => {
            push_parse_error(&mut diags, &source, &e);
            return Err(LoadError::Invalid(diags.into_sorted()));
        }
    };
    check_other_profiles(
        &config,
        options.profile.as_deref(),
        &base_dir,
        env,
        &mut diags,
    );
    let profile = profile::apply(&mut config, options.profile.as_deref(), &mut diags);
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags.into_sorted()));
    }
    let mut desired = compile::compile(&config, &base_dir, env, &mut diags);
    desired.profile = profile;
    crate::lint::run(&desired, &mut diags);
    if !options.targets.is_empty() {
        let known: Vec<String> = desired
            .zones
            .iter()
            .map(|z| z.zone.clone())
            .chain(desired.mail.iter().map(|m| m.domain.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for t in &options.targets {
            let t = t.trim_end_matches('.').to_ascii_lowercase();
            if !known.contains(&t) {
                let fix = did_you_mean(&t, known.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("domains in this file: {}", known.join(", ")));
                diags.error(
                    Loc::default(),
                    "",
                    format!("--target `{t}` is not a domain in this file"),
                    Some(fix),
                );
            }
        }
        let keep = |d: &str| {
            options
                .targets
                .iter()
                .any(|t| t.trim_end_matches('.').eq_ignore_ascii_case(d))
        };
        desired.zones.retain(|z| keep(&z.zone));
        desired.mail.retain(|m| keep(&m.domain));
    }
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags.into_sorted()));
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        base_dir,
        config,
        desired,
        warnings: diags.into_sorted(),
        source_sha256,
    })
}

/// Checks every profile other than the chosen one, so that a broken
/// profile fails `validate` in CI before anyone needs it in an incident.
fn check_other_profiles(
    config: &Config,
    chosen: Option<&str>,
    base_dir: &Path,
    env: &dyn Env,
    diags: &mut Diagnostics,
) {
    if config.profiles.keys().all(|n| Some(n) == chosen) {
        return;
    }
    // Errors of the base file are reported once, not again per profile.
    let mut base = Diagnostics::new(diags.file(), diags.source());
    compile::compile(config, base_dir, env, &mut base);
    for name in config.profiles.keys() {
        if Some(name) == chosen {
            continue;
        }
        let mut overlaid = config.clone();
        let mut scratch = Diagnostics::new(diags.file(), diags.source());
        profile::apply(&mut overlaid, Some(name), &mut scratch);
        if !scratch.has_errors() {
            compile::compile(&overlaid, base_dir, env, &mut scratch);
        }
        for mut d in scratch.items.into_iter().filter(Diagnostic::is_error) {
            if !base.items.contains(&d) {
                d.message = format!("with profile `{name}`: {}", d.message);
                diags.items.push(d);
            }
        }
    }
}

/// Parses YAML text into the model, with limits that make alias bombs and
/// deep nesting fail fast.
pub fn parse(source: &str) -> Result<Config, serde_saphyr::Error> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 500_000;
    budget.max_depth = 32;
    let mut limits = serde_saphyr::options::AliasLimits::default();
    limits.max_total_replayed_events = 100_000;
    limits.max_replay_stack_depth = 16;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: limits,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(source, options)
}

fn push_parse_error(diags: &mut Diagnostics, source: &str, e: &serde_saphyr::Error) {
    let loc = e
        .location()
        .map(|l| Loc::new(l.line(), l.column()))
        .unwrap_or(Loc { line: 1, column: 1 });
    let raw = e.without_snippet().to_string();
    let message = tidy_message(&strip_position(&raw));
    let key = key_before(source, loc.line, loc.column);
    let mut path = key_path_at(source, loc.line);
    if let Some(k) = &key {
        if !path.ends_with(k.as_str()) && !path.is_empty() {
            path = format!("{path}.{k}");
        }
    }
    let fix = fix_for(&message, &path, key.as_deref());
    diags.error(loc, &path, message, fix);
}

/// serde-saphyr appends " at line N, column M"; the diagnostic shows the
/// position itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The key path of the block mapping entry on `line`, from indentation:
/// exact for block-style YAML, which is what people write.
fn key_path_at(source: &str, line: u32) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let Some(mut idx) = (line as usize).checked_sub(1) else {
        return String::new();
    };
    if idx >= lines.len() {
        return String::new();
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_of = |l: &str| -> Option<String> {
        let t = l.trim_start().trim_start_matches("- ");
        if t.starts_with('#') {
            return None;
        }
        let (k, _) = t.split_once(':')?;
        let k = k.trim().trim_matches('"').trim_matches('\'');
        (!k.is_empty() && !k.contains(' ')).then(|| diagnostic::key(k))
    };
    let mut parts = Vec::new();
    let mut current = indent(lines[idx]) + 1;
    loop {
        let l = lines[idx];
        if !l.trim().is_empty() && indent(l) < current {
            if let Some(k) = key_of(l) {
                parts.push(k);
                current = indent(l);
            }
        }
        if idx == 0 || current == 0 {
            break;
        }
        idx -= 1;
    }
    parts.reverse();
    parts.join(".")
}

/// The message to show for a parser error: library advice the user cannot
/// act on is dropped, debug dumps are put in words.
fn tidy_message(message: &str) -> String {
    let m = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    if let Some(rest) = m.strip_prefix("budget breached: ") {
        return format!(
            "the file exceeds mailform's limits on YAML aliases, anchors or nesting ({rest})"
        );
    }
    m
}

/// The key written just before `column` on `line`, for scalar errors in
/// flow mappings (`{ttl: -300}`) where indentation says nothing.
fn key_before(source: &str, line: u32, column: u32) -> Option<String> {
    let text = source.lines().nth(line.checked_sub(1)? as usize)?;
    let prefix: String = text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .collect();
    let before_colon = prefix.trim_end().strip_suffix(':')?;
    let key: String = before_colon
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
}

fn fix_for(message: &str, path: &str, key: Option<&str>) -> Option<String> {
    let quoted = |m: &str, prefix: &str| -> Option<String> {
        let rest = m.split(prefix).nth(1)?;
        Some(rest.split('`').next()?.to_string())
    };
    for prefix in ["unknown field `", "unknown variant `"] {
        if let Some(word) = quoted(message, prefix) {
            let expected = message.split("expected ").nth(1).unwrap_or("");
            let candidates: Vec<&str> = expected
                .trim_start_matches("one of ")
                .split([',', ' '])
                .map(|s| s.trim_matches(|c| c == '`' || c == ' '))
                .filter(|s| !s.is_empty() && *s != "or")
                .collect();
            return Some(match did_you_mean(&word, candidates.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if candidates.is_empty() => "remove it".to_string(),
                None => format!("expected one of: {}", candidates.join(", ")),
            });
        }
    }
    if let Some(field) = quoted(message, "missing field `") {
        return Some(format!("add `{field}:` here"));
    }
    if message.contains("duplicate mapping key") {
        return Some("each key may appear once in a mapping; merge the entries".into());
    }
    let key = key.or_else(|| path.rsplit('.').next()).unwrap_or("");
    let scalar_error = message.starts_with("invalid u")
        || message.starts_with("invalid i")
        || message.starts_with("invalid boolean")
        || message.starts_with("invalid type")
        || message.starts_with("expected");
    if scalar_error || message.contains("out of range") {
        return Some(match key {
            "ttl" => format!(
                "a TTL is a whole number of seconds from 1 to {}",
                compile::MAX_TTL
            ),
            "version" => "this mailform reads `version: 1`".to_string(),
            k if k.ends_with("_percent") => {
                "write a whole number of percent, e.g. `33`".to_string()
            }
            "min_existing" => "write a whole number, e.g. `10`".to_string(),
            "allow_external" => "write `true` or `false`".to_string(),
            _ if message.starts_with("invalid boolean") => "write `true` or `false`".to_string(),
            _ if message.starts_with("invalid u") || message.starts_with("invalid i") => {
                "write a whole number here".to_string()
            }
            _ => "check the value's type against `mailform schema` or the README's examples"
                .to_string(),
        });
    }
    if message.contains("limits on YAML aliases")
        || message.contains("replay")
        || message.contains("depth")
    {
        return Some(
            "write the values out instead of repeating YAML aliases, and nest less deeply".into(),
        );
    }
    if message.contains("'}'")
        || message.contains("']'")
        || message.contains("flow")
        || message.contains("':' indicator")
    {
        return Some("a `{` or `[` is not closed, or an entry lacks its comma: check the brackets on this line and the lines above".into());
    }
    Some("check the indentation and quoting here and on the lines above (YAML indents with spaces, never tabs)".into())
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_from_indentation() {
        let src = "domains:\n  example.com:\n    records:\n      www:\n        A: x\n";
        assert_eq!(key_path_at(src, 5), "domains.\"example.com\".records.www.A");
        assert_eq!(key_path_at(src, 1), "domains");
    }

    #[test]
    fn key_before_a_flow_value() {
        assert_eq!(
            key_before("  A: {ttl: -300, values: []}", 1, 12).as_deref(),
            Some("ttl")
        );
        assert_eq!(key_before("version: x", 1, 10).as_deref(), Some("version"));
    }

    #[test]
    fn suggestions_for_unknown_fields() {
        let fix = fix_for(
            "unknown field `mailboxs`, expected one of version, mailboxes, domains",
            "mailboxs",
            None,
        );
        assert_eq!(fix.as_deref(), Some("did you mean `mailboxes`?"));
    }
}
