//! The mail planner: desired mailboxes, aliases and groups against a live
//! mail domain.
//!
//! Objects are matched by address. Mailboxes are never deleted unless the
//! file marks them `state: deleted`; a live mailbox the file does not list
//! is reported and left alone. Aliases and groups missing from the file are
//! deleted only with `mail: {manage: domain}`. Passwords are create-only
//! and never compared. Extra addresses of mailboxes and groups become plain
//! aliases for providers that cannot hold them on the object itself.

use std::collections::{BTreeMap, BTreeSet};

use mailform_contract::{Alias, Group, MailCapabilities, MailChange, MailDomainState, Mailbox};

use super::{MailPlan, Problem, Unmanaged, UnmanagedReason};
use crate::config::model::MailManage;
use crate::desired::{Declared, DesiredMailDomain, Origin};

/// Plans one mail domain. `file` is the YAML path, for problem locations.
pub fn plan_domain(
    desired: &DesiredMailDomain,
    live: &MailDomainState,
    caps: &MailCapabilities,
    provider_kind: &str,
    file: &str,
) -> MailPlan {
    let mut problems = Vec::new();
    let (mailboxes, aliases, groups) = expand_for(desired, caps);

    let live_mailboxes: BTreeMap<&str, &Mailbox> = live
        .mailboxes
        .iter()
        .map(|m| (m.address.as_str(), m))
        .collect();
    let live_aliases: BTreeMap<&str, &Alias> = live
        .aliases
        .iter()
        .map(|a| (a.address.as_str(), a))
        .collect();
    let live_groups: BTreeMap<&str, &Group> = live
        .groups
        .iter()
        .map(|g| (g.address.as_str(), g))
        .collect();
    let live_kind = |address: &str| -> Option<&'static str> {
        if live_mailboxes.contains_key(address) {
            Some("mailbox")
        } else if live_aliases.contains_key(address) {
            Some("alias")
        } else if live_groups.contains_key(address) {
            Some("group")
        } else {
            None
        }
    };
    // Addresses of live mailboxes this plan deletes: they may be declared
    // again as something else (an alias of a successor), which apply
    // creates only after the deletion.
    let deleting: BTreeSet<&str> = mailboxes
        .iter()
        .filter(|m| m.delete && live_mailboxes.contains_key(m.mailbox.address.as_str()))
        .map(|m| m.mailbox.address.as_str())
        .collect();
    let kind_clash = |problems: &mut Vec<Problem>, address: &str, want: &str, origin: &Origin| {
        if let Some(have) = live_kind(address) {
            if have != want && !(have == "mailbox" && deleting.contains(address)) {
                problems.push(Problem::at(
                    format!("`{address}` is declared as a {want} but exists at the provider as a {have}; mailform will not convert one into the other — remove the {have} first (for a mailbox: `state: deleted` and `apply --allow-destroy`), then apply again"),
                    origin,
                    file,
                ));
                return true;
            }
        }
        false
    };

    let mut changes = Vec::new();
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for d in &mailboxes {
        let address = d.mailbox.address.as_str();
        declared.insert(address.to_string());
        if kind_clash(&mut problems, address, "mailbox", &d.origin) {
            continue;
        }
        match (live_mailboxes.get(address), d.delete) {
            (Some(old), true) => changes.push(MailChange::DeleteMailbox {
                old: (*old).clone(),
            }),
            (None, true) => {}
            (None, false) => {
                if let Some(why) = caps.password.refusal(d.password.as_ref()) {
                    problems.push(Problem::at(
                        format!("mailbox `{address}` cannot be created at {provider_kind} provider `{}`: {why}", desired.provider),
                        &d.origin,
                        file,
                    ));
                }
                changes.push(MailChange::CreateMailbox {
                    new: d.mailbox.clone(),
                    password: d.password.clone(),
                });
            }
            (Some(old), false) => {
                let mut new = d.mailbox.clone();
                new.id = old.id.clone();
                if new.display_name.is_none() {
                    // Unset in the file means "not managed", not "blank it".
                    new.display_name = old.display_name.clone();
                }
                if desired.additive.contains(address) {
                    new.aliases = union(&old.aliases, &new.aliases);
                }
                if !old.same_as(&new) {
                    changes.push(MailChange::UpdateMailbox {
                        old: (*old).clone(),
                        new,
                    });
                }
            }
        }
    }
    for d in &groups {
        let address = d.item.address.as_str();
        declared.insert(address.to_string());
        if !caps.groups {
            problems.push(Problem::at(
                format!("group `{address}` is declared, but {provider_kind} provider `{}` cannot manage groups; manage it in the provider's console and remove it from the file", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if d.item.allow_external && !caps.group_external_senders {
            problems.push(Problem::at(
                format!("group `{address}` allows outside senders, which {provider_kind} provider `{}` cannot set; set it in the provider's console and drop `allow_external` from the file", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if kind_clash(&mut problems, address, "group", &d.origin) {
            continue;
        }
        match live_groups.get(address) {
            None => changes.push(MailChange::CreateGroup {
                new: d.item.clone(),
            }),
            Some(old) => {
                let mut new = d.item.clone();
                new.id = old.id.clone();
                if new.display_name.is_none() {
                    new.display_name = old.display_name.clone();
                }
                if desired.additive.contains(address) {
                    new.members = union(&old.members, &new.members);
                    new.aliases = union(&old.aliases, &new.aliases);
                }
                if !old.same_as(&new) {
                    changes.push(MailChange::UpdateGroup {
                        old: (*old).clone(),
                        new,
                    });
                }
            }
        }
    }
    for d in &aliases {
        let address = d.item.address.as_str();
        declared.insert(address.to_string());
        if !caps.standalone_aliases {
            problems.push(Problem::at(
                format!("alias `{address}` forwards on its own, which {provider_kind} provider `{}` cannot hold; list it under `aliases:` of the mailbox or group it reaches, or make it a group", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if kind_clash(&mut problems, address, "alias", &d.origin) {
            continue;
        }
        match live_aliases.get(address) {
            None => changes.push(MailChange::CreateAlias {
                new: d.item.clone(),
            }),
            Some(old) if !old.same_as(&d.item) => changes.push(MailChange::UpdateAlias {
                old: (*old).clone(),
                new: d.item.clone(),
            }),
            Some(_) => {}
        }
    }

    let mut unmanaged = Vec::new();
    for m in &live.mailboxes {
        if !declared.contains(&m.address) {
            unmanaged.push(Unmanaged {
                object: m.address.clone(),
                reason: UnmanagedReason::MailboxNotDeclared,
            });
        }
    }
    for a in &live.aliases {
        if !declared.contains(&a.address) {
            if desired.manage == MailManage::Domain {
                changes.push(MailChange::DeleteAlias { old: a.clone() });
            } else {
                unmanaged.push(Unmanaged {
                    object: a.address.clone(),
                    reason: UnmanagedReason::NotDeclared,
                });
            }
        }
    }
    for g in &live.groups {
        if !declared.contains(&g.address) {
            if desired.manage == MailManage::Domain {
                changes.push(MailChange::DeleteGroup { old: g.clone() });
            } else {
                unmanaged.push(Unmanaged {
                    object: g.address.clone(),
                    reason: UnmanagedReason::NotDeclared,
                });
            }
        }
    }
    changes.sort_by(|a, b| (kind_rank(a), a.address()).cmp(&(kind_rank(b), b.address())));
    unmanaged.sort_by(|a, b| a.object.cmp(&b.object));
    MailPlan {
        domain: desired.domain.clone(),
        provider: desired.provider.clone(),
        provider_kind: provider_kind.to_string(),
        manage: desired.manage,
        changes,
        unmanaged,
        problems,
        existing_mailboxes: live.mailboxes.len(),
        threshold: None,
        onboarding: None,
        domain_status: mailform_contract::DomainStatus::ready(),
    }
}

/// Mailboxes first, then groups, then aliases: the order they are shown in.
fn kind_rank(c: &MailChange) -> u8 {
    match c {
        MailChange::CreateMailbox { .. }
        | MailChange::UpdateMailbox { .. }
        | MailChange::DeleteMailbox { .. } => 0,
        MailChange::CreateGroup { .. }
        | MailChange::UpdateGroup { .. }
        | MailChange::DeleteGroup { .. } => 1,
        MailChange::CreateAlias { .. }
        | MailChange::UpdateAlias { .. }
        | MailChange::DeleteAlias { .. } => 2,
    }
}

/// `live` plus the entries of `wanted` it lacks, in `live`'s order.
fn union(live: &[String], wanted: &[String]) -> Vec<String> {
    let mut out = live.to_vec();
    for w in wanted {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// The desired objects in the shape this provider stores them.
fn expand_for(
    desired: &DesiredMailDomain,
    caps: &MailCapabilities,
) -> (
    Vec<crate::desired::DesiredMailbox>,
    Vec<Declared<Alias>>,
    Vec<Declared<Group>>,
) {
    let mut mailboxes = desired.mailboxes.clone();
    let mut aliases = desired.aliases.clone();
    let mut groups = desired.groups.clone();
    if !caps.mailbox_aliases {
        for m in &mut mailboxes {
            if m.delete {
                continue;
            }
            for a in std::mem::take(&mut m.mailbox.aliases) {
                aliases.push(Declared {
                    item: Alias {
                        address: a,
                        targets: vec![m.mailbox.address.clone()],
                    },
                    origin: m.origin.clone(),
                });
            }
        }
    }
    if !caps.group_aliases {
        for g in &mut groups {
            for a in std::mem::take(&mut g.item.aliases) {
                aliases.push(Declared {
                    item: Alias {
                        address: a,
                        targets: vec![g.item.address.clone()],
                    },
                    origin: g.origin.clone(),
                });
            }
        }
    }
    (mailboxes, aliases, groups)
}
