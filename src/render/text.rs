//! The text plan, in the manner of Terraform's: `+` create, `~` update,
//! `-` delete; long TXT values that change are shown as a word diff.

use std::fmt::Write;

use mailform_contract::name::relative_name;
use mailform_contract::{DnsChange, Group, MailChange, RData, RecordSet};
use similar::{ChangeTag, TextDiff};

use super::style::Style;
use super::{count, list_diff, mailbox_diff, safe, safe_join};
use crate::plan::{Plan, Unmanaged, UnmanagedReason};

/// Values longer than this are diffed word by word rather than shown whole twice.
const LONG_VALUE: usize = 60;
/// How many unmanaged objects to name before summarising.
const UNMANAGED_SHOWN: usize = 10;

pub fn plan(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    if let Some(profile) = &plan.source.profile {
        let _ = writeln!(out, "Profile: {}\n", safe(profile));
    }
    for z in &plan.zones {
        let header = format!(
            "zone {}  ({} provider `{}`, manage: {})",
            safe(&z.zone),
            z.provider_kind,
            safe(&z.provider),
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
            let _ = writeln!(out, "  {} {}", st.dim("note:"), safe(n));
        }
        if !z.replanned_after.is_empty() {
            let _ = writeln!(
                out,
                "  {} apply plans this zone again once {} {} verified, with the records the provider names then; MX changes wait for the mailboxes",
                st.yellow("note:"),
                safe_join(&z.replanned_after, ", "),
                if z.replanned_after.len() == 1 { "is" } else { "are" }
            );
        }
        footer(&mut out, &z.problems, z.threshold.iter(), &st);
        out.push('\n');
    }
    for m in &plan.mail {
        let header = format!(
            "mail {}  ({} provider `{}`)",
            safe(&m.domain),
            m.provider_kind,
            safe(&m.provider)
        );
        let _ = writeln!(out, "{}", st.bold(&header));
        if let Some(o) = &m.onboarding {
            let _ = writeln!(out, "  {} {}", st.green("+"), safe(&o.describe(&m.domain)));
        }
        for step in &m.domain_status.setup {
            let _ = writeln!(
                out,
                "  {} {} (once the records `{}` asks for are served)",
                st.yellow("~"),
                safe(step),
                safe(&m.provider)
            );
        }
        for c in &m.changes {
            mail_change(&mut out, c, &st);
        }
        if m.changes.is_empty() && m.onboarding.is_none() && m.domain_status.setup.is_empty() {
            let _ = writeln!(out, "  {}", st.dim("no changes"));
        }
        unmanaged(&mut out, &m.unmanaged, ("object", "objects"), &st);
        footer(&mut out, &m.problems, m.thresholds(), &st);
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
                count(deletions.len(), "mailbox", "mailboxes")
            ))
        );
    }
    let roles = plan.role_address_deletions();
    if !roles.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            st.red(&format!(
                "Deletes {} every mail domain must answer ({}): apply needs --allow-destroy.",
                count(roles.len(), "role address", "role addresses"),
                safe(&roles.join(", "))
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
                count(plan.problems().len(), "problem", "problems")
            ))
        );
    }
    out
}

fn values_of(set: &RecordSet) -> Vec<String> {
    let mut v: Vec<String> = set
        .values
        .iter()
        .map(|v| safe(&v.presentation()).into_owned())
        .collect();
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
                safe(&relative_name(&new.name, zone)),
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
                safe(&relative_name(&old.name, zone)),
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
                safe(&relative_name(&new.name, zone)),
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
                let (a, b) = (
                    safe(&removed[0].presentation()).into_owned(),
                    safe(&added[0].presentation()).into_owned(),
                );
                if a.len() > LONG_VALUE || b.len() > LONG_VALUE {
                    let _ = writeln!(out, "      {}", word_diff(&a, &b, st));
                    return;
                }
            }
            for v in new.values.iter().filter(|v| ov.contains(&v.canonical())) {
                let _ = writeln!(out, "      {}", st.dim(&safe(&v.presentation())));
            }
            for v in removed {
                let _ = writeln!(
                    out,
                    "    {} {}",
                    st.red("-"),
                    st.red(&safe(&v.presentation()))
                );
            }
            for v in added {
                let _ = writeln!(
                    out,
                    "    {} {}",
                    st.green("+"),
                    st.green(&safe(&v.presentation()))
                );
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
        parts.push(format!("\"{}\"", safe(n)));
    }
    if g.kind == mailform_contract::GroupKind::Distribution {
        parts.push("distribution list".into());
    }
    parts.push(format!(
        "members: {}",
        if g.members.is_empty() {
            "(none)".to_string()
        } else {
            safe_join(&g.members, ", ")
        }
    ));
    if !g.aliases.is_empty() {
        parts.push(format!("aliases: {}", safe_join(&g.aliases, ", ")));
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
                parts.insert(0, format!("\"{}\"", safe(n)));
            }
            if new.kind == mailform_contract::MailboxKind::Shared {
                parts.push("shared".into());
                if !new.delegates.is_empty() {
                    parts.push(format!("access: {}", safe_join(&new.delegates, ", ")));
                }
            }
            if let Some(s) = &new.successor {
                parts.push(format!("successor {}", safe(s)));
            }
            if !new.aliases.is_empty() {
                parts.push(format!("aliases: {}", safe_join(&new.aliases, ", ")));
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
            let _ = writeln!(out, "  {sign}{rest} → {}", safe_join(&new.targets, ", "));
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
            let _ = writeln!(
                out,
                "  {sign}{rest} → {}{}",
                safe_join(&old.targets, ", "),
                role_note(&old.address, st)
            );
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
                    safe(old.display_name.as_deref().unwrap_or_default()),
                    safe(new.display_name.as_deref().unwrap_or_default())
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
            let _ = writeln!(
                out,
                "  {sign}{rest}  ({}){}",
                group_summary(old),
                role_note(&old.address, st)
            );
        }
    }
}

/// The marker on the deletion of a role address, which needs
/// `--allow-destroy`.
fn role_note(address: &str, st: &Style) -> String {
    if crate::plan::is_role_address(address) {
        format!("  {}", st.red("(a role address; needs --allow-destroy)"))
    } else {
        String::new()
    }
}

fn unmanaged(out: &mut String, items: &[Unmanaged], noun: (&str, &str), st: &Style) {
    let groups = [
        (UnmanagedReason::NotDeclared, "not in the file, left alone"),
        (UnmanagedReason::MailboxNotDeclared, "not in the file, left alone (mailboxes are never deleted unless marked `state: deleted`)"),
        (UnmanagedReason::Ignored, "matching `ignore`, left alone"),
        (UnmanagedReason::Protected, "SOA/apex NS, left alone"),
    ];
    for (reason, text) in groups {
        let names: Vec<String> = items
            .iter()
            .filter(|u| u.reason == reason)
            .map(|u| safe(&u.object).into_owned())
            .collect();
        if names.is_empty() {
            continue;
        }
        let shown = names
            .iter()
            .take(UNMANAGED_SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if names.len() > UNMANAGED_SHOWN {
            format!(", and {} more", names.len() - UNMANAGED_SHOWN)
        } else {
            String::new()
        };
        let (one, many) = if reason == UnmanagedReason::MailboxNotDeclared {
            ("mailbox", "mailboxes")
        } else {
            noun
        };
        let counted = count(names.len(), one, many);
        let _ = writeln!(
            out,
            "  {}",
            st.dim(&format!("{counted} {text}: {shown}{more}"))
        );
    }
}

fn footer<'a>(
    out: &mut String,
    problems: &[crate::plan::Problem],
    thresholds: impl Iterator<Item = &'a crate::plan::ThresholdBreach>,
    st: &Style,
) {
    for p in problems {
        let at = p.at.as_ref().map(|a| format!("{a}: ")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {}{}",
            st.red("problem:"),
            safe(&at),
            safe(&p.message)
        );
    }
    for t in thresholds {
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
