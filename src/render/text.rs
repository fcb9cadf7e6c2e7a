//! The text plan, in the manner of Terraform's: `+` create, `~` update,
//! `-` delete; long TXT values that change are shown as a word diff.

use std::fmt::Write;

use mailform_contract::name::relative_name;
use mailform_contract::{DnsChange, Group, MailChange, RData, RecordSet};
use similar::{ChangeTag, TextDiff};

use super::style::Style;
use super::{list_diff, mailbox_diff};
use crate::plan::{Plan, Unmanaged, UnmanagedReason};

/// Values longer than this are diffed word by word rather than shown whole twice.
const LONG_VALUE: usize = 60;
/// How many unmanaged objects to name before summarising.
const UNMANAGED_SHOWN: usize = 10;

pub fn plan(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    if let Some(profile) = &plan.source.profile {
        let _ = writeln!(out, "Profile: {profile}\n");
    }
    for z in &plan.zones {
        let header = format!(
            "zone {}  ({} provider `{}`, manage: {})",
            z.zone,
            z.provider_kind,
            z.provider,
            serde_json::to_value(z.manage)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "{}", st.bold(&header));
        if z.creates_zone && !z.changes.is_empty() {
            let _ = writeln!(
                out,
                "  {}",
                st.green("(the zone does not exist yet and will be created)")
            );
        }
        for c in &z.changes {
            dns_change(&mut out, &z.zone, c, &st);
        }
        if z.changes.is_empty() {
            let _ = writeln!(out, "  {}", st.dim("no changes"));
        }
        unmanaged(&mut out, &z.unmanaged, ("record set", "record sets"), &st);
        for n in &z.notes {
            let _ = writeln!(out, "  {} {n}", st.dim("note:"));
        }
        if !z.replanned_after.is_empty() {
            let _ = writeln!(
                out,
                "  {} apply plans this zone again once {} {} verified, with the records the provider names then; MX changes wait for the mailboxes",
                st.yellow("note:"),
                z.replanned_after.join(", "),
                if z.replanned_after.len() == 1 { "is" } else { "are" }
            );
        }
        footer(&mut out, &z.problems, z.threshold.as_ref(), &st);
        out.push('\n');
    }
    for m in &plan.mail {
        let header = format!(
            "mail {}  ({} provider `{}`)",
            m.domain, m.provider_kind, m.provider
        );
        let _ = writeln!(out, "{}", st.bold(&header));
        if let Some(o) = &m.onboarding {
            let _ = writeln!(out, "  {} {}", st.green("+"), o.describe(&m.domain));
        }
        for step in &m.domain_status.setup {
            // A local provider's repairs wait for no record.
            if m.domain_status.records.is_empty() {
                let _ = writeln!(out, "  {} {step}", st.yellow("~"));
            } else {
                let _ = writeln!(
                    out,
                    "  {} {step} (once the records `{}` asks for are served)",
                    st.yellow("~"),
                    m.provider
                );
            }
        }
        for c in &m.changes {
            mail_change(&mut out, c, &st);
        }
        if m.changes.is_empty() && m.onboarding.is_none() && m.domain_status.setup.is_empty() {
            let _ = writeln!(out, "  {}", st.dim("no changes"));
        }
        unmanaged(&mut out, &m.unmanaged, ("object", "objects"), &st);
        footer(&mut out, &m.problems, m.threshold.as_ref(), &st);
        out.push('\n');
    }
    let s = plan.summary();
    if s.total() == 0 {
        let _ = writeln!(
            out,
            "{}",
            st.bold("No changes. The live state matches the file.")
        );
    } else {
        let _ = writeln!(
            out,
            "{} {} to create, {} to update, {} to delete.",
            st.bold("Plan:"),
            s.create,
            s.update,
            s.delete
        );
    }
    let deletions = plan.mailbox_deletions();
    if !deletions.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.red(&format!(
                "Deletes {}: apply needs --allow-destroy.",
                super::count(deletions.len(), "mailbox", "mailboxes")
            ))
        );
    }
    if !plan.thresholds().is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.yellow("Over a safety limit: apply needs --force.")
        );
    }
    if !plan.problems().is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.red(&format!(
                "{} must be fixed before apply.",
                super::count(plan.problems().len(), "problem", "problems")
            ))
        );
    }
    out
}

fn values_of(set: &RecordSet) -> Vec<String> {
    let mut v: Vec<String> = set.values.iter().map(RData::presentation).collect();
    v.sort();
    v
}

fn dns_change(out: &mut String, zone: &str, change: &DnsChange, st: &Style) {
    match change {
        DnsChange::Create { new } => {
            let _ = writeln!(
                out,
                "  {} {} {}  ttl {}",
                st.green("+"),
                relative_name(&new.name, zone),
                new.rtype,
                new.ttl
            );
            for v in values_of(new) {
                let _ = writeln!(out, "      {}", st.green(&v));
            }
        }
        DnsChange::Delete { old } => {
            let _ = writeln!(
                out,
                "  {} {} {}  ttl {}",
                st.red("-"),
                relative_name(&old.name, zone),
                old.rtype,
                old.ttl
            );
            for v in values_of(old) {
                let _ = writeln!(out, "      {}", st.red(&v));
            }
        }
        DnsChange::Update { old, new } => {
            let ttl = if old.ttl == new.ttl {
                format!("ttl {}", new.ttl)
            } else {
                format!("ttl {} → {}", old.ttl, new.ttl)
            };
            let _ = writeln!(
                out,
                "  {} {} {}  {ttl}",
                st.yellow("~"),
                relative_name(&new.name, zone),
                new.rtype
            );
            let (ov, nv) = (old.canonical_values(), new.canonical_values());
            let removed: Vec<&RData> = old
                .values
                .iter()
                .filter(|v| !nv.contains(&v.canonical()))
                .collect();
            let added: Vec<&RData> = new
                .values
                .iter()
                .filter(|v| !ov.contains(&v.canonical()))
                .collect();
            if removed.len() == 1 && added.len() == 1 {
                let (a, b) = (removed[0].presentation(), added[0].presentation());
                if a.len() > LONG_VALUE || b.len() > LONG_VALUE {
                    let _ = writeln!(out, "      {}", word_diff(&a, &b, st));
                    return;
                }
            }
            for v in new.values.iter().filter(|v| ov.contains(&v.canonical())) {
                let _ = writeln!(out, "      {}", st.dim(&v.presentation()));
            }
            for v in removed {
                let _ = writeln!(out, "    {} {}", st.red("-"), st.red(&v.presentation()));
            }
            for v in added {
                let _ = writeln!(out, "    {} {}", st.green("+"), st.green(&v.presentation()));
            }
        }
    }
}

/// A word diff: `[-old-]{+new+}` without colour, red/green with.
pub fn word_diff(old: &str, new: &str, st: &Style) -> String {
    let diff = TextDiff::from_words(old, new);
    let mut s = String::new();
    for change in diff.iter_all_changes() {
        let v = change.value();
        match change.tag() {
            ChangeTag::Equal => s.push_str(v),
            ChangeTag::Delete if st.color => s.push_str(&st.red(v)),
            ChangeTag::Insert if st.color => s.push_str(&st.green(v)),
            ChangeTag::Delete => {
                let _ = write!(s, "[-{v}-]");
            }
            ChangeTag::Insert => {
                let _ = write!(s, "{{+{v}+}}");
            }
        }
    }
    s
}

fn group_summary(g: &Group) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &g.display_name {
        parts.push(format!("\"{n}\""));
    }
    if g.kind == mailform_contract::GroupKind::Distribution {
        parts.push("distribution list".into());
    }
    parts.push(format!(
        "members: {}",
        if g.members.is_empty() {
            "(none)".to_string()
        } else {
            g.members.join(", ")
        }
    ));
    if !g.aliases.is_empty() {
        parts.push(format!("aliases: {}", g.aliases.join(", ")));
    }
    parts.push(format!(
        "outside senders: {}",
        if g.allow_external {
            "allowed"
        } else {
            "refused"
        }
    ));
    parts.join("; ")
}

fn mail_change(out: &mut String, change: &MailChange, st: &Style) {
    let line = super::mail_change_line(change);
    let (sign, rest) = line.split_at(1);
    let sign = match sign {
        "+" => st.green(sign),
        "-" => st.red(sign),
        _ => st.yellow(sign),
    };
    match change {
        MailChange::CreateMailbox { new, password } => {
            let mut parts = vec![new.state.as_str().to_string()];
            if let Some(n) = &new.display_name {
                parts.insert(0, format!("\"{n}\""));
            }
            if new.kind == mailform_contract::MailboxKind::Shared {
                parts.push("shared".into());
                if !new.delegates.is_empty() {
                    parts.push(format!("access: {}", new.delegates.join(", ")));
                }
            }
            if let Some(s) = &new.successor {
                parts.push(format!("successor {s}"));
            }
            if !new.aliases.is_empty() {
                parts.push(format!("aliases: {}", new.aliases.join(", ")));
            }
            parts.push(
                match password {
                    Some(mailform_contract::InitialPassword::Generate) => {
                        "initial password generated at apply"
                    }
                    Some(_) => "initial password set",
                    None => "no password",
                }
                .into(),
            );
            let _ = writeln!(out, "  {sign}{rest}  ({})", parts.join(", "));
        }
        MailChange::UpdateMailbox { old, new } => {
            let _ = writeln!(out, "  {sign}{rest}");
            for d in mailbox_diff(old, new) {
                let _ = writeln!(out, "      {d}");
            }
        }
        MailChange::DeleteMailbox { .. } => {
            let _ = writeln!(
                out,
                "  {sign}{rest}  {}",
                st.red("(DELETES THE MAILBOX; needs --allow-destroy)")
            );
        }
        MailChange::CreateAlias { new } => {
            let _ = writeln!(out, "  {sign}{rest} → {}", new.targets.join(", "));
        }
        MailChange::UpdateAlias { old, new } => {
            let _ = writeln!(out, "  {sign}{rest}");
            let mut d = Vec::new();
            list_diff("to", &old.targets, &new.targets, &mut d);
            for l in d {
                let _ = writeln!(out, "      {l}");
            }
        }
        MailChange::DeleteAlias { old } => {
            let _ = writeln!(out, "  {sign}{rest} → {}", old.targets.join(", "));
        }
        MailChange::CreateGroup { new } => {
            let _ = writeln!(out, "  {sign}{rest}  ({})", group_summary(new));
        }
        MailChange::UpdateGroup { old, new } => {
            let _ = writeln!(out, "  {sign}{rest}");
            let mut d = Vec::new();
            if old.display_name != new.display_name {
                d.push(format!(
                    "name: {} → {}",
                    old.display_name.clone().unwrap_or_default(),
                    new.display_name.clone().unwrap_or_default()
                ));
            }
            list_diff("members", &old.members, &new.members, &mut d);
            list_diff("aliases", &old.aliases, &new.aliases, &mut d);
            if old.allow_external != new.allow_external {
                d.push(format!(
                    "outside senders: {} → {}",
                    old.allow_external, new.allow_external
                ));
            }
            for l in d {
                let _ = writeln!(out, "      {l}");
            }
        }
        MailChange::DeleteGroup { old } => {
            let _ = writeln!(out, "  {sign}{rest}  ({})", group_summary(old));
        }
    }
}

fn unmanaged(out: &mut String, items: &[Unmanaged], noun: (&str, &str), st: &Style) {
    let groups = [
        (UnmanagedReason::NotDeclared, "not in the file, left alone"),
        (UnmanagedReason::MailboxNotDeclared, "mailboxes not in the file, left alone (mailboxes are never deleted unless marked `state: deleted`)"),
        (UnmanagedReason::Ignored, "matching `ignore`, left alone"),
        (UnmanagedReason::Protected, "SOA/apex NS, left alone"),
    ];
    for (reason, text) in groups {
        let names: Vec<&str> = items
            .iter()
            .filter(|u| u.reason == reason)
            .map(|u| u.object.as_str())
            .collect();
        if names.is_empty() {
            continue;
        }
        let shown = names
            .iter()
            .take(UNMANAGED_SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if names.len() > UNMANAGED_SHOWN {
            format!(", and {} more", names.len() - UNMANAGED_SHOWN)
        } else {
            String::new()
        };
        let n = names.len();
        let label = if reason == UnmanagedReason::MailboxNotDeclared {
            n.to_string()
        } else {
            super::count(n, noun.0, noun.1)
        };
        let _ = writeln!(
            out,
            "  {}",
            st.dim(&format!("{label} {text}: {shown}{more}"))
        );
    }
}

fn footer(
    out: &mut String,
    problems: &[crate::plan::Problem],
    threshold: Option<&crate::plan::ThresholdBreach>,
    st: &Style,
) {
    for p in problems {
        let at = p.at.as_ref().map(|a| format!("{a}: ")).unwrap_or_default();
        let _ = writeln!(out, "  {} {at}{}", st.red("problem:"), p.message);
    }
    if let Some(t) = threshold {
        let _ = writeln!(
            out,
            "  {} {} of {} {} would change ({}% > {}%); apply needs --force",
            st.yellow("safety limit:"),
            t.changed,
            t.existing,
            t.what,
            t.changed * 100 / t.existing.max(1),
            t.limit_percent
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_diff_by_word() {
        let st = Style { color: false };
        let d = word_diff(
            "v=spf1 include:_spf.google.com ~all",
            "v=spf1 include:_spf.google.com -all",
            &st,
        );
        assert_eq!(d, "v=spf1 include:_spf.google.com [-~all-]{+-all+}");
    }
}
