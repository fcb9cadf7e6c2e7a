//! Rendering plans and apply results for people and programs: `text`
//! (Terraform-like, coloured on a terminal), `json` (the versioned plan
//! format) and `markdown` (for pull-request comments).

pub mod markdown;
pub mod style;
pub mod text;

use std::borrow::Cow;

use mailform_contract::name::relative_name;
use mailform_contract::{DnsChange, MailChange, Mailbox};

use crate::plan::Plan;

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people: `+` create, `~` update, `-` delete.
    Text,
    /// The versioned JSON plan format, for programs.
    Json,
    /// For pull-request comments.
    Markdown,
}

pub fn render_plan(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::plan(plan, color),
        Format::Json => json(plan),
        Format::Markdown => markdown::plan(plan),
    }
}

pub fn json(plan: &Plan) -> String {
    let mut s =
        serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One line naming a DNS change: `+ www.example.com A` style, relative.
pub fn dns_change_line(zone: &str, change: &DnsChange) -> String {
    let (sign, (name, rtype)) = match change {
        DnsChange::Create { .. } => ('+', change.key()),
        DnsChange::Update { .. } => ('~', change.key()),
        DnsChange::Delete { .. } => ('-', change.key()),
    };
    format!("{sign} {} {rtype}", safe(&relative_name(&name, zone)))
}

/// One line naming a mail change.
pub fn mail_change_line(change: &MailChange) -> String {
    let (sign, kind) = match change {
        MailChange::CreateMailbox { .. } => ('+', "mailbox"),
        MailChange::UpdateMailbox { .. } => ('~', "mailbox"),
        MailChange::DeleteMailbox { .. } => ('-', "mailbox"),
        MailChange::CreateAlias { .. } => ('+', "alias"),
        MailChange::UpdateAlias { .. } => ('~', "alias"),
        MailChange::DeleteAlias { .. } => ('-', "alias"),
        MailChange::CreateGroup { .. } => ('+', "group"),
        MailChange::UpdateGroup { .. } => ('~', "group"),
        MailChange::DeleteGroup { .. } => ('-', "group"),
    };
    format!("{sign} {kind} {}", safe(change.address()))
}

/// The attribute differences between two mailboxes, as `field: old → new`.
pub fn mailbox_diff(old: &Mailbox, new: &Mailbox) -> Vec<String> {
    let mut out = Vec::new();
    let opt = |v: &Option<String>| {
        v.as_deref()
            .map(|s| safe(s).into_owned())
            .unwrap_or_else(|| "(none)".into())
    };
    if old.display_name != new.display_name {
        out.push(format!(
            "name: {} → {}",
            opt(&old.display_name),
            opt(&new.display_name)
        ));
    }
    if old.state != new.state {
        out.push(format!(
            "state: {} → {}",
            old.state.as_str(),
            new.state.as_str()
        ));
    }
    if old.successor != new.successor {
        out.push(format!(
            "successor: {} → {}",
            opt(&old.successor),
            opt(&new.successor)
        ));
    }
    list_diff("aliases", &old.aliases, &new.aliases, &mut out);
    list_diff("access", &old.delegates, &new.delegates, &mut out);
    out
}

/// `field: +added -removed` for a list compared as a set.
pub fn list_diff(field: &str, old: &[String], new: &[String], out: &mut Vec<String>) {
    let added: Vec<&str> = new
        .iter()
        .filter(|x| !old.contains(x))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|x| !new.contains(x))
        .map(String::as_str)
        .collect();
    if added.is_empty() && removed.is_empty() {
        return;
    }
    let mut parts = Vec::new();
    parts.extend(added.iter().map(|a| format!("+{}", safe(a))));
    parts.extend(removed.iter().map(|r| format!("-{}", safe(r))));
    out.push(format!("{field}: {}", parts.join(" ")));
}

/// `1 mailbox`, `3 mailboxes`: a count with its noun in the right number.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// User data made safe to print on a terminal: control characters (ESC,
/// newline, carriage return, DEL, C1) and the invisible format characters
/// that reorder or hide text (bidi overrides and isolates, zero-width
/// characters) are shown as escapes (`\u{1b}`, `\n`), so a display name
/// or a name read from a provider can neither drive the terminal nor fake
/// a line of the plan. Record values are already escaped by their
/// presentation format; everything else the renderers print from a plan
/// goes through here.
pub fn safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// [`safe`] over a list, joined.
pub fn safe_join(items: &[String], sep: &str) -> String {
    items.iter().map(|i| safe(i)).collect::<Vec<_>>().join(sep)
}
