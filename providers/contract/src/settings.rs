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
}

#[cfg(test)]
mod tests {
    use super::*;

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
