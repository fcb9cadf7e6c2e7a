//! The fake Alidns API as a standalone server, for trying mailform by hand
//! and for benchmarks in another process:
//!
//! ```sh
//! alidns-fake --port 8788 --domain example.com --latency-ms 20
//! ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=... mailform plan
//! #   with `endpoint: http://127.0.0.1:8788/` in the alidns provider settings
//! ```
//!
//! It prints the endpoint and the AccessKey ID on stdout; the secret is the
//! one given with `--key-secret` (a fixed test value otherwise). Requests
//! that do not match the API metadata are refused and printed on stderr.

use std::time::Duration;

use mailform_alidns::fake::{FakeAlidns, FakeConfig};

fn usage() -> ! {
    eprintln!(
        "usage: alidns-fake [--port N] [--domain NAME]... [--key-id ID] [--key-secret SECRET] [--latency-ms N] [--min-ttl N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = FakeConfig::default();
    let mut port = 8788u16;
    let mut domains = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--domain" => domains.push(value()),
            "--key-id" => config.access_key_id = value(),
            "--key-secret" => config.access_key_secret = value(),
            "--latency-ms" => {
                config.latency = Duration::from_millis(value().parse().unwrap_or_else(|_| usage()))
            }
            "--min-ttl" => config.min_ttl = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let fake = match FakeAlidns::start_on(([127, 0, 0, 1], port).into(), config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    for d in &domains {
        fake.add_domain(d);
        eprintln!("domain {d}");
    }
    println!("endpoint {}", fake.url());
    println!("access key id {}", fake.access_key_id());
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
