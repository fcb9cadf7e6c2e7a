//! Plan-size limits: a plan that rewrites too much of a zone or of a
//! domain's mailboxes at once is more likely a mistake (a wrong file, a
//! wrong `--target`, a bad merge) than an intent, so `apply` refuses it
//! without `--force`. Limits apply only above a minimum size, where a share
//! means something (in the manner of octoDNS's update/delete thresholds).

use mailform_contract::{DnsChange, MailChange};

use super::{Plan, ThresholdBreach};
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
        let changed = m
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    MailChange::UpdateMailbox { .. } | MailChange::DeleteMailbox { .. }
                )
            })
            .count();
        m.threshold = breach(
            format!("mailboxes of {}", m.domain),
            changed,
            m.existing_mailboxes,
            safety.max_mailbox_change_percent,
            safety.min_existing,
        );
    }
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
