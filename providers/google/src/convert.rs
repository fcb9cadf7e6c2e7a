//! Google's users and groups ↔ the contract's mailboxes and groups, and
//! Google's errors → messages that say what to do.

use mailform_contract::name::normalize_address;
use mailform_contract::{Group, Mailbox, MailboxState, ProviderError};

use crate::api;
use crate::client::CallError;

/// Who may post to a group, as mailform manages it: anyone (outside
/// senders allowed) or the domain only.
pub const ANYONE_CAN_POST: &str = "ANYONE_CAN_POST";
pub const DOMAIN_CAN_POST: &str = "ALL_IN_DOMAIN_CAN_POST";

/// A user as a mailbox. Google has no "offboarded" state of its own: a
/// suspended user reads as suspended.
pub fn mailbox(user: &api::User) -> Option<Mailbox> {
    let address = normalize_address(user.primary_email.as_deref()?);
    let mut aliases: Vec<String> = user
        .aliases
        .iter()
        .flatten()
        .map(|a| normalize_address(a))
        .collect();
    aliases.sort();
    Some(Mailbox {
        id: user.id.clone(),
        address,
        display_name: user.name.as_ref().and_then(full_name),
        state: if user.suspended == Some(true) {
            MailboxState::Suspended
        } else {
            MailboxState::Active
        },
        successor: None,
        aliases,
        kind: Default::default(),
        delegates: vec![],
    })
}

fn full_name(n: &api::UserName) -> Option<String> {
    n.full_name.clone().or_else(
        || match (n.given_name.as_deref(), n.family_name.as_deref()) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(x), None) | (None, Some(x)) => Some(x.to_string()),
            (None, None) => None,
        },
    )
}

/// A display name as Google's given and family names: the last word is
/// the family name (`Mary Ann Smith` → `Mary Ann` + `Smith`), so the full
/// name Google derives reads back as written. Google requires both.
pub fn split_name(display: &str, address: &str) -> Result<api::UserName, ProviderError> {
    let display = display.trim();
    match display.rsplit_once(' ') {
        Some((given, family)) if !given.trim().is_empty() && !family.is_empty() => {
            Ok(api::UserName {
                given_name: Some(given.trim().to_string()),
                family_name: Some(family.to_string()),
                full_name: None,
            })
        }
        _ => Err(ProviderError::Rejected(format!(
            "Google Workspace needs a given and a family name for {address}; write `name: \"Given Family\"` (got {display:?})"
        ))),
    }
}

/// A group with its members and settings as the contract's group.
pub fn group(g: &api::Group, members: &[api::Member], who_can_post: Option<&str>) -> Option<Group> {
    let mut member_addresses: Vec<String> = members
        .iter()
        .filter_map(|m| m.email.as_deref())
        .map(normalize_address)
        .collect();
    member_addresses.sort();
    let mut aliases: Vec<String> = g
        .aliases
        .iter()
        .flatten()
        .map(|a| normalize_address(a))
        .collect();
    aliases.sort();
    Some(Group {
        id: g.id.clone(),
        address: normalize_address(g.email.as_deref()?),
        display_name: g.name.clone(),
        members: member_addresses,
        aliases,
        allow_external: who_can_post == Some(ANYONE_CAN_POST),
        kind: Default::default(),
    })
}

/// What a failed call means for the person running mailform. `what`
/// names the call (`creating user a@example.com`).
pub fn error(e: CallError, what: &str, client_id: &str) -> ProviderError {
    match e {
        CallError::Auth(p) => p,
        CallError::Api {
            status,
            reason,
            message,
        } => {
            let text = format!("{what}: HTTP {status} {reason}: {message}");
            match status {
                401 => ProviderError::Permission(format!(
                    "{text}; the token was refused — check the service-account key and its domain-wide delegation (client ID {client_id})"
                )),
                403 if reason == "insufficientPermissions" || message.contains("scope") => {
                    ProviderError::Permission(format!(
                        "{text}; authorise the scopes for client ID {client_id} in the Admin console (Security → Access and data control → API controls → Manage Domain Wide Delegation)"
                    ))
                }
                403 => ProviderError::Permission(format!(
                    "{text}; the admin mailform acts as needs the privilege for this (Admin console → Account → Admin roles)"
                )),
                409 => ProviderError::Conflict(format!(
                    "{text}; it exists already (perhaps created outside mailform since the plan): plan again"
                )),
                404 => ProviderError::Conflict(format!(
                    "{text}; it no longer exists (changed since the plan): plan again"
                )),
                400 | 412 => ProviderError::Rejected(text),
                // Reads were retried; a write answered so may have been
                // carried out.
                500.. => ProviderError::Unknown(text),
                _ => ProviderError::Service(text),
            }
        }
        CallError::Transport {
            message,
            sent: true,
        } => ProviderError::Unknown(format!("{what}: {message}")),
        CallError::Transport {
            message,
            sent: false,
        } => ProviderError::Service(format!("{what}: {message}")),
        CallError::Parse(m) => ProviderError::Parse(format!("{what}: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_the_last_word_and_read_back_the_same() {
        let n = split_name("Mary Ann Smith", "m@x").unwrap();
        assert_eq!(n.given_name.as_deref(), Some("Mary Ann"));
        assert_eq!(n.family_name.as_deref(), Some("Smith"));
        assert_eq!(full_name(&n).as_deref(), Some("Mary Ann Smith"));
        assert!(split_name("Cher", "c@x")
            .unwrap_err()
            .to_string()
            .contains("family"));
    }

    #[test]
    fn users_read_as_mailboxes() {
        let u = api::User {
            id: Some("1".into()),
            primary_email: Some("Alice@Example.com".into()),
            name: Some(api::UserName {
                given_name: Some("Alice".into()),
                family_name: Some("Example".into()),
                full_name: Some("Alice Example".into()),
            }),
            suspended: Some(true),
            aliases: Some(vec!["b@example.com".into(), "A@example.com".into()]),
            ..Default::default()
        };
        let m = mailbox(&u).unwrap();
        assert_eq!(m.address, "alice@example.com");
        assert_eq!(m.state, MailboxState::Suspended);
        assert_eq!(m.aliases, vec!["a@example.com", "b@example.com"]);
    }
}
