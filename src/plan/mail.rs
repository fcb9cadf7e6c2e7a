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

use mailform_contract::{
    Alias, Group, GroupKind, MailCapabilities, MailChange, MailDomainState, Mailbox, MailboxKind,
    MailboxState,
};

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
                let remove = if have == "mailbox" {
                    "declare the mailbox `state: deleted` and run `apply --allow-destroy`"
                        .to_string()
                } else {
                    format!("delete the {have} in the provider's console (or declare `{address}` as the {have} it is)")
                };
                problems.push(Problem::at(
                    format!("`{address}` is declared as {} but exists at the provider as {}; mailform will not convert one into the other — {remove}, then apply again", a_or_an(want), a_or_an(have)),
                    origin,
                    file,
                ));
                return true;
            }
        }
        false
    };

    let hint = caps
        .settings_hint
        .as_deref()
        .map(|h| format!(" as configured ({h})"))
        .unwrap_or_default();
    let mut changes = Vec::new();
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for d in &mailboxes {
        let address = d.mailbox.address.as_str();
        if d.delete && !live_mailboxes.contains_key(address) {
            // Already deleted: that is converged. Whatever holds the address
            // now (the successor's alias, after a handover) answers to its
            // own declaration, not to this one.
            continue;
        }
        declared.insert(address.to_string());
        if kind_clash(&mut problems, address, "mailbox", &d.origin) {
            continue;
        }
        let shared = d.mailbox.kind == MailboxKind::Shared;
        if shared && !d.delete && !caps.shared_mailboxes {
            problems.push(Problem::at(
                format!("`{address}` is declared `type: shared`, but {provider_kind} provider `{}` cannot manage shared mailboxes{hint}; turn that on, or manage the mailbox in the provider's console and remove it from the file", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        let offboarding = d.mailbox.state == MailboxState::Offboarded
            || live_mailboxes
                .get(address)
                .is_some_and(|old| old.state == MailboxState::Offboarded);
        if offboarding && !d.delete && !caps.offboarding {
            problems.push(Problem::at(
                format!("`{address}` is (or is declared) `state: offboarded`, but {provider_kind} provider `{}` cannot offboard or reinstate mailboxes{hint}; turn that on, or declare it `state: suspended` and hand its mail over by hand", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if !caps.mailbox_aliases
            && !caps.standalone_aliases
            && !d.mailbox.aliases.is_empty()
            && !d.delete
        {
            problems.push(Problem::at(
                format!("mailbox `{address}` has `aliases:`, which {provider_kind} provider `{}` cannot manage{hint}; turn that on, or remove `aliases:` and manage them in the provider's console", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if let Some(old) = live_mailboxes.get(address) {
            if old.kind != d.mailbox.kind && !d.delete {
                problems.push(Problem::at(
                    format!("`{address}` is a {} mailbox at {provider_kind} provider `{}` but is declared `type: {}`; mailform does not convert mailboxes between user and shared (mail, sign-in and licences change with it) — convert it in the provider's console, or declare it `type: {}`", old.kind.as_str(), desired.provider, d.mailbox.kind.as_str(), old.kind.as_str()),
                    &d.origin,
                    file,
                ));
                continue;
            }
        }
        match (live_mailboxes.get(address), d.delete) {
            (Some(old), true) => changes.push(MailChange::DeleteMailbox {
                old: (*old).clone(),
            }),
            (None, true) => {}
            (None, false) => {
                // A shared mailbox takes no password: nobody signs in to it.
                let refusal = if shared {
                    None
                } else {
                    caps.password.refusal(d.password.as_ref())
                };
                if let Some(why) = refusal {
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
                    new.delegates = union(&old.delegates, &new.delegates);
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
        if d.item.kind == GroupKind::Distribution && !caps.distribution_lists {
            problems.push(Problem::at(
                format!("group `{address}` is declared `type: distribution`, but {provider_kind} provider `{}` cannot manage distribution lists{hint}; turn that on, or drop `type: distribution` to have the provider's usual group", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if !caps.group_aliases && !caps.standalone_aliases && !d.item.aliases.is_empty() {
            problems.push(Problem::at(
                format!("group `{address}` has `aliases:`, which {provider_kind} provider `{}` cannot manage{hint}; turn that on, or remove `aliases:` and manage them in the provider's console", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if d.item.allow_external && !caps.group_external_senders {
            problems.push(Problem::at(
                format!("group `{address}` allows outside senders, which {provider_kind} provider `{}` cannot set{hint}; set it in the provider's console and drop `allow_external` from the file", desired.provider),
                &d.origin,
                file,
            ));
            continue;
        }
        if kind_clash(&mut problems, address, "group", &d.origin) {
            continue;
        }
        if let Some(old) = live_groups.get(address) {
            if old.kind != d.item.kind {
                let word = |k: GroupKind| match k {
                    GroupKind::Default => "the provider's usual kind of group",
                    GroupKind::Distribution => "a distribution list",
                };
                problems.push(Problem::at(
                    format!("group `{address}` is {} at {provider_kind} provider `{}` but is declared `type: {}`; mailform does not convert one kind of group into the other — declare it `type: {}`, or delete the group in the provider's console and apply again to create it anew", word(old.kind), desired.provider, d.item.kind.as_str(), old.kind.as_str()),
                    &d.origin,
                    file,
                ));
                continue;
            }
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
        existing_aliases_and_groups: live.aliases.len() + live.groups.len(),
        existing_group_members: live.groups.iter().map(|g| g.members.len()).sum(),
        threshold: None,
        alias_threshold: None,
        member_threshold: None,
        onboarding: None,
        domain_status: mailform_contract::DomainStatus::ready(),
    }
}

/// "a mailbox", "an alias": the kinds of mail object with their article.
fn a_or_an(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
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
    // Without standalone aliases either, they stay for the planner to refuse.
    if !caps.mailbox_aliases && caps.standalone_aliases {
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
    if !caps.group_aliases && caps.standalone_aliases {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Loc;
    use crate::desired::DesiredMailbox;
    use mailform_contract::provider::PasswordPolicy;
    use mailform_contract::MailboxState;

    fn caps(shared: bool, distribution: bool) -> MailCapabilities {
        MailCapabilities {
            mailbox_aliases: true,
            group_aliases: true,
            groups: true,
            standalone_aliases: false,
            group_external_senders: true,
            display_names: true,
            shared_mailboxes: shared,
            distribution_lists: distribution,
            settings_hint: Some("turn on X with `x: true`".into()),
            domain_aliases: false,
            offboarding: true,
            password: PasswordPolicy {
                hash_schemes: vec![],
                plain: true,
                required: true,
            },
        }
    }

    fn origin(line: u32) -> Origin {
        Origin {
            loc: Loc { line, column: 3 },
            path: "mailboxes.x".into(),
        }
    }

    fn mailbox(address: &str, kind: MailboxKind, delegates: &[&str]) -> Mailbox {
        Mailbox {
            id: None,
            address: address.into(),
            display_name: Some("Info".into()),
            state: MailboxState::Active,
            successor: None,
            aliases: vec![],
            kind,
            delegates: delegates.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn group(address: &str, kind: GroupKind) -> Group {
        Group {
            id: None,
            address: address.into(),
            display_name: Some("Sales".into()),
            members: vec!["alice@example.com".into()],
            aliases: vec![],
            allow_external: false,
            kind,
        }
    }

    fn desired(mailboxes: Vec<Mailbox>, groups: Vec<Group>) -> DesiredMailDomain {
        DesiredMailDomain {
            domain: "example.com".into(),
            provider: "m365".into(),
            manage: MailManage::Declared,
            alias_of: None,
            mailboxes: mailboxes
                .into_iter()
                .enumerate()
                .map(|(i, m)| DesiredMailbox {
                    mailbox: m,
                    delete: false,
                    password: None,
                    origin: origin(10 + i as u32),
                })
                .collect(),
            aliases: vec![],
            groups: groups
                .into_iter()
                .map(|g| Declared {
                    item: g,
                    origin: origin(30),
                })
                .collect(),
            additive: Default::default(),
        }
    }

    fn live(mailboxes: Vec<Mailbox>, groups: Vec<Group>) -> MailDomainState {
        MailDomainState {
            domain: "example.com".into(),
            mailboxes,
            aliases: vec![],
            groups,
        }
    }

    #[test]
    fn a_shared_mailbox_needs_no_password_and_is_refused_where_unsupported() {
        let info = mailbox(
            "info@example.com",
            MailboxKind::Shared,
            &["alice@example.com"],
        );
        let d = desired(vec![info.clone()], vec![]);
        let plan = plan_domain(
            &d,
            &live(vec![], vec![]),
            &caps(true, true),
            "microsoft_365",
            "f.yaml",
        );
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert!(matches!(
            &plan.changes[..],
            [MailChange::CreateMailbox { new, password: None }] if new.kind == MailboxKind::Shared
        ));

        let plan = plan_domain(
            &d,
            &live(vec![], vec![]),
            &caps(false, true),
            "microsoft_365",
            "f.yaml",
        );
        assert!(plan.changes.is_empty());
        let p = &plan.problems[0];
        assert_eq!(p.at.as_deref(), Some("f.yaml:10:3"));
        assert!(
            p.message.contains("cannot manage shared mailboxes") && p.message.contains("`x: true`"),
            "{}",
            p.message
        );
    }

    #[test]
    fn a_distribution_list_is_refused_where_unsupported() {
        let d = desired(
            vec![],
            vec![group("sales@example.com", GroupKind::Distribution)],
        );
        let plan = plan_domain(
            &d,
            &live(vec![], vec![]),
            &caps(true, false),
            "microsoft_365",
            "f.yaml",
        );
        assert!(plan.changes.is_empty());
        assert_eq!(plan.problems[0].at.as_deref(), Some("f.yaml:30:3"));
        assert!(
            plan.problems[0]
                .message
                .contains("cannot manage distribution lists"),
            "{}",
            plan.problems[0].message
        );
        let plan = plan_domain(
            &d,
            &live(vec![], vec![]),
            &caps(true, true),
            "microsoft_365",
            "f.yaml",
        );
        assert!(plan.problems.is_empty());
        assert_eq!(plan.changes.len(), 1);
    }

    #[test]
    fn a_change_of_kind_is_a_problem_not_an_update() {
        let d = desired(
            vec![mailbox("info@example.com", MailboxKind::Shared, &[])],
            vec![group("sales@example.com", GroupKind::Distribution)],
        );
        let l = live(
            vec![mailbox("info@example.com", MailboxKind::User, &[])],
            vec![group("sales@example.com", GroupKind::Default)],
        );
        let plan = plan_domain(&d, &l, &caps(true, true), "microsoft_365", "f.yaml");
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.problems.len(), 2, "{:?}", plan.problems);
        assert!(plan.problems[0]
            .message
            .contains("does not convert mailboxes between user and shared"));
        assert!(plan.problems[1]
            .message
            .contains("does not convert one kind of group"));
    }

    #[test]
    fn delegates_compare_as_a_set() {
        let want = mailbox(
            "info@example.com",
            MailboxKind::Shared,
            &["bob@example.com", "alice@example.com"],
        );
        let have = mailbox(
            "info@example.com",
            MailboxKind::Shared,
            &["alice@example.com", "bob@example.com"],
        );
        let d = desired(vec![want.clone()], vec![]);
        let plan = plan_domain(
            &d,
            &live(vec![have.clone()], vec![]),
            &caps(true, true),
            "microsoft_365",
            "f.yaml",
        );
        assert!(plan.changes.is_empty() && plan.problems.is_empty());
        let mut fewer = want;
        fewer.delegates.pop();
        let plan = plan_domain(
            &desired(vec![fewer], vec![]),
            &live(vec![have], vec![]),
            &caps(true, true),
            "microsoft_365",
            "f.yaml",
        );
        assert!(matches!(
            &plan.changes[..],
            [MailChange::UpdateMailbox { new, .. }] if new.delegates == ["bob@example.com"]
        ));
    }
}
