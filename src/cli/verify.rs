//! `mailform verify`: what is served, against what the file declares.
//!
//! Exit codes: with `--detailed-exitcode`, 0 clean, 2 error findings, 1
//! could not check (which wins over findings); without it, 1 on either.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::output::{self, outln};
use super::{Global, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::verify::{self, Outcome};

/// Asked when no `--resolver` is given.
const PUBLIC_RESOLVERS: [&str; 3] = ["1.1.1.1:53", "8.8.8.8:53", "9.9.9.9:53"];

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A recursive resolver to ask (repeatable); `IP` or `IP:PORT`.
    /// Default: 1.1.1.1, 8.8.8.8 and 9.9.9.9 — which, with
    /// `--authoritative`, are asked only for names outside the file's
    /// zones (before an NS switch they do not serve the zones yet).
    #[arg(long = "resolver", value_name = "ADDR", value_parser = parse_addr)]
    pub resolvers: Vec<SocketAddr>,

    /// Ask these servers as the zones' authoritative servers instead of
    /// looking up NS records (repeatable); `IP` or `IP:PORT`. Every name
    /// inside the file's zones is then asked of them.
    #[arg(long = "authoritative", value_name = "ADDR", value_parser = parse_addr)]
    pub authoritative: Vec<SocketAddr>,

    /// Seconds to wait for one answer (decimals allowed, e.g. 0.5). A
    /// server that does not answer in time is not asked again in the run;
    /// every name it should have answered is reported as not checked.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,

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

    /// `text` (one line per finding and a summary), `json` (the report,
    /// `format_version` 1) or `sarif` (SARIF 2.1.0, for code scanning).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,

    /// Exit 0 when all is well, 2 on an error-level finding (including a
    /// record set not served as declared), 1 when a name could not be
    /// checked (no answer, REFUSED, SERVFAIL, lame) — 1 wins over 2.
    /// Without it, verify exits 1 on either.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

pub(super) fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| {
            s.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("`{s}` is not an IP address or IP:PORT"))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.05..=600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0.05 and 600"
        )),
    }
}

pub fn run(global: &Global, args: &VerifyArgs) -> anyhow::Result<i32> {
    let Some(loaded) = super::load(global, global.profile.clone(), global.targets.clone())? else {
        return Ok(EXIT_ERROR);
    };
    let mut extra_roots_pem = Vec::new();
    if let Some(path) = &args.ca_file {
        extra_roots_pem.push(
            // A CA bundle is a few hundred KiB at most; a device or a FIFO
            // named here would otherwise hang the run.
            mailform_contract::file::read_bounded(path, 4 << 20)
                .map_err(|e| anyhow::anyhow!("cannot read --ca-file {}: {e}", path.display()))?,
        );
    }
    let resolvers_given = !args.resolvers.is_empty();
    let resolvers = if resolvers_given {
        args.resolvers.clone()
    } else {
        PUBLIC_RESOLVERS
            .iter()
            .map(|a| a.parse().expect("a valid address"))
            .collect()
    };
    let options = verify::Options {
        resolvers,
        ask_resolvers_for_zone: resolvers_given || args.authoritative.is_empty(),
        authoritative: args.authoritative.clone(),
        timeout: args.timeout,
        mta_sts: verify::mta_sts::FetchOptions {
            port: args.mta_sts_port,
            extra_roots_pem,
            timeout: args.timeout,
        },
    };
    let mut report = super::runtime()?.block_on(verify::run(&loaded.desired, &options));
    let file = global.file.display().to_string();
    report.locate(&file, |domain| domain_loc(&loaded.config, domain));
    match args.format {
        Format::Text => output::out(&verify::render(&report)),
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        Format::Sarif => outln!(
            "{}",
            serde_json::to_string_pretty(&verify::sarif::render(&report, &file))?
        ),
    }
    Ok(match (report.outcome(), args.detailed_exitcode) {
        (Outcome::Clean, _) => EXIT_OK,
        (Outcome::CouldNotCheck, _) | (Outcome::Findings, false) => EXIT_ERROR,
        (Outcome::Findings, true) => EXIT_CHANGES,
    })
}

/// The position of a domain's key in the file, matched as DNS does
/// (case, trailing dot, IDN in either form).
fn domain_loc(
    config: &crate::config::model::Config,
    domain: &str,
) -> Option<crate::config::diagnostic::Loc> {
    let want = normalize(domain);
    config
        .domains
        .iter()
        .find(|(k, _, _)| normalize(k) == want)
        .map(|(_, loc, _)| loc)
}

fn normalize(name: &str) -> String {
    let name = name.trim_end_matches('.');
    idna::domain_to_ascii(name).unwrap_or_else(|_| name.to_ascii_lowercase())
}
