//! DMARC (RFC 9989; RFC 7489 records still accepted): building the record,
//! and parsing one into tags for the lint.

use crate::config::policy::{Alignment, DmarcConfig, DmarcPolicy};

fn policy(p: DmarcPolicy) -> &'static str {
    match p {
        DmarcPolicy::None => "none",
        DmarcPolicy::Quarantine => "quarantine",
        DmarcPolicy::Reject => "reject",
    }
}

fn align(a: Alignment) -> &'static str {
    match a {
        Alignment::R => "r",
        Alignment::S => "s",
    }
}

/// The record text, tags in the order RFC 9989's examples use.
pub fn build(c: &DmarcConfig) -> String {
    let mut tags = vec!["v=DMARC1".to_string(), format!("p={}", policy(c.p.value))];
    if let Some(sp) = c.sp {
        tags.push(format!("sp={}", policy(sp)));
    }
    if let Some(np) = c.np {
        tags.push(format!("np={}", policy(np)));
    }
    let list = |v: &[serde_saphyr::Spanned<String>]| {
        v.iter()
            .map(|x| x.value.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !c.rua.is_empty() {
        tags.push(format!("rua={}", list(&c.rua)));
    }
    if !c.ruf.is_empty() {
        tags.push(format!("ruf={}", list(&c.ruf)));
    }
    if let Some(a) = c.adkim {
        tags.push(format!("adkim={}", align(a)));
    }
    if let Some(a) = c.aspf {
        tags.push(format!("aspf={}", align(a)));
    }
    if let Some(fo) = &c.fo {
        tags.push(format!("fo={fo}"));
    }
    if let Some(t) = c.t {
        tags.push(format!("t={}", if t { "y" } else { "n" }));
    }
    if let Some(psd) = &c.psd {
        tags.push(format!("psd={psd}"));
    }
    if let Some(pct) = &c.pct {
        tags.push(format!("pct={}", pct.value));
    }
    if let Some(rf) = &c.rf {
        tags.push(format!("rf={}", rf.value));
    }
    if let Some(ri) = &c.ri {
        tags.push(format!("ri={}", ri.value));
    }
    tags.join("; ")
}

/// Tag-value pairs of a record, names lower-cased, in order.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut tags = Vec::new();
    for part in text.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("`{part}` is not a `tag=value` pair"));
        };
        tags.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    match tags.first() {
        Some((k, v)) if k == "v" && v == "DMARC1" => Ok(tags),
        _ => Err("a DMARC record starts with `v=DMARC1`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_requires_the_version_first() {
        let t = parse("v=DMARC1; p=reject; rua=mailto:d@example.com").unwrap();
        assert_eq!(t[1], ("p".into(), "reject".into()));
        assert!(parse("p=reject; v=DMARC1").is_err());
        assert!(parse("v=DMARC1; p").is_err());
    }
}
