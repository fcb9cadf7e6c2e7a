//! In-memory providers: the reference semantics of the contract, for tests
//! of the engine and as the model other fakes are checked against.
//!
//! They check each change's precondition like a careful real provider
//! (a create must not find the object, an update or delete must find it as
//! the plan saw it), apply a zone or domain all-or-nothing, and can be told
//! to fail, so that partial-failure handling can be tested.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::dns::{DnsChange, RecordSet, RecordType, ZoneState};
use crate::error::ProviderError;
use crate::mail::{MailChange, MailDomainState};
use crate::onboarding::{DomainStage, DomainStatus, ProviderRecord, RecordPurpose};
use crate::provider::{
    ApplyReport, DnsCapabilities, DnsProvider, MailCapabilities, MailProvider, PasswordPolicy,
};

/// Applies `changes` to `state`, all or nothing.
pub fn apply_dns(
    state: &mut ZoneState,
    changes: &[DnsChange],
) -> Result<(), (usize, ProviderError)> {
    let mut next = state.records.clone();
    for (i, change) in changes.iter().enumerate() {
        let key = change.key();
        let pos = next.iter().position(|s| s.key() == key);
        let conflict = |m: &str| {
            (
                i,
                ProviderError::Conflict(format!("{} {}: {m}", key.0, key.1)),
            )
        };
        match (change, pos) {
            (DnsChange::Create { new }, None) => next.push(new.clone()),
            (DnsChange::Update { old, new }, Some(p)) if next[p].same_as(old) => {
                next[p] = new.clone()
            }
            (DnsChange::Delete { old }, Some(p)) if next[p].same_as(old) => {
                next.remove(p);
            }
            (DnsChange::Create { .. }, Some(_)) => return Err(conflict("already exists")),
            _ => return Err(conflict("changed since the plan was made")),
        }
    }
    state.records = next;
    state.exists = true;
    Ok(())
}

/// Applies `changes` to `state`, all or nothing.
pub fn apply_mail(
    state: &mut MailDomainState,
    changes: &[MailChange],
) -> Result<(), (usize, ProviderError)> {
    let mut next = state.clone();
    for (i, change) in changes.iter().enumerate() {
        let conflict = |m: &str| {
            (
                i,
                ProviderError::Conflict(format!("{}: {m}", change.address())),
            )
        };
        macro_rules! upsert {
            ($list:expr, $old:expr, $new:expr) => {{
                let pos = $list.iter().position(|x| x.address == $new.address);
                match ($old, pos) {
                    (None, None) => $list.push($new.clone()),
                    (Some(old), Some(p)) if $list[p].same_as(old) => $list[p] = $new.clone(),
                    (None, Some(_)) => return Err(conflict("already exists")),
                    _ => return Err(conflict("changed since the plan was made")),
                }
            }};
        }
        macro_rules! delete {
            ($list:expr, $old:expr) => {{
                match $list.iter().position(|x| x.address == $old.address) {
                    Some(p) if $list[p].same_as($old) => {
                        $list.remove(p);
                    }
                    _ => return Err(conflict("changed since the plan was made")),
                }
            }};
        }
        match change {
            MailChange::CreateMailbox { new, .. } => {
                upsert!(next.mailboxes, None::<&crate::Mailbox>, new)
            }
            MailChange::UpdateMailbox { old, new } => upsert!(next.mailboxes, Some(old), new),
            MailChange::DeleteMailbox { old } => delete!(next.mailboxes, old),
            MailChange::CreateAlias { new } => upsert!(next.aliases, None::<&crate::Alias>, new),
            MailChange::UpdateAlias { old, new } => upsert!(next.aliases, Some(old), new),
            MailChange::DeleteAlias { old } => delete!(next.aliases, old),
            MailChange::CreateGroup { new } => upsert!(next.groups, None::<&crate::Group>, new),
            MailChange::UpdateGroup { old, new } => upsert!(next.groups, Some(old), new),
            MailChange::DeleteGroup { old } => delete!(next.groups, old),
        }
    }
    *state = next;
    Ok(())
}

fn report<T>(count: usize, result: Result<T, (usize, ProviderError)>) -> ApplyReport {
    match result {
        Ok(_) => ApplyReport::all_applied(count),
        Err((_, e)) => ApplyReport::all_failed(count, e),
    }
}

/// An in-memory DNS provider.
#[derive(Default)]
pub struct MemoryDns {
    pub zones: Mutex<BTreeMap<String, ZoneState>>,
    /// Zones whose applies fail with this error.
    pub fail_zones: Mutex<BTreeMap<String, ProviderError>>,
}

impl MemoryDns {
    pub fn with_zone(zone: &str, records: Vec<RecordSet>) -> MemoryDns {
        let m = MemoryDns::default();
        m.zones.lock().expect("lock").insert(
            zone.to_string(),
            ZoneState {
                zone: zone.to_string(),
                exists: true,
                records,
            },
        );
        m
    }
}

#[async_trait]
impl DnsProvider for MemoryDns {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: RecordType::DECLARABLE.to_vec(),
            min_ttl: 1,
            max_ttl: 2_147_483_647,
            atomic_zone_apply: true,
            creates_zones: true,
            limits: Vec::new(),
        }
    }
    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        Ok(self
            .zones
            .lock()
            .expect("lock")
            .get(zone)
            .cloned()
            .unwrap_or(ZoneState {
                zone: zone.to_string(),
                exists: false,
                records: vec![],
            }))
    }
    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        if let Some(e) = self.fail_zones.lock().expect("lock").get(zone) {
            return ApplyReport::all_failed(changes.len(), e.clone());
        }
        let mut zones = self.zones.lock().expect("lock");
        let state = zones.entry(zone.to_string()).or_insert_with(|| ZoneState {
            zone: zone.to_string(),
            exists: false,
            records: vec![],
        });
        report(changes.len(), apply_dns(state, changes))
    }
}

/// An in-memory mail provider with the capabilities it is given.
pub struct MemoryMail {
    pub domains: Mutex<BTreeMap<String, MailDomainState>>,
    pub fail_domains: Mutex<BTreeMap<String, ProviderError>>,
    pub caps: MailCapabilities,
    /// Domains not ready yet and where they stand; every other domain is
    /// ready. Mail writes to one of these fail, as at a real provider.
    pub onboarding: Mutex<BTreeMap<String, DomainStage>>,
    /// Where `finish_onboarding` looks for the verification record (the
    /// memory world's DNS); without it verification fails.
    pub verify_in: Mutex<Option<std::sync::Arc<MemoryDns>>>,
    /// What each ready domain asks to have published.
    pub ready_records: Mutex<BTreeMap<String, Vec<ProviderRecord>>>,
    /// Provider-side setup steps pending per domain; `complete_setup`
    /// carries them out once every record the domain asks for is in
    /// `verify_in`.
    pub setup: Mutex<BTreeMap<String, Vec<String>>>,
    /// Domains that are aliases of another domain → that parent. Set by
    /// `finish_onboarding` with `alias_of`, or by a test.
    pub aliases: Mutex<BTreeMap<String, String>>,
}

impl MemoryMail {
    /// The verification TXT value of `domain`.
    pub fn token(domain: &str) -> String {
        format!("memory-verification={domain}")
    }

    fn verification(domain: &str) -> ProviderRecord {
        ProviderRecord {
            purpose: RecordPurpose::Verification,
            set: RecordSet {
                name: domain.to_string(),
                rtype: RecordType::Txt,
                ttl: 300,
                values: vec![crate::RData::txt(&Self::token(domain))],
            },
        }
    }

    /// An alias's parent must be a ready domain of its own, as at Google.
    fn check_parent(&self, parent: &str) -> Result<(), ProviderError> {
        if !self.caps.domain_aliases {
            return Err(ProviderError::Unsupported(
                "this provider has no domain aliases".into(),
            ));
        }
        if self.stage(parent) != DomainStage::Ready
            || self.aliases.lock().expect("lock").contains_key(parent)
        {
            return Err(ProviderError::Rejected(format!(
                "{parent} is not a verified domain of its own"
            )));
        }
        Ok(())
    }

    fn stage(&self, domain: &str) -> DomainStage {
        self.onboarding
            .lock()
            .expect("lock")
            .get(domain)
            .copied()
            .unwrap_or(DomainStage::Ready)
    }
}

impl Default for MemoryMail {
    fn default() -> Self {
        MemoryMail {
            domains: Mutex::default(),
            fail_domains: Mutex::default(),
            onboarding: Mutex::default(),
            verify_in: Mutex::default(),
            ready_records: Mutex::default(),
            setup: Mutex::default(),
            aliases: Mutex::default(),
            caps: MailCapabilities {
                mailbox_aliases: true,
                group_aliases: true,
                groups: true,
                standalone_aliases: true,
                group_external_senders: true,
                display_names: true,
                password: PasswordPolicy {
                    hash_schemes: vec!["SHA512-CRYPT".into()],
                    plain: true,
                    required: false,
                },
                shared_mailboxes: true,
                distribution_lists: true,
                settings_hint: None,
                domain_aliases: true,
                offboarding: true,
            },
        }
    }
}

#[async_trait]
impl MailProvider for MemoryMail {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> MailCapabilities {
        self.caps.clone()
    }
    async fn read_domain(&self, domain: &str) -> Result<MailDomainState, ProviderError> {
        Ok(self
            .domains
            .lock()
            .expect("lock")
            .get(domain)
            .cloned()
            .unwrap_or(MailDomainState {
                domain: domain.to_string(),
                ..Default::default()
            }))
    }
    async fn apply_domain(&self, domain: &str, changes: &[MailChange]) -> ApplyReport {
        if let Some(e) = self.fail_domains.lock().expect("lock").get(domain) {
            return ApplyReport::all_failed(changes.len(), e.clone());
        }
        if self.stage(domain) != DomainStage::Ready {
            return ApplyReport::all_failed(
                changes.len(),
                ProviderError::Rejected(format!("{domain} is not a verified domain")),
            );
        }
        let mut domains = self.domains.lock().expect("lock");
        let state = domains
            .entry(domain.to_string())
            .or_insert_with(|| MailDomainState {
                domain: domain.to_string(),
                ..Default::default()
            });
        report(changes.len(), apply_mail(state, changes))
    }

    async fn domain_status(&self, domain: &str) -> Result<DomainStatus, ProviderError> {
        let stage = self.stage(domain);
        let records = match stage {
            DomainStage::Ready => self
                .ready_records
                .lock()
                .expect("lock")
                .get(domain)
                .cloned()
                .unwrap_or_default(),
            DomainStage::Unverified => vec![Self::verification(domain)],
            DomainStage::Absent => Vec::new(),
        };
        let setup = match stage {
            DomainStage::Ready => self
                .setup
                .lock()
                .expect("lock")
                .get(domain)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(DomainStatus {
            stage,
            records,
            keep_txt_prefixes: vec!["memory-verification=".into()],
            setup,
            alias_of: self.aliases.lock().expect("lock").get(domain).cloned(),
        })
    }

    async fn complete_setup(&self, domain: &str) -> Result<Vec<String>, ProviderError> {
        let asked = self
            .ready_records
            .lock()
            .expect("lock")
            .get(domain)
            .cloned()
            .unwrap_or_default();
        let dns = self.verify_in.lock().expect("lock").clone();
        let published = |r: &ProviderRecord| {
            dns.as_ref().is_some_and(|d| {
                d.zones.lock().expect("lock").values().any(|z| {
                    z.records
                        .iter()
                        .any(|s| s.key() == r.set.key() && s.same_as(&r.set))
                })
            })
        };
        if let Some(missing) = asked
            .iter()
            .filter(|r| r.purpose == RecordPurpose::Service)
            .find(|r| !published(r))
        {
            return Err(ProviderError::Rejected(format!(
                "{} {} is not published yet",
                missing.set.name, missing.set.rtype
            )));
        }
        Ok(self
            .setup
            .lock()
            .expect("lock")
            .remove(domain)
            .unwrap_or_default())
    }

    async fn begin_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        if let Some(parent) = alias_of {
            self.check_parent(parent)?;
        }
        let mut pending = self.onboarding.lock().expect("lock");
        if let Some(stage) = pending.get_mut(domain) {
            *stage = DomainStage::Unverified;
        }
        Ok(vec![Self::verification(domain)])
    }

    async fn finish_onboarding(
        &self,
        domain: &str,
        alias_of: Option<&str>,
    ) -> Result<Vec<ProviderRecord>, ProviderError> {
        if let Some(parent) = alias_of {
            self.check_parent(parent)?;
        }
        let dns = self.verify_in.lock().expect("lock").clone();
        let token = crate::RData::txt(&Self::token(domain)).canonical();
        let served = match dns {
            Some(dns) => dns.zones.lock().expect("lock").values().any(|z| {
                z.records.iter().any(|s| {
                    s.name == domain
                        && s.rtype == RecordType::Txt
                        && s.values.iter().any(|v| v.canonical() == token)
                })
            }),
            None => false,
        };
        if !served {
            return Err(ProviderError::Rejected(format!(
                "the verification record of {domain} was not found"
            )));
        }
        self.onboarding.lock().expect("lock").remove(domain);
        if let Some(parent) = alias_of {
            self.aliases
                .lock()
                .expect("lock")
                .insert(domain.to_string(), parent.to_string());
        }
        Ok(self.domain_status(domain).await?.records)
    }
}
