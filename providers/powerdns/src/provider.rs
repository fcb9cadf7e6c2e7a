//! The `powerdns` [`DnsProvider`]: one read per zone, and per apply one
//! verifying read plus one atomic write.
//!
//! PowerDNS's PATCH has no precondition (no ETag, no compare-and-swap), so
//! apply first re-reads the zone and checks every change against it with
//! the contract's reference semantics ([`memory::apply_dns`]: a create must
//! find nothing, an update or delete must find the set exactly as the plan
//! saw it). Only if all hold does it send the PATCH, which the server
//! applies in one transaction. A concurrent edit between the plan and the
//! apply is therefore refused as a conflict with nothing written; the window
//! left is the milliseconds between that read and the PATCH.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use mailform_contract::memory::apply_dns;
use mailform_contract::name::normalize_name;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsCapabilities, DnsChange, DnsProvider, ProviderError, RecordType,
    ZoneState,
};
use mailform_http::{ClientConfig, HttpClient};

use crate::api::Api;
use crate::config::{Config, API_KEY_ENV};
use crate::content::{delete, dotted, from_rrsets, replace};
use crate::wire::NewZone;

/// The `powerdns` DNS provider.
#[derive(Debug, Clone)]
pub struct PowerdnsProvider {
    config: Arc<Config>,
    // Built on first use: construction must do no I/O and must not fail;
    // a missing key or a bad endpoint is reported by the first read.
    api: Arc<OnceLock<Result<Api, ProviderError>>>,
}

impl PowerdnsProvider {
    pub fn new(config: Config) -> PowerdnsProvider {
        PowerdnsProvider {
            config: Arc::new(config),
            api: Arc::default(),
        }
    }

    /// HTTP requests sent so far (every attempt counts), for benchmarks and
    /// for tests of the request budget.
    pub fn requests_sent(&self) -> u64 {
        match self.api.get() {
            Some(Ok(api)) => api.requests_sent(),
            _ => 0,
        }
    }

    fn api(&self) -> Result<&Api, ProviderError> {
        self.api
            .get_or_init(|| {
                let key = self
                    .config
                    .resolve_api_key()
                    .map_err(|e| {
                        ProviderError::Permission(format!("the powerdns `api_key` setting: {e}"))
                    })?
                    .ok_or_else(|| {
                        ProviderError::Permission(format!(
                            "no PowerDNS API key: set the {API_KEY_ENV} environment variable (or \
                         `api_key` in the provider's settings) to the server's `api-key`"
                        ))
                    })?;
                let client = HttpClient::new(ClientConfig {
                    timeout: self.config.timeout(),
                    ..ClientConfig::default()
                })
                .map_err(|e| ProviderError::Service(e.to_string()))?;
                Api::new(client, &self.config.endpoint, self.config.server(), key)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn create_zone(&self, api: &Api, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        let mut rrsets = Vec::with_capacity(changes.len());
        for change in changes {
            let DnsChange::Create { new } = change else {
                return ApplyReport::all_failed(
                    changes.len(),
                    ProviderError::Conflict(format!(
                        "zone {zone} does not exist on the PowerDNS server, but the plan changes \
                         records in it: it was deleted since the plan was made"
                    )),
                );
            };
            rrsets.push(replace(new));
        }
        let declares_apex_ns = changes
            .iter()
            .any(|c| c.key() == (zone.to_string(), RecordType::Ns));
        let nameservers = if declares_apex_ns {
            Vec::new()
        } else {
            self.config
                .nameserver_names()
                .iter()
                .map(|n| dotted(n))
                .collect()
        };
        let new = NewZone {
            name: dotted(zone),
            kind: self.config.zone_kind.as_str(),
            nameservers,
            rrsets,
        };
        match api.create_zone(new).await {
            Ok(()) => ApplyReport::all_applied(changes.len()),
            Err(e) => ApplyReport::all_failed(changes.len(), e),
        }
    }
}

#[async_trait]
impl DnsProvider for PowerdnsProvider {
    fn kind(&self) -> &'static str {
        "powerdns"
    }

    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: RecordType::DECLARABLE.to_vec(),
            min_ttl: 1,
            // RFC 2181 §8: TTLs are 31-bit.
            max_ttl: i32::MAX as u32,
            atomic_zone_apply: true,
            creates_zones: true,
            limits: Vec::new(),
        }
    }

    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let zone = normalize_name(zone);
        let api = self.api()?;
        let rrsets = api.get_zone(&zone).await?;
        tracing::debug!(provider = "powerdns", %zone, requests = api.requests_sent(), "zone read");
        Ok(match rrsets {
            None => ZoneState {
                zone,
                exists: false,
                records: Vec::new(),
            },
            Some(rrsets) => ZoneState {
                records: from_rrsets(&zone, &rrsets)?,
                zone,
                exists: true,
            },
        })
    }

    async fn apply_zone(&self, zone: &str, changes: &[DnsChange]) -> ApplyReport {
        if changes.is_empty() {
            return ApplyReport::all_applied(0);
        }
        let zone = normalize_name(zone);
        let api = match self.api() {
            Ok(a) => a,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let live = match api.get_zone(&zone).await {
            Ok(Some(rrsets)) => match from_rrsets(&zone, &rrsets) {
                Ok(records) => records,
                Err(e) => return ApplyReport::all_failed(changes.len(), e),
            },
            Ok(None) => return self.create_zone(api, &zone, changes).await,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut state = ZoneState {
            zone: zone.clone(),
            exists: true,
            records: live,
        };
        if let Err((at, error)) = apply_dns(&mut state, changes) {
            return conflict_report(changes.len(), at, error);
        }
        // One RRset entry per touched (name, type): REPLACE with its final
        // values, or DELETE when none are left.
        let touched: BTreeSet<(String, RecordType)> = changes.iter().map(DnsChange::key).collect();
        let rrsets = touched
            .iter()
            .map(|(name, rtype)| {
                match state
                    .records
                    .iter()
                    .find(|s| &s.name == name && &s.rtype == rtype)
                {
                    Some(set) => replace(set),
                    None => delete(name, rtype),
                }
            })
            .collect();
        let result = api.patch(&zone, rrsets).await;
        tracing::debug!(provider = "powerdns", %zone, requests = api.requests_sent(), "zone applied");
        match result {
            Ok(()) => ApplyReport::all_applied(changes.len()),
            Err(e) => ApplyReport::all_failed(changes.len(), e),
        }
    }
}

/// Change `at` failed its precondition; nothing was sent, so every other
/// change is "not attempted".
fn conflict_report(count: usize, at: usize, error: ProviderError) -> ApplyReport {
    ApplyReport {
        outcomes: (0..count)
            .map(|i| {
                if i == at {
                    ChangeOutcome::Failed(error.clone())
                } else {
                    ChangeOutcome::NotAttempted(
                        "another change of this zone conflicts with what is live; the zone is \
                         applied all or nothing"
                            .to_string(),
                    )
                }
            })
            .collect(),
    }
}
