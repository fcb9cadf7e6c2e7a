//! The command line: argument definitions and dispatch. Each command lives
//! in its own module and returns the process exit code.

mod apply;
mod import;
mod plan;
mod validate;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The mailform file. Relative paths inside it resolve against its own
    /// directory.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "mailform.yaml",
        env = "MAILFORM_FILE"
    )]
    pub file: PathBuf,

    /// Overlay the named profile from the file's `profiles:` (e.g. a
    /// prepared MX fail-over).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Limit the run to this domain; repeat for several. Other domains are
    /// neither read nor changed.
    #[arg(long = "target", global = true, value_name = "DOMAIN")]
    pub targets: Vec<String>,

    /// Never colour output. Colour is also off when NO_COLOR is set or the
    /// output is not a terminal.
    #[arg(long, global = true)]
    pub no_color: bool,

    /// More logging on stderr: -v for each change, -vv for provider detail.
    /// RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the file offline: syntax, schema, references, DNS and mail
    /// rules. Never touches the network. Exit 0 when valid, 1 when not.
    Validate(validate::ValidateArgs),
    /// Read the live state and show what apply would change.
    Plan(plan::PlanArgs),
    /// Make the changes: from the file, or from a plan saved with
    /// `plan --out`.
    Apply(apply::ApplyArgs),
    /// Write the YAML that describes what the providers hold today, for
    /// adoption and disaster recovery.
    Import(import::ImportArgs),
    /// Check live DNS: is every declared record served by each
    /// authoritative server and public resolver, and does what is served
    /// pass the mail lint (with SPF includes resolved for real)?
    Verify(verify::VerifyArgs),
    /// Print the MTA-STS policy file of a domain (its `mta_sts:` block), to
    /// serve at https://mta-sts.<domain>/.well-known/mta-sts.txt.
    MtaStsPolicy {
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

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Verify(args) => verify::run(&cli.global, args),
        Command::MtaStsPolicy { domain } => {
            // Parsed, not validated: a stale policy file (which validation
            // reports) is exactly what this command is for.
            let config = match config::parse_file(&cli.global.file, &ProcessEnv) {
                Ok(config) => config,
                Err(LoadError::Invalid(diags)) => {
                    eprintln!("{}", LoadError::Invalid(diags));
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
                    print!("{}", crate::policy::mta_sts::policy_text(&m.value));
                    Ok(EXIT_OK)
                }
                None => {
                    eprintln!(
                        "error: {domain} has no `mta_sts:` block in {}",
                        cli.global.file.display()
                    );
                    Ok(EXIT_ERROR)
                }
            }
        }
        Command::Rules => {
            print!("{}", crate::lint::rules::markdown_table());
            Ok(EXIT_OK)
        }
        Command::Presets => {
            print!("{}", crate::presets::describe_all());
            Ok(EXIT_OK)
        }
        Command::Schema => {
            println!("{}", crate::schema::schema_json());
            Ok(EXIT_OK)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "mailform", &mut std::io::stdout());
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
                eprintln!("{w}\n");
            }
            Ok(Some(loaded))
        }
        Err(LoadError::Invalid(diags)) => {
            eprintln!("{}", LoadError::Invalid(diags));
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
