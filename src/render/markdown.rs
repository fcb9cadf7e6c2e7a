//! The Markdown plan, for posting on pull requests.

use std::fmt::Write;

use mailform_contract::name::relative_name;
use mailform_contract::{DnsChange, RData};

use super::{count, mail_change_line, mailbox_diff, safe, safe_join};
use crate::plan::Plan;

pub fn plan(plan: &Plan) -> String {
    let mut out = String::from("### mailform plan\n\n");
    let s = plan.summary();
    if let Some(p) = &plan.source.profile {
        let _ = writeln!(out, "Profile: `{}`\n", safe(p));
    }
    if s.total() == 0 {
        out.push_str("**No changes.** The live state matches the file.\n");
    } else {
        let _ = writeln!(
            out,
            "**{} to create, {} to update, {} to delete.**\n",
            s.create, s.update, s.delete
        );
    }
    for z in plan
        .zones
        .iter()
        .filter(|z| !z.changes.is_empty() || !z.problems.is_empty())
    {
        let _ = writeln!(
            out,
            "#### zone `{}` ({} `{}`)\n\n```diff",
            safe(&z.zone),
            z.provider_kind,
            safe(&z.provider)
        );
        for c in &z.changes {
            match c {
                DnsChange::Create { new } => {
                    for v in &new.values {
                        let _ = writeln!(
                            out,
                            "+ {} {} {} {}",
                            safe(&relative_name(&new.name, &z.zone)),
                            new.ttl,
                            new.rtype,
                            safe(&v.presentation())
                        );
                    }
                }
                DnsChange::Delete { old } => {
                    for v in &old.values {
                        let _ = writeln!(
                            out,
                            "- {} {} {} {}",
                            safe(&relative_name(&old.name, &z.zone)),
                            old.ttl,
                            old.rtype,
                            safe(&v.presentation())
                        );
                    }
                }
                DnsChange::Update { old, new } => {
                    let line = |sign: char, set: &mailform_contract::RecordSet, v: &RData| {
                        format!(
                            "{sign} {} {} {} {}",
                            safe(&relative_name(&set.name, &z.zone)),
                            set.ttl,
                            set.rtype,
                            safe(&v.presentation())
                        )
                    };
                    for v in &old.values {
                        let _ = writeln!(out, "{}", line('-', old, v));
                    }
                    for v in &new.values {
                        let _ = writeln!(out, "{}", line('+', new, v));
                    }
                }
            }
        }
        out.push_str("```\n\n");
        for n in &z.notes {
            let _ = writeln!(out, "- :information_source: {}", safe(n));
        }
        if !z.replanned_after.is_empty() {
            let _ = writeln!(
                out,
                "- :information_source: apply plans this zone again once {} is verified, with the records the provider names then",
                safe_join(&z.replanned_after, ", ")
            );
        }
        for p in &z.problems {
            let _ = writeln!(
                out,
                "- :x: {}{}",
                p.at.as_ref()
                    .map(|a| format!("`{}`: ", safe(a)))
                    .unwrap_or_default(),
                safe(&p.message)
            );
        }
    }
    for m in plan.mail.iter().filter(|m| {
        !m.changes.is_empty()
            || !m.problems.is_empty()
            || m.onboarding.is_some()
            || !m.domain_status.setup.is_empty()
    }) {
        let _ = writeln!(
            out,
            "#### mail `{}` ({} `{}`)\n\n```diff",
            safe(&m.domain),
            m.provider_kind,
            safe(&m.provider)
        );
        if let Some(o) = &m.onboarding {
            let _ = writeln!(out, "+ {}", safe(&o.describe(&m.domain)));
        }
        for step in &m.domain_status.setup {
            let _ = writeln!(out, "! {}", safe(step));
        }
        for c in &m.changes {
            let _ = writeln!(out, "{}", mail_change_line(c).replacen('~', "!", 1));
            if let mailform_contract::MailChange::UpdateMailbox { old, new } = c {
                for d in mailbox_diff(old, new) {
                    let _ = writeln!(out, "    {d}");
                }
            }
        }
        out.push_str("```\n\n");
        for p in &m.problems {
            let _ = writeln!(
                out,
                "- :x: {}{}",
                p.at.as_ref()
                    .map(|a| format!("`{}`: ", safe(a)))
                    .unwrap_or_default(),
                safe(&p.message)
            );
        }
    }
    let unmanaged: usize = plan.zones.iter().map(|z| z.unmanaged.len()).sum::<usize>()
        + plan.mail.iter().map(|m| m.unmanaged.len()).sum::<usize>();
    if unmanaged > 0 {
        let _ = writeln!(
            out,
            "_{} not in the file {} left alone._",
            count(unmanaged, "live object", "live objects"),
            if unmanaged == 1 { "is" } else { "are" }
        );
    }
    if !plan.role_address_deletions().is_empty() {
        let _ = writeln!(
            out,
            "- :warning: deletes role addresses {}: apply needs `--allow-destroy`",
            safe(&plan.role_address_deletions().join(", "))
        );
    }
    for t in plan.thresholds() {
        let _ = writeln!(
            out,
            "- :warning: {} of {} {} change (limit {}%): apply needs `--force`",
            t.changed, t.existing, t.what, t.limit_percent
        );
    }
    if !plan.mailbox_deletions().is_empty() {
        let _ = writeln!(
            out,
            "- :warning: deletes mailboxes {}: apply needs `--allow-destroy`",
            safe(&plan.mailbox_deletions().join(", "))
        );
    }
    out
}
