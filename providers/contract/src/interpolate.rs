//! `${env:NAME}` and `${file:path}` references, for secrets and long values
//! kept out of the YAML (API tokens, password hashes, DKIM keys). The
//! engine resolves them in record values and mailbox passwords; providers
//! resolve their [`crate::settings::SecretSetting`]s with the same rules.
//!
//! `${file:...}` paths are relative to the YAML file's directory, and one
//! trailing newline is dropped from the file's content. `$${` writes a
//! literal `${`. Resolution happens at load time, so an undefined variable
//! is a validation error with a location, before any network call.
//!
//! What a reference may read depends on its [`Place`], because plans are
//! printed, and CI posts them as pull-request comments: a file that could
//! put a CI secret into a record value could publish it.
//!
//! - In a **secret** place (passwords, providers' secret settings), whose
//!   value is never printed, any variable and any regular file.
//! - In a **printable** place (everything else: record values, DKIM keys),
//!   only variables named `MAILFORM_PUBLIC_*` — the environment's owner
//!   marks a value public by its name, which a pull request cannot do —
//!   and never one this file also uses as a secret; only files inside the
//!   YAML file's directory tree (no absolute path, no `..` or symbolic link
//!   leading out) unless [`PrintableRules::allow_file_outside`]; never a
//!   file that holds a private key.
//!
//! Every file is read with [`crate::file::read_to_string_bounded`]: regular
//! files only, at most [`DEFAULT_MAX_REFERENCED_FILE_BYTES`] unless
//! [`MAX_REFERENCED_FILE_BYTES_VAR`] says otherwise.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::file::{read_to_string_bounded, ReadError};

/// Variables whose names start with this may be printed.
pub const PUBLIC_ENV_PREFIX: &str = "MAILFORM_PUBLIC_";
/// The largest file a `${file:...}` reference reads, unless raised.
pub const DEFAULT_MAX_REFERENCED_FILE_BYTES: u64 = 1024 * 1024;
/// The variable that raises [`DEFAULT_MAX_REFERENCED_FILE_BYTES`].
pub const MAX_REFERENCED_FILE_BYTES_VAR: &str = "MAILFORM_MAX_REFERENCED_FILE_BYTES";

/// Where to look up references, and what printable places may read.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;

    /// The rules for printable places; `None` means the defaults.
    fn printable_rules(&self) -> Option<&PrintableRules> {
        None
    }
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Whether a reference's value can end up in output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Never printed: passwords, providers' secret settings.
    Secret,
    /// Shown in plans: record values, DKIM keys, anything not secret.
    Printable,
}

/// What printable places may read beyond the defaults, and what they may
/// not because the same file uses it as a secret.
#[derive(Debug, Clone, Default)]
pub struct PrintableRules {
    /// Lets `${file:...}` in printable places leave the YAML file's tree.
    pub allow_file_outside: bool,
    /// Variables referenced in the file's secret places.
    pub secret_vars: BTreeSet<String>,
    /// Files (canonical paths) referenced in the file's secret places.
    pub secret_files: BTreeSet<PathBuf>,
}

static DEFAULT_RULES: PrintableRules = PrintableRules {
    allow_file_outside: false,
    secret_vars: BTreeSet::new(),
    secret_files: BTreeSet::new(),
};

/// Why a reference could not be resolved: the message and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
    pub fix: String,
}

fn err(message: impl Into<String>, fix: impl Into<String>) -> InterpolationError {
    InterpolationError {
        message: message.into(),
        fix: fix.into(),
    }
}

/// One `${...}` reference as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference<'a> {
    Env(&'a str),
    File(&'a str),
}

enum Piece<'a> {
    Text(&'a str),
    Ref(Reference<'a>),
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, InterpolationError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push(Piece::Text(&rest[..pos]));
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push(Piece::Text("${"));
            rest = after;
        } else if let Some(body_start) = tail.strip_prefix("${") {
            let Some(end) = body_start.find('}') else {
                return Err(err(
                    "unterminated `${` reference",
                    "close it with `}`, or write `$${` for a literal `${`",
                ));
            };
            let body = &body_start[..end];
            out.push(Piece::Ref(match body.split_once(':') {
                Some(("env", name)) if !name.is_empty() => Reference::Env(name),
                Some(("file", path)) if !path.is_empty() => Reference::File(path),
                _ => {
                    return Err(err(
                        format!("unknown reference `${{{body}}}`"),
                        "use `${env:NAME}` or `${file:path}`; write `$${` for a literal `${`",
                    ))
                }
            }));
            rest = &body_start[end + 1..];
        } else {
            out.push(Piece::Text("$"));
            rest = &tail[1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// The references in `text`, without resolving them.
pub fn references(text: &str) -> Result<Vec<Reference<'_>>, InterpolationError> {
    Ok(pieces(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Resolves every reference in `text`, written in a `place`.
pub fn interpolate(
    place: Place,
    text: &str,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(r) => out.push_str(&resolve(place, r, base_dir, env)?),
        }
    }
    Ok(out)
}

const SECURITY: &str = "see the README's Security section";

fn resolve(
    place: Place,
    reference: Reference,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<String, InterpolationError> {
    let rules = env.printable_rules().unwrap_or(&DEFAULT_RULES);
    let value = match reference {
        Reference::Env(name) => {
            check_var(place, name, rules)?;
            env.var(name).ok_or_else(|| {
                err(
                    format!("environment variable `{name}` is not set"),
                    format!(
                        "export {name}=... before running mailform, or set it in your CI secrets"
                    ),
                )
            })?
        }
        Reference::File(path) => {
            let full = base_dir.join(path);
            if place == Place::Printable {
                check_printable_file(path, base_dir, &full, rules)?;
            }
            read_referenced(path, &full, env)?
        }
    };
    if place == Place::Printable && value.contains("PRIVATE KEY-----") {
        return Err(err(
            format!("{} holds a private key, which this value would print in plans", show(reference)),
            "reference the public key instead (for DKIM: the `.pub` file or the `p=` value); private keys go only into providers' secret settings",
        ));
    }
    Ok(value)
}

fn show(reference: Reference) -> String {
    match reference {
        Reference::Env(n) => format!("`${{env:{n}}}`"),
        Reference::File(p) => format!("`${{file:{p}}}`"),
    }
}

fn check_var(place: Place, name: &str, rules: &PrintableRules) -> Result<(), InterpolationError> {
    let public = name.starts_with(PUBLIC_ENV_PREFIX);
    match place {
        Place::Secret if public => Err(err(
            format!("`{name}` is named as a public variable ({PUBLIC_ENV_PREFIX}*), whose values may be printed, but is used here for a secret"),
            format!("keep the secret in a variable whose name does not start with {PUBLIC_ENV_PREFIX}"),
        )),
        Place::Printable if !public => Err(err(
            format!("`${{env:{name}}}` would print the variable's value in plans (and in the pull-request comments CI posts); only variables named {PUBLIC_ENV_PREFIX}* may appear in record values and other printed values"),
            format!("if the value is public, set it as `{PUBLIC_ENV_PREFIX}{name}` and write `${{env:{PUBLIC_ENV_PREFIX}{name}}}`; secrets belong only in `password_hash`, `initial_password` and providers' secret settings ({SECURITY})"),
        )),
        Place::Printable if rules.secret_vars.contains(name) => Err(err(
            format!("`{name}` is used as a secret elsewhere in this file, so its value must never be printed"),
            format!("use another variable for the public value ({SECURITY})"),
        )),
        _ => Ok(()),
    }
}

/// A printable file must lie inside the YAML file's directory tree, even
/// after symbolic links are followed, and must not be a secret of this file.
fn check_printable_file(
    written: &str,
    base_dir: &Path,
    full: &Path,
    rules: &PrintableRules,
) -> Result<(), InterpolationError> {
    let outside = |how: &str| {
        err(
            format!("`${{file:{written}}}` {how}; a file in a printed value must be inside the YAML file's directory"),
            format!("move or copy the file below the YAML file's directory and name it by a relative path; to allow files elsewhere, set MAILFORM_ALLOW_FILE_OUTSIDE=1 ({SECURITY})"),
        )
    };
    if !rules.allow_file_outside {
        let mut depth = 0usize;
        for c in Path::new(written).components() {
            match c {
                Component::Prefix(_) | Component::RootDir => {
                    return Err(outside("is an absolute path"))
                }
                Component::ParentDir if depth == 0 => {
                    return Err(outside("leads out of the YAML file's directory with `..`"))
                }
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
            }
        }
    }
    // A missing file is reported by the read, with its usual message.
    let Ok(canonical) = full.canonicalize() else {
        return Ok(());
    };
    if !rules.allow_file_outside {
        let root = base_dir.canonicalize().map_err(|e| {
            err(
                format!("cannot resolve the YAML file's directory: {e}"),
                "run mailform from a directory it can read",
            )
        })?;
        if !canonical.starts_with(&root) {
            return Err(outside(&format!(
                "leads out of the YAML file's directory through a symbolic link (to `{}`)",
                canonical.display()
            )));
        }
    }
    if rules.secret_files.contains(&canonical) {
        return Err(err(
            format!("`{written}` is used as a secret elsewhere in this file, so its content must never be printed"),
            format!("reference a file that holds only public data ({SECURITY})"),
        ));
    }
    Ok(())
}

/// The size limit for referenced files: the default, or the variable.
fn file_limit(env: &dyn Env) -> Result<u64, InterpolationError> {
    match env.var(MAX_REFERENCED_FILE_BYTES_VAR) {
        None => Ok(DEFAULT_MAX_REFERENCED_FILE_BYTES),
        Some(v) => v.trim().parse().map_err(|_| {
            err(
                format!("{MAX_REFERENCED_FILE_BYTES_VAR} is `{v}`, not a number of bytes"),
                format!("set it to a whole number of bytes, e.g. {MAX_REFERENCED_FILE_BYTES_VAR}=4194304"),
            )
        }),
    }
}

fn read_referenced(
    written: &str,
    full: &Path,
    env: &dyn Env,
) -> Result<String, InterpolationError> {
    let limit = file_limit(env)?;
    let shown = full.display();
    match read_to_string_bounded(full, limit) {
        Ok(content) => Ok(content
            .strip_suffix('\n')
            .map(|c| c.strip_suffix('\r').unwrap_or(c))
            .unwrap_or(&content)
            .to_string()),
        Err(e @ ReadError::TooLarge { .. }) => Err(err(
            format!("cannot read `{shown}`: {e}"),
            format!("name the right file; if it is meant to be this large, raise the limit with {MAX_REFERENCED_FILE_BYTES_VAR}=<bytes>"),
        )),
        Err(e @ ReadError::NotRegular(_)) => Err(err(
            format!("cannot read `{shown}`: {e}"),
            format!("`${{file:{written}}}` must name a regular file"),
        )),
        Err(e) => Err(err(
            format!("cannot read `{shown}`: {e}"),
            "paths in `${file:...}` are relative to the YAML file's directory",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>, PrintableRules);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
        fn printable_rules(&self) -> Option<&PrintableRules> {
            Some(&self.1)
        }
    }

    fn env(vars: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(vars.iter().copied().collect(), PrintableRules::default())
    }

    #[test]
    fn resolves_env_file_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.txt"), "secret-value\n").unwrap();
        let e = env(&[("A", "1")]);
        assert_eq!(
            interpolate(
                Place::Secret,
                "x${env:A}y ${file:k.txt} $${lit} $5",
                dir.path(),
                &e
            )
            .unwrap(),
            "x1y secret-value ${lit} $5"
        );
    }

    #[test]
    fn undefined_and_malformed_references_are_errors() {
        let e = env(&[]);
        let s = Place::Secret;
        let x = interpolate(s, "${env:NOPE}", Path::new("."), &e).unwrap_err();
        assert!(x.message.contains("NOPE"));
        assert!(interpolate(s, "${env:X", Path::new("."), &e).is_err());
        assert!(interpolate(s, "${vault:x}", Path::new("."), &e).is_err());
        assert!(interpolate(s, "${file:does-not-exist}", Path::new("."), &e).is_err());
    }

    #[test]
    fn printable_places_read_only_public_variables() {
        let e = env(&[("TOKEN", "t0k3n"), ("MAILFORM_PUBLIC_IP", "192.0.2.1")]);
        let p = Place::Printable;
        let x = interpolate(p, "${env:TOKEN}", Path::new("."), &e).unwrap_err();
        assert!(!x.message.contains("t0k3n") && x.message.contains("MAILFORM_PUBLIC_"));
        assert_eq!(
            interpolate(p, "${env:MAILFORM_PUBLIC_IP}", Path::new("."), &e).unwrap(),
            "192.0.2.1"
        );
        assert!(interpolate(
            Place::Secret,
            "${env:MAILFORM_PUBLIC_IP}",
            Path::new("."),
            &e
        )
        .is_err());
        let mut e = e;
        e.1.secret_vars.insert("MAILFORM_PUBLIC_IP".into());
        assert!(interpolate(p, "${env:MAILFORM_PUBLIC_IP}", Path::new("."), &e).is_err());
    }

    #[test]
    fn printable_files_stay_in_the_tree() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("repo");
        std::fs::create_dir_all(root.join("dkim")).unwrap();
        std::fs::write(outer.path().join("secret.txt"), "s3cr3t").unwrap();
        std::fs::write(root.join("dkim/a.pub"), "MIIB").unwrap();
        std::fs::write(root.join("dkim/a.key"), "-----BEGIN PRIVATE KEY-----\nx").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("link")).unwrap();
        let e = env(&[]);
        let p = Place::Printable;
        assert_eq!(
            interpolate(p, "${file:dkim/a.pub}", &root, &e).unwrap(),
            "MIIB"
        );
        assert_eq!(
            interpolate(p, "${file:dkim/../dkim/a.pub}", &root, &e).unwrap(),
            "MIIB"
        );
        let abs = format!("${{file:{}}}", outer.path().join("secret.txt").display());
        for bad in [
            abs.as_str(),
            "${file:../secret.txt}",
            "${file:link}",
            "${file:dkim/a.key}",
        ] {
            let x = interpolate(p, bad, &root, &e).unwrap_err();
            assert!(!x.message.contains("s3cr3t"), "{bad}: {x:?}");
        }
        // The same files are fine where nothing is printed.
        assert_eq!(
            interpolate(Place::Secret, "${file:link}", &root, &e).unwrap(),
            "s3cr3t"
        );
        let mut e = e;
        e.1.allow_file_outside = true;
        assert_eq!(interpolate(p, "${file:link}", &root, &e).unwrap(), "s3cr3t");
        e.1.secret_files
            .insert(root.join("dkim/a.pub").canonicalize().unwrap());
        assert!(interpolate(p, "${file:dkim/a.pub}", &root, &e).is_err());
    }

    #[test]
    fn referenced_files_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), "x".repeat(100)).unwrap();
        let e = env(&[(MAX_REFERENCED_FILE_BYTES_VAR, "10")]);
        let x = interpolate(Place::Secret, "${file:big}", dir.path(), &e).unwrap_err();
        assert!(
            x.message.contains("10 bytes") && x.fix.contains(MAX_REFERENCED_FILE_BYTES_VAR),
            "{x:?}"
        );
    }
}
