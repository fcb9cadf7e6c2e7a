//! Benchmark: plan (read) of a 5,000-record zone and apply of 500 changes
//! against the fake with 20 ms of latency per request, compared with the
//! lower bound in requests: ceil(records / 500) reads (the largest page
//! `DescribeDomainRecords` allows) and one request per record change
//! (Alidns has no batch write).
//!
//! ```sh
//! CARGO_TARGET_DIR=... cargo bench -p mailform-alidns
//! ```

use std::time::{Duration, Instant};

use mailform_alidns::fake::{FakeAlidns, FakeConfig};
use mailform_alidns::{AlidnsProvider, Config};
use mailform_contract::{ChangeOutcome, DnsChange, DnsProvider, RData, RecordSet, RecordType};

const ZONE: &str = "bench.example";
const RECORDS: usize = 5_000;
const CHANGES: usize = 500;
const LATENCY: Duration = Duration::from_millis(20);

fn main() {
    // `cargo bench` passes `--bench`; any filter argument is ignored.
    let fake = FakeAlidns::start_background(FakeConfig::default()).expect("fake starts");
    fake.add_domain(ZONE);
    for i in 0..RECORDS {
        fake.add_record(
            ZONE,
            &format!("r{i:05}"),
            "TXT",
            &format!("value {i}"),
            600,
            None,
        );
    }
    fake.set_latency(LATENCY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let p = AlidnsProvider::new(Config::new(
        fake.url(),
        fake.access_key_id(),
        fake.access_key_secret(),
    ));
    println!(
        "alidns provider vs fake ({} ms latency per request)",
        LATENCY.as_millis()
    );
    println!(
        "{:<32} {:>9} {:>12} {:>10}",
        "operation", "requests", "lower bound", "wall"
    );

    let started = Instant::now();
    let zone = rt.block_on(p.read_zone(ZONE)).expect("read");
    let read_wall = started.elapsed();
    assert_eq!(zone.records.len(), RECORDS);
    let reads = p.requests_sent();
    println!(
        "{:<32} {reads:>9} {:>12} {:>8}ms",
        format!("plan: read {RECORDS} records"),
        RECORDS.div_ceil(500),
        read_wall.as_millis()
    );

    // Half updates of existing sets (in place), half new sets.
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
                ttl: 600,
                values: vec![RData::txt(&format!("new {i}"))],
            },
        });
    }
    let started = Instant::now();
    let report = rt.block_on(p.apply_zone(ZONE, &changes));
    let apply_wall = started.elapsed();
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, ChangeOutcome::Applied)),
        "apply failed"
    );
    let writes = p.requests_sent() - reads;
    println!(
        "{:<32} {writes:>9} {CHANGES:>12} {:>8}ms",
        format!("apply: {CHANGES} changes"),
        apply_wall.as_millis()
    );
    assert_eq!(fake.requests(), reads + writes);
    let v = fake.violations();
    assert!(v.is_empty(), "violations: {v:?}");
    println!("violations: 0");
}
