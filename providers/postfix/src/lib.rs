//! The `postfix` mail provider: a self-hosted Postfix + Dovecot estate kept
//! as Postfix lookup-table source files and a Dovecot passwd-file, all in one
//! directory.
//!
//! # Files
//!
//! | file | line | holds |
//! |---|---|---|
//! | `virtual_mailbox_domains` | `example.com OK` | domains with mailboxes |
//! | `virtual_mailbox_maps` | `alice@example.com example.com/alice/` | each mailbox's maildir |
//! | `virtual_alias_maps` | `info@example.com alice@example.com, bob@example.com` | aliases, groups, successors |
//! | `recipient_access` | `sales@example.com internal_only` | groups closed to outside senders |
//! | `dovecot-users` | `alice@example.com:{SHA512-CRYPT}$6$...::::::` | sign-in, display name, state |
//!
//! Every file may hold several domains. An apply rewrites only the lines of
//! its own domain; other domains' lines, comments and entries mailform does
//! not manage (a catch-all `@example.com`, access rules for other addresses)
//! are kept byte for byte.
//!
//! - A **mailbox** is a `virtual_mailbox_maps` entry plus a `dovecot-users`
//!   line. The display name is in the gecos field (`%`, `:` and control
//!   characters percent-encoded). A suspended mailbox has the extra fields
//!   `nologin=y reason=suspended`, an offboarded one
//!   `nologin=y reason=offboarded`: Dovecot refuses the sign-in while Postfix
//!   keeps delivering. An offboarded mailbox's successor is a
//!   `virtual_alias_maps` entry keyed by the mailbox's own address: Postfix
//!   rewrites through `virtual_alias_maps` before delivery, so new mail goes
//!   to the successor while the old maildir stays as it is.
//! - A **group** is a `virtual_alias_maps` entry right below a marker
//!   comment, `# mailform-group: {"display_name":"Sales"}`, plus a
//!   `recipient_access` entry when outside senders are refused.
//! - An **alias** is any other `virtual_alias_maps` entry of the domain.
//!   Extra addresses of mailboxes and groups are kept as aliases.
//!
//! New mailboxes need a password hash (`{SHA512-CRYPT}`, `{SHA256-CRYPT}`,
//! `{BLF-CRYPT}`, `{ARGON2ID}` or `{ARGON2I}`, as `doveadm pw -s SCHEME`
//! prints it); a clear-text password is refused. The hash is written once,
//! when the mailbox is created; later applies never touch it, so users may
//! change their password by other means.
//!
//! **Deleting a mailbox removes its lines, never its maildir**: the mail stays
//! on disk under `virtual_mailbox_base` until someone removes it by hand.
//!
//! A domain is added to `virtual_mailbox_domains` with its first mailbox and
//! removed once nothing of it (no mailbox, alias or group) is left.
//!
//! # Applying
//!
//! An apply is all or nothing per domain. The files are read again, every
//! change is checked against them (a create needs a free address, an update
//! or delete needs the object exactly as the plan saw it); if any change is
//! refused, nothing is written. Otherwise each changed file is written to a
//! temporary file in the same directory and flushed; with the `postmap`
//! setting, each changed map is compiled (`postmap hash:<file>`) before
//! anything is replaced; then the new files and `.db` files are renamed into
//! place. A file that is a symbolic link is replaced at its target.
//!
//! Runs are serialised across processes by `flock(2)` on `.mailform.lock`
//! in the directory (exclusive for an apply, from its read to its last
//! rename; shared for a read), and an edit by hand meanwhile is caught by
//! comparing the files with what was read before they are replaced.
//!
//! # Drift
//!
//! Every file the provider writes is live state. Where the files disagree
//! (a mailbox with no `virtual_mailbox_maps` entry, a domain with mailboxes
//! missing from `virtual_mailbox_domains`, with `postmap` a map newer than
//! its `.db`), the domain's status lists the repair as a setup step: the
//! plan shows it and the apply writes the model back.
//!
//! # Postfix and Dovecot settings
//!
//! With the files in `/etc/postfix/mailform/`, `main.cf` needs:
//!
//! ```text
//! virtual_mailbox_domains = hash:/etc/postfix/mailform/virtual_mailbox_domains
//! virtual_mailbox_maps = hash:/etc/postfix/mailform/virtual_mailbox_maps
//! virtual_alias_maps = hash:/etc/postfix/mailform/virtual_alias_maps
//! virtual_mailbox_base = /var/vmail
//! virtual_uid_maps = static:5000
//! virtual_gid_maps = static:5000
//!
//! # Groups closed to outside senders: only our own networks and signed-in
//! # users may send to an address listed as `internal_only`.
//! smtpd_restriction_classes = internal_only
//! internal_only = permit_mynetworks, permit_sasl_authenticated, reject
//! smtpd_recipient_restrictions =
//!     check_recipient_access hash:/etc/postfix/mailform/recipient_access,
//!     permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
//! ```
//!
//! and Dovecot (`conf.d/auth-passwdfile.conf.ext`):
//!
//! ```text
//! passdb {
//!   driver = passwd-file
//!   args = scheme=SHA512-CRYPT username_format=%Lu /etc/postfix/mailform/dovecot-users
//! }
//! userdb {
//!   driver = passwd-file
//!   args = username_format=%Lu /etc/postfix/mailform/dovecot-users
//!   default_fields = uid=5000 gid=5000 home=/var/vmail/%d/%n mail=maildir:~/
//! }
//! ```
//!
//! so that Dovecot reads the maildirs Postfix delivers to (the default
//! `maildir` template, `{domain}/{local}/`, matches `home=/var/vmail/%d/%n`).

mod changes;
mod config;
mod fsio;
mod passwd;
mod provider;
mod state;
mod tables;

pub use config::{Config, DEFAULT_MAILDIR};
pub use provider::PostfixProvider;

#[cfg(test)]
mod tests;
