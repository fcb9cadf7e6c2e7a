//! [`AlidnsProvider`], the [`DnsProvider`]: reads a domain's records into
//! record sets and applies changes record by record.
//!
//! Construction does no I/O: the AccessKey and the HTTP client are set up on
//! first use. `read_zone` reads every page of `DescribeDomainRecords` (500
//! records a page) and keeps the records with their `RecordId`s for
//! `apply_zone`, which needs them (it reads the zone itself when it has
//! not been read in this run).
//!
//! Alidns has no batch or transaction, so an apply is a sequence of single
//! calls — `DeleteDomainRecord`, `UpdateDomainRecord`, `AddDomainRecord` —
//! one per record (a record set is one record per value). Before anything
//! is written every change is checked: its record set must be live as the
//! plan saw it, and its values storable (MX priority ≤ 50, TTL within the
//! edition's range); if one is not, nothing is written. Then changes run in
//! this order — deletions, updates, creations — and inside an update the
//! removed records go first, then records changed in place (keeping their
//! `RecordId`), then new ones: a CNAME never has to coexist with other data.
//! The first failure stops the run: earlier changes are `Applied`, the
//! failing one `Failed` (saying how many of its records were already
//! written), later ones `NotAttempted`. Writes are never repeated blindly
//! (see `client`); running `apply` again continues from what is live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsCapabilities, DnsChange, DnsProvider, ProviderError, RecordSet,
    RecordType, ZoneState,
};
use mailform_http::{Idempotence, Retry};

use crate::api::{ApiRecord, RecordIdAnswer, RecordPage, PAGE_SIZE};
use crate::client::{Api, CallError};
use crate::config::{Config, MAX_TTL};
use crate::convert::{self, Wire};
use crate::errors::api_error;

/// The `alidns` DNS provider.
#[derive(Debug, Clone)]
pub struct AlidnsProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    retry: Retry,
    api: Mutex<Option<Arc<Api>>>,
    /// Each zone's records as last read or written.
    zones: Mutex<HashMap<String, Vec<ApiRecord>>>,
}

/// One API call of an apply.
#[derive(Debug, Clone)]
enum Op {
    Delete {
        id: String,
    },
    Update {
        id: String,
        rr: String,
        wire: Wire,
        ttl: u32,
    },
    Add {
        rr: String,
        wire: Wire,
        ttl: u32,
    },
}

impl AlidnsProvider {
    pub fn new(config: Config) -> AlidnsProvider {
        Self::with_retry(
            config,
            Retry {
                max_attempts: 5,
                base: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
            },
        )
    }

    /// A provider with its own retry policy for throttled and failed reads
    /// (tests use short waits).
    pub fn with_retry(config: Config, retry: Retry) -> AlidnsProvider {
        AlidnsProvider {
            inner: Arc::new(Inner {
                config,
                retry,
                api: Mutex::new(None),
                zones: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Requests sent so far (every attempt counts; 0 before the first call).
    pub fn requests_sent(&self) -> u64 {
        self.inner
            .api
            .lock()
            .expect("api lock")
            .as_ref()
            .map_or(0, |a| a.requests_sent())
    }

    fn api(&self) -> Result<Arc<Api>, ProviderError> {
        let mut slot = self.inner.api.lock().expect("api lock");
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let credentials = self.inner.config.credentials()?;
        let api = Arc::new(
            Api::new(&self.inner.config, credentials, self.inner.retry)
                .map_err(ProviderError::Service)?,
        );
        *slot = Some(api.clone());
        Ok(api)
    }

    fn error(api: &Api, e: CallError, zone: &str, write: bool) -> ProviderError {
        match e {
            CallError::Api {
                status,
                code,
                message,
                request_id,
            } => {
                let mut err = api_error(status, &code, &message, zone);
                if !request_id.is_empty() {
                    let add = |s: &mut String| s.push_str(&format!(" [RequestId {request_id}]"));
                    err = err.map_message(|mut s| {
                        add(&mut s);
                        s
                    });
                }
                err
            }
            CallError::Transport { message, sent } if write && sent => ProviderError::Unknown(
                api.scrub(&format!("{message}; the write was not sent again")),
            ),
            CallError::Transport { message, .. } => {
                ProviderError::Service(api.scrub(&format!("cannot reach Alidns: {message}")))
            }
            CallError::Parse(m) => ProviderError::Parse(m),
        }
    }

    /// Every record of `zone`; `None` when Alidns has no such domain.
    async fn fetch(&self, api: &Api, zone: &str) -> Result<Option<Vec<ApiRecord>>, ProviderError> {
        let mut records: Vec<ApiRecord> = Vec::new();
        let mut page = 1u64;
        let total = loop {
            let params = [
                ("DomainName", zone.to_string()),
                ("PageNumber", page.to_string()),
                ("PageSize", PAGE_SIZE.to_string()),
            ];
            let answer: RecordPage = match api
                .call("DescribeDomainRecords", &params, Idempotence::Idempotent)
                .await
            {
                Ok(a) => a,
                Err(CallError::Api { code, .. })
                    if page == 1 && code == "InvalidDomainName.NoExist" =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(Self::error(api, e, zone, false)),
            };
            let n = answer.domain_records.record.len();
            records.extend(answer.domain_records.record);
            if n == 0 || records.len() as u64 >= answer.total_count {
                break answer.total_count;
            }
            page += 1;
        };
        let mut ids: Vec<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if records.len() as u64 != total || ids.len() != records.len() {
            return Err(ProviderError::Service(format!(
                "the records of {zone} changed while they were read ({} read, {total} announced); run again",
                records.len()
            )));
        }
        Ok(Some(records))
    }

    /// The managed live records of (name, type).
    fn live_of<'a>(
        records: &'a [ApiRecord],
        zone: &str,
        key: &(String, RecordType),
    ) -> Vec<&'a ApiRecord> {
        records
            .iter()
            .filter(|r| {
                r.managed()
                    && convert::name(&r.rr, zone) == key.0
                    && RecordType::parse(&r.rtype) == key.1
            })
            .collect()
    }

    /// The calls that carry out `change` against `records`, or why it cannot be.
    fn ops(
        &self,
        zone: &str,
        records: &[ApiRecord],
        change: &DnsChange,
    ) -> Result<Vec<Op>, ProviderError> {
        let key = change.key();
        let live = Self::live_of(records, zone, &key);
        let live_set = {
            let owned: Vec<ApiRecord> = live.iter().map(|r| (*r).clone()).collect();
            convert::record_sets(zone, &owned)?.into_iter().next()
        };
        let label = format!("{} {}", key.0, key.1);
        let stale = || {
            ProviderError::Conflict(format!(
                "{label}: changed since the plan was made; run `mailform plan` again"
            ))
        };
        let check_new = |new: &RecordSet| -> Result<(String, Vec<Wire>), ProviderError> {
            let min = self.inner.config.min_ttl();
            if new.ttl < min || new.ttl > MAX_TTL {
                return Err(ProviderError::Unsupported(format!(
                    "{label}: TTL {} is outside what this Alidns edition accepts ({min}..={MAX_TTL})",
                    new.ttl
                )));
            }
            let mut wires: Vec<Wire> = Vec::new();
            for v in &new.values {
                let w = convert::wire(v).map_err(|e| match e {
                    ProviderError::Unsupported(m) => {
                        ProviderError::Unsupported(format!("{label}: {m}"))
                    }
                    other => other,
                })?;
                if !wires.iter().any(|x| x.key() == w.key()) {
                    wires.push(w);
                }
            }
            Ok((convert::rr(&new.name, zone)?, wires))
        };
        match change {
            DnsChange::Create { new } => {
                if !live.is_empty() {
                    return Err(ProviderError::Conflict(format!(
                        "{label}: already exists (created since the plan was made); run `mailform plan` again"
                    )));
                }
                let (rr, wires) = check_new(new)?;
                Ok(wires
                    .into_iter()
                    .map(|wire| Op::Add {
                        rr: rr.clone(),
                        wire,
                        ttl: new.ttl,
                    })
                    .collect())
            }
            DnsChange::Delete { old } => {
                if !live_set.as_ref().is_some_and(|s| s.same_as(old)) {
                    return Err(stale());
                }
                Ok(live
                    .iter()
                    .map(|r| Op::Delete {
                        id: r.record_id.clone(),
                    })
                    .collect())
            }
            DnsChange::Update { old, new } => {
                if !live_set.as_ref().is_some_and(|s| s.same_as(old)) {
                    return Err(stale());
                }
                let (rr, wires) = check_new(new)?;
                let mut unmatched: Vec<(&ApiRecord, String)> = Vec::new();
                for r in &live {
                    unmatched.push((r, convert::live_wire(r)?.key()));
                }
                let mut ttl_only = Vec::new();
                let mut added = Vec::new();
                for w in wires {
                    match unmatched.iter().position(|(_, k)| *k == w.key()) {
                        Some(p) => {
                            let (r, _) = unmatched.remove(p);
                            if r.ttl != new.ttl {
                                ttl_only.push(Op::Update {
                                    id: r.record_id.clone(),
                                    rr: rr.clone(),
                                    wire: w,
                                    ttl: new.ttl,
                                });
                            }
                        }
                        None => added.push(w),
                    }
                }
                // Removed values first, then in-place changes (kept ids), then new records.
                let mut ops = Vec::new();
                let in_place = unmatched.len().min(added.len());
                let (reused, removed) = unmatched.split_at(in_place);
                ops.extend(removed.iter().map(|(r, _)| Op::Delete {
                    id: r.record_id.clone(),
                }));
                let mut added = added.into_iter();
                for (r, _) in reused {
                    let wire = added.next().expect("as many as reused");
                    ops.push(Op::Update {
                        id: r.record_id.clone(),
                        rr: rr.clone(),
                        wire,
                        ttl: new.ttl,
                    });
                }
                ops.extend(ttl_only);
                ops.extend(added.map(|wire| Op::Add {
                    rr: rr.clone(),
                    wire,
                    ttl: new.ttl,
                }));
                Ok(ops)
            }
        }
    }

    /// Sends one call; keeps `records` in step with what was written.
    async fn run(
        &self,
        api: &Api,
        zone: &str,
        op: &Op,
        records: &mut Vec<ApiRecord>,
    ) -> Result<(), ProviderError> {
        let fields = |rr: &str, wire: &Wire, ttl: u32| {
            let mut p = vec![
                ("RR", rr.to_string()),
                ("Type", wire.rtype.clone()),
                ("Value", wire.value.clone()),
                ("TTL", ttl.to_string()),
                ("Line", "default".to_string()),
            ];
            if let Some(pr) = wire.priority {
                p.push(("Priority", pr.to_string()));
            }
            p
        };
        let record = |id: String, rr: &str, wire: &Wire, ttl: u32| ApiRecord {
            record_id: id,
            rr: rr.to_string(),
            rtype: wire.rtype.clone(),
            value: wire.value.clone(),
            ttl,
            priority: wire.priority.map(u32::from),
            line: "default".into(),
            status: "ENABLE".into(),
            locked: false,
        };
        match op {
            Op::Delete { id } => {
                api.call::<RecordIdAnswer>(
                    "DeleteDomainRecord",
                    &[("RecordId", id.clone())],
                    Idempotence::NonIdempotent,
                )
                .await
                .map_err(|e| Self::error(api, e, zone, true))?;
                records.retain(|r| r.record_id != *id);
            }
            Op::Update { id, rr, wire, ttl } => {
                let mut p = fields(rr, wire, *ttl);
                p.insert(0, ("RecordId", id.clone()));
                api.call::<RecordIdAnswer>("UpdateDomainRecord", &p, Idempotence::NonIdempotent)
                    .await
                    .map_err(|e| Self::error(api, e, zone, true))?;
                if let Some(r) = records.iter_mut().find(|r| r.record_id == *id) {
                    *r = record(id.clone(), rr, wire, *ttl);
                }
            }
            Op::Add { rr, wire, ttl } => {
                let mut p = fields(rr, wire, *ttl);
                p.insert(0, ("DomainName", zone.to_string()));
                let a: RecordIdAnswer = api
                    .call("AddDomainRecord", &p, Idempotence::NonIdempotent)
                    .await
                    .map_err(|e| Self::error(api, e, zone, true))?;
                records.push(record(a.record_id, rr, wire, *ttl));
            }
        }
        Ok(())
    }
}

fn with_progress(e: ProviderError, done: usize, total: usize) -> ProviderError {
    if done == 0 {
        return e;
    }
    let note = format!(
        " ({done} of the {total} record operations of this change were done before it failed; run `mailform plan` \
         to see what is left)"
    );
    e.map_message(|s| s + &note)
}

#[async_trait]
impl DnsProvider for AlidnsProvider {
    fn kind(&self) -> &'static str {
        "alidns"
    }

    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: convert::record_types(),
            min_ttl: self.inner.config.min_ttl(),
            max_ttl: MAX_TTL,
            atomic_zone_apply: false,
            creates_zones: false,
            limits: crate::audit::limits(),
        }
    }

    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let api = self.api()?;
        let Some(records) = self.fetch(&api, zone).await? else {
            return Ok(ZoneState {
                zone: zone.to_string(),
                exists: false,
                records: Vec::new(),
            });
        };
        let sets = convert::record_sets(zone, &records)?;
        self.inner
            .zones
            .lock()
            .expect("zones lock")
            .insert(zone.to_string(), records);
        Ok(ZoneState {
            zone: zone.to_string(),
            exists: true,
            records: sets,
        })
    }

    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport {
                outcomes: Vec::new(),
            };
        }
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let cached = self
            .inner
            .zones
            .lock()
            .expect("zones lock")
            .get(zone)
            .cloned();
        let mut records = match cached {
            Some(r) => r,
            None => match self.fetch(&api, zone).await {
                Ok(Some(r)) => r,
                Ok(None) => {
                    return ApplyReport::all_failed(
                        changes.len(),
                        ProviderError::Rejected(format!(
                            "zone {zone} not found in Alidns; add the domain in the Alidns console first"
                        )),
                    )
                }
                Err(e) => return ApplyReport::all_failed(changes.len(), e),
            },
        };
        // Check every change before writing anything.
        let mut plans = Vec::with_capacity(changes.len());
        for (i, c) in changes.iter().enumerate() {
            match self.ops(zone, &records, c) {
                Ok(ops) => plans.push(ops),
                Err(e) => {
                    let outcomes = (0..changes.len())
                        .map(|j| {
                            if j == i {
                                ChangeOutcome::Failed(e.clone())
                            } else {
                                ChangeOutcome::NotAttempted(format!(
                                    "nothing was written: change {} of {} cannot be applied",
                                    i + 1,
                                    changes.len()
                                ))
                            }
                        })
                        .collect();
                    return ApplyReport { outcomes };
                }
            }
        }
        // Deletions, then updates, then creations.
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by_key(|&i| match changes[i] {
            DnsChange::Delete { .. } => 0,
            DnsChange::Update { .. } => 1,
            DnsChange::Create { .. } => 2,
        });
        let mut outcomes: Vec<Option<ChangeOutcome>> = vec![None; changes.len()];
        let mut failed: Option<usize> = None;
        for &i in &order {
            if let Some(f) = failed {
                outcomes[i] = Some(ChangeOutcome::NotAttempted(format!(
                    "not attempted: change {} of {} failed before it",
                    f + 1,
                    changes.len()
                )));
                continue;
            }
            let ops = &plans[i];
            let mut result = Ok(());
            for (done, op) in ops.iter().enumerate() {
                if let Err(e) = self.run(&api, zone, op, &mut records).await {
                    result = Err(with_progress(e, done, ops.len()));
                    break;
                }
            }
            outcomes[i] = Some(match result {
                Ok(()) => ChangeOutcome::Applied,
                Err(e) => {
                    failed = Some(i);
                    ChangeOutcome::Failed(e)
                }
            });
        }
        let mut zones = self.inner.zones.lock().expect("zones lock");
        if failed.is_some() {
            // What is live is not known for sure: read again next time.
            zones.remove(zone);
        } else {
            zones.insert(zone.to_string(), records);
        }
        ApplyReport {
            outcomes: outcomes
                .into_iter()
                .map(|o| o.expect("every change has an outcome"))
                .collect(),
        }
    }
}
