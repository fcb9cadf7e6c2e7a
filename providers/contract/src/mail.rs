//! Mail live state and changes: mailboxes, aliases and groups of one domain.
//!
//! Addresses are lower-case (see [`crate::name::normalize_address`]); lists
//! (aliases, members, targets) are compared as sorted sets.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The lifecycle state of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailboxState {
    /// Receives mail; its owner can sign in.
    Active,
    /// Keeps receiving mail; nobody can sign in.
    Suspended,
    /// The person left: nobody can sign in, the mail is kept, and new mail
    /// goes to the successor.
    Offboarded,
}

impl MailboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxState::Active => "active",
            MailboxState::Suspended => "suspended",
            MailboxState::Offboarded => "offboarded",
        }
    }
}

/// What sort of mailbox it is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// A person's mailbox: signs in, needs a password (and, where the
    /// provider sells them, a licence).
    #[default]
    User,
    /// A mailbox several people open with their own accounts
    /// ([`Mailbox::delegates`]); nobody signs in to it, it takes no
    /// password and no licence.
    Shared,
}

impl MailboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxKind::User => "user",
            MailboxKind::Shared => "shared",
        }
    }

    pub fn is_user(&self) -> bool {
        *self == MailboxKind::User
    }
}

/// What sort of group it is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// The provider's usual group (for Microsoft 365, a Microsoft 365
    /// group).
    #[default]
    Default,
    /// A plain distribution list (for Microsoft 365, an Exchange
    /// distribution group): an address and its members, nothing else.
    Distribution,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Default => "group",
            GroupKind::Distribution => "distribution",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == GroupKind::Default
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// The provider's immutable id, when it has one; not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub state: MailboxState,
    /// Where new mail goes once the mailbox is offboarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// Extra addresses that deliver to this mailbox (user aliases). Only for
    /// providers with [`crate::MailCapabilities::mailbox_aliases`]; for the
    /// others the engine plans them as [`Alias`] objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Only for providers with [`crate::MailCapabilities::shared_mailboxes`].
    #[serde(default, skip_serializing_if = "MailboxKind::is_user")]
    pub kind: MailboxKind,
    /// Addresses with Full Access to a shared mailbox (open it as their
    /// own); empty for user mailboxes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegates: Vec<String>,
}

impl Mailbox {
    /// Whether two mailboxes agree on everything mailform manages.
    pub fn same_as(&self, other: &Mailbox) -> bool {
        self.address == other.address
            && self.display_name == other.display_name
            && self.state == other.state
            && self.successor == other.successor
            && self.kind == other.kind
            && sorted(&self.aliases) == sorted(&other.aliases)
            && sorted(&self.delegates) == sorted(&other.delegates)
    }
}

/// An address that forwards to one or more targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub address: String,
    pub targets: Vec<String>,
}

impl Alias {
    pub fn same_as(&self, other: &Alias) -> bool {
        self.address == other.address && sorted(&self.targets) == sorted(&other.targets)
    }
}

/// A distribution group: one address, many members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub members: Vec<String>,
    /// Extra addresses of the group, for providers with
    /// [`crate::MailCapabilities::group_aliases`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Whether senders outside the organisation may mail the group.
    pub allow_external: bool,
    /// Only for providers with [`crate::MailCapabilities::distribution_lists`]
    /// when not the default.
    #[serde(default, skip_serializing_if = "GroupKind::is_default")]
    pub kind: GroupKind,
}

impl Group {
    pub fn same_as(&self, other: &Group) -> bool {
        self.address == other.address
            && self.kind == other.kind
            && self.display_name == other.display_name
            && self.allow_external == other.allow_external
            && sorted(&self.members) == sorted(&other.members)
            && sorted(&self.aliases) == sorted(&other.aliases)
    }
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut s: Vec<&str> = v.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// What a mail provider holds for one domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailDomainState {
    pub domain: String,
    pub mailboxes: Vec<Mailbox>,
    pub aliases: Vec<Alias>,
    pub groups: Vec<Group>,
}

/// The initial password of a new mailbox, as the file gives it. Used on
/// creation only, never compared, never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum InitialPassword {
    /// A hash with its scheme prefix: `{SHA512-CRYPT}$6$...`.
    Hash(Secret),
    /// A clear-text password.
    Plain(Secret),
    /// To be generated at apply time. The applier replaces it with
    /// [`InitialPassword::Plain`], after recording the password in the
    /// file the user named, before any provider sees the change.
    Generate,
}

impl InitialPassword {
    /// The hash scheme (`SHA512-CRYPT`) of a [`InitialPassword::Hash`].
    pub fn scheme(&self) -> Option<&str> {
        match self {
            InitialPassword::Hash(s) => s
                .expose()
                .strip_prefix('{')
                .and_then(|r| r.split_once('}'))
                .map(|(scheme, _)| scheme),
            _ => None,
        }
    }
}

/// One change to one mail object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum MailChange {
    /// `password` is set only on creation and never compared afterwards.
    CreateMailbox {
        new: Mailbox,
        #[serde(skip_serializing_if = "Option::is_none")]
        password: Option<InitialPassword>,
    },
    UpdateMailbox {
        old: Mailbox,
        new: Mailbox,
    },
    DeleteMailbox {
        old: Mailbox,
    },
    CreateAlias {
        new: Alias,
    },
    UpdateAlias {
        old: Alias,
        new: Alias,
    },
    DeleteAlias {
        old: Alias,
    },
    CreateGroup {
        new: Group,
    },
    UpdateGroup {
        old: Group,
        new: Group,
    },
    DeleteGroup {
        old: Group,
    },
}

impl MailChange {
    /// The address the change is about.
    pub fn address(&self) -> &str {
        match self {
            MailChange::CreateMailbox { new, .. } | MailChange::UpdateMailbox { new, .. } => {
                &new.address
            }
            MailChange::DeleteMailbox { old } => &old.address,
            MailChange::CreateAlias { new } | MailChange::UpdateAlias { new, .. } => &new.address,
            MailChange::DeleteAlias { old } => &old.address,
            MailChange::CreateGroup { new } | MailChange::UpdateGroup { new, .. } => &new.address,
            MailChange::DeleteGroup { old } => &old.address,
        }
    }
}
