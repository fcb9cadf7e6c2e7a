//! Onboarding a domain, in the order Google documents for the API: the
//! Site Verification token (`webResource.getToken`, `DNS_TXT`), published
//! by the engine at the domain's apex, then the verification
//! (`webResource.insert`), then `domains.insert`, which makes it a domain
//! of the tenant — verified, since the admin it is added as verified it —
//! or, for a domain the file declares `alias_of` another, `domainAliases.insert`,
//! which makes it a domain alias: every user of the parent gets the same
//! address there.
//!
//! - [`status`]: `domains.get` says unverified or ready; on a 404,
//!   `domainAliases.get` says whether it is an alias (and of which
//!   parent, verified or not) or absent; a domain
//!   not ready also gets its token, which changes nothing and so is asked
//!   for at plan time. The Site Verification scope is asked for only
//!   then: a plan of ready domains needs only the read scopes.
//! - [`verify_and_add`]: Google's resolvers may not see a just-published
//!   record yet (they cache, and the engine only waited for the
//!   authoritative servers), so a refused verification is tried three
//!   times with a doubling wait before it fails with a message that says
//!   a later `apply` finishes it. `domains.insert` (or
//!   `domainAliases.insert`) answered 409 means an earlier run (or an
//!   admin) added it: that converges.

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

/// `domains.get`, then for a domain the tenant does not have
/// `domainAliases.get`: the domain's stage and, for a domain alias, its
/// parent. One more request, and only for a domain that is not a domain
/// of the tenant.
pub async fn lookup(
    api: &Api,
    config: &Config,
    domain: &str,
) -> Result<(DomainStage, Option<String>), ProviderError> {
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
        Ok(d) if d.verified => Ok((DomainStage::Ready, None)),
        Ok(_) => Ok((DomainStage::Unverified, None)),
        Err(CallError::Api { status: 404, .. }) => alias_lookup(api, config, domain).await,
        Err(e) => Err(convert::error(
            e,
            &format!("checking that {domain} is a domain of the tenant"),
            api.client_id(),
        )),
    }
}

/// The stage of a domain whose objects are to be read: a domain alias has
/// none (its addresses are its parent's users'), so reading one fails
/// with the fix.
pub async fn stage(api: &Api, config: &Config, domain: &str) -> Result<DomainStage, ProviderError> {
    match lookup(api, config, domain).await? {
        (_, Some(parent)) => Err(ProviderError::Rejected(format!(
            "`{domain}` is a domain alias of `{parent}` in the Google Workspace tenant, not a domain: every user of `{parent}` has its addresses there already; declare it with `mail: {{provider: ..., alias_of: {parent}}}` and the mailboxes under `{parent}`, or remove the alias in the Admin console (Account → Domains → Manage domains) to make it a domain of its own"
        ))),
        (stage, None) => Ok(stage),
    }
}

fn aliases_path(config: &Config) -> String {
    format!("/customer/{}/domainaliases", enc(config.customer()))
}

async fn alias_lookup(
    api: &Api,
    config: &Config,
    domain: &str,
) -> Result<(DomainStage, Option<String>), ProviderError> {
    let path = format!("{}/{}", aliases_path(config), enc(domain));
    let u = url(
        &config.directory_endpoint(),
        "/admin/directory/v1",
        &path,
        &[],
    )?;
    let a: Result<api::DomainAlias, _> = api.get(u, scopes::READ).await;
    match a {
        Ok(a) => {
            let stage = if a.verified {
                DomainStage::Ready
            } else {
                DomainStage::Unverified
            };
            Ok((stage, Some(a.parent_domain_name.to_ascii_lowercase())))
        }
        Err(CallError::Api { status: 404, .. }) => Ok((DomainStage::Absent, None)),
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
    let (stage, alias_of) = lookup(api, config, domain).await?;
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
        alias_of,
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

/// Verifies `domain` (its token is published) and adds it to the tenant:
/// as a domain of its own, or with `alias_of` as an alias of that domain.
pub async fn verify_and_add(
    api: &Api,
    config: &Config,
    domain: &str,
    alias_of: Option<&str>,
) -> Result<(), ProviderError> {
    verify(api, config, domain).await?;
    if let Some(parent) = alias_of {
        return add_alias(api, config, domain, parent).await;
    }
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

/// `domainAliases.insert`; like `domains.insert`, 409 means it is there.
async fn add_alias(
    api: &Api,
    config: &Config,
    domain: &str,
    parent: &str,
) -> Result<(), ProviderError> {
    let u = url(
        &config.directory_endpoint(),
        "/admin/directory/v1",
        &aliases_path(config),
        &[],
    )?;
    let body = api::NewDomainAlias {
        parent_domain_name: parent,
        domain_alias_name: domain,
    };
    let added: Result<serde_json::Value, _> = api
        .send_as(None, Method::POST, u, Some(&body), scopes::ONBOARD)
        .await;
    match added {
        Ok(_) | Err(CallError::Api { status: 409, .. }) => Ok(()),
        // Google's 400 here: the parent is not a domain of the tenant.
        Err(CallError::Api {
            status: 400,
            message,
            ..
        }) => Err(ProviderError::Rejected(format!(
            "Google refused to add {domain} as a domain alias of {parent}: {message}; the parent must be a verified domain of the tenant (not an alias): check it in the Admin console (Account → Domains → Manage domains)"
        ))),
        Err(e) => Err(convert::error(
            e,
            &format!("adding {domain} as a domain alias of {parent} (it is verified)"),
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
