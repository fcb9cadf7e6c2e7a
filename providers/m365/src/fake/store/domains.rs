//! The fake tenant's domains (added, verified, their services and the
//! records Microsoft names) and DKIM signing configs.

use serde_json::{json, Value};

use super::*;

impl Store {
    pub fn domains(&self) -> Vec<Value> {
        self.domains
            .iter()
            .chain(&self.unverified)
            .map(|d| self.domain_json(d))
            .collect()
    }

    /// The tenant's spelling of `key`, and whether it is verified.
    fn domain_key(&self, key: &str) -> Result<(String, bool), Refusal> {
        let k = lower(key);
        if self.domains.contains(&k) {
            Ok((k, true))
        } else if self.unverified.contains(&k) {
            Ok((k, false))
        } else {
            Err(not_found(key))
        }
    }

    fn services(&self, domain: &str) -> Vec<String> {
        self.supported_services
            .get(domain)
            .cloned()
            .unwrap_or_else(|| vec!["Email".into(), "OfficeCommunicationsOnline".into()])
    }

    fn domain_json(&self, d: &str) -> Value {
        let verified = self.domains.iter().any(|x| x == d);
        json!({
            "id": d,
            "authenticationType": "Managed",
            "availabilityStatus": null,
            "isAdminManaged": true,
            "isDefault": *d == self.default_domain,
            "isInitial": *d == self.initial_domain,
            "isRoot": true,
            "isVerified": verified,
            "passwordNotificationWindowInDays": null,
            "passwordValidityPeriodInDays": null,
            "state": null,
            "supportedServices": self.services(d),
        })
    }

    /// `GET /domains/{id}`.
    pub fn domain(&self, key: &str) -> Result<Value, Refusal> {
        let (d, _) = self.domain_key(key)?;
        Ok(self.domain_json(&d))
    }

    /// `POST /domains`: `id` is the only property it takes ("Create
    /// domain"); a new domain is unverified and used for nothing. The
    /// messages are plausible, not verbatim.
    pub fn insert_domain(&mut self, body: &Value) -> Result<Value, Refusal> {
        if let Some(other) = body
            .as_object()
            .and_then(|o| o.keys().find(|k| k.as_str() != "id"))
        {
            return Err(bad(format!(
                "Property '{other}' cannot be set when creating a domain; 'id' is the only property that can be specified."
            )));
        }
        let id = lower(body["id"].as_str().unwrap_or(""));
        let labels: Vec<&str> = id.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(bad(format!("Invalid domain name '{id}'.")));
        }
        if self.domain_key(&id).is_ok() || self.other_tenants_domains.contains(&id) {
            return Err(bad(
                "Another object with the same value for property id already exists.",
            ));
        }
        self.unverified.push(id.clone());
        self.supported_services.insert(id.clone(), vec![]);
        self.writes += 1;
        Ok(self.domain_json(&id))
    }

    /// The token Microsoft asks to publish for `domain`: `MS=ms` and 8
    /// digits, the same for a domain every time (FNV-1a of the name).
    pub fn verification_token(domain: &str) -> String {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in lower(domain).bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("MS=ms{:08}", h % 100_000_000)
    }

    /// `GET /domains/{id}/verificationDnsRecords`: the TXT record and its
    /// MX alternative for hosts without TXT, as Graph lists them.
    pub fn verification_records(&self, key: &str) -> Result<Vec<Value>, Refusal> {
        let (d, _) = self.domain_key(key)?;
        let token = Self::verification_token(&d);
        let digits = token.trim_start_matches("MS=");
        Ok(vec![
            json!({
                "@odata.type": "#microsoft.graph.domainDnsTxtRecord",
                "id": format!("aceff52c-06a5-447f-ac5f-{}", &digits[2..]),
                "isOptional": false, "label": d, "recordType": "Txt",
                "supportedService": "Email", "ttl": 3600, "text": token,
            }),
            json!({
                "@odata.type": "#microsoft.graph.domainDnsMxRecord",
                "id": format!("5fbde38c-0865-497f-82b1-{}", &digits[2..]),
                "isOptional": false, "label": d, "recordType": "Mx",
                "supportedService": "Email", "ttl": 3600,
                "mailExchange": format!("{digits}.msv1.invalid"), "preference": 32767,
            }),
        ])
    }

    /// `POST /domains/{id}/verify`, `served`: the TXT values the domain's
    /// apex serves now. A verified domain answers as it is.
    pub fn verify_domain(&mut self, key: &str, served: &[String]) -> Result<Value, Refusal> {
        let (d, verified) = self.domain_key(key)?;
        if !verified {
            let token = Self::verification_token(&d);
            if !served.contains(&token) {
                return Err(bad(format!(
                    "Domain verification failed. The DNS record for domain '{d}' could not be found: add the TXT record {token} and try again; DNS changes can take up to 72 hours to take effect."
                )));
            }
            self.unverified.retain(|x| *x != d);
            self.domains.push(d.clone());
            if self.exchange_domain_lag > 0 {
                self.exchange_domain_pending
                    .insert(d.clone(), self.exchange_domain_lag);
            }
            self.writes += 1;
        }
        Ok(self.domain_json(&d))
    }

    /// `PATCH /domains/{id}`: `supportedServices` of a verified domain.
    pub fn patch_domain(&mut self, key: &str, body: &Value) -> Result<Value, Refusal> {
        const SERVICES: [&str; 10] = [
            "Email",
            "Sharepoint",
            "EmailInternalRelayOnly",
            "OfficeCommunicationsOnline",
            "SharePointDefaultDomain",
            "FullRedelegation",
            "SharePointPublic",
            "OrgIdAuthentication",
            "Yammer",
            "Intune",
        ];
        let (d, verified) = self.domain_key(key)?;
        if let Some(list) = body.get("supportedServices") {
            if !verified {
                return Err(bad(format!(
                    "Domain '{d}' must be verified before its supported services can be set."
                )));
            }
            let mut services = Vec::new();
            for v in list.as_array().into_iter().flatten() {
                let name = v.as_str().unwrap_or("");
                let Some(known) = SERVICES.iter().find(|s| s.eq_ignore_ascii_case(name)) else {
                    return Err(bad(format!(
                        "Invalid value specified for property 'supportedServices' of resource 'Domain': '{name}'."
                    )));
                };
                if !services.iter().any(|s: &String| s == known) {
                    services.push(known.to_string());
                }
            }
            self.supported_services.insert(d, services);
        }
        self.writes += 1;
        Ok(Value::Null)
    }

    /// The targets of `domain`'s selector CNAMEs, as Microsoft forms them
    /// for a tenant's domains: `selector1-<domain, dots as dashes>._domainkey.<initial domain>`.
    pub fn dkim_selectors(&self, domain: &str) -> [(String, String); 2] {
        let d = lower(domain);
        let dashed = d.replace('.', "-");
        [1, 2].map(|n| {
            (
                format!("selector{n}._domainkey.{d}"),
                format!("selector{n}-{dashed}._domainkey.{}", self.initial_domain),
            )
        })
    }

    fn dkim_json(&self, d: &str, enabled: bool) -> Value {
        let [(_, s1), (_, s2)] = self.dkim_selectors(d);
        json!({
            "Identity": d, "Name": d, "Domain": d,
            "Enabled": enabled,
            "Status": if enabled { "Valid" } else { "CnameMissing" },
            "Selector1CNAME": s1, "Selector2CNAME": s2,
            "Selector1KeySize": 2048, "Selector2KeySize": 2048,
        })
    }

    /// `Get-DkimSigningConfig -Identity <domain>`.
    pub fn get_dkim(&self, identity: &str) -> Result<Value, ExchangeRefusal> {
        let d = lower(identity);
        match self.dkim.get(&d) {
            Some(enabled) => Ok(self.dkim_json(&d, *enabled)),
            None => Err(exchange_not_found(identity)),
        }
    }

    /// Whether Exchange takes `domain` as an accepted domain now; a call
    /// for a pending one counts down its lag.
    fn accepted(&mut self, d: &str) -> Result<(), ExchangeRefusal> {
        if let Some(n) = self.exchange_domain_pending.get_mut(d) {
            *n -= 1;
            if *n == 0 {
                self.exchange_domain_pending.remove(d);
            }
            return Err(not_accepted(d));
        }
        if !self.domains.iter().any(|x| x == d) || *d == self.initial_domain {
            return Err(not_accepted(d));
        }
        Ok(())
    }

    /// `New-DkimSigningConfig -DomainName <domain> -Enabled <bool>`;
    /// `served`: whether both selector CNAMEs resolve now (needed only to
    /// create it enabled).
    pub fn new_dkim(
        &mut self,
        domain: &str,
        enabled: bool,
        served: bool,
    ) -> Result<Value, ExchangeRefusal> {
        let d = lower(domain);
        self.accepted(&d)?;
        if self.dkim.contains_key(&d) {
            return Err((
                400,
                "DataValidationException",
                format!("A DkimSigningConfig already exists for domain '{d}'."),
            ));
        }
        if enabled && !served {
            return Err(self.cname_missing(&d));
        }
        self.dkim.insert(d.clone(), enabled);
        self.writes += 1;
        Ok(self.dkim_json(&d, enabled))
    }

    /// `Set-DkimSigningConfig -Identity <domain> -Enabled <bool>`.
    pub fn set_dkim(
        &mut self,
        identity: &str,
        enabled: bool,
        served: bool,
    ) -> Result<(), ExchangeRefusal> {
        let d = lower(identity);
        if !self.dkim.contains_key(&d) {
            return Err(exchange_not_found(identity));
        }
        self.accepted(&d)?;
        if enabled && !served {
            return Err(self.cname_missing(&d));
        }
        if self.dkim.insert(d, enabled) != Some(enabled) {
            self.writes += 1;
        }
        Ok(())
    }

    /// Exchange's refusal to sign before the CNAMEs resolve (its wording
    /// as admins report it).
    fn cname_missing(&self, d: &str) -> ExchangeRefusal {
        let [(n1, t1), (n2, t2)] = self.dkim_selectors(d);
        let host = |n: &str| n.trim_end_matches(&format!(".{d}")).to_string();
        (
            400,
            "ValidationException",
            format!(
                "CNAME record does not exist for this config. Please publish the following two CNAME records first. Domain Name : {d} Host Name : {} Points to address or value: {t1} Host Name : {} Points to address or value: {t2}",
                host(&n1),
                host(&n2)
            ),
        )
    }

    /// `GET /domains/{id}/serviceConfigurationRecords`: the records of the
    /// services the domain is used for, once verified (Microsoft's values
    /// from "Add DNS records to connect your domain").
    pub fn service_records(&self, key: &str) -> Result<Vec<Value>, Refusal> {
        let (d, verified) = self.domain_key(key)?;
        if !verified {
            return Ok(vec![]);
        }
        let services = self.services(&d);
        let has = |s: &str| services.iter().any(|x| x == s);
        let dashed = d.replace('.', "-");
        let mut n = 0;
        let mut id = || {
            n += 1;
            format!("c0a5d9a1-3f52-4c7e-9b1d-{n:012x}")
        };
        let mut out = Vec::new();
        if has("Email") {
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsMxRecord", "id": id(),
                "isOptional": false, "label": d, "recordType": "Mx", "supportedService": "Email",
                "ttl": 3600, "mailExchange": format!("{dashed}.mail.protection.outlook.com"), "preference": 0,
            }));
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsTxtRecord", "id": id(),
                "isOptional": false, "label": d, "recordType": "Txt", "supportedService": "Email",
                "ttl": 3600, "text": "v=spf1 include:spf.protection.outlook.com -all",
            }));
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsCnameRecord", "id": id(),
                "isOptional": false, "label": format!("autodiscover.{d}"), "recordType": "CName",
                "supportedService": "Email", "ttl": 3600, "canonicalName": "autodiscover.outlook.com",
            }));
        }
        if has("OfficeCommunicationsOnline") {
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsSrvRecord", "id": id(),
                "isOptional": false, "label": d, "recordType": "Srv",
                "supportedService": "OfficeCommunicationsOnline", "ttl": 3600,
                "nameTarget": "sipdir.online.lync.com", "port": 443, "priority": 100,
                "protocol": "_tls", "service": "_sip", "weight": 1,
            }));
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsCnameRecord", "id": id(),
                "isOptional": false, "label": format!("sip.{d}"), "recordType": "CName",
                "supportedService": "OfficeCommunicationsOnline", "ttl": 3600,
                "canonicalName": "sipdir.online.lync.com",
            }));
        }
        if has("Intune") {
            out.push(json!({
                "@odata.type": "#microsoft.graph.domainDnsCnameRecord", "id": id(),
                "isOptional": false, "label": format!("enterpriseregistration.{d}"),
                "recordType": "CName", "supportedService": "Intune", "ttl": 3600,
                "canonicalName": "enterpriseregistration.windows.net",
            }));
        }
        Ok(out)
    }
}
