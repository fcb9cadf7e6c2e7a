//! Reading live state: every desired zone and mail domain, concurrently.
//!
//! Any failed read fails the whole read: a zone or domain that could not be
//! read must never be planned as if it were empty. A mail domain is read
//! only once its provider says it is ready; one the provider does not serve
//! yet holds nothing, positively, and is planned for onboarding. A domain
//! alias is never read: it holds nothing of its own.

use futures::future::try_join_all;
use mailform_contract::{DomainStatus, MailDomainState, ProviderError, ZoneState};

use crate::desired::Desired;
use crate::plan::fingerprint::{fingerprint, Part};
use crate::registry::Registry;

/// Live state, index-aligned with `Desired::zones` and `Desired::mail`.
#[derive(Debug, Clone)]
pub struct LiveState {
    pub zones: Vec<ZoneState>,
    pub mail: Vec<MailDomainState>,
    /// What each mail provider says about its domain (index-aligned with
    /// `mail`).
    pub domains: Vec<DomainStatus>,
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
        let provider = registry.mail(&m.provider);
        let failed = |what: &'static str| {
            move |error| ReadError {
                what,
                object: m.domain.clone(),
                provider: m.provider.clone(),
                error,
            }
        };
        let status = provider
            .domain_status(&m.domain)
            .await
            .map_err(failed("mail domain status"))?;
        // A domain alias has no objects of its own (its addresses are its
        // parent's), whether the file or the provider says it is one.
        let alias = m.alias_of.is_some() || status.alias_of.is_some();
        let state = if status.is_ready() && !alias {
            provider
                .read_domain(&m.domain)
                .await
                .map_err(failed("mail domain"))?
        } else {
            MailDomainState {
                domain: m.domain.clone(),
                ..MailDomainState::default()
            }
        };
        tracing::debug!(domain = %m.domain, stage = ?status.stage, mailboxes = state.mailboxes.len(), "read mail domain");
        Ok::<_, ReadError>((state, status))
    }));
    let (zones, mail) = futures::try_join!(zones, mail)?;
    let (mail, domains) = mail.into_iter().unzip();
    Ok(LiveState {
        zones,
        mail,
        domains,
    })
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
                    .zip(self.mail.iter().zip(&self.domains))
                    .map(|(d, (state, status))| Part::Mail {
                        provider: &d.provider,
                        state,
                        status,
                    }),
            )
            .collect();
        fingerprint(&parts)
    }
}
