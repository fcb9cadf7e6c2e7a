//! Benchmark: a 5,000-user tenant (2,000 user aliases, 200 groups of 50
//! members) against the fake with 20 ms of latency per HTTP request —
//! the full apply onto an empty tenant, then the plan (read) of it —
//! with the HTTP requests sent, compared with the lower bound: for a read
//! as the engine makes it (`domain_status`, then `read_domain` of the
//! ready domain, which does not check it again), the token, the domain
//! check, ceil(users / 500) + ceil(groups / 200)
//! list pages, and one batch of member lists and one of settings per
//! 1,000 groups; for the apply, one
//! batch per 1,000 calls of each stage (user and group inserts; then
//! aliases and members; then group settings through their own endpoint).
//!
//! Every inner call still counts against Google's quota (2,400 queries a
//! minute by default), so a real run of this apply is bound by the quota,
//! not by requests: the figure printed as "quota-bound" is calls / quota.
//!
//! ```sh
//! cargo bench -p mailform-google
//! ```

use std::time::{Duration, Instant};

use mailform_contract::{
    ChangeOutcome, Group, InitialPassword, MailChange, MailProvider, Mailbox, MailboxState, Secret,
};
use mailform_google::fake::{FakeConfig, FakeGoogle};
use mailform_google::{Config, GoogleProvider};

const USERS: usize = 5_000;
const ALIASES: usize = 2_000;
const GROUPS: usize = 200;
const MEMBERS: usize = 50;
const LATENCY: Duration = Duration::from_millis(20);
const DOMAIN: &str = "example.com";

fn main() {
    let fake = FakeGoogle::start_background(FakeConfig::default()).expect("fake starts");
    fake.set_latency(LATENCY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config {
        admin: "admin@example.com".into(),
        credentials: Some(fake.service_account_key().into()),
        directory_endpoint: Some(fake.url()),
        groups_settings_endpoint: Some(fake.url()),
        gmail_endpoint: Some(fake.url()),
        token_endpoint: Some(fake.token_url()),
        // Measure the tool, not the quota (see the module doc).
        queries_per_minute: Some(100_000),
        ..Config::default()
    };
    let hash =
        "{SHA512-CRYPT}$6$rounds=5000$benchsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
    let mut changes = Vec::new();
    for i in 0..USERS {
        changes.push(MailChange::CreateMailbox {
            new: Mailbox {
                id: None,
                address: format!("user{i:05}@{DOMAIN}"),
                display_name: Some(format!("User Number{i}")),
                state: MailboxState::Active,
                successor: None,
                aliases: if i < ALIASES {
                    vec![format!("alias{i:05}@{DOMAIN}")]
                } else {
                    vec![]
                },
                kind: Default::default(),
                delegates: vec![],
            },
            password: Some(InitialPassword::Hash(Secret::new(hash))),
        });
    }
    for g in 0..GROUPS {
        changes.push(MailChange::CreateGroup {
            new: Group {
                id: None,
                address: format!("group{g:03}@{DOMAIN}"),
                display_name: Some(format!("Group {g}")),
                members: (0..MEMBERS)
                    .map(|m| format!("user{:05}@{DOMAIN}", (g * MEMBERS + m) % USERS))
                    .collect(),
                aliases: vec![],
                allow_external: g % 2 == 0,
                kind: Default::default(),
            },
        });
    }
    let calls = USERS + ALIASES + GROUPS + GROUPS * MEMBERS + GROUPS;
    let stage1 = USERS + GROUPS;
    let stage2 = ALIASES + GROUPS * MEMBERS;
    let apply_bound = 1 + stage1.div_ceil(1000) + stage2.div_ceil(1000) + GROUPS.div_ceil(1000);
    // The token, the check that the domain is the tenant's, list pages,
    // and the member and settings batches.
    let read_bound = 2 + USERS.div_ceil(500) + GROUPS.div_ceil(200) + 2 * GROUPS.div_ceil(1000);

    println!(
        "google_workspace provider vs fake ({} ms latency per HTTP request): {USERS} users, {ALIASES} aliases, {GROUPS} groups x {MEMBERS} members",
        LATENCY.as_millis()
    );
    println!(
        "{:<28} {:>9} {:>12} {:>9} {:>10}",
        "operation", "requests", "lower bound", "calls", "wall"
    );

    let p = GoogleProvider::new(config.clone());
    let before = fake.requests();
    let started = Instant::now();
    let report = rt.block_on(p.apply_domain(DOMAIN, &changes));
    let apply_wall = started.elapsed();
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
        "{:<28} {:>9} {:>12} {:>9} {:>9.2}s",
        "apply (empty tenant)",
        fake.requests() - before,
        apply_bound,
        calls,
        apply_wall.as_secs_f64()
    );

    let p = GoogleProvider::new(config);
    let before = fake.requests();
    let started = Instant::now();
    let live = rt.block_on(async {
        let status = p.domain_status(DOMAIN).await.expect("domain status");
        assert!(status.is_ready(), "{status:?}");
        p.read_domain(DOMAIN).await
    });
    let live = live.expect("read");
    let read_wall = started.elapsed();
    assert_eq!(live.mailboxes.len(), USERS);
    assert_eq!(live.groups.len(), GROUPS);
    assert!(live.groups.iter().all(|g| g.members.len() == MEMBERS));
    println!(
        "{:<28} {:>9} {:>12} {:>9} {:>9.2}s",
        "plan (read everything)",
        fake.requests() - before,
        read_bound,
        1 + USERS.div_ceil(500) + GROUPS.div_ceil(200) + 2 * GROUPS,
        read_wall.as_secs_f64()
    );
    println!(
        "quota-bound apply at Google's default 2,400 queries/min: {:.1} min; one request per call at {} ms: {:.0} s",
        calls as f64 / 2400.0,
        LATENCY.as_millis(),
        calls as f64 * LATENCY.as_secs_f64()
    );
    assert!(
        fake.violations().is_empty(),
        "{:?}",
        &fake.violations()[..3.min(fake.violations().len())]
    );
}
