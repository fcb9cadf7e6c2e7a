//! Carrying out a domain's changes: one at a time, in the engine's order;
//! the first failure stops the rest (reported as not attempted), except
//! that consecutive plain user creates go out together through `$batch`
//! (`users`). A [`Run`] is one apply and what it has learnt of the
//! tenant so far.
//!
//! - `users`: users (mailboxes) created, changed, deleted.
//! - `offboard`: offboarding and reinstating (Exchange backend).
//! - `shared`: shared mailboxes and their delegates (Exchange backend).
//! - `groups`: Microsoft 365 groups (Graph) and distribution lists
//!   (Exchange backend).
//! - `members`: resolving addresses to directory ids, member changes.

mod groups;
mod members;
mod offboard;
mod shared;
mod users;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use mailform_contract::{
    ApplyReport, ChangeOutcome, Group, GroupKind, InitialPassword, MailChange, Mailbox,
    MailboxKind, MailboxState, ProviderError,
};
use mailform_http::Method;
use serde_json::Value;

use crate::api;
use crate::auth::permissions;
use crate::client::{Api, CallError};
use crate::config::Config;
use crate::convert;
use crate::domains::DomainCache;
use crate::errors::standalone;
use crate::exchange::{self, Exchange};
use crate::provider::{enc, M365Provider};

use members::Directory;

impl M365Provider {
    pub(super) async fn apply(&self, _domain: &str, changes: &[MailChange]) -> ApplyReport {
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let exchange = match self.exchange(&api).await {
            Ok(e) => e,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut run = Run {
            api: &api,
            exchange,
            config: &self.config,
            cid: api.client_id().to_string(),
            directory: None,
            domains: &self.domains,
            sku: None,
            created: &self.created,
        };
        let mut outcomes = Vec::with_capacity(changes.len());
        let mut stopped: Option<String> = None;
        let mut i = 0;
        while i < changes.len() {
            let change = &changes[i];
            if let Some(why) = &stopped {
                outcomes.push(ChangeOutcome::NotAttempted(why.clone()));
                i += 1;
                continue;
            }
            if self.batch_user_creates {
                let results = run.create_users_batched(&changes[i..]).await;
                if !results.is_empty() {
                    for (k, r) in results.into_iter().enumerate() {
                        match r {
                            Ok(()) => outcomes.push(ChangeOutcome::Applied),
                            Err(e) => {
                                stopped.get_or_insert_with(|| {
                                    format!(
                                        "an earlier change ({}) failed",
                                        changes[i + k].address()
                                    )
                                });
                                outcomes.push(ChangeOutcome::Failed(e));
                            }
                        }
                        i += 1;
                    }
                    continue;
                }
            }
            i += 1;
            match run.apply_one(change).await {
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

/// One apply: what it has learnt about the tenant so far.
pub(crate) struct Run<'a> {
    api: &'a Api,
    exchange: Option<Arc<Exchange>>,
    config: &'a Config,
    cid: String,
    directory: Option<Directory>,
    /// The provider's listing of the tenant's domains.
    domains: &'a DomainCache,
    /// `default_licence`: its skuId and the seats left.
    sku: Option<(String, i64)>,
    /// What the provider created, from Graph's answers (see
    /// [`crate::provider::Created`]).
    created: &'a std::sync::Mutex<crate::provider::Created>,
}

impl Run<'_> {
    pub(super) fn err(&self, e: CallError, what: &str, permission: &str) -> ProviderError {
        convert::error(e, what, permission, &self.cid)
    }

    pub(super) fn url(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
        permission: &str,
    ) -> Result<mailform_http::Url, ProviderError> {
        self.api
            .url(path, query)
            .map_err(|e| self.err(e, what, permission))
    }

    pub(super) async fn apply_one(&mut self, change: &MailChange) -> Result<(), ProviderError> {
        match change {
            MailChange::CreateMailbox { new, password } => {
                self.create_user(new, password.as_ref()).await
            }
            MailChange::UpdateMailbox { old, new } => self.update_user(old, new).await,
            MailChange::DeleteMailbox { old } => {
                let what = format!("deleting user {}", old.address);
                let key = old.id.clone().unwrap_or_else(|| old.address.clone());
                let url = self.url(
                    &format!("/users/{}", enc(&key)),
                    &[],
                    &what,
                    permissions::USERS,
                )?;
                self.api
                    .send::<(), Value>(Method::DELETE, url, None)
                    .await
                    .map_err(|e| self.err(e, &what, permissions::USERS))?;
                if let Some(d) = &mut self.directory {
                    d.ids.retain(|_, id| *id != key);
                }
                self.forget_user(&key);
                Ok(())
            }
            MailChange::CreateGroup { new } => self.create_group(new).await,
            MailChange::UpdateGroup { old, new } => self.update_group(old, new).await,
            MailChange::DeleteGroup { old } if old.kind == GroupKind::Distribution => {
                let ex = self.exchange_for_list(old)?;
                ex.remove_distribution_group(&old.address)
                    .await
                    .map_err(|e| {
                        exchange::error(
                            e,
                            &format!("deleting distribution group {}", old.address),
                            &self.cid,
                        )
                    })
            }
            MailChange::DeleteGroup { old } => {
                let what = format!("deleting group {}", old.address);
                let id = self.writable_group(old).await?;
                let url = self.url(
                    &format!("/groups/{}", enc(&id)),
                    &[],
                    &what,
                    permissions::GROUPS,
                )?;
                self.api
                    .send::<(), Value>(Method::DELETE, url, None)
                    .await
                    .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
                Ok(())
            }
            MailChange::CreateAlias { new } | MailChange::UpdateAlias { new, .. } => {
                Err(standalone(&new.address))
            }
            MailChange::DeleteAlias { old } => Err(standalone(&old.address)),
        }
    }

    /// The skuId of `part` (a SKU part number), if a seat is free; the
    /// tenant's subscriptions are read once an apply.
    pub(super) async fn free_seat(&mut self, part: &str) -> Result<String, ProviderError> {
        if self.sku.is_none() {
            let what = "reading the tenant's licences (subscribedSkus)";
            let url = self.url(
                "/subscribedSkus",
                &[("$select", "skuId,skuPartNumber,consumedUnits,prepaidUnits")],
                what,
                permissions::ORGANIZATION,
            )?;
            let skus: Vec<api::SubscribedSku> = self
                .api
                .get_all(url)
                .await
                .map_err(|e| self.err(e, what, permissions::ORGANIZATION))?;
            let Some(s) = skus
                .iter()
                .find(|s| s.sku_part_number.eq_ignore_ascii_case(part))
            else {
                let have: Vec<&str> = skus.iter().map(|s| s.sku_part_number.as_str()).collect();
                return Err(ProviderError::Rejected(format!(
                    "`default_licence: {part}`: the tenant has no such subscription (it has: {}); give a SKU part number from Microsoft 365 admin center → Billing → Licenses",
                    if have.is_empty() { "none".to_string() } else { have.join(", ") }
                )));
            };
            self.sku = Some((s.sku_id.clone(), s.prepaid_units.enabled - s.consumed_units));
        }
        let (id, free) = self.sku.clone().expect("read above");
        if free <= 0 {
            return Err(ProviderError::Rejected(format!(
                "no free {part} licence (`default_licence`): every seat is assigned, so the user was not created — buy more (Microsoft 365 admin center → Billing → Your products) or free one, then apply again"
            )));
        }
        Ok(id)
    }

    /// The Exchange backend, for a shared mailbox or distribution list.
    pub(super) fn exchange_for(
        &self,
        address: &str,
        what: &str,
    ) -> Result<Arc<Exchange>, ProviderError> {
        self.exchange.clone().ok_or_else(|| {
            ProviderError::Unsupported(format!(
                "{address} is {what}, an Exchange Online object: turn on the provider's Exchange backend (`exchange: {{enabled: true}}`, see its README)"
            ))
        })
    }

    pub(super) fn exchange_for_list(&self, g: &Group) -> Result<Arc<Exchange>, ProviderError> {
        self.exchange_for(&g.address, "a distribution list")
    }

    /// The skuIds assigned to user `key`.
    pub(super) async fn assigned_licences(
        &self,
        key: &str,
        who: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let what = format!("reading the licences of {who}");
        let url = self.url(
            &format!("/users/{}", enc(key)),
            &[("$select", "assignedLicenses")],
            &what,
            permissions::USERS,
        )?;
        let u: api::UserLicences = self
            .api
            .get(url)
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        Ok(u.assigned_licenses.into_iter().map(|l| l.sku_id).collect())
    }

    pub(super) async fn patch_user(
        &self,
        key: &str,
        who: &str,
        patch: api::UserPatch,
    ) -> Result<(), ProviderError> {
        let what = format!("updating user {who}");
        let url = self.url(
            &format!("/users/{}", enc(key)),
            &[],
            &what,
            permissions::USERS,
        )?;
        self.api
            .send::<_, Value>(Method::PATCH, url, Some(&patch))
            .await
            .map_err(|e| self.err(e, &what, permissions::USERS))?;
        Ok(())
    }
}

pub(super) fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

/// (added, removed) from `old` to `new`.
pub(super) fn diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let (o, n) = (set(old), set(new));
    (
        n.difference(&o).cloned().collect(),
        o.difference(&n).cloned().collect(),
    )
}
