//! The fake is honest: it refuses, and records, what the Graph
//! description and docs do not allow — so a provider test that passes
//! with no violations sent only requests Graph takes.

use mailform_http::{ClientConfig, HttpClient, Idempotence, Method, Url};
use mailform_m365::fake::{FakeConfig, FakeGraph};
use serde_json::{json, Value};

mod support;
use support::{call, token, token_for};

#[tokio::test]
async fn refuses_and_records_what_graph_does_not_allow() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let t = token(&fake, &http).await;

    // A valid request passes.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        "/users?$select=id,mail&$top=5",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // Unknown $select property, unknown parameter, $top out of range.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        "/users?$select=id,nonsense",
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(&fake, &http, &t, Method::GET, "/users?$frobnicate=1", None).await;
    assert_eq!(status, 400);
    assert_eq!(fake.violations().len(), 2);
    let (status, body) = call(&fake, &http, &t, Method::GET, "/users?$top=1000", None).await;
    assert_eq!(status, 400, "{body}");

    // A user without one of the five properties the docs require.
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/users",
        Some(
            json!({"accountEnabled": true, "displayName": "A", "userPrincipalName": "a@example.com",
                    "passwordProfile": {"password": "Passw0rd-long"}}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(fake.violations().last().unwrap().contains("mailNickname"));

    // Read-only proxyAddresses.
    let id = fake.add_user("b@example.com", "B");
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::PATCH,
        &format!("/users/{id}"),
        Some(json!({"proxyAddresses": ["smtp:bb@example.com"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{body}"
    );

    // $batch: more than 20 requests; a body without Content-Type.
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let before = fake.violations().len();
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/$batch",
        Some(json!({"requests": many})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(fake.violations().len(), before + 1);
    let (status, body) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/$batch",
        Some(json!({"requests": [
            {"id": "1", "method": "PATCH", "url": format!("/users/{id}"), "body": {"displayName": "Bee"}},
            {"id": "2", "method": "GET", "url": "/users?$select=id,bogus"},
            {"id": "3", "method": "GET", "url": format!("/users/{id}?$select=displayName")}
        ]})),
    )
    .await;
    assert_eq!(status, 200);
    let by_id = |i: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == i)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("1")["status"], 400);
    assert_eq!(by_id("2")["status"], 400);
    assert_eq!(by_id("3")["status"], 200);
    assert_eq!(by_id("3")["body"]["displayName"], "B");
    assert_eq!(fake.violations().len(), before + 3);

    // No token, a tampered paging token.
    let (status, _) = call(&fake, &http, "not-a-token", Method::GET, "/users", None).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &fake,
        &http,
        &t,
        Method::GET,
        "/users?$skiptoken=forged",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(fake.violations().last().unwrap().contains("skiptoken"));
}

async fn invoke(
    fake: &FakeGraph,
    http: &HttpClient,
    token: &str,
    anchor: &str,
    body: Value,
) -> (u16, Value) {
    let url = Url::parse(&format!(
        "{}/adminapi/beta/{}/InvokeCommand",
        fake.url(),
        fake.config().tenant_id
    ))
    .unwrap();
    let req = http
        .request(Method::POST, url)
        .header("authorization", format!("Bearer {token}"))
        .header("x-anchormailbox", anchor)
        .header("content-type", "application/json")
        .body(body.to_string());
    let r = http.send(req, Idempotence::NonIdempotent).await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_exchange_endpoint_checks_audience_anchor_and_cmdlets() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    let uid = fake.add_user("alice@example.com", "Alice");
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let graph = token(&fake, &http).await;
    let ex = token_for(&fake, &http, "https://outlook.office365.com/.default").await;
    let anchor = mailform_m365::exchange::anchor("contoso.onmicrosoft.com");
    let set = json!({"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {
        "Identity": "alice@example.com", "EmailAddresses": {
            "@odata.type": "#Exchange.GenericHashTable", "Add": ["smtp:a@example.com"]}}}});

    // A Graph token is not one for Exchange, and vice versa.
    let (status, body) = invoke(&fake, &http, &graph, &anchor, set.clone()).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = call(&fake, &http, &ex, Method::GET, "/users", None).await;
    assert_eq!(status, 401);
    // The anchor must be the system mailbox at the initial domain.
    let (status, body) = invoke(&fake, &http, &ex, "UPN:alice@example.com", set.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ErrorIncorrectRoutingHint"))
    );
    // Unknown cmdlets and parameters are refused.
    let (status, _) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        json!({"CmdletInput": {"CmdletName": "Remove-Mailbox", "Parameters": {"Identity": "alice@example.com"}}}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        json!({"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {"Identity": "alice@example.com", "HiddenFromAddressListsEnabled": true}}}),
    )
    .await;
    assert_eq!(status, 400);
    // A hashtable without its OData type does not bind (CIPP-API and the
    // V3 module's ports send it; see the `exchange` module doc).
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        json!({"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {
            "Identity": "alice@example.com", "EmailAddresses": {"add": ["smtp:a@example.com"]}}}}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ParameterBindingException")),
        "{body}"
    );
    assert_eq!(fake.violations().len(), 5, "{:#?}", fake.violations());
    fake.with_store(|s| assert_eq!(s.users[&uid].proxy_addresses.len(), 2));

    // The right call is carried out, on the store Graph reads.
    let (status, body) = invoke(&fake, &http, &ex, &anchor, set).await;
    assert_eq!(status, 200, "{body}");
    let (_, user) = call(
        &fake,
        &http,
        &graph,
        Method::GET,
        &format!("/users/{uid}?$select=proxyAddresses"),
        None,
    )
    .await;
    assert!(
        user["proxyAddresses"]
            .as_array()
            .unwrap()
            .contains(&json!("smtp:a@example.com")),
        "{user}"
    );
}

#[tokio::test]
async fn the_exchange_fake_checks_the_parameters_of_each_cmdlet_and_answers_as_exchange() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("alice@example.com", "Alice");
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let ex = token_for(&fake, &http, "https://outlook.office365.com/.default").await;
    let anchor = mailform_m365::exchange::anchor("contoso.onmicrosoft.com");
    let run = |cmdlet: &str, params: Value| json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});

    // A parameter the cmdlet does not have, worded as Exchange words it.
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "New-DistributionGroup",
            json!({"Name": "all@example.com", "PrimarySmtpAddress": "all@example.com", "ManagedBy": "alice@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "A parameter cannot be found that matches parameter name 'ManagedBy'."
    );
    assert_eq!(fake.violations().len(), 1, "{:#?}", fake.violations());

    // A shared mailbox at an address already taken.
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "New-Mailbox",
            json!({"Shared": true, "Name": "alice@example.com", "Alias": "alice", "DisplayName": "A", "PrimarySmtpAddress": "alice@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "ProxyAddressExistsException");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is already being used"));

    // A distribution list with an unknown member is not made.
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "New-DistributionGroup",
            json!({"Type": "Distribution", "Name": "all@example.com", "Alias": "all", "DisplayName": "All", "PrimarySmtpAddress": "all@example.com", "Members": ["nobody@example.com"]}),
        ),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(fake.with_store(|s| s.groups.is_empty()));

    // Made; then a member twice, and an unknown group.
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "New-DistributionGroup",
            json!({"Type": "Distribution", "Name": "all@example.com", "Alias": "all", "DisplayName": "All", "PrimarySmtpAddress": "all@example.com", "Members": ["alice@example.com"]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "Add-DistributionGroupMember",
            json!({"Identity": "all@example.com", "Member": "alice@example.com"}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MemberAlreadyExistsException");
    let (status, body) = invoke(
        &fake,
        &http,
        &ex,
        &anchor,
        run(
            "Remove-DistributionGroup",
            json!({"Identity": "none@example.com", "Confirm": false}),
        ),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ManagementObjectNotFoundException");
    assert_eq!(fake.violations().len(), 1, "{:#?}", fake.violations());
}

/// Graph's directory is eventually consistent: a user just created is
/// found by id at once but missing from the next listing (`listing_lag`,
/// 1 by default); seeded users and a settled tenant are listed.
#[tokio::test]
async fn a_new_user_is_missing_from_the_next_listing_but_found_by_id() {
    let fake = FakeGraph::start(FakeConfig::default()).await.unwrap();
    fake.add_user("seed@example.com", "Seed");
    let http = HttpClient::new(ClientConfig::default()).unwrap();
    let t = token(&fake, &http).await;
    let (status, created) = call(
        &fake,
        &http,
        &t,
        Method::POST,
        "/users",
        Some(json!({
            "accountEnabled": true, "displayName": "New", "mailNickname": "new",
            "userPrincipalName": "new@example.com",
            "passwordProfile": {"password": "Seed-Passw0rd", "forceChangePasswordNextSignIn": true},
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let listed = |body: &Value| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap().to_string())
            .collect()
    };
    let path = "/users?$select=id,userPrincipalName";
    let (_, first) = call(&fake, &http, &t, Method::GET, path, None).await;
    assert_eq!(listed(&first), ["seed@example.com"]);
    let (status, by_id) = call(&fake, &http, &t, Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["userPrincipalName"], "new@example.com");
    let (_, second) = call(&fake, &http, &t, Method::GET, path, None).await;
    assert_eq!(listed(&second), ["new@example.com", "seed@example.com"]);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
