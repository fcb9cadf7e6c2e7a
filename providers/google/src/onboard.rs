//! Onboarding a domain, in the order Google documents for the API: the
//! Site Verification token (`webResource.getToken`, `DNS_TXT`), published
//! by the engine at the domain's apex, then the verification
//! (`webResource.insert`), then `domains.insert`, which makes it a domain
//! of the tenant — verified, since the admin it is added as verified it.
//!
//! - [`status`]: `domains.get` says absent (404), unverified or ready (a
//!   404 for a domain alias of the tenant fails with the fix); a domain
//!   not ready also gets its token, which changes nothing and so is asked
//!   for at plan time. The Site Verification scope is asked for only
//!   then: a plan of ready domains needs only the read scopes.
//! - [`verify_and_add`]: Google's resolvers may not see a just-published
//!   record yet (they cache, and the engine only waited for the
//!   authoritative servers), so a refused verification is tried three
//!   times with a doubling wait before it fails with a message that says
//!   a later `apply` finishes it. `domains.insert` answered 409 means an
//!   earlier run (or an admin) added it: that converges.

use mailform_contract::{
    DomainStage, DomainStatus, ProviderError, ProviderRecord, RData, RecordPurpose, RecordSet,
    RecordType,
};
use mailform_http::Method;

use crate::api;
use crate::apply::enc;
use crate::auth::scopes;
use crate::client::{Api, CallError};
use crate::config::Config;
use crate::convert;
use crate::provider::url;

/// What a domain verification TXT value starts with.
pub const TXT_PREFIX: &str = "google-site-verification=";
/// The TTL asked for on the verification record.
const TXT_TTL: u32 = 3600;
/// Tries of a verification Google refused, the first included.
const VERIFY_ATTEMPTS: u32 = 3;

fn site(domain: &str) -> api::Site<'_> {
    api::Site {
        site_type: "INET_DOMAIN",
        identifier: domain,
    }
}

fn domains_path(config: &Config) -> String {
    format!("/customer/{}/domains", enc(config.customer()))
}

/// `domains.get`: the domain's stage, without its records.
pub async fn stage(api: &Api, config: &Config, domain: &str) -> Result<DomainStage, ProviderError> {
    let path = format!("{}/{}", domains_path(config), enc(domain));
    let u = url(
        &config.directory_endpoint(),
        "/admin/directory/v1",
        &path,
        &[],
    )?;
    // The plan's read scopes: one token for the check and the read.
    let d: Result<api::Domain, _> = api.get(u, scopes::READ).await;
    match d {
        Ok(d) if d.verified => Ok(DomainStage::Ready),
        Ok(_) => Ok(DomainStage::Unverified),
        Err(CallError::Api { status: 404, .. }) => {
            alias_check(api, config, domain).await?;
            Ok(DomainStage::Absent)
        }
        Err(e) => Err(convert::error(
            e,
            &format!("checking that {domain} is a domain of the tenant"),
            api.client_id(),
        )),
    }
}

/// A domain alias is not a domain: onboarding it would add it a second
/// time, and its addresses are its parent's users'. One more request, and
/// only for a domain the tenant does not have.
async fn alias_check(api: &Api, config: &Config, domain: &str) -> Result<(), ProviderError> {
    let path = format!(
        "/customer/{}/domainaliases/{}",
        enc(config.customer()),
        enc(domain)
    );
    let u = url(
        &config.directory_endpoint(),
        "/admin/directory/v1",
        &path,
        &[],
    )?;
    let a: Result<api::DomainAlias, _> = api.get(u, scopes::READ).await;
    match a {
        Ok(a) => Err(ProviderError::Rejected(format!(
            "`{domain}` is a domain alias of `{}` in the Google Workspace tenant, not a domain: every user of `{}` has its addresses there already; declare the mailboxes under `{}`, or remove the alias in the Admin console (Account → Domains → Manage domains) to make it a domain of its own",
            a.parent_domain_name, a.parent_domain_name, a.parent_domain_name
        ))),
        Err(CallError::Api { status: 404, .. }) => Ok(()),
        Err(e) => Err(convert::error(
            e,
            &format!("checking whether {domain} is a domain alias of the tenant"),
            api.client_id(),
        )),
    }
}

/// Where `domain` stands, with its verification record when not ready.
pub async fn status(
    api: &Api,
    config: &Config,
    domain: &str,
) -> Result<DomainStatus, ProviderError> {
    let stage = stage(api, config, domain).await?;
    let records = if stage == DomainStage::Ready {
        Vec::new()
    } else {
        vec![verification_record(api, config, domain).await?]
    };
    Ok(DomainStatus {
        stage,
        records,
        keep_txt_prefixes: vec![TXT_PREFIX.into()],
        setup: Vec::new(),
    })
}

/// The TXT record at the apex that proves `domain` is the admin's
/// (`webResource.getToken`; the same token each time for one admin).
pub async fn verification_record(
    api: &Api,
    config: &Config,
    domain: &str,
) -> Result<ProviderRecord, ProviderError> {
    let u = url(
        &config.site_verification_endpoint(),
        "/siteVerification/v1",
        "/token",
        &[],
    )?;
    let body = api::GetTokenRequest {
        site: site(domain),
        verification_method: "DNS_TXT",
    };
    let t: api::VerificationToken = api
        .post_read(u, &body, &[scopes::SITE_VERIFICATION])
        .await
        .map_err(|e| {
            site_error(
                e,
                &format!("asking Google for the verification token of {domain}"),
                api.client_id(),
            )
        })?;
    if !t.token.starts_with(TXT_PREFIX) {
        return Err(ProviderError::Parse(format!(
            "Google's verification token for {domain} (method {:?}) is not a `{TXT_PREFIX}…` TXT value",
            t.method
        )));
    }
    Ok(ProviderRecord {
        purpose: RecordPurpose::Verification,
        set: RecordSet {
            name: mailform_contract::name::normalize_name(domain),
            rtype: RecordType::Txt,
            ttl: TXT_TTL,
            values: vec![RData::txt(&t.token)],
        },
    })
}

/// Verifies `domain` (its token is published) and adds it to the tenant.
pub async fn verify_and_add(api: &Api, config: &Config, domain: &str) -> Result<(), ProviderError> {
    verify(api, config, domain).await?;
    let u = url(
        &config.directory_endpoint(),
        "/admin/directory/v1",
        &domains_path(config),
        &[],
    )?;
    let body = api::NewDomain {
        domain_name: domain,
    };
    let added: Result<serde_json::Value, _> = api
        .send_as(None, Method::POST, u, Some(&body), scopes::ONBOARD)
        .await;
    match added {
        // An earlier run got this far, or an admin added it meanwhile.
        Ok(_) | Err(CallError::Api { status: 409, .. }) => Ok(()),
        Err(e) => Err(convert::error(
            e,
            &format!("adding {domain} to the Google Workspace tenant (it is verified)"),
            api.client_id(),
        )),
    }
}

async fn verify(api: &Api, config: &Config, domain: &str) -> Result<(), ProviderError> {
    let u = url(
        &config.site_verification_endpoint(),
        "/siteVerification/v1",
        "/webResource",
        &[("verificationMethod", "DNS_TXT")],
    )?;
    let body = api::WebResource { site: site(domain) };
    let mut wait = config.verification_retry();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r: Result<serde_json::Value, _> = api
            .send_as(None, Method::POST, u.clone(), Some(&body), scopes::ONBOARD)
            .await;
        match r {
            Ok(_) => return Ok(()),
            // Google answers 400 when it cannot find the token.
            Err(CallError::Api {
                status: 400,
                message,
                ..
            }) => {
                if attempt >= VERIFY_ATTEMPTS {
                    return Err(ProviderError::Rejected(format!(
                        "Google could not verify {domain}: the TXT record `{TXT_PREFIX}…` at {domain} was not visible to Google yet (Google said: {message}). Its resolvers may still hold an older answer: leave the record published, and running `mailform apply` again later finishes adding the domain"
                    )));
                }
                tracing::info!(
                    domain,
                    attempt,
                    ?wait,
                    "Google did not see the verification record yet; trying again"
                );
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                return Err(site_error(
                    e,
                    &format!("verifying {domain} with Google (Site Verification)"),
                    api.client_id(),
                ))
            }
        }
    }
}

/// A Site Verification failure. The API must be enabled in the service
/// account's Cloud project besides the Admin SDK, which is easy to miss:
/// Google's 403 for that would otherwise read as a missing admin role.
fn site_error(e: CallError, what: &str, client_id: &str) -> ProviderError {
    match &e {
        CallError::Api {
            status: 403,
            reason,
            message,
        } if reason == "accessNotConfigured"
            || message.contains("has not been used")
            || message.contains("is disabled") =>
        {
            ProviderError::Permission(format!(
                "{what}: HTTP 403 {reason}: {message}; enable the Site Verification API in the service account's Google Cloud project (APIs & Services → Library)"
            ))
        }
        _ => convert::error(e, what, client_id),
    }
}
