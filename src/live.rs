//! Reading live state: every desired zone and mail domain, concurrently.
//!
//! Any failed read fails the whole read: a zone or domain that could not be
//! read must never be planned as if it were empty.

use futures::future::try_join_all;
use mailform_contract::{MailDomainState, ProviderError, ZoneState};

use crate::desired::Desired;
use crate::plan::fingerprint::{fingerprint, Part};
use crate::registry::Registry;

/// Live state, index-aligned with `Desired::zones` and `Desired::mail`.
#[derive(Debug, Clone)]
pub struct LiveState {
    pub zones: Vec<ZoneState>,
    pub mail: Vec<MailDomainState>,
}

#[derive(Debug, thiserror::Error)]
#[error("reading {what} `{object}` from provider `{provider}` failed: {error}\nnothing was planned or changed")]
pub struct ReadError {
    pub what: &'static str,
    pub object: String,
    pub provider: String,
    pub error: ProviderError,
}

pub async fn read(desired: &Desired, registry: &Registry) -> Result<LiveState, ReadError> {
    let zones = try_join_all(desired.zones.iter().map(|z| async move {
        let state = registry
            .dns(&z.provider)
            .read_zone(&z.zone)
            .await
            .map_err(|error| ReadError {
                what: "zone",
                object: z.zone.clone(),
                provider: z.provider.clone(),
                error,
            })?;
        tracing::debug!(zone = %z.zone, sets = state.records.len(), "read zone");
        Ok::<_, ReadError>(state)
    }));
    let mail = try_join_all(desired.mail.iter().map(|m| async move {
        let state = registry
            .mail(&m.provider)
            .read_domain(&m.domain)
            .await
            .map_err(|error| ReadError {
                what: "mail domain",
                object: m.domain.clone(),
                provider: m.provider.clone(),
                error,
            })?;
        tracing::debug!(domain = %m.domain, mailboxes = state.mailboxes.len(), "read mail domain");
        Ok::<_, ReadError>(state)
    }));
    let (zones, mail) = futures::try_join!(zones, mail)?;
    Ok(LiveState { zones, mail })
}

impl LiveState {
    pub fn fingerprint(&self, desired: &Desired) -> String {
        let parts: Vec<Part> = desired
            .zones
            .iter()
            .zip(&self.zones)
            .map(|(d, state)| Part::Zone {
                provider: &d.provider,
                state,
            })
            .chain(
                desired
                    .mail
                    .iter()
                    .zip(&self.mail)
                    .map(|(d, state)| Part::Mail {
                        provider: &d.provider,
                        state,
                    }),
            )
            .collect();
        fingerprint(&parts)
    }
}
