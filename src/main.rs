//! The `mailform` binary: parse arguments, set up logging, run, exit.

use clap::Parser;

fn main() {
    let cli = mailform::cli::Cli::parse();
    let level = match cli.global.verbose {
        0 => "warn",
        1 => "mailform=info,warn",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(!cli.global.no_color && std::env::var_os("NO_COLOR").is_none())
        .init();
    let code = match mailform::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            mailform::cli::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
