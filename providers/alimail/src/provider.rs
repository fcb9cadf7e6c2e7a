//! [`AlimailProvider`], the [`MailProvider`]: reads a domain's users by
//! walking the organisation's departments, and applies mailbox changes user
//! by user.
//!
//! Reads: from the root department (`$root`), every sub-department is listed
//! (`GET /v2/departments/{id}/departments`, 100 a page) and every
//! department's users (`GET /v2/departments/{id}/users`, 100 a page); a user
//! in several departments is kept once, and only users whose address is in
//! the requested domain are returned. Any failed call fails the read: the
//! engine never sees part of the users.
//!
//! Applies: every change is checked first (a change kind this provider
//! cannot carry out, a create without a usable clear-text password, an
//! offboarding that asks for a successor, an address outside the domain);
//! if one is refused, nothing is written. Then changes run in the order
//! given, each as one or more calls:
//! - `CreateMailbox`: `POST /v2/users` (email, name, password,
//!   `departmentIds: ["$root"]`), then `PATCH` to freeze it when it is not
//!   to be active, then one `POST .../emailAliases` per alias;
//! - `UpdateMailbox`: `PATCH /v2/users/{id}` with only the changed fields
//!   (`name`, `status`), then alias removals, then alias additions;
//! - `DeleteMailbox`: `DELETE /v2/users/{id}`.
//!
//! The first failure stops the run: earlier changes are `Applied`, the
//! failing one `Failed` (saying which of its calls were already made), later
//! ones `NotAttempted`. Writes are never repeated blindly (see `client`);
//! running `apply` again continues from what is live.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mailform_contract::name::normalize_name;
use mailform_contract::provider::PasswordPolicy;
use mailform_contract::{
    ApplyReport, ChangeOutcome, InitialPassword, MailCapabilities, MailChange, MailDomainState,
    MailProvider, Mailbox, MailboxState, ProviderError,
};
use mailform_http::{Method, Retry};

use crate::api::{
    AddAlias, ApiUser, CreateUser, DeleteAlias, DepartmentPage, UpdateUser, UserPage, PAGE_LIMIT,
    ROOT_DEPARTMENT,
};
use crate::client::Api;
use crate::config::Config;
use crate::convert;

/// The `alimail` mail provider.
#[derive(Debug, Clone)]
pub struct AlimailProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    retry: Retry,
    api: Mutex<Option<Arc<Api>>>,
}

impl AlimailProvider {
    pub fn new(config: Config) -> AlimailProvider {
        Self::with_retry(
            config,
            Retry {
                max_attempts: 5,
                base: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
            },
        )
    }

    /// A provider with its own retry policy for throttled and failed reads
    /// (tests use short waits).
    pub fn with_retry(config: Config, retry: Retry) -> AlimailProvider {
        AlimailProvider {
            inner: Arc::new(Inner {
                config,
                retry,
                api: Mutex::new(None),
            }),
        }
    }

    /// Requests sent so far (every attempt counts; 0 before the first call).
    pub fn requests_sent(&self) -> u64 {
        self.inner
            .api
            .lock()
            .expect("api lock")
            .as_ref()
            .map_or(0, |a| a.requests_sent())
    }

    fn api(&self) -> Result<Arc<Api>, ProviderError> {
        let mut slot = self.inner.api.lock().expect("api lock");
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let credentials = self.inner.config.credentials()?;
        let api = Arc::new(
            Api::new(&self.inner.config, credentials, self.inner.retry)
                .map_err(ProviderError::Rejected)?,
        );
        *slot = Some(api.clone());
        Ok(api)
    }
}

/// More entries than any one listing may hold.
const MAX_LISTED: usize = 1_000_000;

/// Every page of a listing, `offset`/`limit` style: stops at a short page
/// or once `total` is reached.
async fn pages<P, T>(
    api: &Api,
    segments: &[&str],
    what: &str,
    items: impl Fn(P) -> (Vec<T>, Option<u64>),
) -> Result<Vec<T>, ProviderError>
where
    P: serde::de::DeserializeOwned,
{
    let mut out = Vec::new();
    let mut offset = 0usize;
    loop {
        let query = [
            ("offset", offset.to_string()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        let page: P = api
            .get(segments, &query)
            .await
            .map_err(|e| e.to_provider_error(&format!("{what} (offset {offset})"), false))?;
        let (got, total) = items(page);
        let n = got.len();
        out.extend(got);
        offset += n;
        if n < PAGE_LIMIT || total.is_some_and(|t| offset as u64 >= t) {
            return Ok(out);
        }
        if offset >= MAX_LISTED {
            // A service that ignores `offset` would page forever.
            return Err(ProviderError::Parse(format!(
                "{what}: paging did not end after {offset} entries"
            )));
        }
    }
}

/// Every user of the organisation, once each.
async fn all_users(api: &Api) -> Result<Vec<ApiUser>, ProviderError> {
    let mut queue = VecDeque::from([ROOT_DEPARTMENT.to_string()]);
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut users: BTreeMap<String, ApiUser> = BTreeMap::new();
    while let Some(dept) = queue.pop_front() {
        let subs = pages(
            api,
            &["v2", "departments", &dept, "departments"],
            &format!("listing the sub-departments of department {dept}"),
            |p: DepartmentPage| (p.departments, p.total),
        )
        .await?;
        for d in subs {
            if seen.insert(d.id.clone()) {
                queue.push_back(d.id);
            }
        }
        let members = pages(
            api,
            &["v2", "departments", &dept, "users"],
            &format!("listing the users of department {dept}"),
            |p: UserPage| (p.users, p.total),
        )
        .await?;
        for u in members {
            users.entry(u.id.clone()).or_insert(u);
        }
    }
    Ok(users.into_values().collect())
}

#[async_trait]
impl MailProvider for AlimailProvider {
    fn kind(&self) -> &'static str {
        "alimail"
    }

    fn capabilities(&self) -> MailCapabilities {
        MailCapabilities {
            mailbox_aliases: true,
            group_aliases: false,
            // The Open API's group create/update/delete and member calls
            // were not found (research notes §5): not supported yet.
            groups: false,
            standalone_aliases: false,
            group_external_senders: false,
            display_names: true,
            // A clear-text initial password, required on create; see
            // `check`.
            password: PasswordPolicy {
                hash_schemes: vec![],
                plain: true,
                required: true,
            },
            shared_mailboxes: false,
            distribution_lists: false,
            settings_hint: None,
            domain_aliases: false,
            offboarding: true,
        }
    }

    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let domain = normalize_name(domain.trim());
        let api = self.api()?;
        let users = all_users(&api).await?;
        let mut mailboxes = Vec::new();
        for u in &users {
            if convert::domain_of(&u.email).as_deref() == Some(domain.as_str()) {
                mailboxes.push(convert::mailbox(u)?);
            }
        }
        mailboxes.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(MailDomainState {
            domain,
            mailboxes,
            aliases: Vec::new(),
            groups: Vec::new(),
        })
    }

    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport::all_applied(0);
        }
        let domain = normalize_name(domain.trim());
        let refusals: Vec<Option<ProviderError>> =
            changes.iter().map(|c| check(&domain, c).err()).collect();
        if refusals.iter().any(Option::is_some) {
            let outcomes = refusals
                .into_iter()
                .map(|r| match r {
                    Some(e) => ChangeOutcome::Failed(e),
                    None => ChangeOutcome::NotAttempted(format!(
                        "another change for {domain} was refused before anything was written; \
                         nothing was written"
                    )),
                })
                .collect();
            return ApplyReport { outcomes };
        }
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut failed = false;
        for change in changes {
            if failed {
                outcomes.push(ChangeOutcome::NotAttempted(
                    "an earlier change failed; run `mailform plan` again".to_string(),
                ));
                continue;
            }
            match carry_out(&api, change).await {
                Ok(()) => outcomes.push(ChangeOutcome::Applied),
                Err(e) => {
                    failed = true;
                    outcomes.push(ChangeOutcome::Failed(e));
                }
            }
        }
        ApplyReport { outcomes }
    }
}

/// Whether `change` can be carried out, before anything is written.
fn check(domain: &str, change: &MailChange) -> Result<(), ProviderError> {
    let unsupported = |what: &str, why: &str| {
        Err(ProviderError::Unsupported(format!(
            "{what} `{}`: {why}",
            change.address()
        )))
    };
    match change {
        MailChange::CreateAlias { .. }
        | MailChange::UpdateAlias { .. }
        | MailChange::DeleteAlias { .. } => unsupported(
            "alias",
            "Alibaba Mail has no stand-alone forwarding addresses; write the address under the \
             mailbox's `aliases:` instead, or make it a group on another provider",
        ),
        MailChange::CreateGroup { .. }
        | MailChange::UpdateGroup { .. }
        | MailChange::DeleteGroup { .. } => unsupported(
            "group",
            "the alimail provider does not manage mail groups (邮件组) yet: the Open API's calls \
             to create, change and delete groups and their members are not documented where \
             mailform could confirm them; manage groups in the admin console",
        ),
        MailChange::CreateMailbox { new, password } => {
            in_domain(domain, &new.address)?;
            successor_check(new)?;
            password_check(&new.address, password.as_ref())
        }
        MailChange::UpdateMailbox { old, new } => {
            in_domain(domain, &new.address)?;
            successor_check(new)?;
            if old.id.is_none() && new.id.is_none() {
                return Err(ProviderError::Conflict(format!(
                    "mailbox `{}` has no Alibaba Mail user id in the plan; run `mailform plan` \
                     again",
                    new.address
                )));
            }
            Ok(())
        }
        MailChange::DeleteMailbox { old } => {
            in_domain(domain, &old.address)?;
            if old.id.is_none() {
                return Err(ProviderError::Conflict(format!(
                    "mailbox `{}` has no Alibaba Mail user id in the plan; run `mailform plan` \
                     again",
                    old.address
                )));
            }
            Ok(())
        }
    }
}

fn in_domain(domain: &str, address: &str) -> Result<(), ProviderError> {
    if convert::domain_of(address).as_deref() == Some(domain) {
        Ok(())
    } else {
        Err(ProviderError::Rejected(format!(
            "`{address}` is not in the domain {domain}"
        )))
    }
}

fn successor_check(new: &Mailbox) -> Result<(), ProviderError> {
    match (&new.state, &new.successor) {
        (MailboxState::Offboarded, Some(s)) => Err(ProviderError::Unsupported(format!(
            "mailbox `{}` is offboarded with successor `{s}`, but the alimail provider cannot \
             forward an offboarded user's mail: no Open API call for it was found; set up \
             forwarding in the admin console and remove `successor:`, or keep the mailbox \
             `suspended`",
            new.address
        ))),
        _ => Ok(()),
    }
}

/// Whether `password` is a `{SCHEME}...` hash, as `password_hash` holds.
fn is_hash(password: &str) -> bool {
    password
        .strip_prefix('{')
        .and_then(|r| r.split_once('}'))
        .is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        })
}

fn password_check(address: &str, password: Option<&InitialPassword>) -> Result<(), ProviderError> {
    match password {
        None | Some(InitialPassword::Generate) => Err(ProviderError::Rejected(format!(
            "mailbox `{address}` cannot be created: Alibaba Mail needs a clear-text initial \
             password for a new user and none was given; add `initial_password: ${{file:...}}` \
             or `initial_password: generate` (with `apply --password-file`)"
        ))),
        Some(InitialPassword::Plain(p)) if p.expose().trim().is_empty() => {
            Err(ProviderError::Rejected(format!(
                "mailbox `{address}` cannot be created: its initial password is empty"
            )))
        }
        Some(InitialPassword::Hash(_)) => Err(ProviderError::Unsupported(format!(
            "mailbox `{address}` cannot be created: Alibaba Mail takes a clear-text initial \
             password and cannot import a password hash (`password_hash`); use \
             `initial_password` instead"
        ))),
        Some(InitialPassword::Plain(p)) if is_hash(p.expose()) => {
            Err(ProviderError::Rejected(format!(
                "mailbox `{address}` cannot be created: its initial password looks like a hash"
            )))
        }
        Some(InitialPassword::Plain(_)) => Ok(()),
    }
}

/// `e` with a note of the calls of this change already made.
fn with_done(e: ProviderError, done: &[String]) -> ProviderError {
    if done.is_empty() {
        return e;
    }
    e.map_message(|m| format!("{m} (already done for this change: {})", done.join(", ")))
}

/// One write; `what` names it in errors and in the list of what was done.
async fn step(
    api: &Api,
    done: &mut Vec<String>,
    what: String,
    method: Method,
    segments: &[&str],
    body: Option<&impl serde::Serialize>,
) -> Result<String, ProviderError> {
    match api.write(method, segments, body).await {
        Ok(text) => {
            done.push(what);
            Ok(text)
        }
        Err(e) => Err(with_done(e.to_provider_error(&what, true), done)),
    }
}

async fn aliases(
    api: &Api,
    done: &mut Vec<String>,
    id: &str,
    address: &str,
    remove: &[String],
    add: &[String],
) -> Result<(), ProviderError> {
    let path = ["v2", "users", id, "emailAliases"];
    for alias in remove {
        let body = DeleteAlias {
            alias: alias.clone(),
        };
        let what = format!("removing alias {alias} from {address}");
        step(api, done, what, Method::DELETE, &path, Some(&body)).await?;
    }
    for alias in add {
        let body = AddAlias {
            alias: alias.clone(),
            as_default: false,
        };
        let what = format!("adding alias {alias} to {address}");
        step(api, done, what, Method::POST, &path, Some(&body)).await?;
    }
    Ok(())
}

fn set_minus(a: &[String], b: &[String]) -> Vec<String> {
    let b: BTreeSet<&String> = b.iter().collect();
    let out: BTreeSet<String> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    out.into_iter().collect()
}

async fn carry_out(api: &Api, change: &MailChange) -> Result<(), ProviderError> {
    let mut done = Vec::new();
    match change {
        MailChange::CreateMailbox { new, password } => {
            let password = match password {
                Some(InitialPassword::Plain(p)) => Some(p.expose().to_string()),
                _ => None,
            };
            if let Some(p) = &password {
                // An error answer might echo it.
                api.redact(p);
            }
            let name = new.display_name.clone().unwrap_or_else(|| {
                // `name` is sent on every create by the SDKs studied; when
                // the file gives none, use the local part.
                new.address
                    .split_once('@')
                    .map_or(new.address.clone(), |(l, _)| l.to_string())
            });
            let body = CreateUser {
                email: new.address.clone(),
                name,
                password: password.unwrap_or_default(),
                department_ids: vec![ROOT_DEPARTMENT.to_string()],
            };
            let what = format!("creating user {}", new.address);
            let text = step(
                api,
                &mut done,
                what,
                Method::POST,
                &["v2", "users"],
                Some(&body),
            )
            .await?;
            // The create answer is a user object (UNCERTAIN); without an id
            // in it, the address names the user (LIKELY: paths take either).
            let id = serde_json::from_str::<ApiUser>(&text)
                .ok()
                .map(|u| u.id)
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| new.address.clone());
            if new.state != MailboxState::Active {
                let body = UpdateUser {
                    status: Some(convert::status(new.state).to_string()),
                    ..UpdateUser::default()
                };
                let what = format!("freezing user {}", new.address);
                step(
                    api,
                    &mut done,
                    what,
                    Method::PATCH,
                    &["v2", "users", &id],
                    Some(&body),
                )
                .await?;
            }
            let add = set_minus(&new.aliases, &[]);
            aliases(api, &mut done, &id, &new.address, &[], &add).await
        }
        MailChange::UpdateMailbox { old, new } => {
            let id = old
                .id
                .clone()
                .or_else(|| new.id.clone())
                .unwrap_or_default();
            let mut body = UpdateUser::default();
            if new.display_name != old.display_name {
                if let Some(n) = &new.display_name {
                    body.name = Some(n.clone());
                }
            }
            if convert::status(new.state) != convert::status(old.state) {
                body.status = Some(convert::status(new.state).to_string());
            }
            if body != UpdateUser::default() {
                let what = format!("updating user {}", new.address);
                step(
                    api,
                    &mut done,
                    what,
                    Method::PATCH,
                    &["v2", "users", &id],
                    Some(&body),
                )
                .await?;
            }
            let remove = set_minus(&old.aliases, &new.aliases);
            let add = set_minus(&new.aliases, &old.aliases);
            aliases(api, &mut done, &id, &new.address, &remove, &add).await
        }
        MailChange::DeleteMailbox { old } => {
            let id = old.id.clone().unwrap_or_default();
            let what = format!("deleting user {}", old.address);
            step(
                api,
                &mut done,
                what,
                Method::DELETE,
                &["v2", "users", &id],
                None::<&()>,
            )
            .await
            .map(|_| ())
        }
        // Refused by `check`.
        other => Err(ProviderError::Unsupported(format!(
            "`{}` is not a change the alimail provider carries out",
            other.address()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::Secret;

    #[test]
    fn hashes_are_told_from_passwords() {
        assert!(is_hash("{SHA512-CRYPT}$6$abc"));
        assert!(is_hash("{BLF-CRYPT}$2y$x"));
        assert!(!is_hash("S3cret!{x}"));
        assert!(!is_hash("{lower}x"));
        assert!(password_check("a@x", None).is_err());
        assert!(matches!(
            password_check(
                "a@x",
                Some(&InitialPassword::Hash(Secret::new("{SHA512-CRYPT}$6$x")))
            ),
            Err(ProviderError::Unsupported(_))
        ));
        let plain = InitialPassword::Plain(Secret::new("Initial-Pass-1"));
        assert!(password_check("a@x", Some(&plain)).is_ok());
        assert!(password_check("a@x", Some(&InitialPassword::Generate)).is_err());
    }

    #[test]
    fn groups_and_aliases_are_refused() {
        let alias = MailChange::CreateAlias {
            new: mailform_contract::Alias {
                address: "x@example.com".into(),
                targets: vec!["a@example.com".into()],
            },
        };
        let e = check("example.com", &alias).unwrap_err();
        assert!(matches!(e, ProviderError::Unsupported(_)), "{e}");
    }
}
