//! The Microsoft 365 provider against the fake identity platform and
//! Graph: reads with paging, every kind of change, batching, error
//! messages that name the fix, and surviving throttling and lost answers
//! without duplicating writes.

use std::time::Duration;

use mailform_contract::{
    ChangeOutcome, Group, InitialPassword, MailChange, MailProvider, Mailbox, MailboxState,
    ProviderError, Secret,
};
use mailform_http::Retry;
use mailform_m365::fake::{FakeConfig, FakeGraph, Fault, FaultKind};
use mailform_m365::{Config, M365Provider};

mod support;
use support::{applied, count, failed, no_violations};

const DOMAIN: &str = "example.com";

fn config(fake: &FakeGraph) -> Config {
    Config {
        tenant: fake.config().tenant_id.clone(),
        client_id: fake.config().client_id.clone(),
        client_secret: Some(fake.config().client_secret.as_str().into()),
        graph_endpoint: Some(fake.url()),
        login_endpoint: Some(fake.url()),
        usage_location: Some("DE".into()),
        base_dir: std::env::temp_dir(),
        ..Config::default()
    }
}

fn retry() -> Retry {
    Retry {
        max_attempts: 4,
        base: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

fn provider(fake: &FakeGraph) -> M365Provider {
    M365Provider::with_retry(config(fake), retry())
}

fn mailbox(address: &str, name: &str) -> Mailbox {
    Mailbox {
        id: None,
        address: address.into(),
        display_name: Some(name.into()),
        state: MailboxState::Active,
        successor: None,
        aliases: vec![],
        kind: Default::default(),
        delegates: vec![],
    }
}

fn password() -> Option<InitialPassword> {
    Some(InitialPassword::Plain(Secret::new("Initial-Passw0rd!")))
}

fn group(address: &str, name: &str, members: &[&str]) -> Group {
    Group {
        id: None,
        address: address.into(),
        display_name: Some(name.into()),
        members: members.iter().map(|s| s.to_string()).collect(),
        aliases: vec![],
        allow_external: false,
        kind: Default::default(),
    }
}

#[tokio::test]
async fn users_are_created_read_back_updated_suspended_and_deleted() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let empty = p.read_domain(DOMAIN).await.unwrap();
    assert!(empty.mailboxes.is_empty() && empty.groups.is_empty());

    let alice = mailbox("alice@example.com", "Alice Example");
    let bob = mailbox("bob@example.com", "Bob");
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: alice.clone(),
                    password: password(),
                },
                MailChange::CreateMailbox {
                    new: bob.clone(),
                    password: password(),
                },
            ],
        )
        .await;
    applied(&report);
    fake.with_store(|s| {
        let u = s
            .users
            .values()
            .find(|u| u.user_principal_name == "alice@example.com")
            .unwrap();
        assert_eq!(u.mail_nickname, "alice");
        assert_eq!(u.usage_location.as_deref(), Some("DE"));
        assert_eq!(u.password, "Initial-Passw0rd!");
        assert!(u.account_enabled);
    });

    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes.len(), 2);
    // The routing address Exchange adds (…@contoso.onmicrosoft.com) is not
    // reported as an alias, so the read compares equal.
    assert!(live.mailboxes[0].same_as(&alice), "{:?}", live.mailboxes[0]);
    assert!(live.mailboxes[1].same_as(&bob), "{:?}", live.mailboxes[1]);
    assert!(live.mailboxes[0].id.is_some());

    let mut alice2 = live.mailboxes[0].clone();
    alice2.display_name = Some("Alice Newname".into());
    let mut bob2 = live.mailboxes[1].clone();
    bob2.state = MailboxState::Suspended;
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::UpdateMailbox {
                    old: live.mailboxes[0].clone(),
                    new: alice2.clone(),
                },
                MailChange::UpdateMailbox {
                    old: live.mailboxes[1].clone(),
                    new: bob2.clone(),
                },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(
        live.mailboxes[0].same_as(&alice2),
        "{:?}",
        live.mailboxes[0]
    );
    assert!(live.mailboxes[1].same_as(&bob2), "{:?}", live.mailboxes[1]);
    assert_eq!(live.mailboxes[1].state, MailboxState::Suspended);

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::DeleteMailbox {
                old: live.mailboxes[1].clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let addresses: Vec<&str> = live.mailboxes.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(addresses, ["alice@example.com"]);
    no_violations(&fake);
    // One token for the whole run: cached, not fetched per call.
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn without_exchange_aliases_are_not_managed_and_not_written() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let id = fake.add_user("carol@example.com", "Carol");
    fake.add_proxy_address(&id, "c@example.com");
    let p = provider(&fake);
    // Graph only reads them: without Exchange they are not managed, so
    // the planner refuses declared ones (naming the setting) and a read
    // leaves them out.
    let caps = p.capabilities();
    assert!(!caps.mailbox_aliases && !caps.group_aliases && !caps.offboarding);
    assert!(caps
        .settings_hint
        .unwrap()
        .contains("exchange: {enabled: true}"));
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.mailboxes[0].aliases.is_empty());
    // A plan from elsewhere is still refused before anything is written.

    let mut more = live.mailboxes[0].clone();
    more.aliases.push("carol.x@example.com".into());
    let mut dave = mailbox("dave@example.com", "Dave");
    dave.aliases = vec!["d@example.com".into()];
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: live.mailboxes[0].clone(),
                new: more,
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("Exchange Online"), "{e}");
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: dave,
                password: password(),
            }],
        )
        .await;
    assert!(matches!(failed(&report, 0), ProviderError::Unsupported(_)));
    assert_eq!(fake.writes(), writes, "nothing was written");
    no_violations(&fake);
}

/// Users created in a `$batch` and made members of a new group in the
/// same apply, while Graph's listings do not show them yet: their ids
/// come from the create answers, and the read finds them by id.
#[tokio::test]
async fn members_created_in_the_same_apply_are_resolved_from_the_create_answers() {
    let fake = FakeGraph::start(FakeConfig {
        listing_lag: 3,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    fake.add_user("old@example.com", "Old");
    let p = provider(&fake);
    let new = ["ann@example.com", "bob@example.com", "cyd@example.com"];
    let mut changes: Vec<MailChange> = new
        .iter()
        .map(|a| MailChange::CreateMailbox {
            new: mailbox(a, a),
            password: password(),
        })
        .collect();
    let team = group(
        "team@example.com",
        "Team",
        &[
            "ann@example.com",
            "bob@example.com",
            "cyd@example.com",
            "old@example.com",
        ],
    );
    changes.push(MailChange::CreateGroup { new: team.clone() });
    let report = p.apply_domain(DOMAIN, &changes).await;
    applied(&report);
    // The three creates went out as one batch.
    assert_eq!(count(&fake, "POST /users"), 3);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let addresses: Vec<&str> = live.mailboxes.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "ann@example.com",
            "bob@example.com",
            "cyd@example.com",
            "old@example.com"
        ]
    );
    assert_eq!(live.groups.len(), 1);
    let mut want = team.clone();
    want.members.sort();
    assert!(live.groups[0].same_as(&want), "{:?}", live.groups[0]);
    no_violations(&fake);
}

#[tokio::test]
async fn groups_and_members_are_managed_in_batches() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let mut members = Vec::new();
    for i in 0..25 {
        let a = format!("user{i:02}@example.com");
        fake.add_user(&a, &format!("User {i}"));
        members.push(a);
    }
    let p = provider(&fake);
    let erin = mailbox("erin@example.com", "Erin");
    let first: Vec<&str> = members.iter().take(22).map(String::as_str).collect();
    let mut with_erin = first.clone();
    with_erin.push("erin@example.com");
    let sales = group("sales@example.com", "Sales", &with_erin);
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: erin,
                    password: password(),
                },
                MailChange::CreateGroup { new: sales.clone() },
            ],
        )
        .await;
    applied(&report);
    // 23 member additions: two batches (20 + 3), not 23 requests.
    assert_eq!(count(&fake, "POST /$batch"), 2);
    assert_eq!(count(&fake, "POST /groups/{id}/members/$ref"), 23);

    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.groups.len(), 1);
    let mut want = sales.clone();
    want.members.sort();
    assert!(live.groups[0].same_as(&want), "{:?}", live.groups[0]);
    assert!(live.groups[0].id.is_some());

    // Rename, drop two members, add three.
    let mut sales2 = live.groups[0].clone();
    sales2.display_name = Some("Sales & Marketing".into());
    sales2
        .members
        .retain(|m| m != "user00@example.com" && m != "erin@example.com");
    sales2.members.extend(members[22..].iter().cloned());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: live.groups[0].clone(),
                new: sales2.clone(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(
        count(&fake, "DELETE /groups/{id}/members/{member-id}/$ref"),
        2
    );
    let live = p.read_domain(DOMAIN).await.unwrap();
    let mut want = sales2.clone();
    want.members.sort();
    assert!(live.groups[0].same_as(&want), "{:?}", live.groups[0]);

    // An outside address is refused before anything is written.
    let mut outside = live.groups[0].clone();
    outside.members.push("partner@other.example".into());
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: live.groups[0].clone(),
                new: outside,
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(
        e.contains("partner@other.example") && e.contains("users of the tenant"),
        "{e}"
    );
    assert_eq!(fake.writes(), writes);

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::DeleteGroup {
                old: live.groups[0].clone(),
            }],
        )
        .await;
    applied(&report);
    assert!(p.read_domain(DOMAIN).await.unwrap().groups.is_empty());
    no_violations(&fake);
}

#[tokio::test]
async fn groups_outside_graphs_reach_are_refused_clearly() {
    let fake = FakeGraph::start(FakeConfig {
        domains: vec!["example.com".into(), "example.de".into()],
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    fake.add_user("frank@example.com", "Frank");
    fake.add_exchange_group("all@example.com", "Everyone", false);
    let p = provider(&fake);
    let live = p.read_domain(DOMAIN).await.unwrap();
    // A distribution list is read: it holds the address.
    assert_eq!(live.groups.len(), 1);
    assert_eq!(live.groups[0].address, "all@example.com");
    assert!(!live.groups[0].allow_external);

    let mut dl = live.groups[0].clone();
    dl.members = vec!["frank@example.com".into()];
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateGroup {
                old: live.groups[0].clone(),
                new: dl,
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(
        matches!(e, ProviderError::Unsupported(_)) && e.to_string().contains("distribution list"),
        "{e}"
    );

    // Graph creates groups at the default domain only.
    let report = p
        .apply_domain(
            "example.de",
            &[MailChange::CreateGroup {
                new: group("vertrieb@example.de", "Vertrieb", &[]),
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(e.contains("default domain (example.com)"), "{e}");

    // Outside senders are an Exchange setting.
    let mut open = group("open@example.com", "Open", &[]);
    open.allow_external = true;
    let report = p
        .apply_domain(DOMAIN, &[MailChange::CreateGroup { new: open }])
        .await;
    assert!(failed(&report, 0)
        .to_string()
        .contains("RequireSenderAuthenticationEnabled"));
    no_violations(&fake);
}

#[tokio::test]
async fn reads_every_page_of_a_large_tenant() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..2100 {
        ids.push(fake.add_user(&format!("u{i:04}@example.com"), &format!("User {i}")));
    }
    // Users of other domains of the tenant are not this domain's.
    fake.add_user("x@contoso.onmicrosoft.com", "Elsewhere");
    // One group with more members than a page, and 24 small ones.
    fake.add_group("all", "All", &ids[..1001]);
    for i in 0..24 {
        fake.add_group(&format!("team{i:02}"), &format!("Team {i}"), &ids[i..i + 2]);
    }
    let p = provider(&fake);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes.len(), 2100);
    assert_eq!(count(&fake, "GET /users"), 3, "999 users a page");
    assert_eq!(live.groups.len(), 25);
    let all = live
        .groups
        .iter()
        .find(|g| g.address == "all@example.com")
        .unwrap();
    assert_eq!(all.members.len(), 1001);
    // First pages of 25 member lists in two batches; the second page of
    // the long one by its next link.
    assert_eq!(count(&fake, "POST /$batch"), 2);
    assert_eq!(count(&fake, "GET /groups/{id}/members"), 26);
    no_violations(&fake);
}

#[tokio::test]
async fn a_bad_secret_names_the_aadsts_code_and_the_fix() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let secret = "wrong~secret.Value_zzzzzzzzzzzzzzzzzzzz";
    let p = M365Provider::with_retry(
        Config {
            client_secret: Some(secret.into()),
            ..config(&fake)
        },
        retry(),
    );
    let err = p.read_domain(DOMAIN).await.unwrap_err();
    assert!(matches!(err, ProviderError::Permission(_)), "{err}");
    let e = err.to_string();
    assert!(e.contains("AADSTS7000215"), "{e}");
    assert!(e.contains("Certificates & secrets"), "{e}");
    assert!(!e.contains(secret), "{e}");

    let p = M365Provider::with_retry(
        Config {
            client_id: "00000000-0000-0000-0000-000000000bad".into(),
            ..config(&fake)
        },
        retry(),
    );
    let e = p.read_domain(DOMAIN).await.unwrap_err().to_string();
    assert!(e.contains("AADSTS700016") && e.contains("client_id"), "{e}");

    let p = M365Provider::with_retry(
        Config {
            tenant: "nope.onmicrosoft.com".into(),
            ..config(&fake)
        },
        retry(),
    );
    let e = p.read_domain(DOMAIN).await.unwrap_err().to_string();
    assert!(e.contains("AADSTS90002") && e.contains("tenant"), "{e}");
    no_violations(&fake);
}

#[tokio::test]
async fn a_missing_permission_is_named_with_where_to_grant_it() {
    let fake = FakeGraph::start(FakeConfig {
        roles: vec![
            "User.Read.All".into(),
            "Group.Read.All".into(),
            "Domain.Read.All".into(),
        ],
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    // Reads work with read permissions.
    p.read_domain(DOMAIN).await.unwrap();
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: mailbox("gina@example.com", "Gina"),
                    password: password(),
                },
                MailChange::CreateMailbox {
                    new: mailbox("hank@example.com", "Hank"),
                    password: password(),
                },
            ],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Permission(_)), "{e}");
    let e = e.to_string();
    assert!(e.contains("User.ReadWrite.All"), "{e}");
    assert!(e.contains("Grant admin consent"), "{e}");
    // Both creates went in one `$batch`, so both were tried and refused.
    assert!(matches!(
        report.outcomes[1],
        ChangeOutcome::Failed(ProviderError::Permission(_))
    ));

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateGroup {
                new: group("g@example.com", "G", &[]),
            }],
        )
        .await;
    assert!(failed(&report, 0)
        .to_string()
        .contains("Group.ReadWrite.All"));
    no_violations(&fake);
}

#[tokio::test]
async fn throttling_is_waited_out_in_requests_and_batches() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("ivy@example.com", "Ivy");
    fake.add_user("jack@example.com", "Jack");
    let p = provider(&fake);
    fake.inject(Fault::on(Some("GET /users"), FaultKind::TooManyRequests).times(2));
    fake.inject(Fault::on(Some("POST /users"), FaultKind::TooManyRequests));
    p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(count(&fake, "GET /users"), 3);
    // A write answered 429 was not processed: it is sent again.
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("kim@example.com", "Kim"),
                password: password(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(count(&fake, "POST /users"), 2);

    // One batched member addition throttled: only it is sent again.
    fake.inject(
        Fault::on(
            Some("POST /groups/{id}/members/$ref"),
            FaultKind::TooManyRequests,
        )
        .skip(1),
    );
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateGroup {
                new: group(
                    "team@example.com",
                    "Team",
                    &["ivy@example.com", "jack@example.com"],
                ),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(count(&fake, "POST /$batch"), 2);
    assert_eq!(count(&fake, "POST /groups/{id}/members/$ref"), 3);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(
        live.groups[0].members,
        ["ivy@example.com", "jack@example.com"]
    );
    no_violations(&fake);
}

#[tokio::test]
async fn a_failed_read_aborts() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("liz@example.com", "Liz");
    let id = fake.with_store(|s| {
        s.insert_group(&serde_json::json!({
            "displayName": "Ops", "mailEnabled": true, "mailNickname": "ops",
            "securityEnabled": false, "groupTypes": ["Unified"]
        }))
        .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    });
    assert!(!id.is_empty());
    // Made long ago: listed.
    fake.settle();
    let p = provider(&fake);
    // Members of a group cannot be read: the whole read fails.
    fake.inject(Fault::on(Some("GET /groups/{id}/members"), FaultKind::ServerError).times(10));
    let err = p.read_domain(DOMAIN).await.unwrap_err();
    assert!(matches!(err, ProviderError::Service(_)), "{err}");
    // Reads are retried: 4 attempts in all.
    assert_eq!(count(&fake, "GET /groups/{id}/members"), 4);
    no_violations(&fake);
}

#[tokio::test]
async fn a_write_answered_5xx_is_not_repeated() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    fake.inject(Fault::on(
        Some("POST /users"),
        FaultKind::ProcessedThenServerError,
    ));
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: mailbox("mo@example.com", "Mo"),
                    password: password(),
                },
                MailChange::CreateMailbox {
                    new: mailbox("ned@example.com", "Ned"),
                    password: password(),
                },
            ],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Unknown(_)), "{e}");
    assert!(e.to_string().contains("run plan"), "{e}");
    // Both went in one `$batch`: Ned's create stands on its own.
    assert!(matches!(report.outcomes[1], ChangeOutcome::Applied));
    assert_eq!(count(&fake, "POST /users"), 2, "Mo's not sent again");
    assert_eq!(fake.writes(), writes + 2);

    // Applying again after a plan: the user exists, so a create conflicts.
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("mo@example.com", "Mo"),
                password: password(),
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("already exists"), "{e}");

    // A batched member addition answered 503 is not repeated either.
    fake.add_user("olga@example.com", "Olga");
    fake.inject(Fault::on(
        Some("POST /groups/{id}/members/$ref"),
        FaultKind::ServerError,
    ));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateGroup {
                new: group("crew@example.com", "Crew", &["olga@example.com"]),
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(
        e.contains("the group was created") && e.contains("olga@example.com"),
        "{e}"
    );
    assert_eq!(count(&fake, "POST /groups/{id}/members/$ref"), 1);
    no_violations(&fake);
}

#[tokio::test]
async fn passwords_hashes_and_secrets() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let caps = p.capabilities();
    assert!(caps.password.hash_schemes.is_empty() && caps.password.plain && caps.password.required);
    assert!(!caps.standalone_aliases && !caps.group_external_senders && !caps.mailbox_aliases);
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("pat@example.com", "Pat"),
                password: Some(InitialPassword::Hash(Secret::new(
                    "{SHA512-CRYPT}$6$salt$hash",
                ))),
            }],
        )
        .await;
    let e = failed(&report, 0).to_string();
    assert!(
        e.contains("no password hashes") && !e.contains("$6$salt"),
        "{e}"
    );

    // Graph's complexity refusal is passed on, the password not.
    let weak = "weakpass";
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("quinn@example.com", "Quinn"),
                password: Some(InitialPassword::Plain(Secret::new(weak))),
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Rejected(_)), "{e}");
    let text = format!("{e} {e:?} {}", serde_json::to_string(&report).unwrap());
    assert!(text.contains("complexity"), "{text}");
    assert!(!text.contains(weak), "{text}");
    assert!(!text.contains(&fake.config().client_secret), "{text}");

    // A domain the tenant has not verified.
    let report = p
        .apply_domain(
            "other.example",
            &[MailChange::CreateMailbox {
                new: mailbox("r@other.example", "R"),
                password: password(),
            }],
        )
        .await;
    assert!(failed(&report, 0).to_string().contains("verified domain"));
    no_violations(&fake);
}

#[tokio::test]
async fn no_secret_and_no_token_in_any_error() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    p.read_domain(DOMAIN).await.unwrap();
    // Graph fails after a token was issued: the error carries neither.
    fake.inject(Fault::on(Some("GET /users"), FaultKind::ServerError).times(10));
    let err = p.read_domain(DOMAIN).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&fake.config().client_secret), "{text}");
    assert!(!text.contains("eyJ0eXAi"), "{text}");
    // Debug of the settings hides a literal secret.
    let c = config(&fake);
    assert!(!format!("{c:?}").contains(&fake.config().client_secret));
    // Without a secret at all, the message says where to set one.
    let p = M365Provider::with_retry(
        Config {
            client_secret: Some("${env:MAILFORM_TEST_M365_SURELY_UNSET}".into()),
            ..config(&fake)
        },
        retry(),
    );
    let e = p.read_domain(DOMAIN).await.unwrap_err().to_string();
    assert!(e.contains("MAILFORM_TEST_M365_SURELY_UNSET"), "{e}");
}

#[tokio::test]
async fn a_new_user_not_yet_replicated_is_added_once_it_is() {
    let fake = FakeGraph::start(FakeConfig {
        replication_lag: 2,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: mailbox("sam@example.com", "Sam"),
                    password: password(),
                },
                MailChange::CreateGroup {
                    new: group("desk@example.com", "Desk", &["sam@example.com"]),
                },
            ],
        )
        .await;
    applied(&report);
    // Two 404s while the directory replicates, then the addition.
    assert_eq!(count(&fake, "POST /groups/{id}/members/$ref"), 3);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.groups[0].members, ["sam@example.com"]);
    no_violations(&fake);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    p.read_domain(DOMAIN).await.unwrap();
    fake.revoke_tokens();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("tess@example.com", "Tess"),
                password: password(),
            }],
        )
        .await;
    applied(&report);
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(p.read_domain(DOMAIN).await.unwrap().mailboxes.len(), 1);
    no_violations(&fake);
}

#[tokio::test]
async fn a_deleted_users_address_stays_taken_while_in_the_recycle_bin() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("uma@example.com", "Uma");
    let p = provider(&fake);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::DeleteMailbox {
                    old: live.mailboxes[0].clone(),
                },
                MailChange::CreateMailbox {
                    new: mailbox("uma@example.com", "Uma Again"),
                    password: password(),
                },
            ],
        )
        .await;
    assert!(matches!(report.outcomes[0], ChangeOutcome::Applied));
    let e = failed(&report, 1);
    assert!(matches!(e, ProviderError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("recycle bin"), "{e}");
    no_violations(&fake);
}

#[tokio::test]
async fn a_write_that_times_out_is_not_repeated() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = M365Provider::with_retry(
        Config {
            timeout_seconds: Some(1),
            ..config(&fake)
        },
        retry(),
    );
    p.read_domain(DOMAIN).await.unwrap();
    fake.inject(Fault::on(
        Some("POST /users"),
        FaultKind::Slow(Duration::from_millis(2500)),
    ));
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("vic@example.com", "Vic"),
                password: password(),
            }],
        )
        .await;
    let e = failed(&report, 0);
    assert!(matches!(e, ProviderError::Unknown(_)), "{e}");
    assert!(e.to_string().contains("may have been carried out"), "{e}");
    assert_eq!(count(&fake, "POST /users"), 1, "not sent again");
    no_violations(&fake);
}

#[tokio::test]
async fn user_creates_go_twenty_a_batch_and_fail_one_by_one() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("u05@example.com", "Taken");
    let p = provider(&fake);
    let changes: Vec<MailChange> = (0..45)
        .map(|i| MailChange::CreateMailbox {
            new: mailbox(&format!("u{i:02}@example.com"), "U"),
            password: password(),
        })
        .collect();
    let report = p.apply_domain(DOMAIN, &changes).await;
    // The first batch: all but the taken address created; the rest of the
    // apply stops there.
    let e = failed(&report, 5);
    assert!(matches!(e, ProviderError::Conflict(_)), "{e}");
    for (i, o) in report.outcomes.iter().enumerate() {
        match i {
            5 => {}
            0..20 => assert!(matches!(o, ChangeOutcome::Applied), "{i}: {o:?}"),
            _ => assert!(matches!(o, ChangeOutcome::NotAttempted(_)), "{i}: {o:?}"),
        }
    }
    assert_eq!(count(&fake, "POST /$batch"), 1);
    assert_eq!(count(&fake, "POST /users"), 20);

    // Again without the taken one: 25 left, two batches.
    let rest: Vec<MailChange> = changes[20..].to_vec();
    let report = p.apply_domain(DOMAIN, &rest).await;
    applied(&report);
    assert_eq!(count(&fake, "POST /$batch"), 3);
    assert_eq!(fake.with_store(|s| s.users.len()), 45);
    no_violations(&fake);
}

#[tokio::test]
async fn a_domain_the_tenant_lacks_fails_the_plan_with_the_fix() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let e = p
        .read_domain("other.example")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a verified domain") && e.contains("Settings → Domains"),
        "{e}"
    );
    no_violations(&fake);
}
