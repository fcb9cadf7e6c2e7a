//! The provider's settings as written under a `postfix` provider in the
//! mailform YAML, and their JSON Schema.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of a `postfix` mail provider: a directory holding Postfix lookup
/// tables and a Dovecot passwd-file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory holding `virtual_mailbox_domains`, `virtual_mailbox_maps`,
    /// `virtual_alias_maps`, `recipient_access` and `dovecot-users`. A
    /// relative path is taken from the directory of the mailform YAML file.
    /// Files that do not exist yet are created on the first apply.
    pub directory: PathBuf,

    /// Command that compiles a changed lookup table, such as `postmap` or
    /// `/usr/sbin/postmap` (words separated by spaces, so `sudo -n postmap`
    /// works too). mailform runs `<command> hash:<file>` for every table it
    /// changes and only puts the new files in place when every run succeeds.
    /// Leave unset to compile the tables yourself.
    #[serde(default)]
    pub postmap: Option<String>,

    /// Template for a mailbox's `virtual_mailbox_maps` value: the maildir,
    /// relative to Postfix's `virtual_mailbox_base`. `{domain}`, `{local}`
    /// and `{address}` are replaced; a trailing `/` selects Maildir format.
    /// Used only when a mailbox is created; existing entries keep their path.
    #[serde(default = "default_maildir")]
    pub maildir: String,

    /// Numeric user id written into new `dovecot-users` lines. Leave unset to
    /// rely on Dovecot's global settings (`mail_uid`, or a static userdb).
    #[serde(default)]
    pub uid: Option<u32>,

    /// Numeric group id written into new `dovecot-users` lines. Leave unset
    /// to rely on Dovecot's global settings (`mail_gid`, or a static userdb).
    #[serde(default)]
    pub gid: Option<u32>,
}

/// The maildir template used when the YAML gives none.
pub const DEFAULT_MAILDIR: &str = "{domain}/{local}/";

fn default_maildir() -> String {
    DEFAULT_MAILDIR.to_string()
}

impl Config {
    /// The maildir for `address`, or why the template cannot produce one.
    pub(crate) fn maildir_for(&self, address: &str) -> Result<String, String> {
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        // Without a per-mailbox placeholder every mailbox would share one
        // maildir and read each other's mail.
        if !self.maildir.contains("{local}") && !self.maildir.contains("{address}") {
            return Err(format!(
                "the `maildir` template {:?} has neither {{local}} nor {{address}}, so every \
                 mailbox would share one maildir; fix the provider's `maildir` setting",
                self.maildir
            ));
        }
        let path = self
            .maildir
            .replace("{domain}", domain)
            .replace("{local}", local)
            .replace("{address}", address);
        if path.is_empty() || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "the `maildir` template {:?} gives {path:?} for {address}, which a lookup table \
                 cannot hold (no spaces); fix the provider's `maildir` setting",
                self.maildir
            ));
        }
        Ok(path)
    }
}

/// No secrets: everything is local files.
impl mailform_contract::settings::ProviderSettings for Config {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let c: Config = serde_json::from_str(r#"{"directory": "mail"}"#).unwrap();
        assert_eq!(c.maildir, DEFAULT_MAILDIR);
        assert_eq!(c.postmap, None);
        assert_eq!((c.uid, c.gid), (None, None));
        let err = serde_json::from_str::<Config>(r#"{"directory": "mail", "dir": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn maildir_template() {
        let mut c: Config = serde_json::from_str(r#"{"directory": "mail"}"#).unwrap();
        assert_eq!(
            c.maildir_for("alice@example.com").unwrap(),
            "example.com/alice/"
        );
        c.maildir = "vmail/{address}/Maildir/".into();
        assert_eq!(
            c.maildir_for("alice@example.com").unwrap(),
            "vmail/alice@example.com/Maildir/"
        );
        c.maildir = "{domain}/shared/".into();
        assert!(c.maildir_for("alice@example.com").is_err());
        c.maildir = "{domain}/{local} x/".into();
        assert!(c.maildir_for("alice@example.com").is_err());
    }

    #[test]
    fn schema_documents_every_field() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for field in ["directory", "postmap", "maildir", "uid", "gid"] {
            let desc = props[field]["description"].as_str().unwrap_or("");
            assert!(!desc.is_empty(), "{field} has no description");
        }
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], serde_json::json!(["directory"]));
    }
}
