//! Benchmark: plan (read) of a 10,000-record zone and apply of 1,000
//! changes against the fake with 20 ms of latency per request, compared
//! with the lower bound in requests.
//!
//! ```sh
//! cargo bench -p mailform-cloudflare
//! ```
//!
//! The fake runs in this process; the client side runs in a child process
//! (this executable again, `CF_BENCH_CHILD` set) so that its peak memory is
//! measured alone, through `wait4`'s resource usage.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailform_cloudflare::fake::{FakeCloudflare, FakeConfig};
use mailform_cloudflare::{CloudflareProvider, Config};
use mailform_contract::{ChangeOutcome, DnsChange, DnsProvider, RData, RecordSet, RecordType};
use serde_json::json;

const ZONE: &str = "bench.example";
const RECORDS: usize = 10_000;
const CHANGES: usize = 1_000;
const LATENCY: Duration = Duration::from_millis(20);

fn main() {
    // `cargo bench` passes `--bench`; any filter argument is ignored.
    if let Ok(mode) = std::env::var("CF_BENCH_CHILD") {
        child(&mode);
        return;
    }
    let fake = FakeCloudflare::start_background(FakeConfig::default()).expect("fake starts");
    fake.add_zone(ZONE);
    for i in 0..RECORDS {
        fake.add_record(ZONE, json!({"type": "TXT", "name": format!("r{i:05}"), "content": format!("\"value {i}\""), "ttl": 3600}));
    }
    fake.set_latency(LATENCY);
    let page = mailform_cloudflare::config::DEFAULT_PAGE_SIZE as usize;
    let limit = mailform_cloudflare::config::DEFAULT_BATCH_LIMIT as usize;
    println!(
        "cloudflare provider vs fake ({} ms latency per request)",
        LATENCY.as_millis()
    );
    println!(
        "{:<34} {:>9} {:>12} {:>10} {:>14}",
        "operation", "requests", "lower bound", "wall", "peak RSS"
    );
    for (mode, label, bound) in [
        (
            "read",
            format!("plan: read {RECORDS} records"),
            1 + RECORDS.div_ceil(page),
        ),
        (
            "apply",
            format!("apply: {CHANGES} changes"),
            CHANGES.div_ceil(limit),
        ),
    ] {
        let before = fake.requests();
        let (out, maxrss_kb) = run_child(mode, &fake);
        let mut parts = out.split_whitespace();
        let requests: u64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("child reports requests");
        let millis: u64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .expect("child reports time");
        println!(
            "{label:<34} {requests:>9} {bound:>12} {:>8}ms {:>11.1}MiB",
            millis,
            maxrss_kb as f64 / 1024.0
        );
        assert!(fake.requests() >= before + requests);
    }
    let v = fake.violations();
    assert!(v.is_empty(), "spec violations: {v:?}");
    println!("spec violations: 0");
}

/// Runs this executable as the client; returns its stdout and peak RSS (KiB).
// The child is reaped by `wait4` (for its resource usage), not `wait()`.
#[allow(clippy::zombie_processes)]
fn run_child(mode: &str, fake: &FakeCloudflare) -> (String, i64) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .env("CF_BENCH_CHILD", mode)
        .env("CF_BENCH_URL", fake.url())
        .env("CF_BENCH_TOKEN", fake.token())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child starts");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .expect("child output");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {out}"
    );
    (out, usage.ru_maxrss)
}

/// The client side: prints `<requests> <milliseconds>` of the measured part.
fn child(mode: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let url = std::env::var("CF_BENCH_URL").expect("url");
        let token = std::env::var("CF_BENCH_TOKEN").expect("token");
        let p = CloudflareProvider::new(Config::new(url, token));
        let started = Instant::now();
        let zone = p.read_zone(ZONE).await.expect("read");
        assert_eq!(zone.records.len(), RECORDS);
        if mode == "read" {
            println!("{} {}", p.requests_sent(), started.elapsed().as_millis());
            return;
        }
        // Half updates of existing sets, half new sets.
        let mut changes = Vec::with_capacity(CHANGES);
        for (i, old) in zone.records.iter().take(CHANGES / 2).enumerate() {
            let mut new = old.clone();
            new.values = vec![RData::txt(&format!("updated {i}"))];
            changes.push(DnsChange::Update {
                old: old.clone(),
                new,
            });
        }
        for i in 0..CHANGES - CHANGES / 2 {
            changes.push(DnsChange::Create {
                new: RecordSet {
                    name: format!("new{i:05}.{ZONE}"),
                    rtype: RecordType::Txt,
                    ttl: 300,
                    values: vec![RData::txt(&format!("new {i}"))],
                },
            });
        }
        let before = p.requests_sent();
        let started = Instant::now();
        let report = p.apply_zone(ZONE, &changes).await;
        let elapsed = started.elapsed();
        assert!(
            report
                .outcomes
                .iter()
                .all(|o| matches!(o, ChangeOutcome::Applied)),
            "apply failed"
        );
        println!("{} {}", p.requests_sent() - before, elapsed.as_millis());
    });
}
