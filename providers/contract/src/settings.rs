//! Provider settings that hold secrets (API tokens, keys): written in the
//! YAML as `${env:NAME}` or `${file:path}` (or, discouraged, literally),
//! checked by the engine at load time through [`ProviderSettings`], and
//! resolved by the provider when it needs the value. A secret setting is
//! a secret place in the sense of [`crate::interpolate`]: it may read any
//! variable not named `MAILFORM_PUBLIC_*` and any regular file, since its
//! value is never printed.

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::interpolate::{interpolate, references, Env, Place, ProcessEnv, Reference};
use crate::secret::Secret;

/// A setting whose value is a secret. Its `Debug` shows a reference
/// (`${env:CLOUDFLARE_API_TOKEN}`) but never a literal value.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SecretSetting(
    /// A secret: write `${env:NAME}` or `${file:path}` rather than the value.
    String,
);

impl SecretSetting {
    pub fn new(raw: impl Into<String>) -> Self {
        SecretSetting(raw.into())
    }

    /// The value, with references resolved against `base_dir` (the YAML
    /// file's directory) and the process environment.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, String> {
        self.resolve_with(base_dir, &ProcessEnv)
    }

    pub fn resolve_with(&self, base_dir: &Path, env: &dyn Env) -> Result<Secret, String> {
        interpolate(Place::Secret, &self.0, base_dir, env)
            .map(Secret::new)
            .map_err(|e| format!("{} ({})", e.message, e.fix))
    }

    /// The references the value is made of, so that the engine can keep
    /// them out of printable places; none if it is malformed (which
    /// resolving reports).
    pub fn references(&self) -> Vec<Reference<'_>> {
        references(&self.0).unwrap_or_default()
    }

    /// Whether the value is written in the file rather than referenced.
    pub fn is_literal(&self) -> bool {
        !self.0.contains("${")
    }
}

impl From<String> for SecretSetting {
    fn from(raw: String) -> Self {
        SecretSetting(raw)
    }
}

impl From<&str> for SecretSetting {
    fn from(raw: &str) -> Self {
        SecretSetting(raw.to_string())
    }
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_literal() {
            f.write_str("SecretSetting(***)")
        } else {
            write!(f, "SecretSetting({})", self.0)
        }
    }
}

/// Implemented by each provider's `Config`, so the engine can check every
/// secret resolves before any network call, whatever the provider.
pub trait ProviderSettings {
    /// The secret settings that are set, by their YAML key.
    fn secrets(&self) -> Vec<(&'static str, &SecretSetting)> {
        Vec::new()
    }

    /// The URL settings the file sets (defaults left out), by YAML key:
    /// where the provider sends its credentials.
    fn endpoints(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }

    /// The hosts of the vendor's own API, where credentials may always go:
    /// exact names, or `*.suffix` for any name under `suffix`.
    fn vendor_hosts(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The variable that lists, in the environment of the run (never in the
/// file), the endpoint hosts besides the vendor's own that may receive a
/// provider's credentials.
pub const TRUSTED_ENDPOINT_HOSTS_VAR: &str = "MAILFORM_TRUSTED_ENDPOINT_HOSTS";

/// Why credentials must not be sent to `url`, or `None` when they may: its
/// host is loopback, one of `vendor`, or one of `trusted` (from
/// [`TRUSTED_ENDPOINT_HOSTS_VAR`]).
///
/// The file is untrusted input in a pull request's plan: a file that could
/// point a provider at a host of its choosing could make CI send that
/// provider's token there. So a host outside the vendor's is taken only
/// from the run's environment, which a pull request does not control.
pub fn endpoint_refusal(url: &str, vendor: &[&str], trusted: &[&str]) -> Option<String> {
    let host = match endpoint_host(url) {
        Some(h) => h,
        None => return Some(format!("`{url}` is not an http(s) URL")),
    };
    let matches = |pattern: &str| {
        let pattern = pattern.trim().to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => !pattern.is_empty() && host == pattern,
        }
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || vendor.iter().any(|p| matches(p)) || trusted.iter().any(|p| matches(p)) {
        return None;
    }
    Some(format!(
        "it would send this provider's credentials to `{host}`, which is not the vendor's API ({}) \
         nor listed in {TRUSTED_ENDPOINT_HOSTS_VAR}",
        if vendor.is_empty() {
            "this provider has no fixed vendor host".to_string()
        } else {
            vendor.join(", ")
        }
    ))
}

/// The lower-case host of an http(s) URL (IPv6 without brackets).
fn endpoint_host(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("https://")
        .or_else(|| url.trim().strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_only_to_the_vendor_loopback_or_trusted_hosts() {
        let vendor = ["api.cloudflare.com", "*.aliyuncs.com"];
        for ok in [
            "https://api.cloudflare.com/client/v4",
            "https://alidns.cn-hangzhou.aliyuncs.com/",
            "http://127.0.0.1:8080",
            "http://[::1]:9/x",
            "http://localhost:8081/api",
            "https://pdns.corp.example:8081/",
        ] {
            assert_eq!(
                endpoint_refusal(ok, &vendor, &["pdns.corp.example"]),
                None,
                "{ok}"
            );
        }
        for bad in [
            "https://evil.example/client/v4",
            "https://api.cloudflare.com.evil.example/",
            "https://user@evil.example/",
            "https://aliyuncs.com.evil.example/",
            "ftp://api.cloudflare.com/",
        ] {
            assert!(endpoint_refusal(bad, &vendor, &[]).is_some(), "{bad}");
        }
        assert!(endpoint_refusal("https://x.corp.example/", &[], &["*.corp.example"]).is_none());
    }

    #[test]
    fn literals_never_print_and_references_resolve() {
        let lit = SecretSetting::new("tok-123");
        assert!(!format!("{lit:?}").contains("tok-123"));
        assert_eq!(lit.resolve(Path::new(".")).unwrap().expose(), "tok-123");
        let r = SecretSetting::new("${env:MAILFORM_TEST_SURELY_UNSET}");
        assert!(format!("{r:?}").contains("MAILFORM_TEST_SURELY_UNSET"));
        assert!(r
            .resolve(Path::new("."))
            .unwrap_err()
            .contains("is not set"));
    }

    #[test]
    fn a_secret_setting_reads_any_file_but_no_public_variable() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("tok"), "t0k\n").unwrap();
        let base = outer.path().join("repo");
        std::fs::create_dir(&base).unwrap();
        let s = SecretSetting::new("${file:../tok}");
        assert_eq!(s.resolve(&base).unwrap().expose(), "t0k");
        assert_eq!(s.references(), vec![Reference::File("../tok")]);
        let public = SecretSetting::new("${env:MAILFORM_PUBLIC_TOKEN}");
        assert!(public.resolve(&base).unwrap_err().contains("public"));
    }
}
