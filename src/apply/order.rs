//! The order in which a plan's changes are applied, as a list of steps.
//! Each step is one provider call for one zone or mail domain.

use mailform_contract::{DnsChange, MailChange, RecordType};
use serde::Serialize;

use crate::plan::Plan;
use crate::render::{dns_change_line, mail_change_line};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Add and verify mail domains the provider does not serve yet.
    Onboard,
    /// Create and update mailboxes, groups and aliases.
    Mail,
    /// DNS changes that do not route mail.
    Dns,
    /// MX changes of domains whose mail changed in this apply.
    Mx,
    /// Delete aliases, groups, then mailboxes.
    MailDeletes,
    /// Give the addresses of mailboxes just deleted to their successors
    /// (`state: deleted` with a `successor`): only once the address is free.
    Handover,
    /// Provider-side setup that waits for the records the provider asked
    /// for (enabling DKIM signing once its CNAMEs are served).
    Setup,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Onboard => "onboard",
            Phase::Mail => "mail",
            Phase::Dns => "dns",
            Phase::Mx => "mx",
            Phase::MailDeletes => "mail-deletes",
            Phase::Handover => "handover",
            Phase::Setup => "setup",
        }
    }

    pub fn is_mail(self) -> bool {
        matches!(self, Phase::Mail)
    }

    /// Steps skipped when the same domain's mail step did not fully apply.
    pub fn depends_on_mail(self) -> bool {
        matches!(self, Phase::Mx | Phase::MailDeletes | Phase::Handover)
    }
}

pub enum StepChanges {
    Dns(Vec<DnsChange>),
    Mail(Vec<MailChange>),
}

pub struct Step {
    pub phase: Phase,
    /// The zone or mail domain the provider call is for.
    pub scope: String,
    /// The mail domain whose mail steps this step waits on (MX and mail
    /// deletions); for MX it can differ from the zone.
    pub mail_domain: Option<String>,
    pub provider: String,
    pub changes: StepChanges,
}

impl Step {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match &self.changes {
            StepChanges::Dns(c) => c.len(),
            StepChanges::Mail(c) => c.len(),
        }
    }

    pub fn descriptions(&self) -> Vec<String> {
        match &self.changes {
            StepChanges::Dns(c) => c.iter().map(|c| dns_change_line(&self.scope, c)).collect(),
            StepChanges::Mail(c) => c.iter().map(mail_change_line).collect(),
        }
    }
}

fn is_delete(c: &MailChange) -> bool {
    matches!(
        c,
        MailChange::DeleteMailbox { .. }
            | MailChange::DeleteAlias { .. }
            | MailChange::DeleteGroup { .. }
    )
}

/// Mail upserts: mailboxes before groups before aliases, since groups and
/// aliases point at mailboxes. Deletes: the reverse.
fn mail_rank(c: &MailChange) -> u8 {
    match c {
        MailChange::CreateMailbox { .. } | MailChange::UpdateMailbox { .. } => 0,
        MailChange::CreateGroup { .. } | MailChange::UpdateGroup { .. } => 1,
        MailChange::CreateAlias { .. } | MailChange::UpdateAlias { .. } => 2,
        MailChange::DeleteAlias { .. } => 3,
        MailChange::DeleteGroup { .. } => 4,
        MailChange::DeleteMailbox { .. } => 5,
    }
}

/// Within one call: deletes, then updates, then creates, so that a name
/// changing from CNAME to other data never holds both.
fn dns_rank(c: &DnsChange) -> u8 {
    match c {
        DnsChange::Delete { .. } => 0,
        DnsChange::Update { .. } => 1,
        DnsChange::Create { .. } => 2,
    }
}

/// Addresses this plan frees: deleted mailboxes and their aliases.
fn freed(plan: &Plan) -> std::collections::BTreeSet<String> {
    plan.mail
        .iter()
        .flat_map(|m| &m.changes)
        .filter_map(|c| match c {
            MailChange::DeleteMailbox { old } => {
                Some(std::iter::once(old.address.clone()).chain(old.aliases.iter().cloned()))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Whether `c` takes over an address in `freed`, so it must wait for the
/// deletion.
fn is_handover(c: &MailChange, freed: &std::collections::BTreeSet<String>) -> bool {
    match c {
        MailChange::UpdateMailbox { old, new } => new
            .aliases
            .iter()
            .any(|a| freed.contains(a) && !old.aliases.contains(a)),
        MailChange::CreateAlias { new } => freed.contains(&new.address),
        _ => false,
    }
}

pub fn steps(plan: &Plan) -> Vec<Step> {
    let mut out = Vec::new();
    let mut mail_changed = std::collections::BTreeSet::new();
    let freed = freed(plan);
    let mut handovers: Vec<Step> = Vec::new();
    for m in &plan.mail {
        let (later, now): (Vec<MailChange>, Vec<MailChange>) = m
            .changes
            .iter()
            .filter(|c| !is_delete(c))
            .cloned()
            .partition(|c| is_handover(c, &freed));
        if !later.is_empty() {
            handovers.push(Step {
                phase: Phase::Handover,
                mail_domain: Some(m.domain.clone()),
                scope: m.domain.clone(),
                provider: m.provider.clone(),
                changes: StepChanges::Mail(later),
            });
        }
        let mut upserts = now;
        upserts.sort_by_key(mail_rank);
        if !upserts.is_empty() || m.onboarding.is_some() {
            mail_changed.insert(m.domain.clone());
        }
        if !upserts.is_empty() {
            out.push(Step {
                phase: Phase::Mail,
                mail_domain: Some(m.domain.clone()),
                scope: m.domain.clone(),
                provider: m.provider.clone(),
                changes: StepChanges::Mail(upserts),
            });
        }
    }
    for z in &plan.zones {
        let mut now: Vec<DnsChange> = Vec::new();
        // MX of a mail domain whose mail changes waits for that mail, per
        // domain (a zone can hold several mail domains).
        let mut later: std::collections::BTreeMap<String, Vec<DnsChange>> = Default::default();
        for c in &z.changes {
            let (name, rtype) = c.key();
            if rtype == RecordType::Mx && mail_changed.contains(&name) {
                later.entry(name).or_default().push(c.clone());
            } else {
                now.push(c.clone());
            }
        }
        now.sort_by_key(dns_rank);
        if !now.is_empty() {
            out.push(Step {
                phase: Phase::Dns,
                scope: z.zone.clone(),
                mail_domain: None,
                provider: z.provider.clone(),
                changes: StepChanges::Dns(now),
            });
        }
        for (domain, mut changes) in later {
            changes.sort_by_key(dns_rank);
            out.push(Step {
                phase: Phase::Mx,
                scope: z.zone.clone(),
                mail_domain: Some(domain),
                provider: z.provider.clone(),
                changes: StepChanges::Dns(changes),
            });
        }
    }
    for m in &plan.mail {
        let mut deletes: Vec<MailChange> =
            m.changes.iter().filter(|c| is_delete(c)).cloned().collect();
        deletes.sort_by_key(mail_rank);
        if !deletes.is_empty() {
            out.push(Step {
                phase: Phase::MailDeletes,
                mail_domain: Some(m.domain.clone()),
                scope: m.domain.clone(),
                provider: m.provider.clone(),
                changes: StepChanges::Mail(deletes),
            });
        }
    }
    out.extend(handovers);
    out
}
