//! YAML text to the model: parsing with limits that grow with the file's
//! size (so a large legitimate file passes) while alias bombs, deep nesting
//! and unknown tags fail fast; and the parser's errors put in plain words,
//! each with the limit hit or the fix, never the library's type names.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::Error as YamlError;

use super::diagnostic::{self, did_you_mean, Diagnostics, Loc};
use super::interpolate::Env;
use super::model::Config;

/// The variable that raises [`Limits::max_aliases`].
pub const MAX_ALIASES_VAR: &str = "MAILFORM_MAX_YAML_ALIASES";
/// YAML nodes (keys, values, list items) allowed per byte of the file.
/// Without aliases a node takes at least one byte, so only alias
/// expansion can reach this.
const NODES_PER_BYTE: usize = 4;
/// The node budget of a small file.
const MIN_NODES: usize = 250_000;
/// Values one alias may expand to, on average, within the alias budget.
const REPLAY_PER_ALIAS: usize = 50;
/// mailform's format nests about ten levels deep at most.
const MAX_DEPTH: usize = 32;

/// Limits on what the parser accepts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// YAML aliases (`*name`) and anchors (`&name`), each.
    pub max_aliases: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_aliases: 1_000 }
    }
}

impl Limits {
    /// The defaults, raised where the environment says so.
    pub fn from_env(env: &dyn Env) -> Result<Limits, String> {
        let mut limits = Limits::default();
        if let Some(v) = env.var(MAX_ALIASES_VAR) {
            limits.max_aliases = v.trim().parse().map_err(|_| {
                format!("{MAX_ALIASES_VAR} is `{v}`, not a whole number of aliases")
            })?;
        }
        Ok(limits)
    }
}

/// Parses YAML text into the model with the default limits.
pub fn parse(source: &str) -> Result<Config, YamlError> {
    parse_with(source, &Limits::default())
}

/// Parses YAML text into the model. Node and event budgets grow with the
/// text's length; alias budgets are fixed by `limits`.
pub fn parse_with(source: &str, limits: &Limits) -> Result<Config, YamlError> {
    let scaled = MIN_NODES.max(source.len().saturating_mul(NODES_PER_BYTE));
    let mut budget = serde_saphyr::Budget::default();
    budget.max_aliases = limits.max_aliases;
    budget.max_anchors = limits.max_aliases;
    budget.max_events = scaled.saturating_mul(2);
    budget.max_nodes = scaled;
    budget.max_depth = MAX_DEPTH;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = limits.max_aliases.saturating_mul(REPLAY_PER_ALIAS);
    alias_limits.max_replay_stack_depth = 16;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: alias_limits,
        with_snippet: false,
        reject_unsupported_tags: true,
    };
    serde_saphyr::from_str_with_options(source, options)
}

/// The error under any wrapping.
fn inner(e: &YamlError) -> &YamlError {
    match e.without_snippet() {
        YamlError::AliasError { error, .. } => inner(error),
        other => other,
    }
}

const ALIAS_FIX: &str = "write the values out instead of repeating them with YAML aliases";

/// A parser error in words: the message, and the fix when the error
/// itself says what it is (otherwise [`fix_for`] derives it from the key).
fn describe(e: &YamlError, limits: &Limits) -> (String, Option<String>) {
    let raise = format!(
        "{ALIAS_FIX}; if they are meant to be there, raise the limit with {MAX_ALIASES_VAR}=<n> (now {})",
        limits.max_aliases
    );
    let budget = |breach: &BudgetBreach| -> (String, Option<String>) {
        match breach {
            BudgetBreach::Aliases { .. } => (
                format!("the file uses more than {} YAML aliases (`*name`), mailform's limit against alias bombs", limits.max_aliases),
                Some(raise.clone()),
            ),
            BudgetBreach::Anchors { .. } => (
                format!("the file defines more than {} YAML anchors (`&name`), mailform's limit against alias bombs", limits.max_aliases),
                Some(raise.clone()),
            ),
            BudgetBreach::AliasAnchorRatio { aliases, anchors } => (
                format!("the file uses {aliases} YAML aliases for {anchors} anchors, more than 10 per anchor, which is how alias bombs look"),
                Some(ALIAS_FIX.to_string()),
            ),
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => (
                format!("the file expands to more YAML values than mailform allows for its size ({NODES_PER_BYTE} per byte); only YAML aliases (`*name`) repeating large parts can do that"),
                Some(ALIAS_FIX.to_string()),
            ),
            BudgetBreach::Depth { .. } => (
                format!("the file nests more than {MAX_DEPTH} levels deep; mailform's format needs about ten"),
                Some("check the indentation: a line indented too far nests everything below it".to_string()),
            ),
            BudgetBreach::Documents { .. } => multiple_documents(),
            other => (
                format!("the file exceeds a limit of the YAML parser ({})", breach_name(other)),
                Some(ALIAS_FIX.to_string()),
            ),
        }
    };
    match inner(e) {
        YamlError::Budget { breach, .. } => budget(breach),
        YamlError::AliasReplayLimitExceeded { max_total_replayed_events, .. } => (
            format!("YAML aliases in the file expand to more than {max_total_replayed_events} values, mailform's limit against alias bombs"),
            Some(raise),
        ),
        YamlError::AliasExpansionLimitExceeded { max_expansions_per_anchor, .. } => (
            format!("one YAML anchor is repeated through aliases more than {max_expansions_per_anchor} times"),
            Some(ALIAS_FIX.to_string()),
        ),
        YamlError::AliasReplayStackDepthExceeded { max_depth, .. } => (
            format!("YAML aliases nest inside each other more than {max_depth} deep"),
            Some(ALIAS_FIX.to_string()),
        ),
        YamlError::AliasReplayCounterOverflow { .. } => (
            "YAML aliases in the file expand to too many values".to_string(),
            Some(ALIAS_FIX.to_string()),
        ),
        YamlError::UnsupportedTag { tag, .. } => (
            format!("unknown YAML tag `{tag}`: mailform gives tags no meaning, so the value would be used as if the tag were not there"),
            Some("remove the tag; for a secret write `${env:NAME}` or `${file:path}` where secrets are allowed, and quote the value if the `!` is meant as text".to_string()),
        ),
        YamlError::TaggedEnumMismatch { tagged, .. } => (
            format!("unknown YAML tag `{tagged}`: mailform gives tags no meaning"),
            Some("remove the tag".to_string()),
        ),
        YamlError::MultipleDocuments { .. } => multiple_documents(),
        YamlError::InvalidScalar { ty, .. } => (format!("expected {}", plain_type(ty)), None),
        YamlError::InvalidBooleanStrict { .. } => ("expected `true` or `false`".to_string(), None),
        YamlError::Unexpected { expected, .. } => (format!("expected {}", plain_type(expected)), None),
        YamlError::SerdeInvalidType { unexpected, expected, .. }
        | YamlError::SerdeInvalidValue { unexpected, expected, .. } => (
            format!("expected {}, found {}", plain_type(expected), plain_type(unexpected)),
            None,
        ),
        YamlError::SerdeUnknownVariant { variant, expected, .. } => (
            format!("unknown value `{variant}`, expected one of {}", expected.join(", ")),
            None,
        ),
        YamlError::TaggedScalarCannotDeserializeIntoString { .. } => (
            "a YAML type tag (such as `!!int`) makes this value something other than the text expected here".to_string(),
            Some("remove the tag".to_string()),
        ),
        YamlError::NullIntoString { .. } => ("a value is missing here".to_string(), None),
        YamlError::Eof { .. } => ("the file ends in the middle of a value".to_string(), None),
        YamlError::UnknownAnchor { .. } => (
            "this YAML alias (`*name`) refers to no anchor (`&name`) above it".to_string(),
            Some("define the anchor before the alias, or write the value out".to_string()),
        ),
        YamlError::InvalidUtf8Input => ("the file is not valid UTF-8 text".to_string(), Some("save the file as UTF-8".to_string())),
        other => {
            let raw = other.to_string();
            (tidy_message(&strip_position(&raw)), None)
        }
    }
}

fn multiple_documents() -> (String, Option<String>) {
    (
        "the file holds more than one YAML document (a `---` line starts another)".to_string(),
        Some("keep one document: remove the `---` line and merge the parts".to_string()),
    )
}

fn breach_name(b: &BudgetBreach) -> &'static str {
    match b {
        BudgetBreach::ScalarBytes { .. } => "total size of text values",
        BudgetBreach::InputBytes { .. } => "input size",
        BudgetBreach::MergeKeys { .. } => "number of `<<` merge keys",
        BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
            "size of anchored values"
        }
        _ => "structure",
    }
}

/// serde's and the parser's names for what they expected, in words.
fn plain_type(t: &str) -> String {
    let t = t.trim();
    match t {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_string(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "bool" | "boolean" | "a boolean" => "`true` or `false`".to_string(),
        "char" => "a single character".to_string(),
        "string scalar" | "a string" | "string" | "str" => "a text value".to_string(),
        "scalar" | "value" => "a single value".to_string(),
        "mapping start" | "a map" | "map" | "empty mapping start" => {
            "a mapping (`key: value` lines)".to_string()
        }
        "sequence start" | "a sequence" | "sequence" => {
            "a list (`- item` lines or `[a, b]`)".to_string()
        }
        "unit value" | "null" => "nothing".to_string(),
        _ if t.starts_with("struct ") => "a mapping (`key: value` lines)".to_string(),
        _ if t.starts_with("integer `") => format!("the number {}", &t[8..].trim_end_matches('`')),
        _ if t.starts_with("string ") => format!("the text {}", &t[7..]),
        _ if t.starts_with("boolean `") => format!("`{}", &t[9..]),
        _ => t.to_string(),
    }
}

/// Adds the diagnostic for a parser error.
pub fn push_error(diags: &mut Diagnostics, source: &str, e: &YamlError, limits: &Limits) {
    let loc = e
        .location()
        .map(|l| Loc::new(l.line(), l.column()))
        .unwrap_or(Loc { line: 1, column: 1 });
    let (message, fix) = if is_blank(source) {
        (
            "the file holds no settings".to_string(),
            Some("start it with `version: 1`; see the README's example".to_string()),
        )
    } else {
        describe(e, limits)
    };
    let key = key_before(source, loc.line, loc.column);
    let mut path = key_path_at(source, loc.line);
    if let Some(k) = &key {
        if !path.ends_with(k.as_str()) && !path.is_empty() {
            path = format!("{path}.{k}");
        }
    }
    let fix = fix.or_else(|| fix_for(&message, &path, key.as_deref()));
    diags.error(loc, &path, message, fix);
}

/// Whether the text has nothing but blank lines and comments.
fn is_blank(source: &str) -> bool {
    source
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
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

/// Library advice the user cannot act on is dropped.
fn tidy_message(message: &str) -> String {
    message
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
        .replace("; use Option<String>", "")
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
    for prefix in ["unknown field `", "unknown value `"] {
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
    let number = message.contains("a whole number");
    if message.starts_with("expected") || message.contains("out of range") {
        return Some(match key {
            "ttl" => format!(
                "a TTL is a whole number of seconds from 1 to {}",
                super::compile::MAX_TTL
            ),
            "version" => "this mailform reads `version: 1`".to_string(),
            k if k.ends_with("_percent") => {
                "write a whole number of percent, e.g. `33`".to_string()
            }
            "min_existing" => "write a whole number, e.g. `10`".to_string(),
            _ if message.contains("`true` or `false`") => "write `true` or `false`".to_string(),
            _ if number => "write a whole number here".to_string(),
            _ => "check the value's type against `mailform schema` or the README's examples"
                .to_string(),
        });
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

    #[test]
    fn library_words_are_put_in_plain_words() {
        assert_eq!(plain_type("u32"), "a whole number (0 or more)");
        assert_eq!(
            plain_type("mapping start"),
            "a mapping (`key: value` lines)"
        );
        assert_eq!(plain_type("struct Foo"), "a mapping (`key: value` lines)");
    }
}
