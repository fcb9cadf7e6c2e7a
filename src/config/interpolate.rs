//! `${env:…}` / `${file:…}` references in the file: the rules live in the
//! contract crate (shared with providers' secret settings); this module
//! decides which [`Place`] a value is in from its key path, and gathers the
//! variables and files the file uses as secrets so that printable places
//! cannot reference them.
//!
//! Only `mailboxes.<address>.password_hash` and `.initial_password` are
//! secret places here (providers' secret settings resolve through
//! [`mailform_contract::settings::SecretSetting`]); every other value is
//! printable, so a new place is safe by default.

use std::path::Path;

pub use mailform_contract::interpolate::{
    Env, InterpolationError, Place, PrintableRules, ProcessEnv, Reference,
};

use super::model::{Config, MailboxConfig};
use super::spanned_map::SpannedMap;

/// The variable that lets printable `${file:...}` references leave the
/// YAML file's directory tree.
pub const ALLOW_FILE_OUTSIDE_VAR: &str = "MAILFORM_ALLOW_FILE_OUTSIDE";

/// The place of the value at `key_path`.
pub fn place_of(key_path: &str) -> Place {
    let secret = key_path.starts_with("mailboxes.")
        && (key_path.ends_with(".password_hash") || key_path.ends_with(".initial_password"));
    if secret {
        Place::Secret
    } else {
        Place::Printable
    }
}

/// Resolves the references in the value at `key_path`.
pub fn interpolate(
    text: &str,
    key_path: &str,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<String, InterpolationError> {
    mailform_contract::interpolate::interpolate(place_of(key_path), text, base_dir, env)
}

/// An environment with the printable rules of one file.
pub struct FileEnv<'a> {
    inner: &'a dyn Env,
    rules: PrintableRules,
}

impl Env for FileEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.inner.var(name)
    }

    fn printable_rules(&self) -> Option<&PrintableRules> {
        Some(&self.rules)
    }
}

impl<'a> FileEnv<'a> {
    /// The rules for `config`, read from `base_dir`, in `inner`.
    pub fn new(inner: &'a dyn Env, config: &Config, base_dir: &Path) -> Self {
        let allow_file_outside = inner
            .var(ALLOW_FILE_OUTSIDE_VAR)
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let mut rules = PrintableRules {
            allow_file_outside,
            ..PrintableRules::default()
        };
        let mut add = |refs: Vec<Reference>| {
            for r in refs {
                match r {
                    Reference::Env(n) => {
                        rules.secret_vars.insert(n.to_string());
                    }
                    Reference::File(p) => {
                        if let Ok(c) = base_dir.join(p).canonicalize() {
                            rules.secret_files.insert(c);
                        }
                    }
                }
            }
        };
        for (_, _, provider) in config.providers.iter() {
            for (_, secret) in provider.secrets() {
                add(secret.references());
            }
        }
        let mailboxes = std::iter::once(&config.mailboxes)
            .chain(config.profiles.iter().map(|(_, _, p)| &p.mailboxes));
        for raw in mailboxes.flat_map(secret_values) {
            add(mailform_contract::interpolate::references(raw).unwrap_or_default());
        }
        FileEnv { inner, rules }
    }
}

fn secret_values(mailboxes: &SpannedMap<Option<MailboxConfig>>) -> Vec<&str> {
    mailboxes
        .iter()
        .filter_map(|(_, _, m)| m.as_ref())
        .flat_map(|m| [&m.password_hash, &m.initial_password])
        .flatten()
        .map(|s| s.value.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mailbox_passwords_are_secret_places() {
        assert_eq!(
            place_of("mailboxes.\"a@example.com\".password_hash"),
            Place::Secret
        );
        assert_eq!(
            place_of("mailboxes.\"a@example.com\".initial_password"),
            Place::Secret
        );
        assert_eq!(
            place_of("domains.\"example.com\".records.www.TXT"),
            Place::Printable
        );
        // A DKIM selector named like a secret key is still a record.
        assert_eq!(
            place_of("domains.\"example.com\".dkim.password_hash"),
            Place::Printable
        );
    }
}
