//! Passwords given to new mailboxes: `initial_password` (generated, or a
//! reference to a clear-text secret, never written in the file) and
//! `password_hash` (a hash in a scheme the mail servers accept). Values
//! are never echoed in a diagnostic.

use mailform_contract::{InitialPassword, Secret};
use serde_saphyr::Spanned;

use super::{resolve, Ctx};
use crate::config::diagnostic::Loc;

/// `initial_password`: `generate`, or a `${file:...}`/`${env:...}`
/// reference to a clear-text password. A value written in the file is
/// refused (it would sit in the repository) and never echoed.
pub(super) fn initial_password(
    ctx: &mut Ctx,
    p: &Spanned<String>,
    path: &str,
) -> Option<InitialPassword> {
    let raw = p.value.trim();
    if raw == "generate" {
        return Some(InitialPassword::Generate);
    }
    if !raw.contains("${") {
        ctx.diags.error(
            Loc::of(p),
            path,
            "`initial_password` is written in the file; a password there ends up in the repository",
            Some("write `${file:secrets/<name>.pw}` or `${env:NAME}`, or `generate` to have apply make one and write it to --password-file".to_string()),
        );
        return None;
    }
    let value = resolve(ctx, raw, Loc::of(p), path)?;
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        ctx.diags.error(
            Loc::of(p),
            path,
            "`initial_password` is empty",
            Some(
                "put the password in the referenced file or variable, or write `generate`"
                    .to_string(),
            ),
        );
        return None;
    }
    Some(InitialPassword::Plain(Secret::new(value)))
}

pub(super) fn check_password_hash(ctx: &mut Ctx, value: &str, loc: Loc, path: &str) -> Option<()> {
    const SCHEMES: [&str; 7] = [
        "SHA512-CRYPT",
        "SHA256-CRYPT",
        "MD5-CRYPT",
        "BLF-CRYPT",
        "ARGON2ID",
        "ARGON2I",
        "BCRYPT",
    ];
    let scheme = value.strip_prefix('{').and_then(|r| r.split_once('}'));
    match scheme {
        Some((s, rest)) if SCHEMES.contains(&s) && !rest.is_empty() => Some(()),
        Some((s, _)) if SCHEMES.contains(&s) => {
            ctx.diags.error(
                loc,
                path,
                "the password hash is empty after its scheme",
                Some(
                    "make one with `doveadm pw -s SHA512-CRYPT` and paste its whole output"
                        .to_string(),
                ),
            );
            None
        }
        _ => {
            // Never echo the value: it may be a clear-text password.
            ctx.diags.error(
                loc,
                path,
                "`password_hash` is not a password hash in a scheme mailform accepts",
                Some(format!(
                    "write `{{SCHEME}}hash` with SCHEME one of {}; make one with `doveadm pw -s SHA512-CRYPT`",
                    SCHEMES.join(", ")
                )),
            );
            None
        }
    }
}
