//! Applying contract changes to a domain's [`Model`]: each change is
//! checked against the model as it is now (a create needs a free address,
//! an update or delete the object exactly as the plan saw it) and refused
//! with the reason, leaving the model unchanged.

use mailform_contract::name::normalize_address;
use mailform_contract::{Alias, Group, MailChange, Mailbox, ProviderError};

use crate::config::Config;
use crate::passwd::{self, PasswdEntry};
use crate::state::{domain_address, MailboxRecord, Model};

impl Model {
    fn occupant(&self, address: &str) -> Option<&'static str> {
        if self.mailboxes.iter().any(|r| r.mailbox.address == address) {
            Some("a mailbox")
        } else if self.aliases.iter().any(|a| a.address == address) {
            Some("an alias")
        } else if self.groups.iter().any(|g| g.address == address) {
            Some("a group")
        } else {
            None
        }
    }

    fn check_address(&self, address: &str) -> Result<(), ProviderError> {
        if domain_address(address, &self.domain).as_deref() != Some(address)
            || !valid_address(address)
        {
            return Err(ProviderError::Rejected(format!(
                "{address:?} is not a lower-case address in {} that a lookup table can hold \
                 (no spaces, commas, colons or control characters)",
                self.domain
            )));
        }
        Ok(())
    }

    fn check_create(&self, kind: &str, address: &str) -> Result<(), ProviderError> {
        self.check_address(address)?;
        match self.occupant(address) {
            Some(what) => Err(conflict(
                kind,
                address,
                &format!("{what} with this address exists now"),
            )),
            None => Ok(()),
        }
    }

    /// Applies one change, after checking it against the model as it is.
    /// On error the model is unchanged.
    pub(crate) fn apply(
        &mut self,
        change: &MailChange,
        config: &Config,
    ) -> Result<(), ProviderError> {
        match change {
            MailChange::CreateMailbox { new, password } => {
                self.check_create("mailbox", &new.address)?;
                no_mailbox_aliases(new)?;
                let successor = checked_successor(new)?;
                let hash = passwd::check_password(&new.address, password.as_ref())?;
                let maildir = config
                    .maildir_for(&new.address)
                    .map_err(ProviderError::Rejected)?;
                let mut entry = PasswdEntry::new(&new.address, hash, config.uid, config.gid);
                entry.set_display_name(new.display_name.as_deref());
                entry.set_state(new.state);
                self.mailboxes.push(MailboxRecord {
                    mailbox: Mailbox {
                        id: None,
                        address: new.address.clone(),
                        display_name: entry.display_name(),
                        state: new.state,
                        successor,
                        aliases: Vec::new(),
                        kind: Default::default(),
                        delegates: vec![],
                    },
                    maildir,
                    passwd: entry,
                });
            }
            MailChange::UpdateMailbox { old, new } => {
                same_address("mailbox", &old.address, &new.address)?;
                no_mailbox_aliases(new)?;
                let successor = checked_successor(new)?;
                let rec = self
                    .mailboxes
                    .iter_mut()
                    .find(|r| r.mailbox.address == old.address)
                    .ok_or_else(|| conflict("mailbox", &old.address, "it no longer exists"))?;
                if !rec.mailbox.same_as(old) {
                    return Err(conflict(
                        "mailbox",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                // Passwords are create-only: the hash stays as it is.
                rec.passwd.set_display_name(new.display_name.as_deref());
                rec.passwd.set_state(new.state);
                rec.mailbox.display_name = rec.passwd.display_name();
                rec.mailbox.state = new.state;
                rec.mailbox.successor = successor;
            }
            MailChange::DeleteMailbox { old } => {
                let pos = self
                    .mailboxes
                    .iter()
                    .position(|r| r.mailbox.address == old.address)
                    .ok_or_else(|| conflict("mailbox", &old.address, "it no longer exists"))?;
                if !self.mailboxes[pos].mailbox.same_as(old) {
                    return Err(conflict(
                        "mailbox",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                // Only the lines go; the maildir stays on disk.
                self.mailboxes.remove(pos);
            }
            MailChange::CreateAlias { new } => {
                self.check_create("alias", &new.address)?;
                let targets = checked_targets("alias", &new.address, &new.targets)?;
                self.aliases.push(Alias {
                    address: new.address.clone(),
                    targets,
                });
            }
            MailChange::UpdateAlias { old, new } => {
                same_address("alias", &old.address, &new.address)?;
                let targets = checked_targets("alias", &new.address, &new.targets)?;
                let alias = self
                    .aliases
                    .iter_mut()
                    .find(|a| a.address == old.address)
                    .ok_or_else(|| conflict("alias", &old.address, "it no longer exists"))?;
                if !alias.same_as(old) {
                    return Err(conflict(
                        "alias",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                alias.targets = targets;
            }
            MailChange::DeleteAlias { old } => {
                let pos = self
                    .aliases
                    .iter()
                    .position(|a| a.address == old.address)
                    .ok_or_else(|| conflict("alias", &old.address, "it no longer exists"))?;
                if !self.aliases[pos].same_as(old) {
                    return Err(conflict(
                        "alias",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                self.aliases.remove(pos);
            }
            MailChange::CreateGroup { new } => {
                self.check_create("group", &new.address)?;
                let group = checked_group(new)?;
                self.groups.push(group);
            }
            MailChange::UpdateGroup { old, new } => {
                same_address("group", &old.address, &new.address)?;
                let updated = checked_group(new)?;
                let group = self
                    .groups
                    .iter_mut()
                    .find(|g| g.address == old.address)
                    .ok_or_else(|| conflict("group", &old.address, "it no longer exists"))?;
                if !group.same_as(old) {
                    return Err(conflict(
                        "group",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                *group = updated;
            }
            MailChange::DeleteGroup { old } => {
                let pos = self
                    .groups
                    .iter()
                    .position(|g| g.address == old.address)
                    .ok_or_else(|| conflict("group", &old.address, "it no longer exists"))?;
                if !self.groups[pos].same_as(old) {
                    return Err(conflict(
                        "group",
                        &old.address,
                        "it differs from what the plan saw",
                    ));
                }
                self.groups.remove(pos);
            }
        }
        Ok(())
    }
}

fn conflict(kind: &str, address: &str, detail: &str) -> ProviderError {
    ProviderError::Conflict(format!(
        "{kind} {address} changed since the plan was made ({detail}); run plan again"
    ))
}

fn same_address(kind: &str, old: &str, new: &str) -> Result<(), ProviderError> {
    if old != new {
        return Err(ProviderError::Rejected(format!(
            "cannot rename {kind} {old} to {new}; create the new address and delete the old one"
        )));
    }
    Ok(())
}

/// Whether a lookup table line can hold `address` as a key or target.
fn valid_address(address: &str) -> bool {
    !address.is_empty()
        && !address.starts_with('#')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ':')
}

fn checked_targets(
    kind: &str,
    address: &str,
    targets: &[String],
) -> Result<Vec<String>, ProviderError> {
    let targets: Vec<String> = targets.iter().map(|t| normalize_address(t)).collect();
    if targets.is_empty() {
        return Err(ProviderError::Rejected(format!(
            "{kind} {address} has no targets, and a virtual_alias_maps entry needs at least one; \
             add a target or delete the {kind}"
        )));
    }
    if let Some(bad) = targets
        .iter()
        .find(|t| !valid_address(t) || !t.contains('@'))
    {
        return Err(ProviderError::Rejected(format!(
            "{kind} {address}: target {bad:?} is not an address a lookup table can hold"
        )));
    }
    Ok(targets)
}

fn checked_successor(mailbox: &Mailbox) -> Result<Option<String>, ProviderError> {
    let Some(successor) = &mailbox.successor else {
        return Ok(None);
    };
    let successor =
        checked_targets("mailbox", &mailbox.address, std::slice::from_ref(successor))?.remove(0);
    if successor == mailbox.address {
        return Err(ProviderError::Rejected(format!(
            "mailbox {} cannot be its own successor; name the person who takes over its mail",
            mailbox.address
        )));
    }
    Ok(Some(successor))
}

fn no_mailbox_aliases(mailbox: &Mailbox) -> Result<(), ProviderError> {
    if !mailbox.aliases.is_empty() {
        return Err(ProviderError::Unsupported(format!(
            "mailbox {}: the postfix provider keeps extra addresses as aliases, not on the mailbox",
            mailbox.address
        )));
    }
    Ok(())
}

fn checked_group(group: &Group) -> Result<Group, ProviderError> {
    if !group.aliases.is_empty() {
        return Err(ProviderError::Unsupported(format!(
            "group {}: the postfix provider keeps extra addresses as aliases, not on the group",
            group.address
        )));
    }
    Ok(Group {
        id: None,
        address: group.address.clone(),
        display_name: group.display_name.clone().filter(|n| !n.is_empty()),
        members: checked_targets("group", &group.address, &group.members)?,
        aliases: Vec::new(),
        allow_external: group.allow_external,
        kind: Default::default(),
    })
}
