//! `mailform verify`: what is served, against what the file declares.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::output::{self, outln};
use super::{Global, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::verify;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A recursive resolver to ask (repeatable); `IP` or `IP:PORT`.
    #[arg(long = "resolver", value_name = "ADDR", default_values = ["1.1.1.1", "8.8.8.8", "9.9.9.9"], value_parser = parse_addr)]
    pub resolvers: Vec<SocketAddr>,

    /// Ask these servers as the zone's authoritative servers instead of
    /// looking up its NS records (repeatable); `IP` or `IP:PORT`.
    #[arg(long = "authoritative", value_name = "ADDR", value_parser = parse_addr)]
    pub authoritative: Vec<SocketAddr>,

    /// Seconds to wait for one answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,

    /// Port of the MTA-STS policy host. Senders always use 443; another
    /// port checks a staging server.
    #[arg(long, value_name = "PORT", default_value_t = 443)]
    pub mta_sts_port: u16,

    /// Extra CA certificates (a PEM file) to trust when fetching MTA-STS
    /// policies, for a private PKI or a staging server. Public senders
    /// trust only the public roots, so a clean result with this flag says
    /// nothing about them.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,

    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Exit 2 when something is not served as declared or an error-level
    /// finding is made, 0 when all is well, 1 when servers could not be
    /// asked. Without it, verify exits 0 unless it could not ask.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub(super) fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("`{s}` is not an IP address or IP:PORT"))
}

pub fn run(global: &Global, args: &VerifyArgs) -> anyhow::Result<i32> {
    let Some(loaded) = super::load(global, global.profile.clone(), global.targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    let mut extra_roots_pem = Vec::new();
    if let Some(path) = &args.ca_file {
        extra_roots_pem.push(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read --ca-file {}: {e}", path.display()))?,
        );
    }
    let timeout = Duration::from_secs(args.timeout.max(1));
    let options = verify::Options {
        resolvers: args.resolvers.clone(),
        authoritative: args.authoritative.clone(),
        timeout,
        mta_sts: verify::mta_sts::FetchOptions {
            port: args.mta_sts_port,
            extra_roots_pem,
            timeout,
        },
    };
    let report = super::runtime()?.block_on(verify::run(&loaded.desired, &options));
    match args.format {
        Format::Text => output::out(&verify::render(&report)),
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.failed_zones() > 0 {
        return Ok(EXIT_ERROR);
    }
    let problems = report.differences() + report.error_findings();
    Ok(if args.detailed_exitcode && problems > 0 {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
