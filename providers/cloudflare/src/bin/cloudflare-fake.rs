//! The fake Cloudflare API as a standalone server, for trying mailform by
//! hand and for benchmarks in another process:
//!
//! ```sh
//! cloudflare-fake --port 8787 --zone example.com --token secret --latency-ms 20
//! CLOUDFLARE_API_TOKEN=secret mailform plan   # with endpoint: http://127.0.0.1:8787/client/v4
//! ```
//!
//! Requests that do not match the official description are answered 400
//! and printed on stderr.

use std::time::Duration;

use mailform_cloudflare::fake::{FakeCloudflare, FakeConfig};

fn usage() -> ! {
    eprintln!(
        "usage: cloudflare-fake [--port N] [--zone NAME]... [--token TOKEN] [--latency-ms N] [--batch-limit N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = FakeConfig::default();
    let mut port = 8787u16;
    let mut zones = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--zone" => zones.push(value()),
            "--token" => config.token = value(),
            "--latency-ms" => {
                config.latency = Duration::from_millis(value().parse().unwrap_or_else(|_| usage()))
            }
            "--batch-limit" => config.batch_limit = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let fake = match FakeCloudflare::start_on(([127, 0, 0, 1], port).into(), config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    for z in &zones {
        let id = fake.add_zone(z);
        eprintln!("zone {z}: {id}");
    }
    println!("{}", fake.url());
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                let v = fake.violations();
                for line in &v[seen..] {
                    eprintln!("spec violation: {line}");
                }
                seen = v.len();
            }
        }
    }
}
