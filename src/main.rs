//! The `mailform` binary: parse arguments, set up logging, run, exit.

use clap::Parser;
use mailform::cli::output;

fn main() {
    let cli = mailform::cli::Cli::parse();
    let global = match cli.global() {
        Ok(g) => g,
        Err(message) => <mailform::cli::Cli as clap::CommandFactory>::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit(),
    };
    let level = match global.verbose {
        0 => "warn",
        1 => "mailform=info,warn",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(!global.no_color && std::env::var_os("NO_COLOR").is_none())
        .init();
    let mut code = match mailform::cli::run(&cli, &global) {
        Ok(code) => code,
        Err(e) => {
            output::err(&format!("error: {e:#}\n"));
            mailform::cli::EXIT_ERROR
        }
    };
    if let Some(failure) = output::failure() {
        output::err(&format!("error: {failure}\n"));
        if code == mailform::cli::EXIT_OK {
            code = mailform::cli::EXIT_ERROR;
        }
    }
    std::process::exit(code);
}
