//! [`GoogleProvider`]: the [`MailProvider`] for Google Workspace.
//!
//! A read lists the domain's users (500 a page) and groups (200 a page),
//! then each group's members (200 a page) and its posting permission, a
//! few groups at a time. Any failed call fails the read: nothing unread is
//! ever reported as absent. Reads use read-only scopes (plus Groups
//! Settings, which has none); applies ask for the write scopes.
//!
//! Changes are carried out one at a time, in the engine's order; the first
//! failure stops the rest (reported as not attempted). Alias edits of one
//! user are sequential, as Google answers 412 to concurrent ones.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, ChangeOutcome, Group, InitialPassword, MailCapabilities, MailChange,
    MailDomainState, MailProvider, Mailbox, MailboxState, ProviderError,
};
use mailform_http::{Method, Retry, Url};

use crate::api;
use crate::auth::{scopes, ServiceAccountKey, TokenSource};
use crate::client::{Api, CallError};
use crate::config::Config;
use crate::convert;

/// Hash schemes Google accepts for an initial password (`hashFunction:
/// crypt` takes crypt(3) SHA-512, SHA-256 and MD5 hashes).
pub const SCHEMES: [&str; 3] = ["SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT"];

/// Groups whose members and settings are read at the same time.
const GROUP_READ_CONCURRENCY: usize = 8;

pub struct GoogleProvider {
    config: Config,
    retry: Retry,
    api: OnceLock<Result<Arc<Api>, ProviderError>>,
}

impl GoogleProvider {
    pub fn new(config: Config) -> GoogleProvider {
        GoogleProvider::with_retry(config, Retry::default())
    }

    /// With another backoff (tests use a short one).
    pub fn with_retry(config: Config, retry: Retry) -> GoogleProvider {
        GoogleProvider {
            config,
            retry,
            api: OnceLock::new(),
        }
    }

    fn api(&self) -> Result<Arc<Api>, ProviderError> {
        self.api
            .get_or_init(|| {
                let json = self.config.credentials_json()?;
                let key = ServiceAccountKey::parse(&json)?;
                let tokens =
                    TokenSource::new(key, &self.config.admin, &self.config.token_endpoint())?;
                Api::new(
                    tokens,
                    self.config.queries_per_minute(),
                    self.config.timeout(),
                    self.retry,
                )
                .map(Arc::new)
            })
            .clone()
    }

    /// Requests sent so far (for benchmarks).
    pub fn requests_sent(&self) -> u64 {
        self.api
            .get()
            .and_then(|a| a.as_ref().ok())
            .map_or(0, |a| a.requests_sent())
    }

    fn directory(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ProviderError> {
        url(
            &self.config.directory_endpoint(),
            "/admin/directory/v1",
            path,
            query,
        )
    }

    fn settings_url(&self, group: &str) -> Result<Url, ProviderError> {
        url(
            &self.config.groups_settings_endpoint(),
            "/groups/v1/groups",
            &format!("/{}", enc(group)),
            &[("alt", "json")],
        )
    }
}

fn url(base: &str, prefix: &str, path: &str, query: &[(&str, &str)]) -> Result<Url, ProviderError> {
    let mut u = Url::parse(&format!("{base}{prefix}{path}"))
        .map_err(|e| ProviderError::Rejected(format!("bad Google endpoint {base:?}: {e}")))?;
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query.iter().copied());
    }
    Ok(u)
}

/// A path segment, percent-encoded (addresses hold `@` and `+`).
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[async_trait]
impl MailProvider for GoogleProvider {
    fn kind(&self) -> &'static str {
        "google_workspace"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            mailbox_aliases: true,
            group_aliases: true,
            groups: true,
            standalone_aliases: false,
            group_external_senders: true,
            display_names: true,
            password: PasswordPolicy {
                hash_schemes: SCHEMES.iter().map(|s| s.to_string()).collect(),
                plain: true,
                required: true,
            },
        }
    }

    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let api = self.api()?;
        let cid = api.client_id().to_string();
        let mut mailboxes = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![
                ("domain", domain),
                ("maxResults", "500"),
                ("projection", "basic"),
            ];
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let page: api::Users = api
                .get(self.directory("/users", &q)?, scopes::READ)
                .await
                .map_err(|e| convert::error(e, &format!("listing users of {domain}"), &cid))?;
            mailboxes.extend(page.users.iter().filter_map(convert::mailbox));
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let mut groups_raw = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("domain", domain), ("maxResults", "200")];
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let page: api::Groups = api
                .get(self.directory("/groups", &q)?, scopes::READ)
                .await
                .map_err(|e| convert::error(e, &format!("listing groups of {domain}"), &cid))?;
            groups_raw.extend(page.groups);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let groups: Vec<Group> = stream::iter(groups_raw.into_iter().map(|g| {
            let api = api.clone();
            let cid = cid.clone();
            async move { self.read_group(&api, g, &cid).await }
        }))
        .buffered(GROUP_READ_CONCURRENCY)
        .try_collect::<Vec<Option<Group>>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
        mailboxes.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(MailDomainState {
            domain: domain.to_string(),
            mailboxes,
            aliases: vec![],
            groups,
        })
    }

    async fn apply_domain(&self, _domain: &str, changes: &[MailChange]) -> ApplyReport {
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut stopped: Option<String> = None;
        for change in changes {
            if let Some(why) = &stopped {
                outcomes.push(ChangeOutcome::NotAttempted(why.clone()));
                continue;
            }
            match self.apply_one(&api, change).await {
                Ok(()) => outcomes.push(ChangeOutcome::Applied),
                Err(e) => {
                    stopped = Some(format!("an earlier change ({}) failed", change.address()));
                    outcomes.push(ChangeOutcome::Failed(e));
                }
            }
        }
        ApplyReport { outcomes }
    }
}

impl GoogleProvider {
    async fn read_group(
        &self,
        api: &Api,
        g: api::Group,
        cid: &str,
    ) -> Result<Option<Group>, ProviderError> {
        let Some(id) = g.id.clone() else {
            return Ok(None);
        };
        let email = g.email.clone().unwrap_or_default();
        let mut members = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = vec![("maxResults", "200")];
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let page: api::Members = api
                .get(
                    self.directory(&format!("/groups/{}/members", enc(&id)), &q)?,
                    scopes::READ,
                )
                .await
                .map_err(|e| convert::error(e, &format!("listing members of {email}"), cid))?;
            members.extend(page.members);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let settings: api::GroupSettings = api
            .get(self.settings_url(&email)?, scopes::READ)
            .await
            .map_err(|e| convert::error(e, &format!("reading the settings of {email}"), cid))?;
        Ok(convert::group(
            &g,
            &members,
            settings.who_can_post_message.as_deref(),
        ))
    }

    async fn apply_one(&self, api: &Api, change: &MailChange) -> Result<(), ProviderError> {
        let cid = api.client_id().to_string();
        let w = scopes::WRITE;
        match change {
            MailChange::CreateMailbox { new, password } => {
                self.create_user(api, new, password.as_ref(), &cid).await
            }
            MailChange::UpdateMailbox { old, new } => self.update_user(api, old, new, &cid).await,
            MailChange::DeleteMailbox { old } => {
                let key = old.id.clone().unwrap_or_else(|| old.address.clone());
                api.send::<(), serde_json::Value>(
                    Method::DELETE,
                    self.directory(&format!("/users/{}", enc(&key)), &[])?,
                    None,
                    w,
                )
                .await
                .map_err(|e| convert::error(e, &format!("deleting user {}", old.address), &cid))?;
                Ok(())
            }
            MailChange::CreateGroup { new } => {
                let body = api::Group {
                    email: Some(new.address.clone()),
                    name: new.display_name.clone(),
                    ..Default::default()
                };
                let created: api::Group = api
                    .send(
                        Method::POST,
                        self.directory("/groups", &[])?,
                        Some(&body),
                        w,
                    )
                    .await
                    .map_err(|e| {
                        convert::error(e, &format!("creating group {}", new.address), &cid)
                    })?;
                let id = created.id.unwrap_or_else(|| new.address.clone());
                let empty = Group {
                    id: Some(id),
                    members: vec![],
                    aliases: vec![],
                    allow_external: !new.allow_external,
                    ..new.clone()
                };
                self.sync_group(api, &empty, new, &cid)
                    .await
                    .map_err(|e| done_before(e, "the group was created"))
            }
            MailChange::UpdateGroup { old, new } => {
                if old.display_name != new.display_name {
                    let body = api::Group {
                        name: new.display_name.clone(),
                        ..Default::default()
                    };
                    api.send::<_, api::Group>(
                        Method::PATCH,
                        self.directory(&format!("/groups/{}", enc(&group_key(old))), &[])?,
                        Some(&body),
                        w,
                    )
                    .await
                    .map_err(|e| {
                        convert::error(e, &format!("renaming group {}", old.address), &cid)
                    })?;
                }
                self.sync_group(api, old, new, &cid).await
            }
            MailChange::DeleteGroup { old } => {
                api.send::<(), serde_json::Value>(
                    Method::DELETE,
                    self.directory(&format!("/groups/{}", enc(&group_key(old))), &[])?,
                    None,
                    w,
                )
                .await
                .map_err(|e| convert::error(e, &format!("deleting group {}", old.address), &cid))?;
                Ok(())
            }
            MailChange::CreateAlias { new } | MailChange::UpdateAlias { new, .. } => {
                Err(standalone(&new.address))
            }
            MailChange::DeleteAlias { old } => Err(standalone(&old.address)),
        }
    }

    async fn create_user(
        &self,
        api: &Api,
        new: &Mailbox,
        password: Option<&InitialPassword>,
        cid: &str,
    ) -> Result<(), ProviderError> {
        if new.state == MailboxState::Offboarded {
            return Err(offboarding_unsupported(&new.address));
        }
        let (hash_function, hash) = password_fields(password, &new.address)?;
        let display = new.display_name.as_deref().ok_or_else(|| {
            ProviderError::Rejected(format!(
                "Google Workspace needs a name for the new user {}; add `name: \"Given Family\"`",
                new.address
            ))
        })?;
        let body = api::User {
            primary_email: Some(new.address.clone()),
            name: Some(convert::split_name(display, &new.address)?),
            password: Some(hash),
            hash_function: hash_function.map(str::to_string),
            org_unit_path: Some(self.config.org_unit().to_string()),
            suspended: (new.state == MailboxState::Suspended).then_some(true),
            ..Default::default()
        };
        let created: api::User = api
            .send(
                Method::POST,
                self.directory("/users", &[])?,
                Some(&body),
                scopes::WRITE,
            )
            .await
            .map_err(|e| convert::error(e, &format!("creating user {}", new.address), cid))?;
        let key = created.id.unwrap_or_else(|| new.address.clone());
        for alias in &new.aliases {
            self.add_alias(api, "users", &key, alias, &new.address, cid)
                .await
                .map_err(|e| done_before(e, "the user was created"))?;
        }
        Ok(())
    }

    async fn update_user(
        &self,
        api: &Api,
        old: &Mailbox,
        new: &Mailbox,
        cid: &str,
    ) -> Result<(), ProviderError> {
        if new.state == MailboxState::Offboarded {
            return Err(offboarding_unsupported(&new.address));
        }
        let key = old.id.clone().unwrap_or_else(|| old.address.clone());
        let mut patch = api::User::default();
        if old.display_name != new.display_name {
            if let Some(d) = &new.display_name {
                patch.name = Some(convert::split_name(d, &new.address)?);
            }
        }
        if old.state != new.state {
            patch.suspended = Some(new.state != MailboxState::Active);
        }
        if old.address != new.address {
            patch.primary_email = Some(new.address.clone());
        }
        if patch != api::User::default() {
            api.send::<_, api::User>(
                Method::PATCH,
                self.directory(&format!("/users/{}", enc(&key)), &[])?,
                Some(&patch),
                scopes::WRITE,
            )
            .await
            .map_err(|e| convert::error(e, &format!("updating user {}", old.address), cid))?;
        }
        for alias in old.aliases.iter().filter(|a| !new.aliases.contains(a)) {
            self.remove_alias(api, "users", &key, alias, &new.address, cid)
                .await?;
        }
        for alias in new.aliases.iter().filter(|a| !old.aliases.contains(a)) {
            self.add_alias(api, "users", &key, alias, &new.address, cid)
                .await?;
        }
        Ok(())
    }

    /// Brings a group's aliases, members and posting permission from `old`
    /// to `new`.
    async fn sync_group(
        &self,
        api: &Api,
        old: &Group,
        new: &Group,
        cid: &str,
    ) -> Result<(), ProviderError> {
        let key = group_key(old);
        let w = scopes::WRITE;
        for alias in old.aliases.iter().filter(|a| !new.aliases.contains(a)) {
            self.remove_alias(api, "groups", &key, alias, &new.address, cid)
                .await?;
        }
        for alias in new.aliases.iter().filter(|a| !old.aliases.contains(a)) {
            self.add_alias(api, "groups", &key, alias, &new.address, cid)
                .await?;
        }
        let members_url =
            |suffix: &str| self.directory(&format!("/groups/{}/members{suffix}", enc(&key)), &[]);
        for m in old.members.iter().filter(|m| !new.members.contains(m)) {
            api.send::<(), serde_json::Value>(
                Method::DELETE,
                members_url(&format!("/{}", enc(m)))?,
                None,
                w,
            )
            .await
            .map_err(|e| convert::error(e, &format!("removing {m} from {}", new.address), cid))?;
        }
        for m in new.members.iter().filter(|m| !old.members.contains(m)) {
            let body = api::Member {
                email: Some(m.clone()),
                role: Some("MEMBER".into()),
                ..Default::default()
            };
            match api
                .send::<_, api::Member>(Method::POST, members_url("")?, Some(&body), w)
                .await
            {
                Ok(_) => {}
                // Already a member (with whatever role): what was wanted.
                Err(CallError::Api { status: 409, .. }) => {}
                Err(e) => {
                    return Err(convert::error(
                        e,
                        &format!("adding {m} to {}", new.address),
                        cid,
                    ))
                }
            }
        }
        if old.allow_external != new.allow_external {
            let body = api::GroupSettings {
                who_can_post_message: Some(
                    if new.allow_external {
                        convert::ANYONE_CAN_POST
                    } else {
                        convert::DOMAIN_CAN_POST
                    }
                    .to_string(),
                ),
            };
            api.send::<_, api::GroupSettings>(
                Method::PATCH,
                self.settings_url(&new.address)?,
                Some(&body),
                w,
            )
            .await
            .map_err(|e| {
                convert::error(e, &format!("setting who may post to {}", new.address), cid)
            })?;
        }
        Ok(())
    }

    async fn add_alias(
        &self,
        api: &Api,
        kind: &str,
        key: &str,
        alias: &str,
        owner: &str,
        cid: &str,
    ) -> Result<(), ProviderError> {
        let body = api::Alias {
            alias: alias.to_string(),
        };
        api.send::<_, serde_json::Value>(
            Method::POST,
            self.directory(&format!("/{kind}/{}/aliases", enc(key)), &[])?,
            Some(&body),
            scopes::WRITE,
        )
        .await
        .map_err(|e| convert::error(e, &format!("adding alias {alias} to {owner}"), cid))?;
        Ok(())
    }

    async fn remove_alias(
        &self,
        api: &Api,
        kind: &str,
        key: &str,
        alias: &str,
        owner: &str,
        cid: &str,
    ) -> Result<(), ProviderError> {
        api.send::<(), serde_json::Value>(
            Method::DELETE,
            self.directory(&format!("/{kind}/{}/aliases/{}", enc(key), enc(alias)), &[])?,
            None,
            scopes::WRITE,
        )
        .await
        .map_err(|e| convert::error(e, &format!("removing alias {alias} from {owner}"), cid))?;
        Ok(())
    }
}

fn group_key(g: &Group) -> String {
    g.id.clone().unwrap_or_else(|| g.address.clone())
}

/// The password fields of a new user: a crypt(3) hash passes through
/// (`{SHA512-CRYPT}$6$...` → `hashFunction: crypt`, `$6$...`); a clear-text
/// password is sent as it is (over TLS; Google hashes it).
fn password_fields(
    password: Option<&InitialPassword>,
    address: &str,
) -> Result<(Option<&'static str>, String), ProviderError> {
    let fix = format!(
        "give it `initial_password: ${{file:...}}` (or `generate`), or `password_hash` holding a crypt(3) hash in one of {}",
        SCHEMES.join(", ")
    );
    match password {
        None | Some(InitialPassword::Generate) => Err(ProviderError::Rejected(format!(
            "user {address} has no initial password; {fix}"
        ))),
        Some(InitialPassword::Plain(p)) => {
            if p.expose().chars().count() < 8 {
                return Err(ProviderError::Rejected(format!(
                    "the initial password of {address} is shorter than the 8 characters Google requires"
                )));
            }
            Ok((None, p.expose().to_string()))
        }
        Some(h @ InitialPassword::Hash(secret)) => {
            let scheme_ok = h.scheme().is_some_and(|s| SCHEMES.contains(&s));
            match secret.expose().trim().split_once('}') {
                Some((_, hash)) if scheme_ok && hash.starts_with('$') => {
                    Ok((Some("crypt"), hash.to_string()))
                }
                _ => Err(ProviderError::Rejected(format!(
                    "the initial password of {address} is not a hash Google accepts; {fix}"
                ))),
            }
        }
    }
}

fn standalone(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "Google Workspace has no forwarding-only address like {address}; list it under `aliases:` of the mailbox or group it reaches"
    ))
}

fn offboarding_unsupported(address: &str) -> ProviderError {
    ProviderError::Unsupported(format!(
        "offboarding {address} on Google Workspace (suspend, transfer Drive and Calendar, forward mail to the successor) is not implemented yet; use `state: suspended` and forward by hand"
    ))
}

/// A failure after earlier steps of the same change succeeded.
fn done_before(e: ProviderError, done: &str) -> ProviderError {
    let add = |m: String| format!("{done}, but then: {m}; apply again to finish");
    match e {
        ProviderError::Permission(m) => ProviderError::Permission(add(m)),
        ProviderError::Conflict(m) => ProviderError::Conflict(add(m)),
        ProviderError::Rejected(m) => ProviderError::Rejected(add(m)),
        ProviderError::Unsupported(m) => ProviderError::Unsupported(add(m)),
        ProviderError::Io(m) => ProviderError::Io(add(m)),
        ProviderError::Service(m) => ProviderError::Service(add(m)),
        ProviderError::Parse(m) => ProviderError::Parse(add(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_hashes_pass_through_and_others_are_refused() {
        use mailform_contract::Secret;
        let h = |s: &str| InitialPassword::Hash(Secret::new(s));
        assert_eq!(
            password_fields(Some(&h("{SHA512-CRYPT}$6$salt$hash")), "a@x").unwrap(),
            (Some("crypt"), "$6$salt$hash".into())
        );
        let e = password_fields(Some(&h("{ARGON2ID}$argon2id$v=19$...")), "a@x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SHA512-CRYPT") && !e.contains("argon2id$"),
            "{e}"
        );
        assert!(password_fields(None, "a@x").is_err());
        assert!(password_fields(Some(&InitialPassword::Generate), "a@x").is_err());
        let plain = InitialPassword::Plain(Secret::new("correct horse"));
        assert_eq!(password_fields(Some(&plain), "a@x").unwrap().0, None);
        let short = InitialPassword::Plain(Secret::new("short"));
        assert!(password_fields(Some(&short), "a@x").is_err());
    }

    #[test]
    fn addresses_are_encoded_as_path_segments() {
        assert_eq!(enc("a+b@example.com"), "a%2Bb@example.com");
        assert_eq!(enc("x/y"), "x%2Fy");
    }
}
