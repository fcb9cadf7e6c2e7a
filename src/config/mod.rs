//! Loading a mailform file: read, parse, overlay a profile, check, compile.
//!
//! [`load`] is the only entry point. It either returns the [`Loaded`]
//! configuration with its desired state and any warnings, or every error
//! found, each with file:line:column. It never touches the network.

pub mod compile;
pub mod diagnostic;
pub mod interpolate;
pub mod model;
pub mod names;
pub mod policy;
pub mod profile;
pub mod records;
pub mod spanned_map;
pub mod yaml;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::desired::Desired;
use diagnostic::{did_you_mean, Diagnostic, Diagnostics, Loc};
use interpolate::{Env, FileEnv};
use mailform_contract::file::{read_bounded, ReadError};
use model::Config;
pub use yaml::parse;

/// Files larger than this are refused before parsing, unless raised.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The variable that raises [`DEFAULT_MAX_FILE_BYTES`].
pub const MAX_FILE_BYTES_VAR: &str = "MAILFORM_MAX_FILE_BYTES";

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The profile to overlay (`--profile`).
    pub profile: Option<String>,
    /// Limit to these domains (`--target`); empty means all.
    pub targets: Vec<String>,
}

/// A loaded, valid configuration.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    /// The directory relative paths in the file resolve against.
    pub base_dir: PathBuf,
    pub config: Config,
    pub desired: Desired,
    pub warnings: Vec<Diagnostic>,
    /// SHA-256 of the file's bytes, recorded in saved plans.
    pub source_sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {error}\n  = fix: {}", path.display(), read_fix(error))]
    Read { path: PathBuf, error: ReadError },
    #[error("{0}")]
    Limit(String),
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let mut out: Vec<String> = diags.iter().map(ToString::to_string).collect();
    out.push(format!(
        "{errors} error{} found; nothing was changed",
        if errors == 1 { "" } else { "s" }
    ));
    out.join("\n\n")
}

fn read_fix(error: &ReadError) -> String {
    match error {
        ReadError::TooLarge { .. } => format!(
            "if the file is meant to be this large, raise the limit with {MAX_FILE_BYTES_VAR}=<bytes>"
        ),
        ReadError::NotRegular(_) => "pass a regular file with -f FILE".to_string(),
        ReadError::NotUtf8 => "save the file as UTF-8".to_string(),
        e if e.is_not_found() => "pass the file with -f FILE, or set MAILFORM_FILE".to_string(),
        ReadError::Io(_) => "check the path and its permissions".to_string(),
    }
}

/// The text of the mailform file at `path`: a regular file (a FIFO or a
/// device is refused before it is opened for a blocking read), at most
/// [`DEFAULT_MAX_FILE_BYTES`] or what [`MAX_FILE_BYTES_VAR`] says.
pub fn read_source(path: &Path, env: &dyn Env) -> Result<String, LoadError> {
    let limit = match env.var(MAX_FILE_BYTES_VAR) {
        None => DEFAULT_MAX_FILE_BYTES,
        Some(v) => v.trim().parse().map_err(|_| {
            LoadError::Limit(format!(
                "{MAX_FILE_BYTES_VAR} is `{v}`, not a number of bytes\n  = fix: set it to a whole number of bytes, e.g. {MAX_FILE_BYTES_VAR}=33554432"
            ))
        })?,
    };
    let read_err = |error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    };
    let bytes = read_bounded(path, limit).map_err(read_err)?;
    String::from_utf8(bytes).map_err(|_| read_err(ReadError::NotUtf8))
}

/// Reads and parses the file at `path` without checking it, for commands
/// that work on files validation would refuse (`mta-sts-policy`).
pub fn parse_file(path: &Path, env: &dyn Env) -> Result<Config, LoadError> {
    let source = read_source(path, env)?;
    let limits = limits(env)?;
    yaml::parse_with(&source, &limits).map_err(|e| {
        let mut diags = Diagnostics::new(path, &source);
        yaml::push_error(&mut diags, &source, &e, &limits);
        LoadError::Invalid(diags.into_sorted())
    })
}

fn limits(env: &dyn Env) -> Result<yaml::Limits, LoadError> {
    yaml::Limits::from_env(env).map_err(|e| {
        LoadError::Limit(format!(
            "{e}\n  = fix: set it to a whole number, e.g. {}=5000",
            yaml::MAX_ALIASES_VAR
        ))
    })
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path, options: &LoadOptions, env: &dyn Env) -> Result<Loaded, LoadError> {
    let source = read_source(path, env)?;
    let limits = limits(env)?;
    let base_dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let source_sha256 = to_hex(&Sha256::digest(source.as_bytes()));
    let mut diags = Diagnostics::new(path, &source);

    let mut config = match yaml::parse_with(&source, &limits) {
        Ok(c) => c,
        Err(e) => {
            yaml::push_error(&mut diags, &source, &e, &limits);
            return Err(LoadError::Invalid(diags.into_sorted()));
        }
    };
    let file_env = FileEnv::new(env, &config, &base_dir);
    let env: &dyn Env = &file_env;
    check_other_profiles(
        &config,
        options.profile.as_deref(),
        &base_dir,
        env,
        &mut diags,
    );
    let profile = profile::apply(&mut config, options.profile.as_deref(), &mut diags);
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags.into_sorted()));
    }
    let mut desired = compile::compile(&config, &base_dir, env, &mut diags);
    desired.profile = profile;
    crate::lint::run(&desired, &mut diags);
    if !options.targets.is_empty() {
        let known: Vec<String> = desired
            .zones
            .iter()
            .map(|z| z.zone.clone())
            .chain(desired.mail.iter().map(|m| m.domain.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for t in &options.targets {
            let t = t.trim_end_matches('.').to_ascii_lowercase();
            if !known.contains(&t) {
                let fix = did_you_mean(&t, known.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("domains in this file: {}", known.join(", ")));
                diags.error(
                    Loc::default(),
                    "",
                    format!("--target `{t}` is not a domain in this file"),
                    Some(fix),
                );
            }
        }
        let keep = |d: &str| {
            options
                .targets
                .iter()
                .any(|t| t.trim_end_matches('.').eq_ignore_ascii_case(d))
        };
        desired.zones.retain(|z| keep(&z.zone));
        desired.mail.retain(|m| keep(&m.domain));
    }
    if diags.has_errors() {
        return Err(LoadError::Invalid(diags.into_sorted()));
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        base_dir,
        config,
        desired,
        warnings: diags.into_sorted(),
        source_sha256,
    })
}

/// Checks every profile other than the chosen one, so that a broken
/// profile fails `validate` in CI before anyone needs it in an incident.
fn check_other_profiles(
    config: &Config,
    chosen: Option<&str>,
    base_dir: &Path,
    env: &dyn Env,
    diags: &mut Diagnostics,
) {
    if config.profiles.keys().all(|n| Some(n) == chosen) {
        return;
    }
    // Errors of the base file are reported once, not again per profile.
    let mut base = Diagnostics::new(diags.file(), diags.source());
    compile::compile(config, base_dir, env, &mut base);
    let base: std::collections::HashSet<Diagnostic> = base.items.into_iter().collect();
    for name in config.profiles.keys() {
        if Some(name) == chosen {
            continue;
        }
        let mut overlaid = config.clone();
        let mut scratch = Diagnostics::new(diags.file(), diags.source());
        profile::apply(&mut overlaid, Some(name), &mut scratch);
        if !scratch.has_errors() {
            compile::compile(&overlaid, base_dir, env, &mut scratch);
        }
        for mut d in scratch.items.into_iter().filter(Diagnostic::is_error) {
            if !base.contains(&d) {
                d.message = format!("with profile `{name}`: {}", d.message);
                diags.items.push(d);
            }
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
