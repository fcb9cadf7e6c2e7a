//! The command line: argument definitions and dispatch. Each command lives
//! in its own module and returns the process exit code.

mod apply;
mod import;
pub mod output;
mod plan;
mod validate;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use output::{errln, outln};

use crate::config::{self, interpolate::ProcessEnv, LoadError, LoadOptions, Loaded};

/// Exit codes, as `plan --detailed-exitcode` documents them.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_CHANGES: i32 = 2;

/// Infrastructure as code for company email.
///
/// One YAML file describes your domains, the DNS records mail needs,
/// your mailboxes, aliases and groups. `mailform plan` shows what differs
/// from the live providers; `mailform apply` makes the changes, safely
/// and idempotently.
///
/// Typical flow:
///   mailform validate                 # offline checks, for CI
///   mailform plan --out plan.json     # review what would change
///   mailform apply plan.json          # apply exactly that, if nothing moved
#[derive(Debug, Parser)]
#[command(
    name = "mailform",
    version,
    propagate_version = true,
    max_term_width = 100,
    verbatim_doc_comment
)]
pub struct Cli {
    #[command(flatten)]
    pub leading: Leading,
    #[command(subcommand)]
    pub command: Command,
}

/// The flags as they may also be written before the command name
/// (`mailform -f x.yaml plan`), as scripts have them. Hidden: each command's
/// help lists the flags that apply to it, and a flag given here for a
/// command it does not apply to is an error, never silently ignored.
#[derive(Debug, Args)]
pub struct Leading {
    #[arg(short = 'f', long = "file", hide = true)]
    file: Option<PathBuf>,
    #[arg(long, hide = true)]
    profile: Option<String>,
    #[arg(long = "target", hide = true)]
    targets: Vec<String>,
    #[arg(long, hide = true)]
    no_color: bool,
    #[arg(short, long, action = clap::ArgAction::Count, hide = true)]
    verbose: u8,
}

/// `-f`: for the commands that read the file.
#[derive(Debug, Args)]
pub struct FileArg {
    /// The mailform file (default: $MAILFORM_FILE, else mailform.yaml).
    /// Relative paths inside it resolve against its own directory.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
}

/// `--profile` and `--target`: for the commands that read the file's
/// domains.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Overlay the named profile from the file's `profiles:` (e.g. a
    /// prepared MX fail-over).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    targets: TargetArg,
}

/// `--target`.
#[derive(Debug, Args)]
pub struct TargetArg {
    /// Limit the run to this domain; repeat for several. Other domains are
    /// neither read nor changed.
    #[arg(long = "target", value_name = "DOMAIN")]
    targets: Vec<String>,
}

/// `-v`: for the commands that talk to providers or servers.
#[derive(Debug, Args)]
pub struct LogArg {
    /// More logging on stderr: -v for each change, -vv for provider detail.
    /// RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// `--no-color` and `-v`: for the commands that print a plan.
#[derive(Debug, Args)]
pub struct PlanOutputArgs {
    /// Never colour output. Colour is also off when NO_COLOR is set or the
    /// output is not a terminal.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    log: LogArg,
}

/// The settings a command runs with, from its flags (or the same flags
/// before the command name) and the environment.
#[derive(Debug, Clone)]
pub struct Global {
    pub file: PathBuf,
    pub profile: Option<String>,
    pub targets: Vec<String>,
    pub no_color: bool,
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the file offline: syntax, schema, references, DNS and mail
    /// rules. Never touches the network. Exit 0 when valid, 1 when not.
    Validate {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        args: validate::ValidateArgs,
    },
    /// Read the live state and show what apply would change.
    Plan {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: PlanOutputArgs,
        #[command(flatten)]
        args: plan::PlanArgs,
    },
    /// Make the changes: from the file, or from a plan saved with
    /// `plan --out`.
    Apply {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        output: PlanOutputArgs,
        #[command(flatten)]
        args: apply::ApplyArgs,
    },
    /// Write the YAML that describes what the providers hold today, for
    /// adoption and disaster recovery.
    Import {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        targets: TargetArg,
        #[command(flatten)]
        log: LogArg,
        #[command(flatten)]
        args: import::ImportArgs,
    },
    /// Check live DNS: is every declared record served by each
    /// authoritative server and public resolver, and does what is served
    /// pass the mail lint (with SPF includes resolved for real)?
    Verify {
        #[command(flatten)]
        file: FileArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        log: LogArg,
        #[command(flatten)]
        args: verify::VerifyArgs,
    },
    /// Print the MTA-STS policy file of a domain (its `mta_sts:` block), to
    /// serve at https://mta-sts.<domain>/.well-known/mta-sts.txt.
    MtaStsPolicy {
        #[command(flatten)]
        file: FileArg,
        /// The domain.
        domain: String,
    },
    /// List the mail-deliverability lint rules (a Markdown table: id,
    /// name, severity, what it checks, the specification).
    Rules,
    /// List the mail-service presets (`service: {preset: ...}`) and what
    /// each adds: MX, SPF include, client CNAMEs, DKIM, with the vendor
    /// pages the values come from.
    Presets,
    /// Print the JSON Schema of the file format.
    Schema,
    /// Print shell completions, e.g. `mailform completions bash >
    /// /etc/bash_completion.d/mailform`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The flags a command takes, each `None` where it takes none.
#[derive(Default)]
struct Accepts<'a> {
    file: Option<&'a FileArg>,
    profile: Option<&'a Option<String>>,
    targets: Option<&'a TargetArg>,
    no_color: Option<bool>,
    verbose: Option<u8>,
}

impl Cli {
    /// The settings of this run: each command's own flags, else the same
    /// flags written before the command name, else the environment. A flag
    /// before the command name that the command does not take is an error
    /// naming it.
    pub fn global(&self) -> Result<Global, String> {
        let a = match &self.command {
            Command::Validate { file, scope, .. } => Accepts {
                file: Some(file),
                profile: Some(&scope.profile),
                targets: Some(&scope.targets),
                ..Accepts::default()
            },
            Command::Plan {
                file,
                scope,
                output,
                ..
            }
            | Command::Apply {
                file,
                scope,
                output,
                ..
            } => Accepts {
                file: Some(file),
                profile: Some(&scope.profile),
                targets: Some(&scope.targets),
                no_color: Some(output.no_color),
                verbose: Some(output.log.verbose),
            },
            Command::Import {
                file, targets, log, ..
            } => Accepts {
                file: Some(file),
                targets: Some(targets),
                verbose: Some(log.verbose),
                ..Accepts::default()
            },
            Command::Verify {
                file, scope, log, ..
            } => Accepts {
                file: Some(file),
                profile: Some(&scope.profile),
                targets: Some(&scope.targets),
                verbose: Some(log.verbose),
                ..Accepts::default()
            },
            Command::MtaStsPolicy { file, .. } => Accepts {
                file: Some(file),
                ..Accepts::default()
            },
            Command::Rules | Command::Presets | Command::Schema | Command::Completions { .. } => {
                Accepts::default()
            }
        };
        let l = &self.leading;
        let name = self.command_name();
        let refuse = |flag: &str| Err(format!("{flag} does not apply to `mailform {name}`"));
        if l.file.is_some() && a.file.is_none() {
            return refuse("-f/--file");
        }
        if l.profile.is_some() && a.profile.is_none() {
            return refuse("--profile");
        }
        if !l.targets.is_empty() && a.targets.is_none() {
            return refuse("--target");
        }
        if l.no_color && a.no_color.is_none() {
            return refuse("--no-color");
        }
        if l.verbose > 0 && a.verbose.is_none() {
            return refuse("-v/--verbose");
        }
        let file = a
            .file
            .and_then(|f| f.file.clone())
            .or_else(|| l.file.clone())
            .or_else(|| std::env::var_os("MAILFORM_FILE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("mailform.yaml"));
        let targets = match a.targets {
            Some(t) if !t.targets.is_empty() => t.targets.clone(),
            _ => l.targets.clone(),
        };
        Ok(Global {
            file,
            profile: a.profile.cloned().flatten().or_else(|| l.profile.clone()),
            targets,
            no_color: a.no_color.unwrap_or(false) || l.no_color,
            verbose: a.verbose.unwrap_or(0) + l.verbose,
        })
    }

    fn command_name(&self) -> &'static str {
        match self.command {
            Command::Validate { .. } => "validate",
            Command::Plan { .. } => "plan",
            Command::Apply { .. } => "apply",
            Command::Import { .. } => "import",
            Command::Verify { .. } => "verify",
            Command::MtaStsPolicy { .. } => "mta-sts-policy",
            Command::Rules => "rules",
            Command::Presets => "presets",
            Command::Schema => "schema",
            Command::Completions { .. } => "completions",
        }
    }
}

/// Runs the parsed command line with its settings; returns the exit code.
pub fn run(cli: &Cli, global: &Global) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Validate { args, .. } => validate::run(global, args),
        Command::Plan { args, .. } => plan::run(global, args),
        Command::Apply { args, .. } => apply::run(global, args),
        Command::Import { args, .. } => import::run(global, args),
        Command::Verify { args, .. } => verify::run(global, args),
        Command::MtaStsPolicy { domain, .. } => {
            // Parsed, not validated: a stale policy file (which validation
            // reports) is exactly what this command is for.
            let config = match config::parse_file(&global.file, &ProcessEnv) {
                Ok(config) => config,
                Err(LoadError::Invalid(diags)) => {
                    errln!("{}", LoadError::Invalid(diags));
                    return Ok(EXIT_ERROR);
                }
                Err(e) => return Err(e.into()),
            };
            let found = config.domains.iter().find(|(k, _, _)| {
                k.trim_end_matches('.')
                    .eq_ignore_ascii_case(domain.trim_end_matches('.'))
            });
            match found.and_then(|(_, _, d)| d.mta_sts.as_ref()) {
                Some(m) => {
                    output::out(&crate::policy::mta_sts::policy_text(&m.value));
                    Ok(EXIT_OK)
                }
                None => {
                    errln!(
                        "error: {domain} has no `mta_sts:` block in {}",
                        global.file.display()
                    );
                    Ok(EXIT_ERROR)
                }
            }
        }
        Command::Rules => {
            output::out(&crate::lint::rules::markdown_table());
            Ok(EXIT_OK)
        }
        Command::Presets => {
            output::out(&crate::presets::describe_all());
            Ok(EXIT_OK)
        }
        Command::Schema => {
            outln!("{}", crate::schema::schema_json());
            Ok(EXIT_OK)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "mailform", &mut script);
            output::out(&String::from_utf8_lossy(&script));
            Ok(EXIT_OK)
        }
    }
}

/// Loads the file, printing warnings, or prints every error and returns None.
pub(crate) fn load(
    global: &Global,
    profile: Option<String>,
    targets: Vec<String>,
) -> anyhow::Result<Option<Loaded>> {
    let options = LoadOptions { profile, targets };
    match config::load(&global.file, &options, &ProcessEnv) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                errln!("{w}\n");
            }
            Ok(Some(loaded))
        }
        Err(LoadError::Invalid(diags)) => {
            errln!("{}", LoadError::Invalid(diags));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn stdout_color(global: &Global) -> bool {
    crate::render::style::use_color(global.no_color, std::io::stdout().is_terminal())
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
