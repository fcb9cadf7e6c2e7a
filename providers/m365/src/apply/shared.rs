//! Shared mailboxes (Exchange backend only): a shared mailbox's account
//! is a blocked user to Graph, so a read finds it by `Get-Mailbox` —
//! shared and without the offboarding mark (`CustomAttribute15`, set with
//! the forwarding, before the conversion) — and its delegates by one
//! `Get-MailboxPermission` each. A change of kind is refused (the planner
//! refuses it first).

use super::*;
use crate::errors::done_before;

impl Run<'_> {
    /// The delegates of a shared mailbox must be users of the tenant, by
    /// their primary address (Full Access is a user's).
    pub(super) async fn check_delegates(
        &mut self,
        mailbox: &str,
        delegates: &[String],
    ) -> Result<(), ProviderError> {
        if delegates.is_empty() {
            return Ok(());
        }
        self.load_directory().await?;
        let d = self.directory.as_ref().expect("loaded above");
        for a in delegates {
            if d.ids.contains_key(a) {
                continue;
            }
            return Err(ProviderError::Rejected(match d.secondary.get(a) {
                Some(primary) => format!(
                    "{a} (under `access` of {mailbox}) is an alias of {primary}; list it by its primary address {primary}"
                ),
                None => format!(
                    "{a} cannot have access to {mailbox}: Full Access goes to users of the tenant, and {a} is none"
                ),
            }));
        }
        Ok(())
    }

    /// `New-Mailbox -Shared`, then its aliases and its delegates' Full
    /// Access, each on the mailbox Exchange may still be provisioning.
    pub(super) async fn create_shared(&mut self, new: &Mailbox) -> Result<(), ProviderError> {
        let ex = self.exchange_for(&new.address, "a shared mailbox")?;
        self.check_delegates(&new.address, &new.delegates).await?;
        let alias = convert::user_nickname(&new.address)?;
        let local = new.address.split('@').next().unwrap_or(&new.address);
        let name = new.display_name.as_deref().unwrap_or(local);
        ex.new_shared_mailbox(&new.address, &alias, name)
            .await
            .map_err(|e| {
                exchange::error(
                    e,
                    &format!("creating shared mailbox {}", new.address),
                    &self.cid,
                )
            })?;
        let made = "the shared mailbox was created";
        if !new.aliases.is_empty() {
            ex.set_mailbox_addresses(&new.address, &new.aliases, &[], true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("adding aliases to {}", new.address),
                            &self.cid,
                        ),
                        made,
                    )
                })?;
        }
        for d in &new.delegates {
            ex.add_full_access_fresh(&new.address, d, true)
                .await
                .map_err(|e| {
                    done_before(
                        exchange::error(
                            e,
                            &format!("giving {d} Full Access to {}", new.address),
                            &self.cid,
                        ),
                        made,
                    )
                })?;
        }
        Ok(())
    }

    /// A shared mailbox's display name (Graph, as for users), aliases and
    /// delegates (Exchange).
    pub(super) async fn update_shared(
        &mut self,
        old: &Mailbox,
        new: &Mailbox,
    ) -> Result<(), ProviderError> {
        let ex = self.exchange_for(&old.address, "a shared mailbox")?;
        if old.address != new.address {
            return Err(ProviderError::Unsupported(format!(
                "changing the address of shared mailbox {} to {} is not done by mailform yet",
                old.address, new.address
            )));
        }
        let (grant, revoke) = diff(&old.delegates, &new.delegates);
        self.check_delegates(&new.address, &grant).await?;
        if set(&old.aliases) != set(&new.aliases) {
            let (add, remove) = diff(&old.aliases, &new.aliases);
            ex.set_mailbox_addresses(&old.address, &add, &remove, false)
                .await
                .map_err(|e| {
                    exchange::error(
                        e,
                        &format!("changing the aliases of {}", old.address),
                        &self.cid,
                    )
                })?;
        }
        if old.display_name != new.display_name {
            if let Some(name) = &new.display_name {
                let key = old.id.clone().unwrap_or_else(|| old.address.clone());
                self.patch_user(
                    &key,
                    &old.address,
                    api::UserPatch {
                        display_name: Some(name.clone()),
                        account_enabled: None,
                    },
                )
                .await?;
            }
        }
        for d in &grant {
            ex.add_full_access(&old.address, d).await.map_err(|e| {
                exchange::error(
                    e,
                    &format!("giving {d} Full Access to {}", old.address),
                    &self.cid,
                )
            })?;
        }
        for d in &revoke {
            match ex.remove_full_access(&old.address, d).await {
                Ok(()) => {}
                // Gone already (the user deleted, or revoked by hand).
                Err(CallError::Api { status: 404, .. }) => {}
                Err(e) => {
                    return Err(exchange::error(
                        e,
                        &format!("taking Full Access to {} from {d}", old.address),
                        &self.cid,
                    ))
                }
            }
        }
        Ok(())
    }
}
