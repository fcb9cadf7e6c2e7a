//! Graph's users and groups ↔ the contract's mailboxes and groups, and
//! Graph's errors → messages that say what to do.

use mailform_contract::name::normalize_address;
use mailform_contract::{Group, GroupKind, Mailbox, MailboxState, ProviderError};

use crate::api;
use crate::auth::permissions;
use crate::client::CallError;

/// The address a user receives mail at: its primary SMTP address (`mail`)
/// once it has a mailbox, else its sign-in name.
pub fn user_address(u: &api::User) -> Option<String> {
    u.mail
        .as_deref()
        .filter(|m| !m.is_empty())
        .or(u.user_principal_name.as_deref())
        .map(normalize_address)
}

/// Secondary SMTP addresses (`smtp:` lower-case prefix); `SMTP:` is the
/// primary, and other types (`X500:`, `SIP:`) are not mail addresses.
pub fn secondary_smtp(proxy_addresses: &[String], primary: &str) -> Vec<String> {
    let mut v: Vec<String> = proxy_addresses
        .iter()
        .filter_map(|p| p.strip_prefix("smtp:"))
        .map(normalize_address)
        .filter(|a| a != primary)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A user as a mailbox. Graph has no "offboarded" state: a disabled
/// account reads as suspended (the read makes it offboarded when Exchange
/// says its mailbox is shared).
pub fn mailbox(u: &api::User) -> Option<Mailbox> {
    let address = user_address(u)?;
    Some(Mailbox {
        id: Some(u.id.clone()),
        aliases: secondary_smtp(&u.proxy_addresses, &address),
        address,
        display_name: u.display_name.clone().filter(|d| !d.is_empty()),
        state: if u.account_enabled == Some(false) {
            MailboxState::Suspended
        } else {
            MailboxState::Active
        },
        successor: None,
        kind: Default::default(),
        delegates: vec![],
    })
}

/// A member's address, as a mailbox's.
pub fn member_address(m: &api::Member) -> Option<String> {
    m.mail
        .as_deref()
        .filter(|a| !a.is_empty())
        .or(m.user_principal_name.as_deref())
        .map(normalize_address)
}

/// A mail-enabled group with its members. `allow_external` is not
/// readable through Graph app-only: it reads as false.
pub fn group(g: &api::Group, members: &[api::Member]) -> Option<Group> {
    let address = normalize_address(g.mail.as_deref().filter(|m| !m.is_empty())?);
    let mut member_addresses: Vec<String> = members.iter().filter_map(member_address).collect();
    member_addresses.sort();
    member_addresses.dedup();
    Some(Group {
        id: Some(g.id.clone()),
        aliases: secondary_smtp(&g.proxy_addresses, &address),
        address,
        display_name: g.display_name.clone().filter(|d| !d.is_empty()),
        members: member_addresses,
        allow_external: false,
        // Mail-enabled security groups stay "the usual kind": mailform
        // does not write them (see the provider's `writable_group`).
        kind: if g.is_unified() || g.security_enabled == Some(true) {
            GroupKind::Default
        } else {
            GroupKind::Distribution
        },
    })
}

/// Characters Graph refuses in a user's `mailNickname` ("user resource
/// type": ASCII except `@ () \ [] " ; : . <> , SPACE`).
pub const USER_NICKNAME_FORBIDDEN: &str = "@()\\[]\";:.<>, ";
/// Characters Graph refuses in a group's `mailNickname` ("group resource
/// type": the same, but dots are allowed).
pub const GROUP_NICKNAME_FORBIDDEN: &str = "@()\\[]\";:<>, ";

/// A user's `mailNickname`: the address's local part without what Graph
/// refuses. It names the Exchange alias only; the address is the
/// sign-in name.
pub fn user_nickname(address: &str) -> Result<String, ProviderError> {
    let local = address.split('@').next().unwrap_or("");
    let nick: String = local
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && !USER_NICKNAME_FORBIDDEN.contains(*c))
        .take(64)
        .collect();
    if nick.is_empty() {
        return Err(ProviderError::Rejected(format!(
            "{address}: its local part leaves no characters Graph allows in a mailNickname"
        )));
    }
    Ok(nick)
}

/// A group's `mailNickname`, which is its address's local part: Graph
/// makes the address from it, so it must be usable as it is.
pub fn group_nickname(address: &str) -> Result<String, ProviderError> {
    let local = address.split('@').next().unwrap_or("");
    let ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| {
            c.is_ascii() && !c.is_ascii_control() && !GROUP_NICKNAME_FORBIDDEN.contains(c)
        });
    if !ok {
        return Err(ProviderError::Rejected(format!(
            "the address of a Microsoft 365 group is its mailNickname at the default domain, and `{local}` is not one Graph takes (up to 64 ASCII characters, none of @()\\[]\";:<>, or space): choose another address"
        )));
    }
    Ok(local.to_string())
}

/// What a failed call means for the person running mailform. `what`
/// names the call (`creating user a@example.com`), `permission` the
/// application permission it needs.
pub fn error(e: CallError, what: &str, permission: &str, client_id: &str) -> ProviderError {
    match e {
        CallError::Auth(p) => p,
        CallError::Api {
            status,
            code,
            message,
        } => {
            let text = format!("{what}: HTTP {status} {code}: {message}");
            match status {
                401 => ProviderError::Permission(format!(
                    "{text}; Graph refused the token of app {client_id} — check `tenant` and that the app's secret is current"
                )),
                403 => ProviderError::Permission(format!(
                    "{text}; app {client_id} needs the Microsoft Graph application permission {permission}: {}",
                    permissions::WHERE
                )),
                404 => ProviderError::Conflict(format!(
                    "{text}; it no longer exists (changed since the plan): plan again"
                )),
                409 => ProviderError::Conflict(format!(
                    "{text}; it exists already (perhaps made outside mailform since the plan): plan again"
                )),
                400 if message.contains("already exist") => ProviderError::Conflict(format!(
                    "{text}; the address is taken — by an object made outside mailform since the plan, or by one deleted in the last 30 days and kept in the recycle bin (Entra admin center → Users or Groups → Deleted): restore it or delete it permanently, then plan again"
                )),
                400 => ProviderError::Rejected(text),
                429 => ProviderError::Service(format!(
                    "{text}; Graph kept throttling the app: wait a few minutes and apply again"
                )),
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
    fn users_read_as_mailboxes_with_secondary_smtp_aliases() {
        let u = api::User {
            id: "1".into(),
            user_principal_name: Some("Alice@Example.com".into()),
            mail: Some("Alice@Example.com".into()),
            display_name: Some("Alice".into()),
            account_enabled: Some(false),
            proxy_addresses: vec![
                "SMTP:Alice@Example.com".into(),
                "smtp:a@example.com".into(),
                "smtp:alice@contoso.onmicrosoft.com".into(),
                "X500:/o=ExchangeLabs/cn=Recipients".into(),
            ],
        };
        let m = mailbox(&u).unwrap();
        assert_eq!(m.address, "alice@example.com");
        assert_eq!(m.state, MailboxState::Suspended);
        assert_eq!(
            m.aliases,
            vec!["a@example.com", "alice@contoso.onmicrosoft.com"]
        );
        let unlicensed = api::User { mail: None, ..u };
        assert_eq!(mailbox(&unlicensed).unwrap().address, "alice@example.com");
    }

    #[test]
    fn nicknames_drop_what_graph_refuses() {
        assert_eq!(user_nickname("mary.ann@example.com").unwrap(), "maryann");
        assert_eq!(user_nickname("o'neil+x@example.com").unwrap(), "o'neil+x");
        assert!(user_nickname("...@example.com").is_err());
        assert_eq!(group_nickname("sales.de@example.com").unwrap(), "sales.de");
        assert!(group_nickname("a,b@example.com").is_err());
    }
}
