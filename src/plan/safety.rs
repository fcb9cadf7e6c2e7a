//! Plan-size limits: a plan that rewrites too much of a zone or of a
//! domain's mail at once is more likely a mistake (a wrong file, a wrong
//! `--target`, a bad merge, a section dropped by accident) than an intent,
//! so `apply` refuses it without `--force`. Limits apply only above a
//! minimum size, where a share means something (in the manner of octoDNS's
//! update/delete thresholds).
//!
//! A mail domain has three shares, each against the mail limit
//! (`max_mailbox_change_percent`): mailboxes updated or deleted; aliases
//! and groups updated or deleted (`manage: domain` deletes those the file
//! no longer lists); and group members removed, all groups together (an
//! update that empties a group is one change of a group, but every member
//! it drops stops getting the group's mail).

use mailform_contract::{DnsChange, MailChange};

use super::{MailPlan, Plan, ThresholdBreach};
use crate::config::model::Safety;

/// Fills in the threshold breaches of every zone and mail domain.
pub fn check(plan: &mut Plan, safety: &Safety) {
    for z in &mut plan.zones {
        let changed = z
            .changes
            .iter()
            .filter(|c| !matches!(c, DnsChange::Create { .. }))
            .count();
        z.threshold = breach(
            format!("record sets of zone {}", z.zone),
            changed,
            z.existing,
            safety.max_dns_change_percent,
            safety.min_existing,
        );
    }
    for m in &mut plan.mail {
        check_mail(m, safety);
    }
}

fn check_mail(m: &mut MailPlan, safety: &Safety) {
    let count = |f: fn(&MailChange) -> bool| m.changes.iter().filter(|c| f(c)).count();
    let mailboxes = count(|c| {
        matches!(
            c,
            MailChange::UpdateMailbox { .. } | MailChange::DeleteMailbox { .. }
        )
    });
    let aliases_and_groups = count(|c| {
        matches!(
            c,
            MailChange::UpdateAlias { .. }
                | MailChange::DeleteAlias { .. }
                | MailChange::UpdateGroup { .. }
                | MailChange::DeleteGroup { .. }
        )
    });
    let members_removed: usize = m
        .changes
        .iter()
        .map(|c| match c {
            MailChange::UpdateGroup { old, new } => old
                .members
                .iter()
                .filter(|x| !new.members.iter().any(|y| y.eq_ignore_ascii_case(x)))
                .count(),
            MailChange::DeleteGroup { old } => old.members.len(),
            _ => 0,
        })
        .sum();
    let limit = safety.max_mailbox_change_percent;
    m.threshold = breach(
        format!("mailboxes of {}", m.domain),
        mailboxes,
        m.existing_mailboxes,
        limit,
        safety.min_existing,
    );
    m.alias_threshold = breach(
        format!("aliases and groups of {}", m.domain),
        aliases_and_groups,
        m.existing_aliases_and_groups,
        limit,
        safety.min_existing,
    );
    m.member_threshold = breach(
        format!("group members of {}", m.domain),
        members_removed,
        m.existing_group_members,
        limit,
        safety.min_existing,
    );
}

fn breach(
    what: String,
    changed: usize,
    existing: usize,
    limit_percent: u32,
    min_existing: u32,
) -> Option<ThresholdBreach> {
    let over = existing >= min_existing as usize
        && existing > 0
        && changed * 100 > existing * limit_percent as usize;
    over.then_some(ThresholdBreach {
        what,
        changed,
        existing,
        limit_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaches_only_above_minimum_and_share() {
        assert!(
            breach("x".into(), 5, 9, 33, 10).is_none(),
            "small zones are exempt"
        );
        assert!(breach("x".into(), 3, 10, 33, 10).is_none());
        assert!(breach("x".into(), 4, 10, 33, 10).is_some());
        assert!(breach("x".into(), 0, 0, 33, 0).is_none());
    }
}
