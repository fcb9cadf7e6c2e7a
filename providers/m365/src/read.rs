//! Reading a domain: a read lists the tenant's users and groups (999 a page, following
//! `@odata.nextLink`) and keeps those whose address is in the domain, then
//! reads the mail-enabled groups' members, 20 groups a `$batch` (the rest
//! of a list longer than a page by its next link). Graph cannot filter
//! users by domain without advanced queries (`ConsistencyLevel:
//! eventual`), so the filtering is done here. Any failed call fails the
//! read: nothing unread is ever reported as absent. The engine reads only
//! domains whose status is ready; the read still checks the domain is
//! verified.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use mailform_contract::{
    Group, GroupKind, MailDomainState, Mailbox, MailboxKind, MailboxState, ProviderError,
};
use mailform_http::Method;
use serde_json::Value;

use crate::api;
use crate::auth::permissions;
use crate::client::{Api, BatchItem, CallError};
use crate::convert;
use crate::exchange;
use crate::provider::{enc, M365Provider};

/// Long member lists whose further pages are read at the same time.
const GROUP_READ_CONCURRENCY: usize = 4;

/// Whether `address` is in `domain`.
fn in_domain(address: &str, domain: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
}

/// The tenant's routing addresses (`alias@contoso.onmicrosoft.com`), which
/// Exchange gives every mailbox and group: not managed, not reported.
fn routing_address(address: &str) -> bool {
    address.ends_with(".onmicrosoft.com") || address.ends_with(".onmschina.cn")
}

impl M365Provider {
    pub(crate) async fn read(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        let api = self.api()?;
        let cid = api.client_id().to_string();
        // The engine reads only domains whose status is ready; a safety
        // net, from the run's one listing of the domains: a domain the
        // tenant has not verified holds no mail, and mailboxes planned
        // there could not be created.
        if !self
            .domains
            .find(&api, domain)
            .await?
            .is_some_and(|d| d.is_verified)
        {
            return Err(ProviderError::Rejected(format!(
                "`{domain}` is not a verified domain of the Microsoft 365 tenant: apply onboards it (adds it, has its verification record published, verifies it), or add and verify it in the Microsoft 365 admin center → Settings → Domains; then plan again"
            )));
        }
        // Without the Exchange backend aliases are not managed (see the
        // capabilities): left out, so plans neither compare nor change them.
        let managed_aliases = self.config.exchange_enabled();
        let mut users: Vec<api::User> = list_all(
            &api,
            "/users",
            api::USER_SELECT,
            "listing users",
            permissions::USERS,
            &cid,
        )
        .await?;
        let missing = self.created_missing(users.iter().map(|u| u.id.as_str()), true);
        users.extend(
            self.by_id::<api::User>(&api, "users", missing, api::USER_SELECT, &cid)
                .await?,
        );
        let mut mailboxes: Vec<Mailbox> = users
            .iter()
            .filter_map(convert::mailbox)
            .filter(|m| in_domain(&m.address, domain))
            .map(|mut m| {
                m.aliases.retain(|a| !routing_address(a) && managed_aliases);
                m
            })
            .collect();
        mailboxes.sort_by(|a, b| a.address.cmp(&b.address));
        // Which mailboxes are shared, and which of those were users'
        // mailboxes converted by offboarding (marked so; the conversion is
        // the last of the steps that say so) — only Exchange knows. Both
        // have their sign-in blocked (Exchange makes shared mailboxes'
        // accounts so), so an Exchange read is needed only then.
        if mailboxes.iter().any(|m| m.state == MailboxState::Suspended) {
            if let Some(ex) = self.exchange(&api).await? {
                let info = ex
                    .mailboxes()
                    .await
                    .map_err(|e| exchange::error(e, "reading mailboxes (Get-Mailbox)", &cid))?;
                // Full Access is granted to sign-in names; the file names
                // people by their primary addresses.
                let by_upn: HashMap<String, String> = users
                    .iter()
                    .filter_map(|u| {
                        Some((
                            u.user_principal_name.as_deref()?.to_ascii_lowercase(),
                            convert::user_address(u)?,
                        ))
                    })
                    .collect();
                for m in &mut mailboxes {
                    let Some(i) = m.id.as_ref().and_then(|id| info.get(id)) else {
                        continue;
                    };
                    if !i.shared {
                        continue;
                    }
                    if i.offboarded && m.state == MailboxState::Suspended {
                        m.state = MailboxState::Offboarded;
                        m.successor = i.forwarding.clone();
                        continue;
                    }
                    // Nobody signs in to a shared mailbox, whether its
                    // account is blocked or not.
                    m.kind = MailboxKind::Shared;
                    m.state = MailboxState::Active;
                    let what = format!(
                        "reading who has Full Access to {} (Get-MailboxPermission)",
                        m.address
                    );
                    let mut delegates: Vec<String> = ex
                        .full_access(&m.address)
                        .await
                        .map_err(|e| exchange::error(e, &what, &cid))?
                        .into_iter()
                        .filter_map(|u| match by_upn.get(&u) {
                            Some(a) => Some(a.clone()),
                            // `NT AUTHORITY\SELF` and other system principals.
                            None if u.contains('@') => Some(u),
                            None => None,
                        })
                        .filter(|a| *a != m.address)
                        .collect();
                    delegates.sort();
                    delegates.dedup();
                    m.delegates = delegates;
                }
            }
        }

        let mut groups: Vec<api::Group> = list_all(
            &api,
            "/groups",
            api::GROUP_SELECT,
            "listing groups",
            permissions::GROUPS,
            &cid,
        )
        .await?;
        let missing = self.created_missing(groups.iter().map(|g| g.id.as_str()), false);
        groups.extend(
            self.by_id::<api::Group>(&api, "groups", missing, api::GROUP_SELECT, &cid)
                .await?,
        );
        let mail_groups: Vec<api::Group> = groups
            .into_iter()
            .filter(|g| g.mail_enabled == Some(true))
            .filter(|g| g.mail.as_deref().is_some_and(|m| in_domain(m, domain)))
            .collect();
        let member_lists = read_members(&api, &mail_groups, &cid).await?;
        let mut groups: Vec<Group> = mail_groups
            .iter()
            .zip(&member_lists)
            .filter_map(|(g, members)| convert::group(g, members))
            .map(|mut g| {
                g.aliases.retain(|a| !routing_address(a) && managed_aliases);
                g
            })
            .collect();
        groups.sort_by(|a, b| a.address.cmp(&b.address));
        let unified = groups.iter().any(|g| g.kind == GroupKind::Default);
        let distribution = groups.iter().any(|g| g.kind == GroupKind::Distribution);
        if unified || distribution {
            if let Some(ex) = self.exchange(&api).await? {
                let mut auth = HashMap::new();
                for (wanted, cmdlet, what) in [
                    (unified, "Get-UnifiedGroup", "Microsoft 365 groups"),
                    (distribution, "Get-DistributionGroup", "distribution groups"),
                ] {
                    if wanted {
                        let read = ex.sender_authentication(cmdlet).await.map_err(|e| {
                            exchange::error(e, &format!("reading {what} ({cmdlet})"), &cid)
                        })?;
                        auth.extend(read);
                    }
                }
                for g in &mut groups {
                    if let Some(required) = g.id.as_ref().and_then(|id| auth.get(id)) {
                        g.allow_external = !required;
                    }
                }
            }
        }
        Ok(MailDomainState {
            domain: domain.to_string(),
            mailboxes,
            aliases: vec![],
            groups,
        })
    }
}

impl M365Provider {
    /// Ids of users (`users`) or groups this provider created that a
    /// listing of `listed` ids lacks (see [`crate::provider::Created`]).
    fn created_missing<'a>(
        &self,
        listed: impl Iterator<Item = &'a str>,
        users: bool,
    ) -> Vec<String> {
        let listed: std::collections::HashSet<&str> = listed.collect();
        let created = self.created();
        let ids: Vec<&String> = if users {
            created.users.values().collect()
        } else {
            created.groups.iter().collect()
        };
        ids.into_iter()
            .filter(|id| !listed.contains(id.as_str()))
            .cloned()
            .collect()
    }

    /// `GET /{collection}/{id}` of each of `ids`; one gone since (404) is
    /// forgotten.
    async fn by_id<T: serde::de::DeserializeOwned>(
        &self,
        api: &Api,
        collection: &str,
        ids: Vec<String>,
        select: &str,
        cid: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let permission = if collection == "users" {
            permissions::USERS
        } else {
            permissions::GROUPS
        };
        let mut out = Vec::new();
        for id in ids {
            let what = format!("reading {collection}/{id}, created moments ago");
            let url = api
                .url(
                    &format!("/{collection}/{}", enc(&id)),
                    &[("$select", select)],
                )
                .map_err(|e| convert::error(e, &what, permission, cid))?;
            match api.get::<T>(url).await {
                Ok(v) => out.push(v),
                Err(CallError::Api { status: 404, .. }) => {
                    let mut created = self.created();
                    created.users.retain(|_, i| *i != id);
                    created.groups.remove(&id);
                }
                Err(e) => return Err(convert::error(e, &what, permission, cid)),
            }
        }
        Ok(out)
    }
}

/// The members of each group: first pages through `$batch`, 20 groups a
/// request, the rest of a long list by following its next link.
async fn read_members(
    api: &Arc<Api>,
    groups: &[api::Group],
    cid: &str,
) -> Result<Vec<Vec<api::Member>>, ProviderError> {
    let query = [("$select", api::MEMBER_SELECT), ("$top", api::PAGE)];
    let items: Vec<BatchItem> = groups
        .iter()
        .map(|g| BatchItem {
            method: Method::GET,
            url: Api::relative(&format!("/groups/{}/members", enc(&g.id)), &query),
            body: None,
            retry_not_found: false,
        })
        .collect();
    let firsts = api.batch(&items).await;
    let rest = groups
        .iter()
        .cloned()
        .zip(firsts)
        .map(|(g, first)| rest_of_members(api.clone(), g, first, cid.to_string()));
    stream::iter(rest)
        .buffered(GROUP_READ_CONCURRENCY)
        .try_collect()
        .await
}

/// A group's members from the first page, following its next link.
async fn rest_of_members(
    api: Arc<Api>,
    g: api::Group,
    first: Result<Value, CallError>,
    cid: String,
) -> Result<Vec<api::Member>, ProviderError> {
    let what = format!(
        "listing members of group {}",
        g.mail.as_deref().unwrap_or(&g.id)
    );
    let err = |e| convert::error(e, &what, permissions::GROUPS, &cid);
    let page: api::Page<api::Member> = serde_json::from_value(first.map_err(err)?)
        .map_err(|e| err(CallError::Parse(e.to_string())))?;
    let mut members = page.value;
    if let Some(next) = page.next_link {
        let url = mailform_http::Url::parse(&next)
            .map_err(|e| err(CallError::Parse(format!("next link {next:?}: {e}"))))?;
        members.extend(api.get_all::<api::Member>(url).await.map_err(err)?);
    }
    Ok(members)
}

/// Every page of `path` with `$select` and Graph's largest page size.
pub(crate) async fn list_all<T: serde::de::DeserializeOwned>(
    api: &Api,
    path: &str,
    select: &str,
    what: &str,
    permission: &str,
    cid: &str,
) -> Result<Vec<T>, ProviderError> {
    let url = api
        .url(path, &[("$select", select), ("$top", api::PAGE)])
        .map_err(|e| convert::error(e, what, permission, cid))?;
    api.get_all(url)
        .await
        .map_err(|e| convert::error(e, what, permission, cid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_addresses_and_domains() {
        assert!(routing_address("a@contoso.onmicrosoft.com"));
        assert!(!routing_address("a@example.com"));
        assert!(in_domain("a@Example.com", "example.com"));
        assert!(!in_domain("a@sub.example.com", "example.com"));
    }
}
