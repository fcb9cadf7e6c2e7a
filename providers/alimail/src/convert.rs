//! Alibaba Mail users ↔ [`Mailbox`]es.
//!
//! - `email` → `address` (lower-cased), `name` → `display_name` (an empty
//!   name is none), `id` → `id` (the identity used by every write);
//! - `status` `NORMAL` → [`MailboxState::Active`], `FREEZE` →
//!   [`MailboxState::Suspended`]; any other value fails the read rather than
//!   being guessed. Alibaba Mail has no "offboarded" state: offboarding is
//!   written as `FREEZE` and so reads back as suspended;
//! - `emailAliases` → `aliases` (lower-cased, sorted, without duplicates).

use mailform_contract::name::normalize_address;
use mailform_contract::{Mailbox, MailboxState, ProviderError};

use crate::api::{ApiUser, STATUS_FREEZE, STATUS_NORMAL};

/// The domain part of `address`, lower-cased.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
}

/// The mailbox for `user`.
pub fn mailbox(user: &ApiUser) -> Result<Mailbox, ProviderError> {
    let state = match user.status.as_str() {
        STATUS_NORMAL => MailboxState::Active,
        STATUS_FREEZE => MailboxState::Suspended,
        other => {
            return Err(ProviderError::Parse(format!(
                "user {} ({}) has status {other:?}, which mailform does not know (NORMAL or \
                 FREEZE expected)",
                user.email, user.id
            )))
        }
    };
    if user.id.is_empty() || !user.email.contains('@') {
        return Err(ProviderError::Parse(format!(
            "a user has no id or no email address (id {:?}, email {:?})",
            user.id, user.email
        )));
    }
    let mut aliases: Vec<String> = user
        .email_aliases
        .iter()
        .map(|a| normalize_address(a.trim()))
        .filter(|a| !a.is_empty())
        .collect();
    aliases.sort();
    aliases.dedup();
    Ok(Mailbox {
        id: Some(user.id.clone()),
        address: normalize_address(user.email.trim()),
        display_name: user
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        state,
        successor: None,
        aliases,
        kind: Default::default(),
        delegates: vec![],
    })
}

/// The `status` to write for `state`: suspended and offboarded both freeze.
pub fn status(state: MailboxState) -> &'static str {
    match state {
        MailboxState::Active => STATUS_NORMAL,
        MailboxState::Suspended | MailboxState::Offboarded => STATUS_FREEZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: &str) -> ApiUser {
        ApiUser {
            id: "u1".into(),
            email: "Alice@Example.com".into(),
            name: Some("Alice".into()),
            status: status.into(),
            email_aliases: vec!["b@example.com".into(), "A@example.com".into()],
            department_ids: vec![],
        }
    }

    #[test]
    fn users_become_mailboxes() {
        let m = mailbox(&user("NORMAL")).unwrap();
        assert_eq!(m.id.as_deref(), Some("u1"));
        assert_eq!(m.address, "alice@example.com");
        assert_eq!(m.display_name.as_deref(), Some("Alice"));
        assert_eq!(m.state, MailboxState::Active);
        assert_eq!(m.aliases, vec!["a@example.com", "b@example.com"]);
        assert_eq!(
            mailbox(&user("FREEZE")).unwrap().state,
            MailboxState::Suspended
        );
        assert!(matches!(
            mailbox(&user("DELETED")),
            Err(ProviderError::Parse(_))
        ));
        assert_eq!(status(MailboxState::Offboarded), "FREEZE");
        assert_eq!(status(MailboxState::Active), "NORMAL");
        assert_eq!(domain_of("x@Example.COM").as_deref(), Some("example.com"));
    }
}
