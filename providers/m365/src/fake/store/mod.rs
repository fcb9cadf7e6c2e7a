//! The fake tenant: users, groups and members with Graph's rules — one
//! address space (a user's sign-in name and every object's proxy addresses
//! are unique: 400 `Request_BadRequest` "Another object with the same
//! value for property ... already exists."), sign-in names only in the
//! tenant's verified domains, keys that are an id or (for users) a sign-in
//! name (404 `Request_ResourceNotFound` otherwise), `proxyAddresses`
//! read-only, Microsoft 365 groups created at the default domain,
//! distribution lists and mail-enabled security groups not writable, and
//! deleted objects kept in the recycle bin (their addresses still taken),
//! Entra's password complexity rule (8+ characters, 3 of 4 kinds), and,
//! as a knob, a new user not yet found by member additions for a while
//! (directory replication: "Known issues" and "eventual consistency" in
//! Graph's docs).
//!
//! Exchange's view of the same objects is in `exchange`; domains, their
//! verification and DKIM configs in `domains`.
//!
//! Microsoft's documentation of these: "Create user", "Create group",
//! "Add members", "user resource type" (`proxyAddresses`: read-only) and
//! "Password policies and account restrictions in Microsoft Entra ID" on
//! learn.microsoft.com.

mod domains;
mod exchange;

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// An error answer: HTTP status, Graph `code`, message.
pub type Refusal = (u16, &'static str, String);
/// An Exchange error answer: HTTP status, exception name, message.
pub type ExchangeRefusal = (u16, &'static str, String);

#[derive(Debug, Clone, Default)]
pub struct FakeUser {
    pub id: String,
    pub user_principal_name: String,
    /// The primary SMTP address (set: the fake's users all have mailboxes).
    pub mail: Option<String>,
    pub display_name: String,
    pub mail_nickname: String,
    pub account_enabled: bool,
    pub proxy_addresses: Vec<String>,
    pub usage_location: Option<String>,
    pub password: String,
    /// Member additions referring to this user still answered 404 (not
    /// replicated yet).
    pub replicating: u32,
    /// skuIds assigned.
    pub licenses: Vec<String>,
    /// Exchange calls still answered 404 (mailbox not provisioned yet).
    pub exchange_pending: u32,
    /// Exchange: `RecipientTypeDetails` `SharedMailbox` (else `UserMailbox`).
    pub shared: bool,
    /// Exchange: `ForwardingSmtpAddress` (`smtp:...`), as set.
    pub forwarding: Option<String>,
    pub deliver_and_forward: bool,
    /// Exchange: user ids given Full Access to this mailbox.
    pub full_access: Vec<String>,
    /// `revokeSignInSessions` calls.
    pub sessions_revoked: u32,
    /// Exchange: `CustomAttribute15`.
    pub custom_attribute15: Option<String>,
    /// Exchange: the recipient's `Name` when Exchange made it
    /// (`New-Mailbox`), unique in the tenant.
    pub exchange_name: Option<String>,
    /// Listings of `/users` this user is still missing from (reachable
    /// by id meanwhile): Graph's eventual consistency.
    pub unlisted: u32,
}

/// A subscription: `prepaidUnits.enabled` seats, `consumedUnits` used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeSku {
    pub sku_id: String,
    pub sku_part_number: String,
    pub enabled: i64,
    pub consumed: i64,
}

#[derive(Debug, Clone, Default)]
pub struct FakeGroup {
    pub id: String,
    pub display_name: String,
    pub mail: Option<String>,
    pub mail_nickname: String,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    pub group_types: Vec<String>,
    pub proxy_addresses: Vec<String>,
    /// Member user ids, in the order added.
    pub members: Vec<String>,
    /// Exchange's `RequireSenderAuthenticationEnabled` (true: internal
    /// senders only, the default of new Microsoft 365 groups).
    pub require_sender_auth: bool,
    /// Exchange calls still answered 404 (not provisioned yet).
    pub exchange_pending: u32,
    /// Exchange: the recipient's `Name` when Exchange made it
    /// (`New-DistributionGroup`), unique in the tenant.
    pub exchange_name: Option<String>,
    /// Listings of `/groups` this group is still missing from (reachable
    /// by id meanwhile): Graph's eventual consistency.
    pub unlisted: u32,
}

impl FakeGroup {
    fn unified(&self) -> bool {
        self.group_types.iter().any(|t| t == "Unified")
    }
}

#[derive(Debug, Default)]
pub struct Store {
    /// Verified domains; the first is `default_domain` unless set.
    pub domains: Vec<String>,
    pub default_domain: String,
    /// The tenant's `*.onmicrosoft.com` domain: routing addresses.
    pub initial_domain: String,
    pub users: BTreeMap<String, FakeUser>,
    pub groups: BTreeMap<String, FakeGroup>,
    pub(crate) next_id: u64,
    /// Successful writes.
    pub writes: u64,
    /// How many member additions a user created through the API is not
    /// found by (Graph's eventual consistency).
    pub replication_lag: u32,
    /// `unlisted` of users and groups created through Graph
    /// ([`crate::fake::FakeConfig::listing_lag`]).
    pub listing_lag: u32,
    /// Addresses of deleted users and groups: kept, with the object, in the
    /// recycle bin for 30 days, so still taken.
    pub deleted_addresses: Vec<String>,
    pub skus: Vec<FakeSku>,
    /// `exchange_pending` of new users and groups.
    pub exchange_lag: u32,
    /// Domains added (`POST /domains`) and not verified yet, in the order
    /// added; verifying one moves it to `domains`.
    pub unverified: Vec<String>,
    /// `supportedServices` of domains that were added or patched through
    /// the API; a domain the fake started with has `Email` and
    /// `OfficeCommunicationsOnline`, as a tenant's usually do.
    pub supported_services: BTreeMap<String, Vec<String>>,
    /// TXT values at domains' apexes, as tests publish them
    /// ([`crate::fake::FakeGraph::publish_txt`]); consulted by `verify`
    /// when the fake has no `dns_server`.
    pub published_txt: BTreeMap<String, Vec<String>>,
    /// Domains another tenant holds: adding one is refused as existing.
    pub other_tenants_domains: Vec<String>,
    /// DKIM signing configs by domain (`New-DkimSigningConfig`): whether
    /// signing is enabled.
    pub dkim: BTreeMap<String, bool>,
    /// CNAME targets by absolute name, as tests publish them
    /// ([`crate::fake::FakeGraph::publish_cname`]); consulted by
    /// `Set-DkimSigningConfig -Enabled $true` when the fake has no
    /// `dns_server`.
    pub published_cnames: BTreeMap<String, String>,
    /// `exchange_domain_lag` of domains verified through the API: how many
    /// more `New-`/`Set-DkimSigningConfig` calls naming one are answered
    /// that it is not an accepted domain (Exchange Online learns of a
    /// newly verified domain minutes later).
    pub exchange_domain_pending: BTreeMap<String, u32>,
    /// What a domain verified through the API starts with in
    /// `exchange_domain_pending` ([`crate::fake::FakeConfig::exchange_domain_lag`]).
    pub exchange_domain_lag: u32,
}

fn exchange_not_found(identity: &str) -> ExchangeRefusal {
    (
        404,
        "ManagementObjectNotFoundException",
        format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found."
        ),
    )
}

/// Exchange's answer for a domain that is not one of the organisation's
/// accepted domains (plausible wording, not verbatim).
fn not_accepted(d: &str) -> ExchangeRefusal {
    (
        400,
        "ValidationException",
        format!("The domain '{d}' isn't an accepted domain of your organization."),
    )
}

/// Whether an object `unlisted` for that many more listings shows in
/// this one; a first page counts one down.
fn listed(unlisted: &mut u32, first_page: bool) -> bool {
    if *unlisted == 0 {
        return true;
    }
    if first_page {
        *unlisted -= 1;
    }
    false
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

fn bad(message: impl Into<String>) -> Refusal {
    (400, "Request_BadRequest", message.into())
}

fn not_found(key: &str) -> Refusal {
    (
        404,
        "Request_ResourceNotFound",
        format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

const MAIL_ENABLED_WRITES: &str = "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset or set to false.";

/// Entra ID's rule for cloud accounts: 8 to 256 characters, three of
/// lower case, upper case, digits and symbols.
fn complex_enough(p: &str) -> bool {
    let n = p.chars().count();
    let kinds = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    (8..=256).contains(&n) && kinds.iter().filter(|k| **k).count() >= 3
}

impl Store {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:08x}-5e1f-4a5e-9c1d-{:012x}",
            self.next_id,
            self.next_id * 7919
        )
    }

    /// Whether an object holds `address` (sign-in name, mail or proxy).
    fn taken(&self, address: &str) -> Option<&'static str> {
        let a = lower(address);
        if self.deleted_addresses.contains(&a) {
            return Some("proxyAddresses");
        }
        let proxy = |p: &[String]| {
            p.iter()
                .any(|x| lower(x.split_once(':').map_or(x, |s| s.1)) == a)
        };
        for u in self.users.values() {
            if u.user_principal_name == a {
                return Some("userPrincipalName");
            }
            if u.mail.as_deref() == Some(a.as_str()) || proxy(&u.proxy_addresses) {
                return Some("proxyAddresses");
            }
        }
        for g in self.groups.values() {
            if g.mail.as_deref() == Some(a.as_str()) || proxy(&g.proxy_addresses) {
                return Some("proxyAddresses");
            }
        }
        None
    }

    pub fn user_id(&self, key: &str) -> Result<String, Refusal> {
        if self.users.contains_key(key) {
            return Ok(key.to_string());
        }
        let k = lower(key);
        self.users
            .values()
            .find(|u| u.user_principal_name == k)
            .map(|u| u.id.clone())
            .ok_or_else(|| not_found(key))
    }

    pub fn group_id(&self, key: &str) -> Result<String, Refusal> {
        if self.groups.contains_key(key) {
            Ok(key.to_string())
        } else {
            Err(not_found(key))
        }
    }

    pub fn insert_user(&mut self, body: &Value) -> Result<Value, Refusal> {
        if body.get("proxyAddresses").is_some() {
            return Err(bad(
                "Property 'proxyAddresses' is read-only and cannot be set.",
            ));
        }
        for field in [
            "accountEnabled",
            "displayName",
            "mailNickname",
            "passwordProfile",
            "userPrincipalName",
        ] {
            if body.get(field).is_none_or(Value::is_null) {
                return Err(bad(format!(
                    "Invalid value specified for property '{field}' of resource 'User'."
                )));
            }
        }
        let upn = lower(body["userPrincipalName"].as_str().unwrap_or(""));
        let Some((_, domain)) = upn.split_once('@') else {
            return Err(bad(
                "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
            ));
        };
        if !self.domains.iter().any(|d| d == domain) {
            return Err(bad("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization."));
        }
        if let Some(prop) = self.taken(&upn) {
            return Err(bad(format!(
                "Another object with the same value for property {} already exists.",
                if prop == "userPrincipalName" {
                    "userPrincipalName"
                } else {
                    "proxyAddresses"
                }
            )));
        }
        let password = body["passwordProfile"]["password"].as_str().unwrap_or("");
        if !complex_enough(password) {
            return Err(bad("The specified password does not comply with password complexity requirements. Please provide a different password."));
        }
        let nick = body["mailNickname"].as_str().unwrap_or("").to_string();
        if nick.is_empty()
            || nick.len() > 64
            || nick
                .chars()
                .any(|c| !c.is_ascii() || crate::convert::USER_NICKNAME_FORBIDDEN.contains(c))
        {
            return Err(bad(
                "Invalid value specified for property 'mailNickname' of resource 'User'.",
            ));
        }
        let id = self.id();
        let user = FakeUser {
            id: id.clone(),
            mail: Some(upn.clone()),
            proxy_addresses: vec![
                format!("SMTP:{upn}"),
                format!("smtp:{nick}@{}", self.initial_domain),
            ],
            user_principal_name: upn,
            display_name: body["displayName"].as_str().unwrap_or("").into(),
            mail_nickname: nick,
            account_enabled: body["accountEnabled"].as_bool().unwrap_or(false),
            usage_location: body["usageLocation"].as_str().map(str::to_string),
            password: password.to_string(),
            replicating: self.replication_lag,
            licenses: vec![],
            exchange_pending: self.exchange_lag,
            unlisted: self.listing_lag,
            ..FakeUser::default()
        };
        let out = user_json(&user);
        self.users.insert(id, user);
        self.writes += 1;
        Ok(out)
    }

    pub fn patch_user(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        if body.get("proxyAddresses").is_some() {
            return Err(bad(
                "Property 'proxyAddresses' is read-only and cannot be set.",
            ));
        }
        let u = self.users.get_mut(&id).expect("user");
        if let Some(d) = body["displayName"].as_str() {
            u.display_name = d.into();
        }
        if let Some(e) = body["accountEnabled"].as_bool() {
            u.account_enabled = e;
        }
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn delete_user(&mut self, key: &str) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        let u = self.users.remove(&id).expect("user");
        self.deleted_addresses.push(u.user_principal_name.clone());
        self.deleted_addresses.extend(
            u.proxy_addresses
                .iter()
                .map(|p| lower(p.split_once(':').map_or(p, |x| x.1))),
        );
        for g in self.groups.values_mut() {
            g.members.retain(|m| *m != id);
        }
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn insert_group(&mut self, body: &Value) -> Result<Value, Refusal> {
        if body.get("proxyAddresses").is_some() {
            return Err(bad(
                "Property 'proxyAddresses' is read-only and cannot be set.",
            ));
        }
        for field in [
            "displayName",
            "mailEnabled",
            "mailNickname",
            "securityEnabled",
        ] {
            if body.get(field).is_none_or(Value::is_null) {
                return Err(bad(format!(
                    "Invalid value specified for property '{field}' of resource 'Group'."
                )));
            }
        }
        let types: Vec<String> = body["groupTypes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mail_enabled = body["mailEnabled"].as_bool().unwrap_or(false);
        let unified = types.iter().any(|t| t == "Unified");
        if mail_enabled && !unified {
            return Err(bad(MAIL_ENABLED_WRITES));
        }
        let nick = body["mailNickname"].as_str().unwrap_or("").to_string();
        if nick.is_empty()
            || nick
                .chars()
                .any(|c| !c.is_ascii() || "@()\\[]\";:.<>, ".contains(c))
        {
            return Err(bad(
                "Invalid value specified for property 'mailNickname' of resource 'Group'.",
            ));
        }
        let (mail, proxies) = if unified {
            let mail = format!("{}@{}", lower(&nick), self.default_domain);
            if self.taken(&mail).is_some() {
                return Err(bad("Another object with the same value for property proxyAddresses already exists."));
            }
            let mut proxies = vec![format!("SMTP:{mail}")];
            if self.default_domain != self.initial_domain {
                proxies.push(format!("smtp:{}@{}", lower(&nick), self.initial_domain));
            }
            (Some(mail), proxies)
        } else {
            (None, vec![])
        };
        let id = self.id();
        let g = FakeGroup {
            id: id.clone(),
            display_name: body["displayName"].as_str().unwrap_or("").into(),
            mail,
            mail_nickname: nick,
            mail_enabled,
            security_enabled: body["securityEnabled"].as_bool().unwrap_or(false),
            group_types: types,
            proxy_addresses: proxies,
            members: vec![],
            require_sender_auth: true,
            exchange_pending: self.exchange_lag,
            exchange_name: None,
            unlisted: self.listing_lag,
        };
        let out = group_json(&g);
        self.groups.insert(id, g);
        self.writes += 1;
        Ok(out)
    }

    /// A distribution list or mail-enabled security group, as Exchange
    /// makes them (for seeding).
    pub fn insert_exchange_group(&mut self, address: &str, name: &str, security: bool) -> String {
        let id = self.id();
        let a = lower(address);
        self.groups.insert(
            id.clone(),
            FakeGroup {
                id: id.clone(),
                display_name: name.into(),
                mail: Some(a.clone()),
                mail_nickname: a.split('@').next().unwrap_or("").into(),
                mail_enabled: true,
                security_enabled: security,
                group_types: vec![],
                proxy_addresses: vec![format!("SMTP:{a}")],
                members: vec![],
                require_sender_auth: true,
                exchange_pending: 0,
                exchange_name: None,
                unlisted: 0,
            },
        );
        id
    }

    fn writable_group(&mut self, key: &str) -> Result<&mut FakeGroup, Refusal> {
        let id = self.group_id(key)?;
        let g = self.groups.get_mut(&id).expect("group");
        if g.mail_enabled && !g.unified() {
            return Err(bad(MAIL_ENABLED_WRITES));
        }
        Ok(g)
    }

    pub fn patch_group(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        if body.get("proxyAddresses").is_some() {
            return Err(bad(
                "Property 'proxyAddresses' is read-only and cannot be set.",
            ));
        }
        let g = self.writable_group(key)?;
        if let Some(n) = body["displayName"].as_str() {
            g.display_name = n.into();
        }
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn delete_group(&mut self, key: &str) -> Result<Value, Refusal> {
        let id = self.writable_group(key)?.id.clone();
        let g = self.groups.remove(&id).expect("group");
        self.deleted_addresses.extend(
            g.proxy_addresses
                .iter()
                .map(|p| lower(p.split_once(':').map_or(p, |x| x.1))),
        );
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn add_member(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let reference = body["@odata.id"].as_str().unwrap_or("");
        let Some((_, uid)) = reference.rsplit_once("/directoryObjects/") else {
            return Err(bad(format!(
                "Invalid URL format specified in @odata.id: {reference}"
            )));
        };
        if !reference.contains("/v1.0/directoryObjects/") {
            return Err(bad(format!(
                "Invalid URL format specified in @odata.id: {reference}"
            )));
        }
        match self.users.get_mut(uid) {
            None => return Err(not_found(uid)),
            Some(u) if u.replicating > 0 => {
                u.replicating -= 1;
                return Err(not_found(uid));
            }
            Some(_) => {}
        }
        let uid = uid.to_string();
        let g = self.writable_group(key)?;
        if g.members.contains(&uid) {
            return Err(bad("One or more added object references already exist for the following modified properties: 'members'."));
        }
        g.members.push(uid);
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn remove_member(&mut self, key: &str, member: &str) -> Result<Value, Refusal> {
        let g = self.writable_group(key)?;
        let before = g.members.len();
        g.members.retain(|m| m != member);
        if g.members.len() == before {
            return Err(not_found(member));
        }
        self.writes += 1;
        Ok(Value::Null)
    }

    pub fn users(&self) -> Vec<Value> {
        let mut v: Vec<&FakeUser> = self.users.values().collect();
        v.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
        v.into_iter().map(user_json).collect()
    }

    /// `GET /users`: the users a listing shows now; `first_page` (a
    /// listing, not its next link) counts down the lag of those missing.
    pub fn list_users(&mut self, first_page: bool) -> Vec<Value> {
        let mut v: Vec<&mut FakeUser> = self.users.values_mut().collect();
        v.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
        v.into_iter()
            .filter_map(|u| listed(&mut u.unlisted, first_page).then(|| user_json(u)))
            .collect()
    }

    /// `GET /groups`, as [`Store::list_users`].
    pub fn list_groups(&mut self, first_page: bool) -> Vec<Value> {
        let mut v: Vec<&mut FakeGroup> = self.groups.values_mut().collect();
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        v.into_iter()
            .filter_map(|g| listed(&mut g.unlisted, first_page).then(|| group_json(g)))
            .collect()
    }

    /// Every object listed from now on (time has passed).
    pub fn settle(&mut self) {
        self.users.values_mut().for_each(|u| u.unlisted = 0);
        self.groups.values_mut().for_each(|g| g.unlisted = 0);
    }

    pub fn groups(&self) -> Vec<Value> {
        let mut v: Vec<&FakeGroup> = self.groups.values().collect();
        v.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        v.into_iter().map(group_json).collect()
    }

    pub fn group(&self, key: &str) -> Result<Value, Refusal> {
        let id = self.group_id(key)?;
        Ok(group_json(&self.groups[&id]))
    }

    pub fn members(&self, key: &str) -> Result<Vec<Value>, Refusal> {
        let id = self.group_id(key)?;
        Ok(self.groups[&id]
            .members
            .iter()
            .filter_map(|m| self.users.get(m))
            .map(|u| {
                let mut v = user_json(u);
                v["@odata.type"] = json!("#microsoft.graph.user");
                v
            })
            .collect())
    }

    pub fn subscribed_skus(&self) -> Vec<Value> {
        self.skus
            .iter()
            .map(|k| json!({
                "id": format!("{}_{}", "7d3c1a52-0f6b-4c8e-9a41-2b5e6f7a8c90", k.sku_id),
                "skuId": k.sku_id,
                "skuPartNumber": k.sku_part_number,
                "consumedUnits": k.consumed,
                "capabilityStatus": "Enabled",
                "appliesTo": "User",
                "prepaidUnits": {"enabled": k.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
            }))
            .collect()
    }

    /// `assignLicense`: a seat must be free and the user must have a usage
    /// location (Graph's documented preconditions; the messages are
    /// plausible, not verbatim).
    pub fn assign_license(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        let adds: Vec<String> = body["addLicenses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["skuId"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if self.users[&id].usage_location.is_none() {
            return Err(bad(
                "License assignment cannot be done for user with invalid usage location.",
            ));
        }
        for sku in &adds {
            let Some(k) = self.skus.iter().find(|k| k.sku_id == *sku) else {
                return Err(bad(format!(
                    "License {sku} does not correspond to a valid company License."
                )));
            };
            if k.enabled - k.consumed <= 0 && !self.users[&id].licenses.contains(sku) {
                return Err(bad(format!(
                    "Subscription with SKU {sku} does not have any available licenses."
                )));
            }
        }
        let removes: Vec<String> = body["removeLicenses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for sku in &removes {
            if !self.users[&id].licenses.contains(sku) {
                return Err(bad(format!(
                    "User does not have a corresponding license {sku} to remove."
                )));
            }
        }
        for sku in removes {
            let u = self.users.get_mut(&id).expect("user");
            u.licenses.retain(|l| *l != sku);
            if let Some(k) = self.skus.iter_mut().find(|k| k.sku_id == sku) {
                k.consumed -= 1;
            }
        }
        for sku in adds {
            let u = self.users.get_mut(&id).expect("user");
            if !u.licenses.contains(&sku) {
                u.licenses.push(sku.clone());
                if let Some(k) = self.skus.iter_mut().find(|k| k.sku_id == sku) {
                    k.consumed += 1;
                }
            }
        }
        self.writes += 1;
        Ok(user_json(&self.users[&id]))
    }
}

fn user_json(u: &FakeUser) -> Value {
    json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "mail": u.mail,
        "displayName": u.display_name,
        "mailNickname": u.mail_nickname,
        "accountEnabled": u.account_enabled,
        "proxyAddresses": u.proxy_addresses,
        "usageLocation": u.usage_location,
        "businessPhones": [],
        "assignedLicenses": u.licenses.iter().map(|l| json!({"skuId": l, "disabledPlans": []})).collect::<Vec<_>>(),
    })
}

fn group_json(g: &FakeGroup) -> Value {
    json!({
        "id": g.id,
        "displayName": g.display_name,
        "mail": g.mail,
        "mailNickname": g.mail_nickname,
        "mailEnabled": g.mail_enabled,
        "securityEnabled": g.security_enabled,
        "groupTypes": g.group_types,
        "proxyAddresses": g.proxy_addresses,
    })
}
