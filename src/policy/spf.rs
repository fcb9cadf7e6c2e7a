//! SPF (RFC 7208): building the record from parts, and parsing one into
//! terms for the lint.

use crate::config::policy::{SpfAll, SpfConfig};

/// The record text, terms in a fixed order: `mx`, `a`, `ip4`, `ip6`,
/// `include`, then `all`.
pub fn build(config: &SpfConfig, extra_includes: &[String]) -> String {
    let mut terms = vec!["v=spf1".to_string()];
    if config.mx {
        terms.push("mx".into());
    }
    if config.a {
        terms.push("a".into());
    }
    terms.extend(config.ip4.iter().map(|i| format!("ip4:{}", i.value)));
    terms.extend(config.ip6.iter().map(|i| format!("ip6:{}", i.value)));
    let mut includes: Vec<String> = extra_includes.to_vec();
    for i in &config.include {
        if !includes.contains(&i.value) {
            includes.push(i.value.clone());
        }
    }
    terms.extend(includes.iter().map(|i| format!("include:{i}")));
    terms.push(
        match config
            .all
            .as_ref()
            .map(|a| a.value)
            .unwrap_or(SpfAll::Softfail)
        {
            SpfAll::Fail => "-all",
            SpfAll::Softfail => "~all",
            SpfAll::Neutral => "?all",
        }
        .into(),
    );
    terms.join(" ")
}

/// Whether a TXT value is an SPF record (RFC 7208 §4.5: `v=spf1` followed
/// by a space or the end, case-insensitively).
pub fn is_spf(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// One directive or modifier of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `+`, `-`, `~`, `?` for mechanisms; None for modifiers.
    pub qualifier: Option<char>,
    /// Lower-case mechanism or modifier name (`include`, `redirect`, ...).
    pub name: String,
    /// What follows `:` or `=`, if anything.
    pub value: Option<String>,
}

/// Splits a record into terms, or says which term is malformed.
pub fn parse(text: &str) -> Result<Vec<Term>, String> {
    let mut words = text.split_whitespace();
    let version = words.next().unwrap_or("");
    if !version.eq_ignore_ascii_case("v=spf1") {
        return Err(format!(
            "an SPF record starts with `v=spf1`, not `{version}`"
        ));
    }
    let mut terms = Vec::new();
    for word in words {
        if let Some((name, value)) = word.split_once('=') {
            if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                && !name.contains(':')
            {
                terms.push(Term {
                    qualifier: None,
                    name: name.to_ascii_lowercase(),
                    value: Some(value.to_string()),
                });
                continue;
            }
        }
        let (qualifier, rest) = match word.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &word[1..]),
            _ => ('+', word),
        };
        let (name, value) = match rest.split_once([':', '/']) {
            Some((n, _)) => (n, Some(rest[n.len()..].trim_start_matches(':').to_string())),
            None => (rest, None),
        };
        let name = name.to_ascii_lowercase();
        const MECHANISMS: [&str; 8] = ["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];
        if !MECHANISMS.contains(&name.as_str()) {
            return Err(format!("`{word}` is not an SPF mechanism (all, include, a, mx, ptr, ip4, ip6, exists) or modifier"));
        }
        let needs_value = matches!(name.as_str(), "include" | "ip4" | "ip6" | "exists");
        if needs_value && value.as_deref().is_none_or(str::is_empty) {
            return Err(format!("`{word}` needs a value, e.g. `{name}:...`"));
        }
        if name == "all" && value.is_some() {
            return Err(format!("`{word}`: `all` takes no value"));
        }
        if let (Some(v), "ip4") = (&value, name.as_str()) {
            let addr = v.split('/').next().unwrap_or("");
            if addr.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(format!("`{word}`: `{addr}` is not an IPv4 address"));
            }
        }
        if let (Some(v), "ip6") = (&value, name.as_str()) {
            let addr = v.split('/').next().unwrap_or("");
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("`{word}`: `{addr}` is not an IPv6 address"));
            }
        }
        terms.push(Term {
            qualifier: Some(qualifier),
            name,
            value,
        });
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mechanisms_modifiers_and_qualifiers() {
        let t = parse(
            "v=spf1 mx -ip4:192.0.2.0/24 include:_spf.google.com redirect=_spf.example.com ~all",
        )
        .unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[1].qualifier, Some('-'));
        assert_eq!(t[1].value.as_deref(), Some("192.0.2.0/24"));
        assert_eq!(t[3].name, "redirect");
        assert_eq!(t[3].qualifier, None);
        assert_eq!(t[4].qualifier, Some('~'));
        assert!(parse("v=spf1 inclde:x ~all").is_err());
        assert!(parse("v=spf1 ip4:300.1.1.1 ~all").is_err());
        assert!(parse("v=spf2 ~all").is_err());
        assert!(is_spf("V=SPF1 -all") && !is_spf("v=spf10"));
    }
}
