//! The Google Workspace provider against the fake APIs: reads with paging,
//! every kind of change, the scopes asked for, error messages, and
//! surviving quota refusals and lost answers without duplicating writes.

use mailform_contract::{
    ChangeOutcome, Group, MailChange, MailProvider, Mailbox, MailboxState, ProviderError,
};
use mailform_google::auth::scopes;
use mailform_google::fake::{FakeConfig, FakeGoogle, Fault, FaultKind};

mod support;

use support::{applied, hash, mailbox, provider};

const DOMAIN: &str = "example.com";

#[tokio::test]
async fn creates_reads_back_updates_and_deletes() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let empty = p.read_domain(DOMAIN).await.unwrap();
    assert!(empty.mailboxes.is_empty() && empty.groups.is_empty());

    let alice = mailbox(
        "alice@example.com",
        "Alice Example",
        &["a@example.com", "ali@example.com"],
    );
    let bob = mailbox("bob@example.com", "Bob Van Builder", &[]);
    let sales = Group {
        id: None,
        address: "sales@example.com".into(),
        display_name: Some("Sales".into()),
        members: vec!["alice@example.com".into(), "partner@other.example".into()],
        aliases: vec!["vertrieb@example.com".into()],
        allow_external: true,
        kind: Default::default(),
    };
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: alice.clone(),
                    password: hash(),
                },
                MailChange::CreateMailbox {
                    new: bob.clone(),
                    password: hash(),
                },
                MailChange::CreateGroup { new: sales.clone() },
            ],
        )
        .await;
    applied(&report);

    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes.len(), 2);
    let live_alice = &live.mailboxes[0];
    assert!(live_alice.same_as(&alice), "{live_alice:?}");
    assert!(live_alice.id.is_some());
    assert!(live.mailboxes[1].same_as(&bob), "{:?}", live.mailboxes[1]);
    let live_sales = &live.groups[0];
    let mut want = sales.clone();
    want.members.sort();
    assert!(live_sales.same_as(&want), "{live_sales:?}");

    // Update: rename, suspend, swap an alias; group name, members and
    // posting.
    let mut alice2 = live_alice.clone();
    alice2.display_name = Some("Alice Newname".into());
    alice2.state = MailboxState::Suspended;
    alice2.aliases = vec!["a@example.com".into(), "alice.e@example.com".into()];
    let mut sales2 = live_sales.clone();
    sales2.display_name = Some("Sales Team".into());
    sales2.members = vec!["bob@example.com".into(), "partner@other.example".into()];
    sales2.allow_external = false;
    sales2.aliases = vec![];
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::UpdateMailbox {
                    old: live_alice.clone(),
                    new: alice2.clone(),
                },
                MailChange::UpdateGroup {
                    old: live_sales.clone(),
                    new: sales2.clone(),
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
    assert!(live.groups[0].same_as(&sales2), "{:?}", live.groups[0]);

    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::DeleteMailbox {
                    old: live.mailboxes[1].clone(),
                },
                MailChange::DeleteGroup {
                    old: live.groups[0].clone(),
                },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes.len(), 1);
    assert!(live.groups.is_empty());
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    // One token for reads, one for writes: cached, not fetched per call.
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn reads_every_page() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    for i in 0..1203 {
        fake.add_user(&format!("user{i:04}@example.com"), "User", &format!("N{i}"));
    }
    let p = provider(&fake);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes.len(), 1203);
    let lists = fake
        .request_log()
        .iter()
        .filter(|m| *m == "directory.users.list")
        .count();
    assert_eq!(lists, 3, "500 users a page");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn missing_delegation_names_the_client_id_and_scopes() {
    let fake = FakeGoogle::start(FakeConfig {
        delegated_scopes: vec![scopes::USER_READONLY.into()],
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    let err = p.read_domain(DOMAIN).await.unwrap_err().to_string();
    assert!(err.contains("104211111111111111111"), "{err}");
    assert!(err.contains("Domain Wide Delegation"), "{err}");
    assert!(err.contains(scopes::GROUP_READONLY), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

#[tokio::test]
async fn plans_ask_only_for_read_scopes() {
    let fake = FakeGoogle::start(FakeConfig {
        delegated_scopes: scopes::READ.iter().map(|s| s.to_string()).collect(),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    p.read_domain(DOMAIN).await.unwrap();
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("c@example.com", "C D", &[]),
                password: hash(),
            }],
        )
        .await;
    let ChangeOutcome::Failed(ProviderError::Permission(m)) = &report.outcomes[0] else {
        panic!("{report:?}");
    };
    assert!(m.contains(scopes::USER), "{m}");
}

#[tokio::test]
async fn quota_refusals_are_retried_and_lost_answers_never_repeated() {
    let fake = FakeGoogle::start(FakeConfig {
        settle_requests: 2,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let p = provider(&fake);
    fake.inject(Fault::on(Some("directory.users.list"), FaultKind::RateLimit).times(2));
    fake.inject(Fault::on(
        Some("directory.groups.list"),
        FaultKind::TooManyRequests,
    ));
    fake.inject(Fault::on(
        Some("directory.members.list"),
        FaultKind::ServerError,
    ));
    p.read_domain(DOMAIN).await.unwrap();

    // A new user refuses alias edits for a while ("User creation is not
    // complete"): retried until it settles.
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("d@example.com", "D E", &["dd@example.com"]),
                password: hash(),
            }],
        )
        .await;
    applied(&report);
    let alias_tries = fake
        .request_log()
        .iter()
        .filter(|m| *m == "directory.users.aliases.insert")
        .count();
    assert_eq!(
        alias_tries, 3,
        "two refusals while the user settles, then success"
    );

    // The user is created but the answer is lost: reported, not resent.
    fake.inject(Fault::on(
        Some("directory.users.insert"),
        FaultKind::ProcessedThenServerError,
    ));
    let writes = fake.writes();
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: mailbox("e@example.com", "E F", &[]),
                    password: hash(),
                },
                MailChange::CreateMailbox {
                    new: mailbox("f@example.com", "F G", &[]),
                    password: hash(),
                },
            ],
        )
        .await;
    assert!(
        matches!(
            report.outcomes[0],
            ChangeOutcome::Failed(ProviderError::Unknown(_))
        ),
        "{report:?}"
    );
    // Independent changes go on: the other user is created.
    assert!(
        matches!(report.outcomes[1], ChangeOutcome::Applied),
        "{report:?}"
    );
    assert_eq!(
        fake.writes(),
        writes + 2,
        "the lost insert was not repeated"
    );
    let live = p.read_domain(DOMAIN).await.unwrap();
    let addresses: Vec<&str> = live.mailboxes.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(
        addresses,
        ["d@example.com", "e@example.com", "f@example.com"]
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_failed_read_fails_and_refusals_are_clear() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    fake.inject(Fault::on(Some("directory.groups.list"), FaultKind::ServerError).times(10));
    assert!(p.read_domain(DOMAIN).await.is_err());

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("g@other.example", "G H", &[]),
                password: hash(),
            }],
        )
        .await;
    let ChangeOutcome::Failed(ProviderError::Rejected(m)) = &report.outcomes[0] else {
        panic!("{report:?}");
    };
    assert!(m.contains("not a domain of this account"), "{m}");

    fake.add_user("taken@example.com", "Tak", "En");
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("taken@example.com", "T E", &[]),
                password: hash(),
            }],
        )
        .await;
    assert!(
        matches!(
            report.outcomes[0],
            ChangeOutcome::Failed(ProviderError::Conflict(_))
        ),
        "{report:?}"
    );

    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::CreateMailbox {
                new: mailbox("h@example.com", "Cher", &[]),
                password: hash(),
            }],
        )
        .await;
    let ChangeOutcome::Failed(e) = &report.outcomes[0] else {
        panic!("{report:?}");
    };
    assert!(e.to_string().contains("given and a family name"), "{e}");
}

#[tokio::test]
async fn offboarding_keeps_mail_flowing_to_the_successor() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let alice = mailbox("alice@example.com", "Alice Example", &["a@example.com"]);
    let bob = mailbox("bob@example.com", "Bob Builder", &[]);
    let report = p
        .apply_domain(
            DOMAIN,
            &[
                MailChange::CreateMailbox {
                    new: alice.clone(),
                    password: hash(),
                },
                MailChange::CreateMailbox {
                    new: bob.clone(),
                    password: hash(),
                },
            ],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    let old = live.mailboxes[0].clone();
    let mut gone = old.clone();
    gone.state = MailboxState::Offboarded;
    gone.successor = Some("bob@example.com".into());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: old.clone(),
                new: gone.clone(),
            }],
        )
        .await;
    applied(&report);
    fake.with_store(|s| {
        let a = s
            .users
            .values()
            .find(|u| u.primary_email == "alice@example.com")
            .unwrap();
        assert_eq!(a.org_unit_path, "/Offboarded");
        // Not suspended: Google rejects mail to suspended users.
        assert!(!a.suspended);
        assert_eq!(a.auto_forwarding.as_deref(), Some("bob@example.com"));
        assert_eq!((a.password_changes, a.sign_outs), (1, 1));
        assert_eq!(s.transfers.len(), 1);
        let bob_id = s
            .users
            .values()
            .find(|u| u.primary_email == "bob@example.com")
            .unwrap()
            .id
            .clone();
        assert_eq!(s.transfers[0]["newOwnerUserId"], bob_id.as_str());
        assert_eq!(s.transfers[0]["oldOwnerUserId"], a.id.as_str());
    });
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.mailboxes[0].same_as(&gone), "{:?}", live.mailboxes[0]);

    // Reinstated: forwarding off, back in the usual unit.
    let back = Mailbox {
        state: MailboxState::Active,
        successor: None,
        ..gone.clone()
    };
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: live.mailboxes[0].clone(),
                new: back.clone(),
            }],
        )
        .await;
    applied(&report);
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert!(live.mailboxes[0].same_as(&back), "{:?}", live.mailboxes[0]);
    fake.with_store(|s| {
        let a = s
            .users
            .values()
            .find(|u| u.primary_email == "alice@example.com")
            .unwrap();
        assert_eq!(a.org_unit_path, "/");
        assert!(a.auto_forwarding.is_none());
    });

    // A successor outside the tenant must confirm first: nothing is moved,
    // so the next plan offers the offboarding again.
    let mut outside = live.mailboxes[1].clone();
    let bob_live = outside.clone();
    outside.state = MailboxState::Offboarded;
    outside.successor = Some("partner@other.example".into());
    let report = p
        .apply_domain(
            DOMAIN,
            &[MailChange::UpdateMailbox {
                old: bob_live,
                new: outside,
            }],
        )
        .await;
    let ChangeOutcome::Failed(e) = &report.outcomes[0] else {
        panic!("{report:?}");
    };
    assert!(e.to_string().contains("has not confirmed"), "{e}");
    let live = p.read_domain(DOMAIN).await.unwrap();
    assert_eq!(live.mailboxes[1].state, MailboxState::Active);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn large_applies_are_split_into_batches_of_a_thousand() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let changes: Vec<MailChange> = (0..1500)
        .map(|i| MailChange::CreateMailbox {
            new: mailbox(&format!("u{i:04}@example.com"), "Some User", &[]),
            password: hash(),
        })
        .collect();
    let report = p.apply_domain(DOMAIN, &changes).await;
    applied(&report);
    let batches = fake.request_log().iter().filter(|m| *m == "batch").count();
    assert_eq!(batches, 2, "1,500 calls in batches of at most 1,000");
    assert_eq!(fake.with_store(|s| s.users.len()), 1500);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn the_fake_refuses_two_alias_edits_of_one_user_in_one_batch() {
    // The provider never sends that (see apply.rs); the fake must still
    // behave as Google does, or the provider's care would go untested.
    use mailform_google::batch::{self, Call};
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    fake.add_user("a@example.com", "A", "B");
    let (http, token) = support::token(&fake, None, scopes::WRITE).await;
    let calls = [
        Call {
            method: "POST",
            path: "/admin/directory/v1/users/a@example.com/aliases".into(),
            body: Some(serde_json::json!({"alias": "x@example.com"})),
        },
        Call {
            method: "POST",
            path: "/admin/directory/v1/users/a@example.com/aliases".into(),
            body: Some(serde_json::json!({"alias": "y@example.com"})),
        },
    ];
    let boundary = batch::new_boundary();
    let response = http
        .request(
            mailform_http::Method::POST,
            format!("{}/batch/admin/directory_v1", fake.url())
                .parse()
                .unwrap(),
        )
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/mixed; boundary={boundary}"),
        )
        .body(batch::encode(&calls, &boundary))
        .send()
        .await
        .unwrap();
    let ct = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.bytes().await.unwrap();
    let parts = batch::parts(&body, &batch::boundary(&ct).unwrap()).unwrap();
    let codes: Vec<u16> = parts
        .iter()
        .map(|p| batch::http_response(&p.body).unwrap().0)
        .collect();
    assert_eq!(codes, [200, 412]);
}

#[tokio::test]
async fn a_domain_the_tenant_lacks_fails_the_plan_with_the_fix() {
    let fake = FakeGoogle::start(FakeConfig::default()).await.unwrap();
    let p = provider(&fake);
    let e = p
        .read_domain("other.example")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a domain of the Google Workspace tenant") && e.contains("Manage domains"),
        "{e}"
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
