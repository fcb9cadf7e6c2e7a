//! The fake Google Workspace APIs as a standalone server, for trying
//! mailform by hand and for benchmarks in another process:
//!
//! ```sh
//! google-fake --port 8789 --domain example.com --admin admin@example.com --key-out sa.json
//! ```
//!
//! It writes a service-account key file the fake trusts to `--key-out`
//! and prints the endpoints to put in the provider settings. Requests the
//! discovery documents do not allow are refused and printed on stderr.
//! With `--dns-server 127.0.0.1:5353`, Site Verification looks for a
//! domain's token by asking that server (non-recursive, over TCP); without
//! it no token is ever found. `--delegate SCOPE` (repeated) replaces the
//! scopes the tenant delegates to the service account (default: those the
//! README lists), to try what a narrower delegation refuses.

use std::time::Duration;

use mailform_google::fake::{FakeConfig, FakeGoogle};

fn usage() -> ! {
    eprintln!(
        "usage: google-fake [--port N] [--domain NAME]... [--admin ADDRESS]... [--key-out FILE] [--latency-ms N] [--dns-server ADDR:PORT] [--delegate SCOPE]..."
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = FakeConfig::default();
    let (mut port, mut key_out) = (8789u16, None);
    let (mut domains, mut admins, mut delegated) = (Vec::new(), Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--domain" => domains.push(value()),
            "--admin" => admins.push(value()),
            "--delegate" => delegated.push(value()),
            "--key-out" => key_out = Some(value()),
            "--dns-server" => config.dns_server = Some(value().parse().unwrap_or_else(|_| usage())),
            "--latency-ms" => {
                config.latency = Duration::from_millis(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    if !domains.is_empty() {
        config.domains = domains;
    }
    if !admins.is_empty() {
        config.admins = admins;
    }
    if !delegated.is_empty() {
        config.delegated_scopes = delegated;
    }
    let fake = match FakeGoogle::start_on(([127, 0, 0, 1], port).into(), config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    if let Some(path) = key_out {
        if let Err(e) = std::fs::write(&path, fake.service_account_key()) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1)
        }
        eprintln!("service-account key written to {path}");
    }
    println!("directory_endpoint {}", fake.url());
    println!("groups_settings_endpoint {}", fake.url());
    println!("gmail_endpoint {}", fake.url());
    println!("site_verification_endpoint {}", fake.url());
    println!("token_endpoint {}", fake.token_url());
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                let v = fake.violations();
                for line in &v[seen..] {
                    eprintln!("violation: {line}");
                }
                seen = v.len();
            }
        }
    }
}
