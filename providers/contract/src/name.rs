//! Normalisation of domain names and mail addresses.
//!
//! Inside mailform every domain name is absolute, lower-case ASCII and written
//! without the trailing dot (`www.example.com`); the zone apex is the zone
//! name itself. Providers convert to and from their own spelling at the edge.

/// Lower-cases a name and strips one trailing dot.
pub fn normalize_name(name: &str) -> String {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    trimmed.to_ascii_lowercase()
}

/// Lower-cases a mail address. Local parts are case-insensitive for every
/// provider mailform supports, so addresses are compared lower-cased.
pub fn normalize_address(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

/// The domain part of an address (`alice@example.com` → `example.com`).
pub fn address_domain(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

/// The name relative to `zone`: `@` for the apex, `www` for
/// `www.example.com`, or the absolute name when it lies outside the zone.
pub fn relative_name(name: &str, zone: &str) -> String {
    if name == zone {
        "@".to_string()
    } else if let Some(prefix) = name.strip_suffix(zone).and_then(|p| p.strip_suffix('.')) {
        prefix.to_string()
    } else {
        format!("{name}.")
    }
}

/// The absolute name for a name written relative to `zone` (`@` is the apex).
pub fn absolute_name(relative: &str, zone: &str) -> String {
    if relative == "@" || relative.is_empty() {
        zone.to_string()
    } else if let Some(abs) = relative.strip_suffix('.') {
        abs.to_ascii_lowercase()
    } else {
        format!("{}.{}", relative.to_ascii_lowercase(), zone)
    }
}

/// Whether `name` is `zone` or lies below it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_round_trip() {
        assert_eq!(relative_name("example.com", "example.com"), "@");
        assert_eq!(relative_name("www.example.com", "example.com"), "www");
        assert_eq!(relative_name("other.org", "example.com"), "other.org.");
        assert_eq!(absolute_name("@", "example.com"), "example.com");
        assert_eq!(absolute_name("WWW", "example.com"), "www.example.com");
        assert_eq!(absolute_name("other.org.", "example.com"), "other.org");
        assert!(in_zone("a.example.com", "example.com"));
        assert!(!in_zone("aexample.com", "example.com"));
    }

    #[test]
    fn normalises() {
        assert_eq!(normalize_name("MX1.Example.COM."), "mx1.example.com");
        assert_eq!(normalize_address(" Alice@Example.com"), "alice@example.com");
        assert_eq!(address_domain("a@b.c"), Some("b.c"));
    }
}
