//! The plan: what `apply` would change, and why nothing else.
//!
//! Planning is pure: [`dns::plan_zone`] and [`mail::plan_domain`] take the
//! desired state, the live state and the provider's capabilities and return
//! the changes, the live objects left alone ("unmanaged") and any problem
//! that forbids applying. The same inputs always give the same plan, in the
//! same order. The serialised form is the JSON plan format (see
//! `docs/plan-format.md`); secrets never enter it.

pub mod dns;
pub mod fingerprint;
pub mod mail;
pub mod onboarding;
pub mod safety;

use mailform_contract::{DnsChange, MailChange, RecordSet};
use serde::Serialize;

use crate::config::model::{DnsManage, MailManage};
use crate::desired::Origin;

/// Version of the JSON plan format; bumped on any incompatible change.
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub mailform_version: &'static str,
    pub source: PlanSource,
    /// SHA-256 over the live state the plan was made from; `apply` of a
    /// saved plan refuses to run when the live state no longer matches.
    pub live_fingerprint: String,
    pub zones: Vec<ZonePlan>,
    pub mail: Vec<MailPlan>,
}

/// What the plan was made from.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PlanSource {
    /// The YAML file, as given on the command line.
    pub file: String,
    /// SHA-256 of the YAML file's bytes.
    pub sha256: String,
    pub profile: Option<String>,
    pub targets: Vec<String>,
}

/// A problem that forbids applying: the plan is shown but `apply` refuses.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    /// file:line:column of the declaration at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Problem {
    pub fn at(message: impl Into<String>, origin: &Origin, file: &str) -> Problem {
        // Line 0: not from the file (a record a mail provider asked for).
        let at = (origin.loc.line > 0)
            .then(|| format!("{file}:{}:{}", origin.loc.line, origin.loc.column));
        Problem {
            message: message.into(),
            at,
        }
    }
}

/// A live object mailform leaves alone, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unmanaged {
    /// For DNS `name TYPE`; for mail the address.
    pub object: String,
    pub reason: UnmanagedReason,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedReason {
    /// Not declared, and ownership is `declared`.
    NotDeclared,
    /// Matches an `ignore` pattern.
    Ignored,
    /// SOA or the apex NS set, which `manage: zone` never deletes.
    Protected,
    /// A mailbox missing from the file: reported, never deleted.
    MailboxNotDeclared,
}

/// A safety limit the plan goes over.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ThresholdBreach {
    pub what: String,
    pub changed: usize,
    pub existing: usize,
    pub limit_percent: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZonePlan {
    pub zone: String,
    pub provider: String,
    pub provider_kind: String,
    pub manage: DnsManage,
    /// The zone does not exist yet and applying creates it.
    pub creates_zone: bool,
    pub changes: Vec<DnsChange>,
    pub unmanaged: Vec<Unmanaged>,
    pub problems: Vec<Problem>,
    /// Record sets the zone holds now (SOA not counted).
    pub existing: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdBreach>,
    /// How records mail providers asked for were merged with the file's
    /// (see [`onboarding`]), where that differs from what they asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Mail domains onboarded into this zone by this plan: apply plans the
    /// zone again once they are verified, with the records their provider
    /// names then.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replanned_after: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MailPlan {
    pub domain: String,
    pub provider: String,
    pub provider_kind: String,
    pub manage: MailManage,
    pub changes: Vec<MailChange>,
    pub unmanaged: Vec<Unmanaged>,
    pub problems: Vec<Problem>,
    pub existing_mailboxes: usize,
    /// Aliases and groups the domain holds now.
    pub existing_aliases_and_groups: usize,
    /// Members of the domain's groups now, all groups together.
    pub existing_group_members: usize,
    /// The mailbox limit, when over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdBreach>,
    /// The limit on aliases and groups updated or deleted, when over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_threshold: Option<ThresholdBreach>,
    /// The limit on group members removed, when over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_threshold: Option<ThresholdBreach>,
    /// The domain is not ready at the provider: apply adds and verifies it
    /// first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<onboarding::OnboardingPlan>,
    /// What the provider said about the domain: its stage and the records
    /// it asks to have published.
    pub domain_status: mailform_contract::DomainStatus,
}

/// Counts of a plan's changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.create + self.update + self.delete
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for z in &self.zones {
            for c in &z.changes {
                match c {
                    DnsChange::Create { .. } => s.create += 1,
                    DnsChange::Update { .. } => s.update += 1,
                    DnsChange::Delete { .. } => s.delete += 1,
                }
            }
        }
        for m in &self.mail {
            if m.onboarding.is_some() {
                s.create += 1;
            }
            if !m.domain_status.setup.is_empty() {
                s.update += 1;
            }
            for c in &m.changes {
                match c {
                    MailChange::CreateMailbox { .. }
                    | MailChange::CreateAlias { .. }
                    | MailChange::CreateGroup { .. } => s.create += 1,
                    MailChange::UpdateMailbox { .. }
                    | MailChange::UpdateAlias { .. }
                    | MailChange::UpdateGroup { .. } => s.update += 1,
                    MailChange::DeleteMailbox { .. }
                    | MailChange::DeleteAlias { .. }
                    | MailChange::DeleteGroup { .. } => s.delete += 1,
                }
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.summary().total() > 0
    }

    pub fn problems(&self) -> Vec<&Problem> {
        self.zones
            .iter()
            .flat_map(|z| &z.problems)
            .chain(self.mail.iter().flat_map(|m| &m.problems))
            .collect()
    }

    pub fn thresholds(&self) -> Vec<&ThresholdBreach> {
        self.zones
            .iter()
            .filter_map(|z| z.threshold.as_ref())
            .chain(self.mail.iter().flat_map(|m| m.thresholds()))
            .collect()
    }

    /// Deletions of the role addresses every mail domain must answer
    /// (`postmaster@`, RFC 5321 §4.5.1; `abuse@`, RFC 2142), as aliases or
    /// groups: like mailbox deletions they need `--allow-destroy`, whatever
    /// the share of the domain they are.
    pub fn role_address_deletions(&self) -> Vec<&str> {
        self.mail
            .iter()
            .flat_map(|m| &m.changes)
            .filter_map(|c| match c {
                MailChange::DeleteAlias { old } => Some(old.address.as_str()),
                MailChange::DeleteGroup { old } => Some(old.address.as_str()),
                _ => None,
            })
            .filter(|a| is_role_address(a))
            .collect()
    }

    /// Mailbox deletions, which need `--allow-destroy`.
    pub fn mailbox_deletions(&self) -> Vec<&str> {
        self.mail
            .iter()
            .flat_map(|m| &m.changes)
            .filter_map(|c| match c {
                MailChange::DeleteMailbox { old } => Some(old.address.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Local parts a mail domain must answer: RFC 5321 §4.5.1 (postmaster)
/// and RFC 2142 (abuse).
pub const ROLE_LOCAL_PARTS: [&str; 2] = ["postmaster", "abuse"];

/// Whether `address` is `postmaster@` or `abuse@` of its domain.
pub fn is_role_address(address: &str) -> bool {
    address.split_once('@').is_some_and(|(local, _)| {
        ROLE_LOCAL_PARTS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(local))
    })
}

impl MailPlan {
    /// Every limit this domain's changes go over.
    pub fn thresholds(&self) -> impl Iterator<Item = &ThresholdBreach> {
        [
            &self.threshold,
            &self.alias_threshold,
            &self.member_threshold,
        ]
        .into_iter()
        .filter_map(Option::as_ref)
    }
}

/// `name TYPE` for messages.
pub fn set_label(set: &RecordSet) -> String {
    format!("{} {}", set.name, set.rtype)
}

/// Plans everything: each zone and mail domain, then the safety limits.
pub fn build(
    desired: &crate::desired::Desired,
    live: &crate::live::LiveState,
    registry: &crate::registry::Registry,
    source: PlanSource,
) -> Plan {
    let file = source.file.clone();
    let (augmented, notes) = onboarding::augment(desired, &live.zones, &live.domains);
    let mut zones: Vec<ZonePlan> = augmented
        .iter()
        .zip(&live.zones)
        .zip(notes)
        .map(|((d, l), notes)| {
            let p = registry.dns(&d.provider);
            ZonePlan {
                notes,
                ..dns::plan_zone(d, l, &p.capabilities(), p.kind(), &file)
            }
        })
        .collect();
    let mail = desired
        .mail
        .iter()
        .zip(live.mail.iter().zip(&live.domains))
        .map(|(d, (l, status))| {
            let p = registry.mail(&d.provider);
            let caps = p.capabilities();
            let mut plan = mail::plan_domain(d, l, &caps, p.kind(), &file);
            plan.domain_status = status.clone();
            match onboarding::onboarding_for(
                desired,
                &d.domain,
                &d.provider,
                d.alias_of.as_deref(),
                &caps,
                status,
            ) {
                Ok(Some(o)) => {
                    if let Some(z) = zones.iter_mut().find(|z| z.zone == o.zone) {
                        z.replanned_after.push(d.domain.clone());
                    }
                    plan.onboarding = Some(o);
                }
                Ok(None) => {}
                Err(message) => plan.problems.push(Problem { message, at: None }),
            }
            plan
        })
        .collect();
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        mailform_version: env!("CARGO_PKG_VERSION"),
        source,
        live_fingerprint: live.fingerprint(desired),
        zones,
        mail,
    };
    safety::check(&mut plan, &desired.safety);
    plan
}
