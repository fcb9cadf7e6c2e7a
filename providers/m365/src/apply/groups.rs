//! Groups: Microsoft 365 groups (`groupTypes: ["Unified"]`) through
//! Graph, their aliases and outside-sender setting through Exchange;
//! distribution lists (Exchange backend only) are Graph's non-unified,
//! non-security mail-enabled groups, with `allow_external` from one
//! `Get-DistributionGroup`; every write to them goes through Exchange. A
//! change of kind is refused (the planner refuses it first).

use super::*;
use crate::errors::{
    aliases_unsupported, done_before, external_unsupported, list_member_hint, member_progress,
};

use super::members::list_members;

impl Run<'_> {
    /// `New-DistributionGroup` with its members and outside-sender
    /// setting, then its aliases.
    pub(super) async fn create_distribution(&mut self, new: &Group) -> Result<(), ProviderError> {
        let ex = self.exchange_for_list(new)?;
        let alias = convert::group_nickname(&new.address)?;
        let local = new.address.split('@').next().unwrap_or(&new.address);
        let name = new.display_name.as_deref().unwrap_or(local);
        ex.new_distribution_group(
            &new.address,
            &alias,
            name,
            &new.members,
            !new.allow_external,
        )
        .await
        .map_err(|e| {
            list_member_hint(exchange::error(
                e,
                &format!("creating distribution group {}", new.address),
                &self.cid,
            ))
        })?;
        if !new.aliases.is_empty() {
            ex.set_distribution_group(&new.address, None, &new.aliases, &[], None, true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        "the distribution group was created with its members",
                    )
                })?;
        }
        Ok(())
    }

    pub(super) async fn update_distribution(
        &mut self,
        old: &Group,
        new: &Group,
    ) -> Result<(), ProviderError> {
        let ex = self.exchange_for_list(old)?;
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of distribution group {} to {} is not done by mailform yet",
                old.address, new.address
            )));
        }
        let name = new
            .display_name
            .as_deref()
            .filter(|_| old.display_name != new.display_name);
        let (add, remove) = diff(&old.aliases, &new.aliases);
        let external = (old.allow_external != new.allow_external).then_some(!new.allow_external);
        if name.is_some() || !add.is_empty() || !remove.is_empty() || external.is_some() {
            ex.set_distribution_group(&old.address, name, &add, &remove, external, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing distribution group {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        let (adding, removing) = diff(&old.members, &new.members);
        let total = adding.len() + removing.len();
        let mut done = 0;
        for m in &adding {
            match ex.add_distribution_member(&old.address, m).await {
                Ok(()) => {}
                // A member already: what was wanted.
                Err(CallError::Api { ref message, .. }) if message.contains("already a member") => {
                }
                Err(e) => {
                    let e = list_member_hint(exchange::error(
                        e,
                        &format!("adding {m} to {}", old.address),
                        &self.cid,
                    ));
                    return Err(member_progress(e, done, total, &old.address));
                }
            }
            done += 1;
        }
        for m in &removing {
            match ex.remove_distribution_member(&old.address, m).await {
                Ok(()) => {}
                // No longer a member: what was wanted.
                Err(CallError::Api { ref message, .. }) if message.contains("isn't a member") => {}
                Err(e) => {
                    let e = exchange::error(
                        e,
                        &format!("removing {m} from {}", old.address),
                        &self.cid,
                    );
                    return Err(member_progress(e, done, total, &old.address));
                }
            }
            done += 1;
        }
        Ok(())
    }

    /// The tenant's default domain, where Graph creates group addresses.
    pub(super) async fn default_domain(&mut self) -> Result<String, ProviderError> {
        self.domains
            .list(self.api)
            .await?
            .iter()
            .find(|d| d.is_default)
            .map(|d| d.id.to_ascii_lowercase())
            .ok_or_else(|| ProviderError::Parse("the tenant has no default domain".into()))
    }

    pub(super) async fn create_group(&mut self, new: &Group) -> Result<(), ProviderError> {
        if new.kind == GroupKind::Distribution {
            return self.create_distribution(new).await;
        }
        if self.exchange.is_none() {
            if !new.aliases.is_empty() {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            }
            if new.allow_external {
                return Err(external_unsupported(&new.address));
            }
        }
        let (local, domain) = new.address.rsplit_once('@').unwrap_or((&new.address, ""));
        let default = self.default_domain().await?;
        if !domain.eq_ignore_ascii_case(&default) {
            return Err(ProviderError::Unsupported(format!(
                "Graph creates Microsoft 365 groups at the tenant's default domain ({default}), so {} cannot be made through Graph; it needs Exchange Online (Set-UnifiedGroup -PrimarySmtpAddress), which the provider's Exchange backend does not do yet — or make {domain} the default domain (Microsoft 365 admin center → Settings → Domains)",
                new.address
            )));
        }
        let nickname = convert::group_nickname(&new.address)?;
        // Resolve members before creating anything, so an outside address
        // fails the change cleanly.
        let member_ids = self.resolve_members(&new.address, &new.members).await?;
        let body = api::NewGroup {
            display_name: new
                .display_name
                .clone()
                .unwrap_or_else(|| local.to_string()),
            mail_enabled: true,
            mail_nickname: nickname,
            security_enabled: false,
            group_types: vec!["Unified".into()],
        };
        let what = format!("creating group {}", new.address);
        let url = self.url("/groups", &[], &what, permissions::GROUPS)?;
        let created: api::Group = self
            .api
            .send(Method::POST, url, Some(&body))
            .await
            .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
        self.remember_group(&created.id);
        let adds: Vec<(String, String)> = new.members.iter().cloned().zip(member_ids).collect();
        self.sync_members(&created.id, &new.address, &adds, &[])
            .await
            .map_err(|e| done_before(e, "the group was created"))?;
        if !new.aliases.is_empty() || new.allow_external {
            // New Microsoft 365 groups take internal mail only.
            let ex = self.exchange.clone().expect("checked above");
            ex.set_unified_group(
                &new.address,
                &new.aliases,
                &[],
                new.allow_external.then_some(false),
                true,
            )
            .await
            .map_err(|e| {
                done_before(
                    exchange::error(e, &format!("setting up group {}", new.address), &self.cid),
                    "the group was created with its members",
                )
            })?;
        }
        Ok(())
    }

    /// The id of a Microsoft 365 group Graph may write, after checking it is one.
    pub(super) async fn writable_group(&mut self, g: &Group) -> Result<String, ProviderError> {
        let what = format!("reading group {}", g.address);
        let id = g.id.clone().ok_or_else(|| {
            ProviderError::Conflict(format!("{what}: the plan carries no group id: plan again"))
        })?;
        let url = self.url(
            &format!("/groups/{}", enc(&id)),
            &[("$select", "id,mail,mailEnabled,securityEnabled,groupTypes")],
            &what,
            permissions::GROUPS,
        )?;
        let live: api::Group = self
            .api
            .get(url)
            .await
            .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
        if !live.is_unified() {
            let kind = if live.security_enabled == Some(true) {
                "a mail-enabled security group"
            } else {
                "a distribution list"
            };
            return Err(ProviderError::Unsupported(format!(
                "{} is {kind}, an Exchange Online object Graph cannot change; the provider's Exchange backend covers Microsoft 365 groups only so far — change it in the Exchange admin center",
                g.address
            )));
        }
        Ok(id)
    }

    pub(super) async fn update_group(
        &mut self,
        old: &Group,
        new: &Group,
    ) -> Result<(), ProviderError> {
        if old.kind != new.kind {
            // The planner refuses this; a plan from elsewhere must not do it.
            return Err(ProviderError::Unsupported(format!(
                "{} is a {}; mailform does not convert one kind of group into the other",
                old.address,
                if old.kind == GroupKind::Distribution {
                    "distribution list"
                } else {
                    "Microsoft 365 group"
                }
            )));
        }
        if new.kind == GroupKind::Distribution {
            return self.update_distribution(old, new).await;
        }
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of group {} needs Exchange Online, which the provider (its Exchange backend included) does not change yet",
                old.address
            )));
        }
        let aliases_change = set(&old.aliases) != set(&new.aliases);
        let external_change = old.allow_external != new.allow_external;
        if self.exchange.is_none() {
            if aliases_change {
                return Err(aliases_unsupported(&new.address, &new.aliases));
            }
            if external_change {
                return Err(external_unsupported(&new.address));
            }
        }
        let id = self.writable_group(old).await?;
        if aliases_change || external_change {
            let ex = self.exchange.clone().expect("checked above");
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_unified_group(
                &old.address,
                &add,
                &remove,
                external_change.then_some(!new.allow_external),
                false,
            )
            .await
            .map_err(|e| {
                exchange::error(e, &format!("changing group {}", old.address), &self.cid)
            })?;
        }
        let (old_members, new_members) = (set(&old.members), set(&new.members));
        let adding: Vec<String> = new_members.difference(&old_members).cloned().collect();
        let removing: Vec<String> = old_members.difference(&new_members).cloned().collect();
        let add_ids = self.resolve_members(&new.address, &adding).await?;
        if old.display_name != new.display_name {
            if let Some(name) = &new.display_name {
                let what = format!("renaming group {}", old.address);
                let url = self.url(
                    &format!("/groups/{}", enc(&id)),
                    &[],
                    &what,
                    permissions::GROUPS,
                )?;
                self.api
                    .send::<_, Value>(
                        Method::PATCH,
                        url,
                        Some(&api::GroupPatch {
                            display_name: name.clone(),
                        }),
                    )
                    .await
                    .map_err(|e| self.err(e, &what, permissions::GROUPS))?;
            }
        }
        let removals = if removing.is_empty() {
            vec![]
        } else {
            // The members' ids as the group holds them now.
            let live = list_members(self.api, &id, &self.cid).await?;
            let by_address: HashMap<String, String> = live
                .iter()
                .filter_map(|m| convert::member_address(m).map(|a| (a, m.id.clone())))
                .collect();
            // One no longer a member needs no removal.
            removing
                .iter()
                .filter_map(|a| by_address.get(a).map(|id| (a.clone(), id.clone())))
                .collect()
        };
        let adds: Vec<(String, String)> = adding.into_iter().zip(add_ids).collect();
        self.sync_members(&id, &new.address, &adds, &removals).await
    }
}
