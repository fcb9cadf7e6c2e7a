//! DKIM signing of a domain's outgoing mail through the Exchange Online
//! backend (`exchange: {enabled: true, dkim: true}`, off by default; off,
//! nothing here runs and no request is sent).
//!
//! Microsoft's flow (the `*-DkimSigningConfig` cmdlet reference and "Set
//! up DKIM to sign mail from your Microsoft 365 domain" on
//! learn.microsoft.com): `New-DkimSigningConfig -DomainName <d> -Enabled
//! $false` makes the domain's two selector keys, whose public halves
//! Microsoft serves at `Selector1CNAME`/`Selector2CNAME`; the domain
//! points `selector1._domainkey.<d>` and `selector2._domainkey.<d>` there
//! by CNAME; `Set-DkimSigningConfig -Identity <d> -Enabled $true` then
//! turns signing on, which Exchange refuses while it cannot resolve both
//! CNAMEs ("CNAME record does not exist for this config. Please publish
//! the following two CNAME records first…"). `Get-DkimSigningConfig
//! -Identity <d>` reads it (`Enabled`, `Status`, the two targets); for a
//! domain without a config Exchange answers that the object couldn't be
//! found.
//!
//! How that maps onto mailform's steps:
//! - **status** (plan, read-only) of a ready domain: one
//!   `Get-DkimSigningConfig`. A config → its two CNAMEs as service
//!   records (the engine publishes and keeps them), plus the setup step
//!   [`SETUP_ENABLE`] while signing is off. No config → no records (their
//!   targets exist only once the config is made, a write) and the setup
//!   step [`SETUP_CREATE`].
//! - **complete_setup** (apply, after the domain's DNS changes are served):
//!   no config → `New-DkimSigningConfig` only ([`CREATED`]): enabling now
//!   would be refused, as its CNAMEs are not published yet — the next plan
//!   names them, the next apply publishes them and then enables signing.
//!   A disabled config → `Set-DkimSigningConfig -Enabled $true`; an enabled
//!   one → nothing.
//! - **onboarding**: `finish_onboarding` makes the config right after
//!   verifying the domain and setting it up for Email, and returns its
//!   CNAMEs with Email's records, so the same apply publishes them and its
//!   `complete_setup` enables signing: a new domain signs after one apply
//!   (if Microsoft sees the CNAMEs by then; else the next apply enables
//!   it). Exchange Online learns of a newly verified domain only minutes
//!   later; until then it answers that the domain is not an accepted one,
//!   and onboarding goes on without DKIM (the next plan's status lists the
//!   step). Any other failure there is only logged too: the domain is
//!   verified by then, and the next status read reports the same failure
//!   where it can be acted on.
//!
//! **Not confirmed**: the exact wording and status code of Exchange's
//! refusals through `InvokeCommand` (matched on "couldn't be found",
//! "CNAME record does not exist" and "accepted domain"), and that
//! `-Enabled $false` travels as JSON `false`.

use mailform_contract::name::normalize_name;
use mailform_contract::{
    ProviderError, ProviderRecord, RData, RecordPurpose, RecordSet, RecordType,
};

use crate::client::CallError;
use crate::exchange::{self, DkimConfig, Exchange};

/// The setup step of a domain without a DKIM signing config.
pub const SETUP_CREATE: &str =
    "create the DKIM signing config, then enable it once its CNAMEs are published";
/// The setup step of a domain whose config is not enabled.
pub const SETUP_ENABLE: &str = "enable DKIM signing (selector1/selector2 CNAMEs)";
/// What `complete_setup` reports after creating the config.
pub const CREATED: &str = "created the DKIM signing config; its CNAMEs are published by the next apply, which then enables signing";
/// What `complete_setup` reports after enabling signing.
pub const ENABLED: &str = "enabled DKIM signing (selector1/selector2 CNAMEs)";
/// The TTL of the selector CNAMEs (Microsoft names none; an hour, like
/// the Email records it names).
pub const TTL: u32 = 3600;

/// The two selector CNAMEs of `domain`'s config.
pub fn records(domain: &str, c: &DkimConfig) -> Vec<ProviderRecord> {
    [("selector1", &c.selector1), ("selector2", &c.selector2)]
        .into_iter()
        .map(|(selector, target)| ProviderRecord {
            purpose: RecordPurpose::Service,
            set: RecordSet {
                name: format!("{selector}._domainkey.{domain}"),
                rtype: RecordType::Cname,
                ttl: TTL,
                values: vec![RData::Cname {
                    target: normalize_name(target),
                }],
            },
        })
        .collect()
}

/// The records and setup steps DKIM adds to a ready domain's status.
pub(crate) async fn status(
    ex: &Exchange,
    domain: &str,
    cid: &str,
) -> Result<(Vec<ProviderRecord>, Vec<String>), ProviderError> {
    let domain = normalize_name(domain);
    let config = read(ex, &domain, cid).await?;
    Ok(match config {
        None => (vec![], vec![SETUP_CREATE.into()]),
        Some(c) => {
            let setup = if c.enabled {
                vec![]
            } else {
                vec![SETUP_ENABLE.into()]
            };
            (records(&domain, &c), setup)
        }
    })
}

/// Creates or enables `domain`'s config, whichever is due (see the module
/// doc); what was done.
pub(crate) async fn complete(
    ex: &Exchange,
    domain: &str,
    cid: &str,
) -> Result<Vec<String>, ProviderError> {
    let domain = normalize_name(domain);
    // Read fresh: this decides a write.
    match read(ex, &domain, cid).await? {
        None => {
            create(ex, &domain, cid).await?;
            Ok(vec![CREATED.into()])
        }
        Some(c) if c.enabled => Ok(vec![]),
        Some(c) => {
            ex.enable_dkim(&domain)
                .await
                .map_err(|e| enable_error(e, &domain, &c, cid))?;
            Ok(vec![ENABLED.into()])
        }
    }
}

/// At the end of onboarding: the config's CNAMEs, creating it if need be;
/// none (logged) when Exchange cannot make it yet.
pub(crate) async fn onboard(ex: &Exchange, domain: &str, cid: &str) -> Vec<ProviderRecord> {
    let domain = normalize_name(domain);
    let made = async {
        if let Some(c) = read(ex, &domain, cid).await? {
            return Ok(Some(c));
        }
        match ex.new_dkim_signing_config(&domain).await {
            Ok(Some(c)) => Ok(Some(c)),
            // Made, but the answer did not carry the selectors.
            Ok(None) => read(ex, &domain, cid).await,
            Err(e) if exchange::not_accepted(&e) => {
                tracing::info!(%domain, "Exchange Online does not know the new domain yet; its DKIM signing config is made by a later apply");
                Ok(None)
            }
            Err(e) => Err(create_error(e, &domain, cid)),
        }
    };
    match made.await {
        Ok(Some(c)) => records(&domain, &c),
        Ok(None) => vec![],
        Err(e) => {
            tracing::warn!(%domain, error = %e, "the domain is onboarded, but its DKIM signing config could not be made now; the next plan lists it as a setup step");
            vec![]
        }
    }
}

async fn read(ex: &Exchange, domain: &str, cid: &str) -> Result<Option<DkimConfig>, ProviderError> {
    ex.dkim_signing_config(domain).await.map_err(|e| {
        exchange::error(
            e,
            &format!("reading the DKIM signing config of {domain} (Get-DkimSigningConfig)"),
            cid,
        )
        .for_read()
    })
}

async fn create(ex: &Exchange, domain: &str, cid: &str) -> Result<(), ProviderError> {
    ex.new_dkim_signing_config(domain)
        .await
        .map(|_| ())
        .map_err(|e| create_error(e, domain, cid))
}

fn create_error(e: CallError, domain: &str, cid: &str) -> ProviderError {
    let what = format!("creating the DKIM signing config of {domain} (New-DkimSigningConfig)");
    if exchange::not_accepted(&e) {
        return not_accepted(e, &what, domain);
    }
    exchange::error(e, &what, cid)
}

fn enable_error(e: CallError, domain: &str, c: &DkimConfig, cid: &str) -> ProviderError {
    let what = format!("enabling DKIM signing for {domain} (Set-DkimSigningConfig)");
    if exchange::cname_missing(&e) {
        let status = c
            .status
            .as_deref()
            .map(|s| format!(", status {s}"))
            .unwrap_or_default();
        return ProviderError::Service(format!(
            "{what}: Microsoft does not see the selector CNAMEs yet (selector1._domainkey.{domain} → {}, selector2._domainkey.{domain} → {}{status}). They are published, but Microsoft's resolvers may not see them yet (DNS caches, up to the TTL of an earlier answer); signing stays off — run apply again later to enable it",
            c.selector1, c.selector2
        ));
    }
    if exchange::not_accepted(&e) {
        return not_accepted(e, &what, domain);
    }
    exchange::error(e, &what, cid)
}

fn not_accepted(e: CallError, what: &str, domain: &str) -> ProviderError {
    let message = match e {
        CallError::Api { message, .. } => message,
        _ => String::new(),
    };
    ProviderError::Service(format!(
        "{what}: Exchange Online does not take {domain} as an accepted domain yet ({message}); Microsoft 365 hands a newly verified domain to Exchange Online within minutes — run apply again in a few minutes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_cnames_are_absolute_lower_case_service_records() {
        let c = DkimConfig {
            enabled: false,
            status: None,
            selector1: "selector1-example-com._domainkey.contoso.onmicrosoft.com".into(),
            selector2: "selector2-example-com._domainkey.contoso.onmicrosoft.com".into(),
        };
        let r = records("example.com", &c);
        assert_eq!(r.len(), 2);
        let want = RecordSet::parse(
            "selector2._domainkey.example.com",
            "CNAME",
            3600,
            &["selector2-example-com._domainkey.contoso.onmicrosoft.com."],
        )
        .unwrap();
        assert_eq!(r[1].purpose, RecordPurpose::Service);
        assert!(r[1].set.same_as(&want), "{:?}", r[1].set);
        assert_eq!(r[0].set.name, "selector1._domainkey.example.com");
    }
}
