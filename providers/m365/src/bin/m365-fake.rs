//! The fake Microsoft identity platform and Graph as a standalone server,
//! for trying mailform by hand and for benchmarks in another process:
//!
//! ```sh
//! m365-fake --port 8790 --domain example.com [--dns-server 127.0.0.1:5353]
//! ```
//!
//! `--dns-server`: the DNS server domain verification asks (without
//! recursion) for the `MS=ms…` TXT record; without it no domain added
//! through the API can be verified.
//!
//! It prints the settings to put in the `microsoft_365` provider (the
//! secret goes in `M365_CLIENT_SECRET`). Requests the Graph description
//! does not allow are refused and printed on stderr.

use std::time::Duration;

use mailform_m365::fake::{FakeConfig, FakeGraph};

fn usage() -> ! {
    eprintln!(
        "usage: m365-fake [--port N] [--domain NAME]... [--latency-ms N] [--dns-server ADDR:PORT]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = FakeConfig::default();
    let mut port = 8790u16;
    let mut domains = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--domain" => domains.push(value()),
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
    let fake = match FakeGraph::start_on(([127, 0, 0, 1], port).into(), config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    let c = fake.config();
    println!("tenant {}", c.tenant_id);
    println!("client_id {}", c.client_id);
    println!("M365_CLIENT_SECRET={}", c.client_secret);
    println!("graph_endpoint {}", fake.url());
    println!("login_endpoint {}", fake.url());
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
