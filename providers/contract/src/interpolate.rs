//! `${env:NAME}` and `${file:path}` references, for secrets and long values
//! kept out of the YAML (API tokens, password hashes, DKIM keys). The
//! engine resolves them in record values and mailbox passwords; providers
//! resolve their [`crate::settings::SecretSetting`]s with the same rules.
//!
//! `${file:...}` paths are relative to the YAML file's directory, and one
//! trailing newline is dropped from the file's content. `$${` writes a
//! literal `${`. Resolution happens at load time, so an undefined variable
//! is a validation error with a location, before any network call.

use std::path::Path;

/// Where to look up references.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Why a reference could not be resolved: the message and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub message: String,
    pub fix: String,
}

/// Resolves every reference in `text`.
pub fn interpolate(
    text: &str,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body_start) = tail.strip_prefix("${") {
            let Some(end) = body_start.find('}') else {
                return Err(InterpolationError {
                    message: "unterminated `${` reference".into(),
                    fix: "close it with `}`, or write `$${` for a literal `${`".into(),
                });
            };
            out.push_str(&resolve(&body_start[..end], base_dir, env)?);
            rest = &body_start[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(reference: &str, base_dir: &Path, env: &dyn Env) -> Result<String, InterpolationError> {
    match reference.split_once(':') {
        Some(("env", name)) if !name.is_empty() => {
            env.var(name).ok_or_else(|| InterpolationError {
                message: format!("environment variable `{name}` is not set"),
                fix: format!(
                    "export {name}=... before running mailform, or set it in your CI secrets"
                ),
            })
        }
        Some(("file", path)) if !path.is_empty() => {
            let full = base_dir.join(path);
            match std::fs::read_to_string(&full) {
                Ok(content) => Ok(content
                    .strip_suffix('\n')
                    .map(|c| c.strip_suffix('\r').unwrap_or(c))
                    .unwrap_or(&content)
                    .to_string()),
                Err(e) => Err(InterpolationError {
                    message: format!("cannot read `{}`: {e}", full.display()),
                    fix: "paths in `${file:...}` are relative to the YAML file's directory".into(),
                }),
            }
        }
        _ => Err(InterpolationError {
            message: format!("unknown reference `${{{reference}}}`"),
            fix: "use `${env:NAME}` or `${file:path}`; write `$${` for a literal `${`".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    #[test]
    fn resolves_env_file_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k.txt"), "secret-value\n").unwrap();
        let env = MapEnv(HashMap::from([("A", "1")]));
        assert_eq!(
            interpolate("x${env:A}y ${file:k.txt} $${lit} $5", dir.path(), &env).unwrap(),
            "x1y secret-value ${lit} $5"
        );
    }

    #[test]
    fn undefined_and_malformed_references_are_errors() {
        let env = MapEnv(HashMap::new());
        let e = interpolate("${env:NOPE}", Path::new("."), &env).unwrap_err();
        assert!(e.message.contains("NOPE"));
        assert!(interpolate("${env:X", Path::new("."), &env).is_err());
        assert!(interpolate("${vault:x}", Path::new("."), &env).is_err());
        assert!(interpolate("${file:does-not-exist}", Path::new("."), &env).is_err());
    }
}
