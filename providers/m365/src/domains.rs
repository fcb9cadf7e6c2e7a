//! Domain onboarding through Graph's `/domains`: where a mail domain
//! stands in the tenant, adding it, verifying it and naming the DNS records
//! Microsoft asks for.
//!
//! - **Stage**: one listing of the tenant's domains (`GET /domains`, which
//!   holds unverified ones too) a run, shared by every domain's status, the
//!   read's check that the domain is verified, the default domain (where
//!   groups are created) and the initial one (the Exchange anchor). Writes
//!   made here drop it, so the next use reads it again.
//! - **Unverified**: the `domainDnsTxtRecord` of
//!   `GET /domains/{id}/verificationDnsRecords` (`MS=ms…`), purpose
//!   verification. Graph also offers an MX variant (`ms….msv1.invalid`,
//!   preference 32767) for hosts without TXT; it is never used.
//! - **Absent**: no records — the token exists only after `POST /domains`,
//!   a write, which [`begin`] makes at apply.
//! - **Ready**: `GET /domains/{id}/serviceConfigurationRecords`, those for
//!   `supportedService: Email` only: MX (`<domain-dashed>.mail.protection.outlook.com`,
//!   preference 0), the `autodiscover` CNAME (`autodiscover.outlook.com`)
//!   and the SPF TXT (`v=spf1 include:spf.protection.outlook.com -all`).
//!   Records Microsoft marks `isOptional: true` are left out: Microsoft
//!   marks these three as required, and an optional record is one the
//!   file can declare itself if it wants it. Records of other services
//!   (Skype for Business' SRVs, Intune's CNAMEs) are not mail's business.
//!   A domain verified by hand and not set up for Email reads ready with
//!   no records (and a warning): a status read never writes.
//!
//! Every status keeps `MS=ms` TXT values: removing the token can unverify
//! the domain.
//!
//! Onboarding ([`begin`], [`finish`]) needs the application permission
//! `Domain.ReadWrite.All`; everything else `Domain.Read.All`.
//! `POST /domains/{id}/verify` answered 400 means Microsoft did not find
//! the token (DNS caches between Microsoft and the authoritative servers),
//! so it is asked again a few times after short waits before the apply
//! is told to come back later.
//!
//! Microsoft's documentation: "Create domain", "domain: verify", "List
//! verificationDnsRecords", "List serviceConfigurationRecords", "Update
//! domain" on learn.microsoft.com, and "Add DNS records to connect your
//! domain" (the values the records take).
//!
//! DKIM (`selector1`/`selector2._domainkey` CNAMEs) is not named here: its
//! targets come from Exchange's `Get-DkimSigningConfig`, not from Graph
//! (see `crate::dkim`, which the provider adds to these statuses).

use std::sync::Arc;
use std::time::Duration;

use mailform_contract::name::normalize_name;
use mailform_contract::{
    DomainStage, DomainStatus, ProviderError, ProviderRecord, RData, RecordPurpose, RecordSet,
    RecordType,
};
use mailform_http::Method;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::api;
use crate::auth::permissions;
use crate::client::{Api, CallError};
use crate::convert;

/// The prefix of Microsoft's verification TXT values.
pub const TOKEN_PREFIX: &str = "MS=ms";
/// The service mailform asks Microsoft to set the domain up for.
pub const EMAIL: &str = "Email";
/// Waits before asking Microsoft again to verify a domain it did not find
/// the token of.
pub const VERIFY_DELAYS: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(20),
];

/// The tenant's domains, listed once until a write here changes them.
#[derive(Default)]
pub(crate) struct DomainCache {
    listing: Mutex<Option<Arc<Vec<api::Domain>>>>,
}

impl DomainCache {
    /// Every domain of the tenant, verified or not.
    pub(crate) async fn list(&self, api: &Api) -> Result<Arc<Vec<api::Domain>>, ProviderError> {
        // Held across the read, so concurrent callers wait for one listing.
        let mut listing = self.listing.lock().await;
        if let Some(l) = listing.as_ref() {
            return Ok(l.clone());
        }
        let what = "reading the tenant's domains";
        let cid = api.client_id().to_string();
        let err = |e| convert::error(e, what, permissions::DOMAINS, &cid).for_read();
        let url = api
            .url("/domains", &[("$select", api::DOMAIN_SELECT)])
            .map_err(err)?;
        let domains: Vec<api::Domain> = api.get_all(url).await.map_err(err)?;
        let l = Arc::new(domains);
        *listing = Some(l.clone());
        Ok(l)
    }

    /// `domain` as listed, if the tenant has it.
    pub(crate) async fn find(
        &self,
        api: &Api,
        domain: &str,
    ) -> Result<Option<api::Domain>, ProviderError> {
        Ok(self
            .list(api)
            .await?
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(domain))
            .cloned())
    }

    /// After a write to the tenant's domains.
    pub(crate) async fn forget(&self) {
        *self.listing.lock().await = None;
    }
}

fn status_of(stage: DomainStage, records: Vec<ProviderRecord>) -> DomainStatus {
    DomainStatus {
        stage,
        records,
        keep_txt_prefixes: vec![TOKEN_PREFIX.into()],
        setup: Vec::new(),
        // Microsoft 365 has no domain aliases: every domain is its own.
        alias_of: None,
    }
}

/// Where `domain` stands in the tenant and what Microsoft asks to publish.
pub(crate) async fn status(
    api: &Api,
    cache: &DomainCache,
    domain: &str,
) -> Result<DomainStatus, ProviderError> {
    let domain = normalize_name(domain);
    let id = checked_id(&domain)?;
    let Some(d) = cache.find(api, &domain).await? else {
        return Ok(status_of(DomainStage::Absent, vec![]));
    };
    if !d.is_verified {
        let records = verification_records(api, &id, &domain)
            .await
            .map_err(ProviderError::for_read)?;
        return Ok(status_of(DomainStage::Unverified, records));
    }
    if !d
        .supported_services
        .iter()
        .any(|s| s.eq_ignore_ascii_case(EMAIL))
    {
        // Verified by hand but not set up for mail: Microsoft names no
        // Email records until it is; a status read never writes.
        tracing::warn!(%domain, "the domain is verified but not set up for Email in Microsoft 365, so Microsoft names no mail records for it: add Exchange to its services (Microsoft 365 admin center → Settings → Domains → the domain → DNS records)");
    }
    let records = service_records(api, &id, &domain)
        .await
        .map_err(ProviderError::for_read)?;
    Ok(status_of(DomainStage::Ready, records))
}

/// Adds `domain` to the tenant unless it is there, and returns its
/// verification record.
pub(crate) async fn begin(
    api: &Api,
    cache: &DomainCache,
    domain: &str,
) -> Result<Vec<ProviderRecord>, ProviderError> {
    let domain = normalize_name(domain);
    let id = checked_id(&domain)?;
    let cid = api.client_id().to_string();
    // Read fresh, not from the listing: this decides a write.
    let live = get_domain(api, &id, &domain).await?;
    match live {
        Some(d) if d.is_verified => {
            return Err(ProviderError::Conflict(format!(
                "{domain} is already a verified domain of the Microsoft 365 tenant (verified since the plan?): plan again"
            )))
        }
        Some(_) => {}
        None => {
            let what = format!("adding the domain {domain} to the tenant");
            let url = api
                .url("/domains", &[])
                .map_err(|e| write_error(e, &what, &domain, &cid))?;
            let created: Result<Value, CallError> = api
                .send(
                    Method::POST,
                    url,
                    Some(&api::NewDomain { id: domain.clone() }),
                )
                .await;
            cache.forget().await;
            match created {
                Ok(_) => {}
                // Added meanwhile (by an earlier apply whose answer was
                // lost, or by hand): what was wanted.
                Err(CallError::Api {
                    status: 400 | 409,
                    ref message,
                    ..
                }) if message.contains("already exist") => {
                    // Unless it exists in another tenant, where this one
                    // cannot see it.
                    if get_domain(api, &id, &domain).await?.is_none() {
                        return Err(ProviderError::Conflict(format!(
                            "{what}: Microsoft answers that {domain} already exists ({message}), but the tenant does not hold it: it is probably a domain of another Microsoft 365 or Entra tenant, which must remove it first"
                        )));
                    }
                }
                Err(e) => return Err(write_error(e, &what, &domain, &cid)),
            }
        }
    }
    verification_records(api, &id, &domain).await
}

/// Verifies `domain`, sets it up for Email and returns the records mail
/// needs from now on. `delays`: the waits before asking again when
/// Microsoft does not find the token yet.
pub(crate) async fn finish(
    api: &Api,
    cache: &DomainCache,
    domain: &str,
    delays: &[Duration],
) -> Result<Vec<ProviderRecord>, ProviderError> {
    let domain = normalize_name(domain);
    let id = checked_id(&domain)?;
    let cid = api.client_id().to_string();
    let live = get_domain(api, &id, &domain).await?.ok_or_else(|| {
        ProviderError::Conflict(format!(
            "{domain} is not in the Microsoft 365 tenant (removed since it was added?): plan again"
        ))
    })?;
    let mut services = live.supported_services.clone();
    if !live.is_verified {
        let what = format!("verifying the domain {domain}");
        let url = api
            .url(&format!("/domains/{id}/verify"), &[])
            .map_err(|e| write_error(e, &what, &domain, &cid))?;
        let mut attempt = 0;
        let verified: api::Domain = loop {
            // Nothing is sent in the body: the action takes none.
            match api
                .send::<(), api::Domain>(Method::POST, url.clone(), None)
                .await
            {
                Ok(d) => break d,
                Err(CallError::Api {
                    status: 400,
                    message,
                    ..
                }) => {
                    let Some(wait) = delays.get(attempt) else {
                        cache.forget().await;
                        return Err(not_visible(&domain, &message));
                    };
                    attempt += 1;
                    tracing::info!(%domain, ?wait, "Microsoft has not found the verification record yet; asking again");
                    tokio::time::sleep(*wait).await;
                }
                Err(e) => {
                    cache.forget().await;
                    return Err(write_error(e, &what, &domain, &cid));
                }
            }
        };
        cache.forget().await;
        // The action answers with the domain; an answer without its
        // services keeps what was read.
        if !verified.supported_services.is_empty() {
            services = verified.supported_services;
        }
    }
    if !services.iter().any(|s| s.eq_ignore_ascii_case(EMAIL)) {
        services.push(EMAIL.into());
        let what = format!("setting the domain {domain} up for Email (supportedServices)");
        let url = api
            .url(&format!("/domains/{id}"), &[])
            .map_err(|e| write_error(e, &what, &domain, &cid))?;
        let patched: Result<Value, CallError> = api
            .send(
                Method::PATCH,
                url,
                Some(&api::DomainPatch {
                    supported_services: services,
                }),
            )
            .await;
        cache.forget().await;
        patched.map_err(|e| {
            write_error(e, &what, &domain, &cid).map_message(|m| {
                format!("{domain} is verified, but then: {m}; apply again to finish")
            })
        })?;
    }
    service_records(api, &id, &domain).await
}

/// The domain as a path segment. Domain names hold letters, digits, dots
/// and hyphens only (an internationalised one in its `xn--` form).
fn checked_id(domain: &str) -> Result<String, ProviderError> {
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(ProviderError::Rejected(format!(
            "{domain:?} is not a domain name Microsoft 365 takes (give an internationalised name in its xn-- form)"
        )));
    }
    Ok(domain.to_string())
}

/// A write's error; a missing permission names `Domain.ReadWrite.All`,
/// which only onboarding needs.
fn write_error(e: CallError, what: &str, domain: &str, cid: &str) -> ProviderError {
    let denied = matches!(e, CallError::Api { status: 403, .. });
    let err = convert::error(e, what, permissions::DOMAINS_WRITE, cid);
    if !denied {
        return err;
    }
    err.map_message(|m| {
        format!("{m} (only onboarding needs it; without it, add and verify {domain} in the Microsoft 365 admin center → Settings → Domains, and Domain.Read.All suffices)")
    })
}

fn not_visible(domain: &str, message: &str) -> ProviderError {
    ProviderError::Service(format!(
        "Microsoft could not verify {domain} yet: it did not find the verification TXT record ({TOKEN_PREFIX}…) at {domain} ({message}). The record is published, but Microsoft's resolvers may not see it yet (DNS caches, up to the TTL of a previous answer); the domain stays unverified — run apply again later to finish"
    ))
}

/// `GET /domains/{id}`; `None` when the tenant has no such domain.
async fn get_domain(
    api: &Api,
    id: &str,
    domain: &str,
) -> Result<Option<api::Domain>, ProviderError> {
    let what = format!("reading the domain {domain}");
    let cid = api.client_id().to_string();
    let url = api
        .url(
            &format!("/domains/{id}"),
            &[("$select", api::DOMAIN_SELECT)],
        )
        .map_err(|e| convert::error(e, &what, permissions::DOMAINS, &cid))?;
    match api.get::<api::Domain>(url).await {
        Ok(d) => Ok(Some(d)),
        Err(CallError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(convert::error(e, &what, permissions::DOMAINS, &cid).for_read()),
    }
}

async fn list_records(
    api: &Api,
    id: &str,
    domain: &str,
    collection: &str,
) -> Result<Vec<api::DnsRecord>, ProviderError> {
    let what = format!("reading the {collection} of {domain}");
    let cid = api.client_id().to_string();
    let err = |e| convert::error(e, &what, permissions::DOMAINS, &cid).for_read();
    let url = api
        .url(&format!("/domains/{id}/{collection}"), &[])
        .map_err(err)?;
    api.get_all(url).await.map_err(err)
}

async fn verification_records(
    api: &Api,
    id: &str,
    domain: &str,
) -> Result<Vec<ProviderRecord>, ProviderError> {
    let records = list_records(api, id, domain, "verificationDnsRecords").await?;
    let out = convert_records(domain, records.iter().filter(|r| r.kind() == "txt"), |_| {
        RecordPurpose::Verification
    })?;
    if out.is_empty() {
        return Err(ProviderError::Parse(format!(
            "Microsoft names no TXT verification record for {domain}"
        )));
    }
    Ok(out)
}

async fn service_records(
    api: &Api,
    id: &str,
    domain: &str,
) -> Result<Vec<ProviderRecord>, ProviderError> {
    let records = list_records(api, id, domain, "serviceConfigurationRecords").await?;
    convert_records(domain, email_records(&records), |set| match set.rtype {
        RecordType::Mx => RecordPurpose::Mx,
        RecordType::Txt
            if set
                .values
                .iter()
                .any(|v| v.canonical().to_ascii_lowercase().starts_with("v=spf1")) =>
        {
            RecordPurpose::Spf
        }
        _ => RecordPurpose::Service,
    })
}

/// The records Microsoft requires for Email (see the module doc).
fn email_records(records: &[api::DnsRecord]) -> impl Iterator<Item = &api::DnsRecord> {
    records.iter().filter(|r| {
        r.supported_service
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(EMAIL))
            && !r.is_optional
    })
}

/// Microsoft's records as record sets (one per name and type), in the
/// order Microsoft gives them.
fn convert_records<'a>(
    domain: &str,
    records: impl Iterator<Item = &'a api::DnsRecord>,
    purpose: impl Fn(&RecordSet) -> RecordPurpose,
) -> Result<Vec<ProviderRecord>, ProviderError> {
    let mut sets: Vec<RecordSet> = Vec::new();
    for r in records {
        let missing = |field: &str| {
            ProviderError::Parse(format!(
                "a {} record Microsoft names for {domain} has no `{field}`",
                r.kind()
            ))
        };
        let (rtype, value) = match r.kind().as_str() {
            "mx" => (
                RecordType::Mx,
                RData::Mx {
                    preference: r.preference.unwrap_or(0),
                    exchange: normalize_name(
                        r.mail_exchange
                            .as_deref()
                            .ok_or_else(|| missing("mailExchange"))?,
                    ),
                },
            ),
            "cname" => (
                RecordType::Cname,
                RData::Cname {
                    target: normalize_name(
                        r.canonical_name
                            .as_deref()
                            .ok_or_else(|| missing("canonicalName"))?,
                    ),
                },
            ),
            "txt" => (
                RecordType::Txt,
                RData::txt(r.text.as_deref().ok_or_else(|| missing("text"))?),
            ),
            other => {
                tracing::warn!(%domain, kind = other, "a record type mailform does not publish for Microsoft 365; skipped");
                continue;
            }
        };
        let name = absolute(&r.label, domain);
        let ttl = r.ttl.unwrap_or(3600);
        match sets.iter_mut().find(|s| s.name == name && s.rtype == rtype) {
            Some(s) => {
                s.ttl = s.ttl.min(ttl);
                if !s.values.contains(&value) {
                    s.values.push(value);
                }
            }
            None => sets.push(RecordSet {
                name,
                rtype,
                ttl,
                values: vec![value],
            }),
        }
    }
    Ok(sets
        .into_iter()
        .map(|set| ProviderRecord {
            purpose: purpose(&set),
            set,
        })
        .collect())
}

/// A label as an absolute name: Microsoft gives absolute ones
/// (`autodiscover.contoso.com`); `@` or a relative one is taken as under
/// the domain.
fn absolute(label: &str, domain: &str) -> String {
    let l = normalize_name(label);
    if l.is_empty() || l == "@" {
        domain.to_string()
    } else if l == domain || l.ends_with(&format!(".{domain}")) {
        l
    } else {
        format!("{l}.{domain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: serde_json::Value) -> api::DnsRecord {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn email_records_become_record_sets_with_their_purpose() {
        let records = vec![
            rec(
                serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsMxRecord", "isOptional": false, "label": "Example.com", "recordType": "Mx", "supportedService": "Email", "ttl": 3600, "mailExchange": "example-com.mail.protection.outlook.com", "preference": 0}),
            ),
            rec(
                serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsTxtRecord", "isOptional": false, "label": "example.com", "recordType": "Txt", "supportedService": "Email", "ttl": 3600, "text": "v=spf1 include:spf.protection.outlook.com -all"}),
            ),
            rec(
                serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsCnameRecord", "isOptional": false, "label": "autodiscover.example.com", "recordType": "CName", "supportedService": "Email", "ttl": 3600, "canonicalName": "autodiscover.outlook.com"}),
            ),
            rec(
                serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsCnameRecord", "isOptional": false, "label": "sip.example.com", "recordType": "CName", "supportedService": "OfficeCommunicationsOnline", "ttl": 3600, "canonicalName": "sipdir.online.lync.com"}),
            ),
            rec(
                serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsCnameRecord", "isOptional": true, "label": "msoid.example.com", "recordType": "CName", "supportedService": "Email", "ttl": 3600, "canonicalName": "clientconfig.microsoftonline-p.net"}),
            ),
        ];
        let out = convert_records("example.com", email_records(&records), |s| match s.rtype {
            RecordType::Mx => RecordPurpose::Mx,
            RecordType::Txt => RecordPurpose::Spf,
            _ => RecordPurpose::Service,
        })
        .unwrap();
        let expect = [
            (
                RecordPurpose::Mx,
                RecordSet::parse(
                    "example.com",
                    "MX",
                    3600,
                    &["0 example-com.mail.protection.outlook.com."],
                )
                .unwrap(),
            ),
            (
                RecordPurpose::Spf,
                RecordSet::parse(
                    "example.com",
                    "TXT",
                    3600,
                    &["\"v=spf1 include:spf.protection.outlook.com -all\""],
                )
                .unwrap(),
            ),
            (
                RecordPurpose::Service,
                RecordSet::parse(
                    "autodiscover.example.com",
                    "CNAME",
                    3600,
                    &["autodiscover.outlook.com."],
                )
                .unwrap(),
            ),
        ];
        assert_eq!(out.len(), 3, "{out:?}");
        for (r, (p, s)) in out.iter().zip(expect) {
            assert_eq!(r.purpose, p);
            assert!(r.set.same_as(&s), "{:?} vs {s:?}", r.set);
        }
    }

    #[test]
    fn labels_and_kinds() {
        assert_eq!(absolute("@", "example.com"), "example.com");
        assert_eq!(
            absolute("Autodiscover.Example.com.", "example.com"),
            "autodiscover.example.com"
        );
        assert_eq!(
            absolute("autodiscover", "example.com"),
            "autodiscover.example.com"
        );
        let r = rec(serde_json::json!({"@odata.type": "#microsoft.graph.domainDnsTxtRecord"}));
        assert_eq!(r.kind(), "txt");
        assert!(checked_id("example.com").is_ok());
        assert!(checked_id("exa mple.com").is_err());
        assert!(checked_id("a/b").is_err());
    }
}
