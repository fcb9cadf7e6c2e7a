//! [`CloudflareProvider`], the [`DnsProvider`]: reads a zone into record
//! sets and applies a zone's changes as batches.
//!
//! Construction does no I/O: the HTTP client and the token are set up on
//! first use. The zone id and the records (with their ids) read by
//! `read_zone` are kept for `apply_zone`, which needs the ids; an apply
//! checks each change against them (a change whose record set is not as the
//! plan saw it fails, and nothing in the zone is written), and keeps them up
//! to date from the batch answers, so a later apply to the same zone in the
//! same run (the engine applies MX in a later phase) needs no new read.
//!
//! Outcomes: a batch is atomic, so each batch's changes are reported
//! together — applied, or (when Cloudflare refused it) `Failed` on the
//! change its error names (an item position or the one record name it
//! mentions; when it names none, the batch's first change, saying so) and
//! `NotAttempted` as rolled back for the rest; batches after a failed one
//! are not sent. A 5xx or a lost answer to a batch says nothing of its
//! fate: one read of the zone settles it (all done, or none), and when it
//! cannot, each change of the batch is UNKNOWN (`ProviderError::Unknown`),
//! never "rolled back".
//! When Cloudflare has no batch endpoint for the zone (404/405), the changes
//! go through per-record calls instead, which is not atomic; a warning says
//! so and the outcomes say what was done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mailform_contract::name::normalize_name;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsCapabilities, DnsChange, DnsProvider, ProviderError, RecordSet,
    RecordType, ZoneState,
};

use crate::api::{BatchResult, Record};
use crate::batch::{chunks, ops_for, Chunk, Op};
use crate::client::{Api, CallError};
use crate::config::Config;
use crate::convert::{record_name, record_sets, record_type};

/// The `cloudflare` DNS provider.
#[derive(Debug, Clone)]
pub struct CloudflareProvider {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    api: Mutex<Option<Arc<Api>>>,
    zones: Mutex<HashMap<String, ZoneCache>>,
}

#[derive(Debug, Clone)]
struct ZoneCache {
    id: String,
    /// The zone's records as last read or written; `None` when unknown.
    records: Option<Vec<Record>>,
}

/// What became of one batch.
enum Sent {
    Applied,
    Failed(CallError),
}

impl CloudflareProvider {
    pub fn new(config: Config) -> CloudflareProvider {
        CloudflareProvider {
            inner: Arc::new(Inner {
                config,
                api: Mutex::new(None),
                zones: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Requests sent so far (0 before the first call).
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
        let api = Arc::new(Api::new(&self.inner.config)?);
        *slot = Some(api.clone());
        Ok(api)
    }

    fn cached(&self, zone: &str) -> Option<ZoneCache> {
        self.inner
            .zones
            .lock()
            .expect("zones lock")
            .get(zone)
            .cloned()
    }

    fn store(&self, zone: &str, cache: ZoneCache) {
        self.inner
            .zones
            .lock()
            .expect("zones lock")
            .insert(zone.to_string(), cache);
    }

    async fn zone_id(&self, api: &Api, zone: &str) -> Result<String, ProviderError> {
        if let Some(c) = self.cached(zone) {
            return Ok(c.id);
        }
        let id = api.find_zone(zone).await?.id;
        self.store(
            zone,
            ZoneCache {
                id: id.clone(),
                records: None,
            },
        );
        Ok(id)
    }

    async fn live_records(
        &self,
        api: &Api,
        zone: &str,
    ) -> Result<(String, Vec<Record>), ProviderError> {
        let id = self.zone_id(api, zone).await?;
        if let Some(records) = self.cached(zone).and_then(|c| c.records) {
            return Ok((id, records));
        }
        let records = api.list_records(zone, &id).await?;
        self.store(
            zone,
            ZoneCache {
                id: id.clone(),
                records: Some(records.clone()),
            },
        );
        Ok((id, records))
    }

    fn forget_records(&self, zone: &str) {
        if let Some(c) = self.inner.zones.lock().expect("zones lock").get_mut(zone) {
            c.records = None;
        }
    }

    async fn apply(
        &self,
        zone: &str,
        changes: &[DnsChange],
    ) -> Result<Vec<ChangeOutcome>, ProviderError> {
        let api = self.api()?;
        let (zone_id, records) = self.live_records(&api, zone).await?;

        let mut by_key: HashMap<(String, RecordType), Vec<&Record>> = HashMap::new();
        for r in &records {
            by_key
                .entry((record_name(r), record_type(r)))
                .or_default()
                .push(r);
        }
        let mut ops: Vec<Vec<Op>> = Vec::with_capacity(changes.len());
        let mut names = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            let key = change.key();
            let live = by_key.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            match ops_for(change, live) {
                Ok(o) => ops.push(o),
                Err(e) => {
                    // Nothing is written when any change is stale: the plan
                    // was made from a state that is no longer there.
                    let mut out = vec![
                        ChangeOutcome::NotAttempted(
                            "not attempted: another change in this zone no longer matches the live state".into()
                        );
                        changes.len()
                    ];
                    out[i] = ChangeOutcome::Failed(e);
                    return Ok(out);
                }
            }
            names.push(normalize_name(&key.0));
        }
        let chunks = chunks(&ops, &names, self.inner.config.batch_limit());
        let mut sent: Vec<Sent> = Vec::new();
        let mut cache = Some(records.clone());
        for (k, chunk) in chunks.iter().enumerate() {
            match api.batch(zone, &zone_id, &chunk.request()).await {
                Ok(result) => {
                    cache = cache.and_then(|c| update_cache(c, chunk, &result));
                    sent.push(Sent::Applied);
                }
                Err(CallError::Api {
                    status: 404 | 405,
                    ref codes,
                    ..
                }) if k == 0
                    && (codes.is_empty() || codes.iter().any(|c| [7000, 7003].contains(c))) =>
                {
                    tracing::warn!(
                        zone,
                        "the Cloudflare batch endpoint is not available for this zone; applying \
                         record by record instead, which is NOT atomic"
                    );
                    self.forget_records(zone);
                    return Ok(self
                        .per_record(&api, zone, &zone_id, changes.len(), &chunks)
                        .await);
                }
                Err(CallError::Transport {
                    maybe_applied: true,
                    error,
                }) => {
                    // The batch may have been applied (a 5xx or a lost
                    // answer): one read of the zone settles it.
                    cache = None;
                    self.forget_records(zone);
                    match self.settle(&api, zone, changes, chunk).await {
                        Some(true) => sent.push(Sent::Applied),
                        Some(false) => {
                            sent.push(Sent::Failed(CallError::Api {
                                status: 0,
                                codes: vec![],
                                error: ProviderError::Service(format!(
                                    "{}; a read of the zone afterwards shows the batch was not applied",
                                    error.map_message(|m| m)
                                )),
                            }));
                            break;
                        }
                        None => {
                            sent.push(Sent::Failed(CallError::Transport {
                                maybe_applied: true,
                                error,
                            }));
                            break;
                        }
                    }
                }
                Err(e) => {
                    sent.push(Sent::Failed(e));
                    cache = None;
                    break;
                }
            }
        }
        match cache {
            Some(c) => self.store(
                zone,
                ZoneCache {
                    id: zone_id,
                    records: Some(c),
                },
            ),
            None => self.forget_records(zone),
        }
        Ok(outcomes(changes.len(), &chunks, &sent, &names))
    }

    /// After a batch whose answer was lost: `Some(true)` when a fresh read
    /// shows every change of `chunk` done, `Some(false)` when it shows none
    /// of them done (a batch is all or nothing), `None` when the read fails
    /// or shows a mix (someone else is writing).
    async fn settle(
        &self,
        api: &Api,
        zone: &str,
        changes: &[DnsChange],
        chunk: &Chunk,
    ) -> Option<bool> {
        let (_, records) = self.live_records(api, zone).await.ok()?;
        let live: HashMap<(String, RecordType), RecordSet> = record_sets(&records)
            .ok()?
            .into_iter()
            .map(|s| (s.key(), s))
            .collect();
        fn is(live: Option<&RecordSet>, want: Option<&RecordSet>) -> bool {
            match (live, want) {
                (None, None) => true,
                (Some(l), Some(w)) => l.same_as(w),
                _ => false,
            }
        }
        let (mut done, mut undone) = (0, 0);
        for i in chunk.changes() {
            let change = &changes[i];
            let now = live.get(&change.key());
            let (before, after) = match change {
                DnsChange::Create { new } => (None, Some(new)),
                DnsChange::Update { old, new } => (Some(old), Some(new)),
                DnsChange::Delete { old } => (Some(old), None),
            };
            if is(now, after) {
                done += 1;
            } else if is(now, before) {
                undone += 1;
            }
        }
        let n = chunk.changes().len();
        if done == n {
            Some(true)
        } else if undone == n {
            Some(false)
        } else {
            None
        }
    }

    /// The fallback: every operation as its own call, in batch order.
    async fn per_record(
        &self,
        api: &Api,
        zone: &str,
        zone_id: &str,
        count: usize,
        chunks: &[Chunk],
    ) -> Vec<ChangeOutcome> {
        let mut total = vec![0usize; count];
        for chunk in chunks {
            for (i, _) in &chunk.ops {
                total[*i] += 1;
            }
        }
        let mut done = vec![0usize; count];
        let mut failure: Option<(usize, ProviderError)> = None;
        'outer: for chunk in chunks {
            let mut ops: Vec<&(usize, Op)> = chunk.ops.iter().collect();
            ops.sort_by_key(|(_, op)| match op {
                Op::Delete { .. } => 0,
                Op::Patch { .. } => 1,
                Op::Post { .. } => 2,
            });
            for (i, op) in ops {
                let r = match op {
                    Op::Delete { id } => api.delete(zone, zone_id, id).await,
                    Op::Patch { id, body } => api.patch(zone, zone_id, id, body).await.map(|_| ()),
                    Op::Post { body } => api.create(zone, zone_id, body).await.map(|_| ()),
                };
                match r {
                    Ok(()) => done[*i] += 1,
                    Err(e) => {
                        failure = Some((*i, e.into_error()));
                        break 'outer;
                    }
                }
            }
        }
        (0..count)
            .map(|i| match &failure {
                _ if done[i] == total[i] => ChangeOutcome::Applied,
                Some((f, e)) if *f == i => ChangeOutcome::Failed(if done[i] > 0 {
                    partial(e, "per-record calls (the batch endpoint was not available)")
                } else {
                    e.clone()
                }),
                Some((_, e)) if done[i] > 0 => ChangeOutcome::Failed(partial(
                    e,
                    "per-record calls (the batch endpoint was not available)",
                )),
                _ => ChangeOutcome::NotAttempted(
                    "not attempted: an earlier per-record call failed (the batch endpoint was not available)".into(),
                ),
            })
            .collect()
    }
}

fn partial(e: &ProviderError, how: &str) -> ProviderError {
    ProviderError::Service(format!(
        "partially applied through {how}, then: {e}; run `mailform plan` to see what is live"
    ))
}

/// One outcome per change from what became of each batch. `names[i]` is
/// change `i`'s record name, to find the change a refusal names.
fn outcomes(count: usize, chunks: &[Chunk], sent: &[Sent], names: &[String]) -> Vec<ChangeOutcome> {
    let n = chunks.len();
    let mut where_: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (k, chunk) in chunks.iter().enumerate() {
        for i in chunk.changes() {
            where_[i].push(k);
        }
    }
    let failed_at = sent.iter().position(|s| matches!(s, Sent::Failed(_)));
    (0..count)
        .map(|i| {
            let ks = &where_[i];
            let applied = ks.iter().filter(|k| matches!(sent.get(**k), Some(Sent::Applied))).count();
            if applied == ks.len() {
                return ChangeOutcome::Applied;
            }
            let Some(f) = failed_at else {
                return ChangeOutcome::NotAttempted("not attempted".into());
            };
            let Some(Sent::Failed(err)) = sent.get(f) else { unreachable!() };
            if applied > 0 {
                return ChangeOutcome::Failed(partial(err.error(), "several batches"));
            }
            if !ks.contains(&f) {
                return ChangeOutcome::NotAttempted(format!(
                    "not attempted: batch {} of {n} failed before it",
                    f + 1
                ));
            }
            let blamed = chunks[f].blamed(&err.error().to_string(), names);
            match err {
                CallError::Transport { maybe_applied: true, error } => ChangeOutcome::Failed(ProviderError::Unknown(format!(
                    "batch {} of {n} may or may not have been applied (all or nothing), and a read \
                     of the zone did not settle it: {}",
                    f + 1,
                    error.clone().map_message(|m| m)
                ))),
                _ if blamed == Some(i) => ChangeOutcome::Failed(err.error().clone()),
                _ if blamed.is_none() && chunks[f].changes().first() == Some(&i) => {
                    ChangeOutcome::Failed(err.error().clone().map_message(|m| {
                        format!(
                            "{m} (Cloudflare refused batch {} of {n} as a whole without saying which \
                             of its {} changes caused it; nothing in it was applied)",
                            f + 1,
                            chunks[f].changes().len()
                        )
                    }))
                }
                _ => ChangeOutcome::NotAttempted(format!(
                    "rolled back: batch {} of {n} failed{} and Cloudflare applies a batch all or nothing",
                    f + 1,
                    blamed
                        .map(|b| format!(" on the change to `{}`", names[b]))
                        .unwrap_or_default()
                )),
            }
        })
        .collect()
}

/// The cached records after `chunk` applied with `result`; `None` when the
/// answer does not say enough to know them.
fn update_cache(
    mut records: Vec<Record>,
    chunk: &Chunk,
    result: &BatchResult,
) -> Option<Vec<Record>> {
    let req = chunk.request();
    if result.patches.len() != req.patches.len() || result.posts.len() != req.posts.len() {
        return None;
    }
    let deleted: std::collections::HashSet<&str> =
        req.deletes.iter().map(|d| d.id.as_str()).collect();
    records.retain(|r| !deleted.contains(r.id.as_str()));
    for p in &result.patches {
        let slot = records.iter_mut().find(|r| r.id == p.id)?;
        *slot = p.clone();
    }
    records.extend(result.posts.iter().cloned());
    Some(records)
}

#[async_trait]
impl DnsProvider for CloudflareProvider {
    fn kind(&self) -> &'static str {
        "cloudflare"
    }

    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: RecordType::DECLARABLE.to_vec(),
            // 60 s to one day for DNS-only records (30 s on Enterprise).
            min_ttl: 60,
            max_ttl: 86_400,
            // Each batch is atomic, but a zone's changes can span batches.
            atomic_zone_apply: false,
            creates_zones: false,
            limits: crate::audit::limits(),
        }
    }

    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let zone = normalize_name(zone);
        let api = self.api()?;
        self.forget_records(&zone);
        let (_, records) = self.live_records(&api, &zone).await?;
        Ok(ZoneState {
            zone: zone.clone(),
            exists: true,
            records: record_sets(&records)?,
        })
    }

    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport { outcomes: vec![] };
        }
        match self.apply(&normalize_name(zone), changes).await {
            Ok(outcomes) => ApplyReport { outcomes },
            Err(e) => ApplyReport::all_failed(changes.len(), e),
        }
    }
}
