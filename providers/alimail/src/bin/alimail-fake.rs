//! The fake Alibaba Mail Open API as a standalone server, for trying
//! mailform by hand:
//!
//! ```sh
//! alimail-fake --port 8789 --user alice@example.com --user bob@example.com
//! ALIMAIL_CLIENT_ID=... ALIMAIL_CLIENT_SECRET=... mailform plan
//! #   with `endpoint: http://127.0.0.1:8789` in the alimail provider settings
//! ```
//!
//! It prints the endpoint and the app's client id on stdout; the secret is
//! the one given with `--client-secret` (a fixed test value otherwise).

use std::time::Duration;

use mailform_alimail::fake::{FakeAlimail, FakeConfig};

fn usage() -> ! {
    eprintln!(
        "usage: alimail-fake [--port N] [--user EMAIL]... [--client-id ID] [--client-secret SECRET] [--latency-ms N] [--token-lifetime-s N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = FakeConfig::default();
    let mut port = 8789u16;
    let mut users = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--user" => users.push(value()),
            "--client-id" => config.client_id = value(),
            "--client-secret" => config.client_secret = value(),
            "--latency-ms" => {
                config.latency = Duration::from_millis(value().parse().unwrap_or_else(|_| usage()))
            }
            "--token-lifetime-s" => {
                config.token_lifetime =
                    Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    let fake = match FakeAlimail::start_on(([127, 0, 0, 1], port).into(), config).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    for u in &users {
        let name = u.split('@').next().unwrap_or(u);
        fake.add_root_user(u, name);
        eprintln!("user {u}");
    }
    println!("endpoint {}", fake.url());
    println!("client id {}", fake.client_id());
    let _ = tokio::signal::ctrl_c().await;
}
