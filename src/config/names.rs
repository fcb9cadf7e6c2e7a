//! Syntax of domain names, record names and mail addresses.

/// Converts a domain written by the user (possibly Unicode, any case, with
/// a trailing dot) to its lower-case ASCII form, or says what is wrong.
pub fn domain_to_ascii(name: &str) -> Result<String, String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err("the name is empty".into());
    }
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(trimmed)
            .map_err(|_| "not a valid internationalised domain name".to_string())?
    };
    check_labels(&ascii, false)?;
    if !ascii.contains('.') {
        return Err("a domain needs at least two labels, like `example.com`".into());
    }
    Ok(ascii)
}

/// Checks a record name relative to its zone (`@`, `www`, `_dmarc`,
/// `*.dev`, `selector1._domainkey`).
pub fn check_record_name(name: &str) -> Result<(), String> {
    if name == "@" {
        return Ok(());
    }
    if name.ends_with('.') {
        return Err("record names are relative to the domain; drop the trailing dot (use `@` for the domain itself)".into());
    }
    let rest = name
        .strip_prefix("*.")
        .unwrap_or(if name == "*" { "" } else { name });
    if rest.is_empty() {
        return Ok(());
    }
    if !rest.is_ascii() {
        return Err("write internationalised labels in their xn-- (punycode) form".into());
    }
    check_labels(rest, true)
}

/// What is wrong with a host name in record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetProblem {
    /// Unicode: zone files and DNS carry names as ASCII, so the name must
    /// be written in its xn-- form; `ascii` is that form, if the name is a
    /// valid internationalised domain name.
    NotAscii { ascii: Option<String> },
    /// Not a name a zone file can hold as written (an empty or too long
    /// label, a character that is not a letter, digit, hyphen or
    /// underscore).
    Syntax(String),
}

/// Checks a host name in record data (an MX exchange, a CNAME, NS or SRV
/// target): absolute, lower-case, without the trailing dot, empty for the
/// root (a null MX, an SRV "no service"). Unicode is refused rather than
/// converted, as in record names: the xn-- form the user writes is what
/// the zone holds and the plan shows, and a look-alike letter from another
/// script (a homograph) shows up as a visibly different xn-- label instead
/// of passing unseen.
pub fn check_target(name: &str) -> Result<(), TargetProblem> {
    if name.is_empty() {
        return Ok(());
    }
    if !name.is_ascii() {
        let ascii = idna::domain_to_ascii(name)
            .ok()
            .filter(|a| check_labels(a, true).is_ok());
        return Err(TargetProblem::NotAscii { ascii });
    }
    check_labels(name, true).map_err(TargetProblem::Syntax)
}

fn check_labels(name: &str, allow_underscore: bool) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "the name is {} characters long; at most 253 are allowed",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the name has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "label `{label}` is {} characters long; at most 63 are allowed",
                label.len()
            ));
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || (allow_underscore && c == '_');
        if let Some(bad) = label.chars().find(|c| !ok(*c)) {
            return Err(format!(
                "label `{label}` contains `{bad}`; use letters, digits and hyphens"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    Ok(())
}

/// Checks and lower-cases a mail address.
pub fn check_address(address: &str) -> Result<String, String> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(format!("`{address}` is not a mail address: it has no `@`"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(format!(
            "the local part of `{address}` must be 1 to 64 characters"
        ));
    }
    let special = |c: char| "!#$%&'*+/=?^_`{|}~.-".contains(c);
    if let Some(bad) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || special(*c)))
    {
        return Err(format!("the local part of `{address}` contains `{bad}`"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(format!("the local part of `{address}` has a misplaced dot"));
    }
    let domain = domain_to_ascii(domain)
        .map_err(|e| format!("the domain of `{address}` is invalid: {e}"))?;
    Ok(format!("{}@{domain}", local.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(domain_to_ascii("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            domain_to_ascii("例子.中国").unwrap(),
            "xn--fsqu00a.xn--fiqs8s"
        );
        assert!(domain_to_ascii("exa mple.com").is_err());
        assert!(domain_to_ascii("localhost").is_err());
        assert!(domain_to_ascii("-bad.com").is_err());
        assert!(domain_to_ascii(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn targets() {
        for ok in [
            "",
            "mx1.example.com",
            "_sip._tcp.example.com",
            "xn--bcher-kva.example",
        ] {
            assert_eq!(check_target(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_target("mx.bücher.example"),
            Err(TargetProblem::NotAscii {
                ascii: Some("mx.xn--bcher-kva.example".into())
            })
        );
        for bad in [
            "mx..example.com",
            "a;b.example.com",
            "a b.example.com",
            "-x.example.com",
        ] {
            assert!(
                matches!(check_target(bad), Err(TargetProblem::Syntax(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn record_names() {
        for ok in [
            "@",
            "www",
            "_dmarc",
            "*.dev",
            "*",
            "selector1._domainkey",
            "a-b.c",
        ] {
            assert!(check_record_name(ok).is_ok(), "{ok}");
        }
        for bad in ["www.", "a..b", "a b", "-x"] {
            assert!(check_record_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            check_address("Alice.B+x@Example.com").unwrap(),
            "alice.b+x@example.com"
        );
        for bad in [
            "alice",
            "@example.com",
            "a..b@example.com",
            "a b@example.com",
            "a@localhost",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
