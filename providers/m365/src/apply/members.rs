//! Group members: given by address, they must be users of the tenant;
//! addresses are resolved to directory ids from one listing of the
//! tenant's users per apply and from the ids Graph answered this
//! provider's creates with — a user just created may be missing from
//! listings for a while (see `crate::provider::Created`), so a listing
//! alone would refuse it. Additions and removals are independent of each
//! other and go through `$batch`, 20 a request.

use super::*;
use std::collections::HashMap;

use crate::client::BatchItem;
use crate::errors::done_before;
use crate::read::list_all;

pub(super) async fn list_members(
    api: &Api,
    group_id: &str,
    cid: &str,
) -> Result<Vec<api::Member>, ProviderError> {
    list_all(
        api,
        &format!("/groups/{}/members", enc(group_id)),
        api::MEMBER_SELECT,
        &format!("listing members of group {group_id}"),
        permissions::GROUPS,
        cid,
    )
    .await
}

/// The tenant's users by address, for resolving members.
#[derive(Default)]
pub(super) struct Directory {
    /// Primary address (mail) and sign-in name → user id.
    pub(super) ids: HashMap<String, String>,
    /// Secondary address → the primary it belongs to.
    pub(super) secondary: HashMap<String, String>,
}

impl Run<'_> {
    fn created(&self) -> std::sync::MutexGuard<'_, crate::provider::Created> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A user Graph answered a create with: resolvable from now on,
    /// whether or not listings show it yet.
    pub(super) fn remember_user(&mut self, address: &str, id: &str) {
        let address = address.to_ascii_lowercase();
        if let Some(d) = &mut self.directory {
            d.ids.insert(address.clone(), id.to_string());
        }
        self.created().users.insert(address, id.to_string());
    }

    /// A group Graph answered a create with.
    pub(super) fn remember_group(&self, id: &str) {
        self.created().groups.insert(id.to_string());
    }

    /// A user deleted (by id or sign-in name).
    pub(super) fn forget_user(&self, key: &str) {
        self.created()
            .users
            .retain(|a, id| id != key && !a.eq_ignore_ascii_case(key));
    }

    /// The tenant's users by address, listed once an apply.
    pub(super) async fn load_directory(&mut self) -> Result<(), ProviderError> {
        if self.directory.is_none() {
            let what = "listing the tenant's users";
            let url = self.url(
                "/users",
                &[
                    ("$select", "id,userPrincipalName,mail,proxyAddresses"),
                    ("$top", api::PAGE),
                ],
                what,
                permissions::USERS,
            )?;
            let users: Vec<api::User> = self
                .api
                .get_all(url)
                .await
                .map_err(|e| self.err(e, what, permissions::USERS))?;
            let mut d = Directory::default();
            for u in &users {
                let Some(primary) = convert::user_address(u) else {
                    continue;
                };
                for a in convert::secondary_smtp(&u.proxy_addresses, &primary) {
                    d.secondary.insert(a, primary.clone());
                }
                if let Some(upn) = &u.user_principal_name {
                    d.ids.insert(upn.to_ascii_lowercase(), u.id.clone());
                }
                d.ids.insert(primary, u.id.clone());
            }
            // Users created a moment ago may be missing from the listing.
            for (a, id) in &self.created().users {
                d.ids.entry(a.clone()).or_insert_with(|| id.clone());
            }
            self.directory = Some(d);
        }
        Ok(())
    }

    /// The directory ids of `members`, which must be users of the tenant
    /// given by their primary address.
    pub(super) async fn resolve_members(
        &mut self,
        group: &str,
        members: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        if members.is_empty() {
            return Ok(vec![]);
        }
        self.load_directory().await?;
        let d = self.directory.as_ref().expect("loaded above");
        members
            .iter()
            .map(|m| {
                if let Some(id) = d.ids.get(m) {
                    return Ok(id.clone());
                }
                Err(match d.secondary.get(m) {
                    Some(primary) => ProviderError::Rejected(format!(
                        "{m} (a member of {group}) is an alias of {primary}; list the member by its primary address {primary}"
                    )),
                    None => ProviderError::Rejected(format!(
                        "{m} cannot be a member of {group}: Microsoft 365 groups take only users of the tenant, and {m} is none (inviting outside addresses as guests is not supported)"
                    )),
                })
            })
            .collect()
    }

    /// Adds and removes members of group `id` through `$batch`.
    /// `adds`/`removes`: (address, directory id).
    pub(super) async fn sync_members(
        &self,
        id: &str,
        group: &str,
        adds: &[(String, String)],
        removes: &[(String, String)],
    ) -> Result<(), ProviderError> {
        if adds.is_empty() && removes.is_empty() {
            return Ok(());
        }
        let endpoint = self.config.graph_endpoint();
        let mut items = Vec::new();
        for (_, uid) in adds {
            items.push(BatchItem {
                method: Method::POST,
                url: format!("/groups/{}/members/$ref", enc(id)),
                body: Some(
                    serde_json::to_value(api::MemberRef {
                        odata_id: format!("{endpoint}/v1.0/directoryObjects/{uid}"),
                    })
                    .unwrap_or(Value::Null),
                ),
                retry_not_found: true,
            });
        }
        for (_, uid) in removes {
            items.push(BatchItem {
                method: Method::DELETE,
                url: format!("/groups/{}/members/{}/$ref", enc(id), enc(uid)),
                body: None,
                retry_not_found: false,
            });
        }
        let results = self.api.batch(&items).await;
        let labels = adds
            .iter()
            .map(|(a, _)| format!("adding {a} to {group}"))
            .chain(
                removes
                    .iter()
                    .map(|(a, _)| format!("removing {a} from {group}")),
            );
        let mut failures = Vec::new();
        for (label, r) in labels.zip(results) {
            match r {
                Ok(_) => {}
                // Already a member: what was wanted.
                Err(CallError::Api {
                    status: 400,
                    ref message,
                    ..
                }) if label.starts_with("adding") && message.contains("already exist") => {}
                // No longer a member: what was wanted.
                Err(CallError::Api { status: 404, .. }) if label.starts_with("removing") => {}
                Err(e) => failures.push(self.err(e, &label, permissions::GROUPS)),
            }
        }
        let total = items.len();
        match failures.len() {
            0 => Ok(()),
            n => {
                let first = failures.swap_remove(0);
                let note = format!(
                    "{} of {total} member changes of {group} failed, the others were made",
                    n
                );
                Err(done_before(first, &note))
            }
        }
    }
}
