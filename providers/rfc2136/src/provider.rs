//! The `rfc2136` [`DnsProvider`]: one AXFR per read, one signed UPDATE per
//! apply (several only when the changes outgrow one message).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::TSigner;
use mailform_contract::name::normalize_name;
use mailform_contract::{
    ApplyReport, ChangeOutcome, DnsCapabilities, DnsChange, DnsProvider, ProviderError, RecordType,
    ZoneState,
};

use crate::axfr::transfer;
use crate::config::Config;
use crate::convert::group;
use crate::key::signer;
use crate::rcode::error_for;
use crate::transport::Connection;
use crate::update::{build, Batch, MAX_MESSAGE};

/// Seconds since the epoch, for TSIG time stamps.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// The `rfc2136` DNS provider.
#[derive(Debug, Clone)]
pub struct Rfc2136Provider {
    config: Arc<Config>,
    /// Bytes of records per UPDATE message; lowered by tests to exercise
    /// splitting.
    message_limit: usize,
}

impl Rfc2136Provider {
    /// A provider for `config`. Construction does no I/O and cannot fail;
    /// a missing secret or an unreachable server is reported by the first
    /// read.
    pub fn new(config: Config) -> Rfc2136Provider {
        Rfc2136Provider {
            config: Arc::new(config),
            message_limit: MAX_MESSAGE,
        }
    }

    /// The same provider with UPDATE messages limited to `bytes` of records
    /// (for tests of message splitting).
    pub fn with_message_limit(mut self, bytes: usize) -> Rfc2136Provider {
        self.message_limit = bytes;
        self
    }

    async fn connect(&self) -> Result<Connection, ProviderError> {
        Connection::open(&self.config.server_address(), self.config.timeout())
            .await
            .map_err(|e| ProviderError::Service(e.message))
    }

    /// Sends one batch and reads its answer; `Ok` when the server applied it.
    async fn send_batch(
        &self,
        conn: &mut Connection,
        signer: &TSigner,
        zone: &str,
        batch: &mut Batch,
    ) -> Result<(), ProviderError> {
        let what = format!("update of zone {zone}");
        let mut verifier = batch
            .message
            .finalize(signer, unix_now())
            .map_err(|e| ProviderError::Service(format!("{what}: cannot sign: {e}")))?;
        let bytes = batch
            .message
            .to_vec()
            .map_err(|e| ProviderError::Rejected(format!("{what}: cannot encode: {e}")))?;
        conn.send(&bytes).await.map_err(|e| {
            if e.sent {
                unknown_outcome(&what, &e.message)
            } else {
                ProviderError::Service(format!("{what}: {}", e.message))
            }
        })?;
        let raw = conn
            .receive()
            .await
            .map_err(|e| unknown_outcome(&what, &e.message))?;
        let answer = Message::from_vec(&raw)
            .map_err(|e| ProviderError::Service(format!("{what}: undecodable answer: {e}")))?;
        if answer.metadata.id != batch.message.metadata.id {
            return Err(ProviderError::Service(format!(
                "{what}: the answer is for another message"
            )));
        }
        if answer.metadata.response_code != ResponseCode::NoError {
            return Err(error_for(&what, &self.config.key_name, &answer));
        }
        if let Some(v) = verifier.as_mut() {
            v.verify(&raw).map_err(|e| {
                ProviderError::Permission(format!(
                    "{what}: the server said it applied the update, but its answer's TSIG \
                     signature does not verify ({e}); run `mailform plan` to see what is live"
                ))
            })?;
        }
        Ok(())
    }
}

fn unknown_outcome(what: &str, message: &str) -> ProviderError {
    ProviderError::Service(format!(
        "{what}: no answer from the server ({message}); the update may or may not have been \
         applied: run `mailform plan` to see what is live"
    ))
}

#[async_trait]
impl DnsProvider for Rfc2136Provider {
    fn kind(&self) -> &'static str {
        "rfc2136"
    }

    fn capabilities(&self) -> DnsCapabilities {
        DnsCapabilities {
            record_types: RecordType::DECLARABLE.to_vec(),
            min_ttl: 0,
            max_ttl: i32::MAX as u32,
            // True of each UPDATE message; a zone apply is one message
            // unless it exceeds 64 KiB.
            atomic_zone_apply: true,
            // DNS UPDATE changes records in zones a server already serves.
            creates_zones: false,
            limits: Vec::new(),
        }
    }

    async fn read_zone(&self, zone: &str) -> Result<ZoneState, ProviderError> {
        let zone = normalize_name(zone);
        let signer = signer(&self.config)?;
        let mut conn = self.connect().await?;
        let records = transfer(&mut conn, &signer, &zone).await?;
        Ok(match records {
            None => ZoneState {
                zone,
                exists: false,
                records: Vec::new(),
            },
            Some(records) => ZoneState {
                records: group(&zone, &records)?,
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
        let signer = match signer(&self.config) {
            Ok(s) => s,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let mut batches = match build(&zone, changes, self.message_limit) {
            Ok(b) => b,
            Err((at, e)) => return failed_at(changes.len(), at..at + 1, e, "nothing was sent"),
        };
        let mut conn = match self.connect().await {
            Ok(c) => c,
            Err(e) => return ApplyReport::all_failed(changes.len(), e),
        };
        let count = batches.len();
        let mut outcomes: Vec<ChangeOutcome> = Vec::with_capacity(changes.len());
        for (n, batch) in batches.iter_mut().enumerate() {
            match self.send_batch(&mut conn, &signer, &zone, batch).await {
                Ok(()) => outcomes.extend(batch.changes.clone().map(|_| ChangeOutcome::Applied)),
                Err(e) => {
                    let why = if count == 1 {
                        "the zone's update is all or nothing".to_string()
                    } else {
                        format!(
                            "UPDATE message {} of {count} failed; it is all or nothing",
                            n + 1
                        )
                    };
                    let mut rest = failed_at(changes.len(), batch.changes.clone(), e, &why);
                    // Changes of earlier messages were applied.
                    rest.outcomes.splice(0..outcomes.len(), outcomes);
                    return rest;
                }
            }
        }
        tracing::debug!(provider = "rfc2136", %zone, messages = count, "zone applied");
        ApplyReport { outcomes }
    }
}

/// The first change of `batch` failed with `error`; every other change was
/// not attempted (the rest of its message rolled back with it, later
/// messages were never sent).
fn failed_at(
    count: usize,
    batch: std::ops::Range<usize>,
    error: ProviderError,
    why: &str,
) -> ApplyReport {
    ApplyReport {
        outcomes: (0..count)
            .map(|i| {
                if i == batch.start {
                    ChangeOutcome::Failed(error.clone())
                } else if batch.contains(&i) {
                    ChangeOutcome::NotAttempted(why.to_string())
                } else {
                    ChangeOutcome::NotAttempted(
                        "an earlier UPDATE message of this apply failed".to_string(),
                    )
                }
            })
            .collect(),
    }
}
