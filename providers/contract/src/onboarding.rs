//! Mail domains a provider does not serve yet, and the DNS records a mail
//! provider asks to have published.
//!
//! Onboarding a domain is a conversation between two providers that the
//! engine runs: the mail provider names a verification record
//! ([`MailProvider::begin_onboarding`]), the engine publishes it through the
//! domain's DNS provider and waits until every authoritative server serves
//! it, then the mail provider verifies the domain and names the records mail
//! needs from then on ([`MailProvider::finish_onboarding`]). A provider only
//! reports; the engine decides what is published and when (MX only after
//! the mailboxes exist).
//!
//! [`MailProvider::begin_onboarding`]: crate::MailProvider::begin_onboarding
//! [`MailProvider::finish_onboarding`]: crate::MailProvider::finish_onboarding

use serde::Serialize;

use crate::dns::RecordSet;

/// Where a mail domain stands at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainStage {
    /// Verified: mailboxes, groups and aliases can be created.
    Ready,
    /// Known to the provider, not verified yet.
    Unverified,
    /// Not in the tenant at all.
    Absent,
}

/// What a record asked for by a mail provider is for; it decides how the
/// engine merges it with what the file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordPurpose {
    /// Proves ownership (`google-site-verification=…`, `MS=ms…`). TXT
    /// values are added to a declared set, never replace it.
    Verification,
    /// Routes mail to the provider; published only after the mailboxes
    /// exist, and never over an MX set the file declares.
    Mx,
    /// The provider's SPF policy; not added where the file already has one.
    Spf,
    /// Anything else the provider needs (autodiscover, DKIM CNAMEs).
    Service,
}

/// One record set a mail provider asks to have published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderRecord {
    pub purpose: RecordPurpose,
    /// Absolute name, as in every [`RecordSet`].
    pub set: RecordSet,
}

/// What a mail provider says about one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainStatus {
    pub stage: DomainStage,
    /// Records it asks to have published that are known now. For a domain
    /// not in the tenant this may be empty: some providers name the
    /// verification record only once the domain is added, which is a write
    /// and so happens in `apply`.
    pub records: Vec<ProviderRecord>,
    /// Prefixes of TXT values at the domain's apex that prove ownership to
    /// this provider (`google-site-verification=`). The engine never
    /// removes a live value that starts with one, even from a TXT set the
    /// file declares: removing it can unverify the domain.
    pub keep_txt_prefixes: Vec<String>,
    /// Steps the provider carries out once the records it asks for are
    /// published and served, one line each for the plan ("enable DKIM
    /// signing"); see [`crate::MailProvider::complete_setup`]. Empty when
    /// nothing waits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<String>,
    /// What the domain is at the provider: an alias of this parent domain
    /// (every user of the parent has the same address here; the alias has
    /// no objects of its own), or `None` for a domain of its own. For an
    /// absent domain, `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
}

impl DomainStatus {
    /// A verified domain of its own that asks for nothing.
    pub fn ready() -> DomainStatus {
        DomainStatus {
            stage: DomainStage::Ready,
            records: Vec::new(),
            keep_txt_prefixes: Vec::new(),
            setup: Vec::new(),
            alias_of: None,
        }
    }

    /// A domain at `stage` that asks for `records`, a domain of its own.
    pub fn new(
        stage: DomainStage,
        records: Vec<ProviderRecord>,
        keep_txt_prefixes: Vec<String>,
    ) -> DomainStatus {
        DomainStatus {
            stage,
            records,
            keep_txt_prefixes,
            alias_of: None,
            setup: Vec::new(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.stage == DomainStage::Ready
    }
}
