//! The fake tenant: users, groups, members and aliases with the Directory
//! API's rules — one address space shared by primaries and aliases (409
//! `duplicate` on a taken address), keys that are an id, a primary address
//! or an alias (404 `notFound` otherwise), addresses only in the tenant's
//! domains, and stable paging in address order; the tenant's domains,
//! verified or not, and the sites verified through Site Verification.

use std::collections::BTreeMap;

use base64::Engine;

use serde_json::{json, Value};

/// An error answer: HTTP status, Google `reason`, message.
pub type Refusal = (u16, &'static str, String);

#[derive(Debug, Clone, Default)]
pub struct FakeUser {
    pub id: String,
    pub primary_email: String,
    pub given_name: String,
    pub family_name: String,
    pub suspended: bool,
    pub aliases: Vec<String>,
    pub org_unit_path: String,
    pub hash_function: Option<String>,
    /// Requests that touch this user and are refused with "User creation
    /// is not complete" before it settles.
    pub settling: u32,
    /// Gmail forwarding addresses: (address, `accepted` or `pending`).
    pub forwarding_addresses: Vec<(String, String)>,
    /// Where automatic forwarding sends mail, when on.
    pub auto_forwarding: Option<String>,
    /// `signOut` calls received.
    pub sign_outs: u32,
    /// Password changes after creation.
    pub password_changes: u32,
    /// The owner must choose a new password at first sign-in.
    pub change_password_at_next_login: bool,
}

#[derive(Debug, Clone, Default)]
pub struct FakeMember {
    pub email: String,
    pub role: String,
    pub member_type: String,
}

#[derive(Debug, Clone, Default)]
pub struct FakeGroup {
    pub id: String,
    pub email: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub members: Vec<FakeMember>,
    pub who_can_post: String,
}

#[derive(Debug, Default)]
pub struct Store {
    /// The tenant's verified domains; addresses may be in these only.
    pub domains: Vec<String>,
    /// Domain aliases → their parent domain. An alias's addresses are its
    /// parent's users' and groups'.
    pub domain_aliases: BTreeMap<String, String>,
    /// Domain aliases inserted before their verification (`verified: false`).
    pub unverified_aliases: Vec<String>,
    /// Domains inserted before their verification (`verified: false`).
    pub unverified_domains: Vec<String>,
    /// Domains verified through Site Verification → their owners.
    pub verified_sites: BTreeMap<String, Vec<String>>,
    /// TXT values served at a domain's apex, when no DNS server is set.
    pub published_txt: BTreeMap<String, Vec<String>>,
    /// Organisational units that exist.
    pub org_units: Vec<String>,
    /// Data transfers started.
    pub transfers: Vec<Value>,
    pub users: BTreeMap<String, FakeUser>,
    pub groups: BTreeMap<String, FakeGroup>,
    pub(crate) next_id: u64,
    /// Requests a new user answers "creation is not complete" to.
    pub settle_requests: u32,
    /// Successful writes.
    pub writes: u64,
}

fn not_found(what: &str) -> Refusal {
    (404, "notFound", format!("Resource Not Found: {what}"))
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

impl Store {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("1{:020}", self.next_id)
    }

    /// Who holds `address` (as primary or alias): `("user"|"group", id)`.
    pub fn owner(&self, address: &str) -> Option<(&'static str, String)> {
        let mut a = lower(address);
        // An address at a domain alias is the same address at its parent.
        if let Some((local, domain)) = a.split_once('@') {
            if let Some(parent) = self.domain_aliases.get(domain) {
                a = format!("{local}@{parent}");
            }
        }
        self.users
            .values()
            .find(|u| u.primary_email == a || u.aliases.contains(&a))
            .map(|u| ("user", u.id.clone()))
            .or_else(|| {
                self.groups
                    .values()
                    .find(|g| g.email == a || g.aliases.contains(&a))
                    .map(|g| ("group", g.id.clone()))
            })
    }

    fn check_new_address(&self, address: &str) -> Result<(), Refusal> {
        let a = lower(address);
        let Some((_, domain)) = a.split_once('@') else {
            return Err((400, "invalid", format!("Invalid Input: {address}")));
        };
        if !self.domains.iter().any(|d| d == domain) {
            return Err((
                400,
                "invalid",
                format!("Invalid Input: domain {domain} is not a domain of this account"),
            ));
        }
        if self.owner(&a).is_some() {
            return Err((409, "duplicate", "Entity already exists.".into()));
        }
        Ok(())
    }

    pub fn user_id(&self, key: &str) -> Result<String, Refusal> {
        if self.users.contains_key(key) {
            return Ok(key.to_string());
        }
        match self.owner(key) {
            Some(("user", id)) => Ok(id),
            _ => Err(not_found("userKey")),
        }
    }

    pub fn group_id(&self, key: &str) -> Result<String, Refusal> {
        if self.groups.contains_key(key) {
            return Ok(key.to_string());
        }
        match self.owner(key) {
            Some(("group", id)) => Ok(id),
            _ => Err(not_found("groupKey")),
        }
    }

    /// Refuses requests for a user that is still being set up.
    pub fn settle(&mut self, user_id: &str) -> Result<(), Refusal> {
        if let Some(u) = self.users.get_mut(user_id) {
            if u.settling > 0 {
                u.settling -= 1;
                return Err((
                    412,
                    "conditionNotMet",
                    "User creation is not complete.".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn insert_user(&mut self, body: &Value) -> Result<Value, Refusal> {
        let email = lower(body["primaryEmail"].as_str().unwrap_or(""));
        self.check_new_address(&email)?;
        let password = body["password"].as_str().unwrap_or("");
        match body["hashFunction"].as_str() {
            Some("crypt") if !password.starts_with('$') => {
                return Err((400, "invalid", "Invalid Password".into()))
            }
            Some("crypt") | Some("MD5") | Some("SHA-1") => {}
            Some(_) => return Err((400, "invalid", "Invalid Input: hashFunction".into())),
            None if password.chars().count() < 8 => {
                return Err((400, "invalid", "Invalid Password".into()))
            }
            None => {}
        }
        let id = self.id();
        let user = FakeUser {
            id: id.clone(),
            primary_email: email,
            given_name: body["name"]["givenName"].as_str().unwrap_or("").into(),
            family_name: body["name"]["familyName"].as_str().unwrap_or("").into(),
            suspended: body["suspended"].as_bool().unwrap_or(false),
            aliases: vec![],
            org_unit_path: body["orgUnitPath"].as_str().unwrap_or("/").into(),
            hash_function: body["hashFunction"].as_str().map(str::to_string),
            settling: self.settle_requests,
            change_password_at_next_login: body["changePasswordAtNextLogin"] == true,
            ..Default::default()
        };
        let out = user_json(&user);
        self.users.insert(id, user);
        self.writes += 1;
        Ok(out)
    }

    pub fn patch_user(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        if let Some(new) = body["primaryEmail"].as_str() {
            let current = self.users[&id].primary_email.clone();
            if lower(new) != current {
                self.check_new_address(new)?;
            }
        }
        if let Some(o) = body["orgUnitPath"].as_str() {
            if !self.org_units.iter().any(|u| u == o) {
                return Err((400, "invalid", "Invalid Input: Org Unit".into()));
            }
        }
        let u = self.users.get_mut(&id).expect("user");
        if body.get("password").is_some() {
            u.password_changes += 1;
        }
        if let Some(new) = body["primaryEmail"].as_str() {
            // Renaming keeps the old address as an alias, as Google does.
            let old = std::mem::replace(&mut u.primary_email, lower(new));
            if old != u.primary_email {
                u.aliases.push(old);
            }
        }
        if let Some(g) = body["name"]["givenName"].as_str() {
            u.given_name = g.into();
        }
        if let Some(f) = body["name"]["familyName"].as_str() {
            u.family_name = f.into();
        }
        if let Some(s) = body["suspended"].as_bool() {
            u.suspended = s;
        }
        if let Some(o) = body["orgUnitPath"].as_str() {
            u.org_unit_path = o.into();
        }
        self.writes += 1;
        Ok(user_json(u))
    }

    pub fn delete_user(&mut self, key: &str) -> Result<(), Refusal> {
        let id = self.user_id(key)?;
        let u = self.users.remove(&id).expect("user");
        for g in self.groups.values_mut() {
            g.members.retain(|m| m.email != u.primary_email);
        }
        self.writes += 1;
        Ok(())
    }

    pub fn insert_alias(&mut self, kind: &str, key: &str, alias: &str) -> Result<Value, Refusal> {
        let id = if kind == "users" {
            self.user_id(key)?
        } else {
            self.group_id(key)?
        };
        self.check_new_address(alias)?;
        let a = lower(alias);
        if kind == "users" {
            self.users
                .get_mut(&id)
                .expect("user")
                .aliases
                .push(a.clone());
        } else {
            self.groups
                .get_mut(&id)
                .expect("group")
                .aliases
                .push(a.clone());
        }
        self.writes += 1;
        Ok(json!({"kind": "admin#directory#alias", "id": id, "primaryEmail": key, "alias": a}))
    }

    pub fn delete_alias(&mut self, kind: &str, key: &str, alias: &str) -> Result<(), Refusal> {
        let a = lower(alias);
        let list = if kind == "users" {
            let id = self.user_id(key)?;
            &mut self.users.get_mut(&id).expect("user").aliases
        } else {
            let id = self.group_id(key)?;
            &mut self.groups.get_mut(&id).expect("group").aliases
        };
        let before = list.len();
        list.retain(|x| *x != a);
        if list.len() == before {
            return Err(not_found("alias"));
        }
        self.writes += 1;
        Ok(())
    }

    pub fn aliases(&self, kind: &str, key: &str) -> Result<Value, Refusal> {
        let (id, primary, aliases) = if kind == "users" {
            let id = self.user_id(key)?;
            let u = &self.users[&id];
            (id, u.primary_email.clone(), u.aliases.clone())
        } else {
            let id = self.group_id(key)?;
            let g = &self.groups[&id];
            (id, g.email.clone(), g.aliases.clone())
        };
        Ok(json!({
            "kind": "admin#directory#aliases",
            "aliases": aliases.iter().map(|a| json!({"id": id, "primaryEmail": primary, "alias": a})).collect::<Vec<_>>()
        }))
    }

    pub fn sign_out(&mut self, key: &str) -> Result<(), Refusal> {
        let id = self.user_id(key)?;
        self.users.get_mut(&id).expect("user").sign_outs += 1;
        self.writes += 1;
        Ok(())
    }

    /// Gmail's `userId`: `me` or the subject's own address.
    fn gmail_user(&mut self, user: &str, subject: &str) -> Result<&mut FakeUser, Refusal> {
        let key = if user == "me" { subject } else { user };
        if lower(key) != lower(subject) {
            return Err((
                403,
                "forbidden",
                "Delegation denied for the requested user".into(),
            ));
        }
        let id = self.user_id(key)?;
        Ok(self.users.get_mut(&id).expect("user"))
    }

    pub fn auto_forwarding(&mut self, user: &str, subject: &str) -> Result<Value, Refusal> {
        let u = self.gmail_user(user, subject)?;
        Ok(match &u.auto_forwarding {
            Some(to) => json!({"enabled": true, "emailAddress": to, "disposition": "leaveInInbox"}),
            None => json!({"enabled": false}),
        })
    }

    pub fn set_auto_forwarding(
        &mut self,
        user: &str,
        subject: &str,
        body: &Value,
    ) -> Result<Value, Refusal> {
        let u = self.gmail_user(user, subject)?;
        if body["enabled"] == true {
            let to = lower(body["emailAddress"].as_str().unwrap_or(""));
            if !u
                .forwarding_addresses
                .iter()
                .any(|(a, st)| *a == to && st == "accepted")
            {
                return Err((
                    400,
                    "failedPrecondition",
                    "Bad Request: the forwarding address is not verified".into(),
                ));
            }
            u.auto_forwarding = Some(to);
        } else {
            u.auto_forwarding = None;
        }
        self.writes += 1;
        let u = self.gmail_user(user, subject)?;
        Ok(match &u.auto_forwarding {
            Some(to) => json!({"enabled": true, "emailAddress": to, "disposition": "leaveInInbox"}),
            None => json!({"enabled": false}),
        })
    }

    pub fn create_forwarding_address(
        &mut self,
        user: &str,
        subject: &str,
        body: &Value,
    ) -> Result<Value, Refusal> {
        let to = lower(body["forwardingEmail"].as_str().unwrap_or(""));
        let internal = to
            .split_once('@')
            .is_some_and(|(_, d)| self.domains.iter().any(|x| x == d));
        let u = self.gmail_user(user, subject)?;
        if u.forwarding_addresses.iter().any(|(a, _)| *a == to) {
            return Err((409, "alreadyExists", "Already exists".into()));
        }
        // Addresses of the tenant need no confirmation; others do.
        let status = if internal { "accepted" } else { "pending" };
        u.forwarding_addresses.push((to.clone(), status.into()));
        self.writes += 1;
        Ok(json!({"forwardingEmail": to, "verificationStatus": status}))
    }

    pub fn forwarding_address(
        &mut self,
        user: &str,
        subject: &str,
        address: &str,
    ) -> Result<Value, Refusal> {
        let a = lower(address);
        let u = self.gmail_user(user, subject)?;
        u.forwarding_addresses
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(x, st)| json!({"forwardingEmail": x, "verificationStatus": st}))
            .ok_or_else(|| not_found("forwardingEmail"))
    }

    pub fn insert_transfer(&mut self, body: &Value) -> Result<Value, Refusal> {
        for k in ["oldOwnerUserId", "newOwnerUserId"] {
            let id = body[k].as_str().unwrap_or("");
            if !self.users.contains_key(id) {
                return Err((400, "invalid", format!("Invalid Input: {k}")));
            }
        }
        let mut t = body.clone();
        t["id"] = json!(format!("transfer-{}", self.transfers.len() + 1));
        t["overallTransferStatusCode"] = json!("inProgress");
        self.transfers.push(t.clone());
        self.writes += 1;
        Ok(t)
    }

    pub fn insert_group(&mut self, body: &Value) -> Result<Value, Refusal> {
        let email = lower(body["email"].as_str().unwrap_or(""));
        self.check_new_address(&email)?;
        let id = self.id();
        let g = FakeGroup {
            id: id.clone(),
            email: email.clone(),
            name: body["name"].as_str().unwrap_or(&email).into(),
            aliases: vec![],
            members: vec![],
            // Google's default for a new group made through the API.
            who_can_post: "ANYONE_CAN_POST".into(),
        };
        let out = group_json(&g);
        self.groups.insert(id, g);
        self.writes += 1;
        Ok(out)
    }

    pub fn patch_group(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.group_id(key)?;
        let g = self.groups.get_mut(&id).expect("group");
        if let Some(n) = body["name"].as_str() {
            g.name = n.into();
        }
        self.writes += 1;
        Ok(group_json(g))
    }

    pub fn delete_group(&mut self, key: &str) -> Result<(), Refusal> {
        let id = self.group_id(key)?;
        self.groups.remove(&id);
        self.writes += 1;
        Ok(())
    }

    pub fn insert_member(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.group_id(key)?;
        let email = lower(body["email"].as_str().unwrap_or(""));
        let member_type = match self.owner(&email) {
            Some(("group", _)) => "GROUP",
            Some(_) => "USER",
            // Outside addresses are allowed members.
            None => "USER",
        };
        let role = body["role"].as_str().unwrap_or("MEMBER").to_string();
        if !matches!(role.as_str(), "MEMBER" | "MANAGER" | "OWNER") {
            return Err((400, "invalid", "Invalid Input: role".into()));
        }
        let g = self.groups.get_mut(&id).expect("group");
        if g.members.iter().any(|m| m.email == email) {
            return Err((409, "duplicate", "Member already exists.".into()));
        }
        let m = FakeMember {
            email,
            role,
            member_type: member_type.into(),
        };
        let out = member_json(&m);
        g.members.push(m);
        self.writes += 1;
        Ok(out)
    }

    pub fn delete_member(&mut self, key: &str, member: &str) -> Result<(), Refusal> {
        let id = self.group_id(key)?;
        let m = lower(member);
        let g = self.groups.get_mut(&id).expect("group");
        let before = g.members.len();
        g.members.retain(|x| x.email != m);
        if g.members.len() == before {
            return Err(not_found("memberKey"));
        }
        self.writes += 1;
        Ok(())
    }

    /// A user by id, primary address or alias.
    pub fn user(&self, key: &str) -> Result<Value, Refusal> {
        let id = self.user_id(key)?;
        Ok(user_json(&self.users[&id]))
    }

    pub fn users_in(&self, domain: &str) -> Vec<Value> {
        let mut v: Vec<&FakeUser> = self
            .users
            .values()
            .filter(|u| u.primary_email.ends_with(&format!("@{domain}")))
            .collect();
        v.sort_by(|a, b| a.primary_email.cmp(&b.primary_email));
        v.into_iter().map(user_json).collect()
    }

    pub fn groups_in(&self, domain: &str) -> Vec<Value> {
        let mut v: Vec<&FakeGroup> = self
            .groups
            .values()
            .filter(|g| g.email.ends_with(&format!("@{domain}")))
            .collect();
        v.sort_by(|a, b| a.email.cmp(&b.email));
        v.into_iter().map(group_json).collect()
    }

    pub fn members(&self, key: &str) -> Result<Vec<Value>, Refusal> {
        let id = self.group_id(key)?;
        Ok(self.groups[&id].members.iter().map(member_json).collect())
    }

    pub fn settings(&self, key: &str) -> Result<Value, Refusal> {
        let id = self.group_id(key)?;
        let g = &self.groups[&id];
        Ok(
            json!({"kind": "groupsSettings#groups", "email": g.email, "name": g.name, "whoCanPostMessage": g.who_can_post}),
        )
    }

    pub fn patch_settings(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        let id = self.group_id(key)?;
        if let Some(w) = body["whoCanPostMessage"].as_str() {
            const ALLOWED: [&str; 6] = [
                "NONE_CAN_POST",
                "ALL_MANAGERS_CAN_POST",
                "ALL_MEMBERS_CAN_POST",
                "ALL_OWNERS_CAN_POST",
                "ALL_IN_DOMAIN_CAN_POST",
                "ANYONE_CAN_POST",
            ];
            if !ALLOWED.contains(&w) {
                return Err((400, "invalid", format!("Invalid Value: {w}")));
            }
            self.groups.get_mut(&id).expect("group").who_can_post = w.into();
        }
        self.writes += 1;
        self.settings(&id)
    }
}

/// Google's tokens are opaque and stable for one site and owner.
pub fn verification_token(domain: &str, owner: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{}\n{}", lower(domain), lower(owner)).as_bytes(),
    );
    format!(
        "google-site-verification={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    )
}

/// The `INET_DOMAIN` identifier of a Site Verification body.
fn inet_domain(body: &Value) -> Result<String, Refusal> {
    if body["site"]["type"] != "INET_DOMAIN" {
        return Err((
            400,
            "invalid",
            "Invalid value for site.type: the fake verifies only INET_DOMAIN sites".into(),
        ));
    }
    let domain = lower(body["site"]["identifier"].as_str().unwrap_or(""));
    if domain.is_empty() || !domain.contains('.') {
        return Err((400, "invalid", "Invalid site identifier.".into()));
    }
    Ok(domain.trim_end_matches('.').to_string())
}

fn check_dns_method(method: Option<&str>) -> Result<(), Refusal> {
    match method {
        Some("DNS_TXT" | "DNS_CNAME") => Ok(()),
        _ => Err((
            400,
            "invalid",
            "Invalid verification method: a domain is verified with DNS_TXT or DNS_CNAME.".into(),
        )),
    }
}

impl Store {
    fn domain_json(&self, name: &str) -> Option<Value> {
        let verified = self.domains.iter().any(|d| d == name);
        (verified || self.unverified_domains.iter().any(|d| d == name)).then(|| {
            json!({
                "kind": "admin#directory#domain",
                "domainName": name,
                "verified": verified,
                "isPrimary": self.domains.first().map(String::as_str) == Some(name),
            })
        })
    }

    fn alias_json(&self, name: &str, parent: &str) -> Value {
        json!({
            "kind": "admin#directory#domainAlias",
            "domainAliasName": name,
            "parentDomainName": parent,
            "verified": !self.unverified_aliases.iter().any(|a| a == name),
        })
    }

    pub fn domain_alias(&self, name: &str) -> Result<Value, Refusal> {
        let name = lower(name);
        let parent = self
            .domain_aliases
            .get(&name)
            .ok_or_else(|| (404, "notFound", "Domain alias not found.".to_string()))?;
        Ok(self.alias_json(&name, parent))
    }

    /// `domainAliases.list`, of one parent when `parentDomainName` is given.
    pub fn domain_aliases_list(&self, parent: Option<&str>) -> Value {
        let parent = parent.map(lower);
        let aliases: Vec<Value> = self
            .domain_aliases
            .iter()
            .filter(|(_, p)| parent.as_ref().is_none_or(|want| want == *p))
            .map(|(a, p)| self.alias_json(a, p))
            .collect();
        json!({"kind": "admin#directory#domainAliases", "domainAliases": aliases})
    }

    /// Google adds an alias of a verified domain of the tenant (primary or
    /// secondary, not another alias); verified at once when the admin
    /// verified it first, as for domains.
    pub fn insert_domain_alias(&mut self, body: &Value) -> Result<Value, Refusal> {
        let name = lower(body["domainAliasName"].as_str().unwrap_or(""));
        let parent = lower(body["parentDomainName"].as_str().unwrap_or(""));
        if name.is_empty() || !name.contains('.') {
            return Err((400, "invalid", "Invalid Input: domainAliasName".into()));
        }
        if self.domain_json(&name).is_some() || self.domain_aliases.contains_key(&name) {
            return Err((409, "duplicate", "Entity already exists.".into()));
        }
        if !self.domains.contains(&parent) {
            return Err((
                400,
                "invalid",
                format!("Invalid Input: parentDomainName {parent} is not a verified domain of this account"),
            ));
        }
        if !self.verified_sites.contains_key(&name) {
            self.unverified_aliases.push(name.clone());
        }
        self.domain_aliases.insert(name.clone(), parent.clone());
        self.writes += 1;
        Ok(self.alias_json(&name, &parent))
    }

    pub fn domain(&self, name: &str) -> Result<Value, Refusal> {
        self.domain_json(&lower(name))
            .ok_or_else(|| (404, "notFound", "Domain not found.".into()))
    }

    /// Google lets an admin add a domain not verified yet; it is verified
    /// at once when the admin verified it first.
    pub fn insert_domain(&mut self, body: &Value) -> Result<Value, Refusal> {
        let name = lower(body["domainName"].as_str().unwrap_or(""));
        if name.is_empty() || !name.contains('.') {
            return Err((400, "invalid", "Invalid Input: domainName".into()));
        }
        if self.domain_json(&name).is_some() || self.domain_aliases.contains_key(&name) {
            return Err((409, "duplicate", "Entity already exists.".into()));
        }
        if self.verified_sites.contains_key(&name) {
            self.domains.push(name.clone());
        } else {
            self.unverified_domains.push(name.clone());
        }
        self.writes += 1;
        Ok(self.domain_json(&name).expect("just added"))
    }

    pub fn site_token(&self, body: &Value, subject: &str) -> Result<Value, Refusal> {
        let domain = inet_domain(body)?;
        check_dns_method(body["verificationMethod"].as_str())?;
        Ok(json!({
            "method": body["verificationMethod"],
            "token": verification_token(&domain, subject),
        }))
    }

    /// `webResource.insert`: `served` are the TXT values at the apex.
    pub fn verify_site(
        &mut self,
        body: &Value,
        method: Option<&str>,
        subject: &str,
        served: &[String],
    ) -> Result<Value, Refusal> {
        let domain = inet_domain(body)?;
        check_dns_method(method)?;
        let token = verification_token(&domain, subject);
        if !served.contains(&token) {
            return Err((
                400,
                "badRequest",
                "The necessary verification token could not be found on your site.".into(),
            ));
        }
        let owners = self.verified_sites.entry(domain.clone()).or_default();
        if !owners.iter().any(|o| *o == lower(subject)) {
            owners.push(lower(subject));
        }
        // A domain of the tenant awaiting verification is verified now.
        if let Some(i) = self.unverified_domains.iter().position(|d| *d == domain) {
            self.unverified_domains.remove(i);
            self.domains.push(domain.clone());
        }
        self.unverified_aliases.retain(|a| *a != domain);
        self.writes += 1;
        self.web_resource(&format!("dns://{domain}"))
    }

    pub fn web_resource(&self, id: &str) -> Result<Value, Refusal> {
        let domain = id.strip_prefix("dns://").unwrap_or("");
        let owners = self
            .verified_sites
            .get(domain)
            .ok_or_else(|| not_found("id"))?;
        Ok(json!({
            "id": format!("dns://{domain}"),
            "site": {"type": "INET_DOMAIN", "identifier": domain},
            "owners": owners,
        }))
    }
}

fn user_json(u: &FakeUser) -> Value {
    let mut v = json!({
        "kind": "admin#directory#user",
        "id": u.id,
        "primaryEmail": u.primary_email,
        "name": {
            "givenName": u.given_name,
            "familyName": u.family_name,
            "fullName": format!("{} {}", u.given_name, u.family_name),
        },
        "suspended": u.suspended,
        "orgUnitPath": u.org_unit_path,
        "isMailboxSetup": true,
    });
    if !u.aliases.is_empty() {
        v["aliases"] = json!(u.aliases);
    }
    v
}

fn group_json(g: &FakeGroup) -> Value {
    let mut v = json!({
        "kind": "admin#directory#group",
        "id": g.id,
        "email": g.email,
        "name": g.name,
        "directMembersCount": g.members.len().to_string(),
    });
    if !g.aliases.is_empty() {
        v["aliases"] = json!(g.aliases);
    }
    v
}

fn member_json(m: &FakeMember) -> Value {
    json!({"kind": "admin#directory#member", "email": m.email, "role": m.role, "type": m.member_type, "status": "ACTIVE"})
}
