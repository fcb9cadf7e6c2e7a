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
    if let Some(problem) = unprintable(&value, false) {
        ctx.diags.error(
            Loc::of(p),
            path,
            format!("`initial_password` {problem}"),
            Some("keep the password on one line of the referenced file or variable (one line break at its end is dropped)".to_string()),
        );
        return None;
    }
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

/// Longer than any hash the accepted schemes make (SHA512-CRYPT with its
/// rounds is about 120 bytes, Argon2 with a long salt a few hundred), and
/// short enough that a pasted file or a mistake stops here.
const MAX_SECRET_BYTES: usize = 1024;

/// What makes a secret unusable in the files providers write (a Dovecot
/// passwd-file line is `user:hash:...`, one entry per line), without
/// saying anything about the secret's value; `None` if nothing does.
/// Spaces and `:` are fine in a clear-text password, not in a hash.
fn unprintable(value: &str, hash: bool) -> Option<String> {
    if value.len() > MAX_SECRET_BYTES {
        return Some(format!(
            "is {} bytes long; mailform accepts at most {MAX_SECRET_BYTES}",
            value.len()
        ));
    }
    let bad = value
        .chars()
        .find(|c| c.is_control() || (hash && (c.is_whitespace() || *c == ':' || !c.is_ascii())))?;
    Some(match bad {
        '\n' | '\r' => "contains a line break".to_string(),
        '\t' => "contains a tab".to_string(),
        ' ' => "contains a space".to_string(),
        ':' => "contains `:`, which separates the fields of a Dovecot passwd-file".to_string(),
        c if c.is_control() => format!("contains the control character U+{:04X}", c as u32),
        _ => "contains a character that is not printable ASCII".to_string(),
    })
}

/// How a hash of each scheme starts (the crypt(3) or PHC identifier).
fn crypt_prefixes(scheme: &str) -> &'static [&'static str] {
    match scheme {
        "SHA512-CRYPT" => &["$6$"],
        "SHA256-CRYPT" => &["$5$"],
        "MD5-CRYPT" => &["$1$"],
        "BLF-CRYPT" | "BCRYPT" => &["$2y$", "$2b$", "$2a$"],
        "ARGON2ID" => &["$argon2id$"],
        "ARGON2I" => &["$argon2i$"],
        _ => &[],
    }
}

/// Checks a `password_hash` and returns it without the one line break a
/// file read through `${file:...}` ends with. The value is never echoed:
/// it may be a clear-text password written by mistake.
pub(super) fn check_password_hash(
    ctx: &mut Ctx,
    value: &str,
    loc: Loc,
    path: &str,
) -> Option<String> {
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(value);
    if let Some(problem) = unprintable(value, true) {
        ctx.diags.error(
            loc,
            path,
            format!("`password_hash` {problem}"),
            Some("a hash is one word of printable ASCII: paste exactly the one line `doveadm pw -s SHA512-CRYPT` prints, e.g. `{SHA512-CRYPT}$6$...`".to_string()),
        );
        return None;
    }
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
        Some((s, rest)) if SCHEMES.contains(&s) && !rest.is_empty() => {
            let prefixes = crypt_prefixes(s);
            // The crypt(3) and PHC string alphabets, as the postfix provider
            // checks them at apply.
            let alphabet = |c: char| c.is_ascii_alphanumeric() || "./$=,+-".contains(c);
            if prefixes.iter().any(|p| rest.starts_with(p)) && rest.chars().all(alphabet) {
                return Some(value.to_string());
            }
            ctx.diags.error(
                loc,
                path,
                format!("the `{{{s}}}` hash is not in that scheme's format: it starts with {} and holds only letters, digits and `./$=,+-`", prefixes.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" or ")),
                Some(format!("make it with `doveadm pw -s {s}` and paste its whole output")),
            );
            None
        }
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
