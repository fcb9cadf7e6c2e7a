//! Benchmark: 5,000 users against the fake Graph with 20 ms of latency per
//! HTTP request — the full apply onto an empty tenant, then the plan
//! (read) of it — with the HTTP requests sent compared with the lower
//! bound: for the read, ceil(users / 999) list pages (plus one page of
//! groups); for the apply, Graph has no bulk user create but `$batch`, 20
//! a request, so users / 20 — and users for the one-request-a-user way,
//! measured side by side (on a second empty tenant).
//!
//! Graph allows 3,000 writes per 150 s per app and tenant, so a real run
//! of this apply is bound by that (250 s for 5,000 users), not by
//! requests; the bench raises `writes_per_second` to measure the tool.
//!
//! ```sh
//! cargo bench -p mailform-m365
//! ```

use std::time::{Duration, Instant};

use mailform_contract::{
    ChangeOutcome, InitialPassword, MailChange, MailProvider, Mailbox, MailboxState, Secret,
};
use mailform_m365::fake::{FakeConfig, FakeGraph};
use mailform_m365::{Config, M365Provider};

const USERS: usize = 5_000;
const LATENCY: Duration = Duration::from_millis(20);
const DOMAIN: &str = "example.com";

fn main() {
    let fake = FakeGraph::start_background(FakeConfig::default()).expect("fake starts");
    fake.set_latency(LATENCY);
    let fake2 = FakeGraph::start_background(FakeConfig::default()).expect("fake starts");
    fake2.set_latency(LATENCY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let c = fake.config();
    let config = Config {
        tenant: c.tenant_id.clone(),
        client_id: c.client_id.clone(),
        client_secret: Some(c.client_secret.as_str().into()),
        graph_endpoint: Some(fake.url()),
        login_endpoint: Some(fake.url()),
        usage_location: Some("DE".into()),
        // Measure the tool, not Graph's write allowance (see above).
        writes_per_second: Some(10_000),
        base_dir: std::env::temp_dir(),
        ..Config::default()
    };
    let changes: Vec<MailChange> = (0..USERS)
        .map(|i| MailChange::CreateMailbox {
            new: Mailbox {
                id: None,
                address: format!("user{i:05}@{DOMAIN}"),
                display_name: Some(format!("User Number{i}")),
                state: MailboxState::Active,
                successor: None,
                aliases: vec![],
                kind: Default::default(),
                delegates: vec![],
            },
            password: Some(InitialPassword::Plain(Secret::new("Initial-Passw0rd!"))),
        })
        .collect();

    println!(
        "microsoft_365 provider vs fake ({} ms latency per HTTP request): {USERS} users",
        LATENCY.as_millis()
    );
    println!(
        "{:<28} {:>9} {:>12} {:>10}",
        "operation", "requests", "lower bound", "wall"
    );

    let apply = |p: M365Provider, fake: &FakeGraph, label: &str, bound: usize| {
        let before = fake.requests();
        let started = Instant::now();
        let report = rt.block_on(p.apply_domain(DOMAIN, &changes));
        let wall = started.elapsed();
        let failed: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| !matches!(o, ChangeOutcome::Applied))
            .collect();
        assert!(
            failed.is_empty(),
            "{} changes failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        );
        println!(
            "{:<28} {:>9} {:>12} {:>9.2}s",
            label,
            fake.requests() - before,
            bound,
            wall.as_secs_f64()
        );
    };
    apply(
        M365Provider::new(config.clone()),
        &fake,
        "apply, $batch of 20",
        USERS.div_ceil(20),
    );
    let mut config2 = config.clone();
    config2.graph_endpoint = Some(fake2.url());
    config2.login_endpoint = Some(fake2.url());
    apply(
        M365Provider::new(config2).with_sequential_user_creates(),
        &fake2,
        "apply, one request a user",
        USERS,
    );

    // A later plan, once Graph's listings have caught up with the creates.
    fake.settle();
    let p = M365Provider::new(config);
    let before = fake.requests();
    let started = Instant::now();
    // As the engine plans: the domain's status first, then its objects.
    let status = rt.block_on(p.domain_status(DOMAIN)).expect("status");
    assert!(status.is_ready());
    let live = rt.block_on(p.read_domain(DOMAIN)).expect("read");
    let read_wall = started.elapsed();
    assert_eq!(live.mailboxes.len(), USERS);
    println!(
        "{:<28} {:>9} {:>12} {:>9.2}s",
        "plan (read everything)",
        fake.requests() - before,
        // User pages, one group page, the tenant's domains (listed once a
        // run) and the domain's service records (the token request is
        // counted in the figure, not in the bound, as for the apply).
        USERS.div_ceil(999) + 3,
        read_wall.as_secs_f64()
    );
    println!(
        "(requests include one token request per run; Graph's write allowance alone bounds a real apply at {:.0} s)",
        USERS as f64 / 20.0
    );
    assert!(fake2.violations().is_empty());
    assert!(
        fake.violations().is_empty(),
        "{:?}",
        &fake.violations()[..3.min(fake.violations().len())]
    );
}
