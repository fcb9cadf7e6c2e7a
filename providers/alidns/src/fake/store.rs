//! The fake's domains and records, with Alidns's rules.
//!
//! Rules implemented from the Alidns documentation — AddDomainRecord /
//! UpdateDomainRecord parameters (MX `Priority` 1–50 and required for MX;
//! `RR` `@` for the apex, never empty), "TTL definition" (the edition's
//! minimum; 600 on the Free edition, at most 86400), "DNS record types"
//! (value formats) and the error-code list
//! (<https://alibabacloud.com/help/en/dns/api-alidns-2015-01-09-errorcodes>):
//! - a record identical to another (same RR, type, value and line) is
//!   refused with `DomainRecordDuplicate`, and so is an update that
//!   changes nothing;
//! - a CNAME cannot share its RR and line with any other record
//!   (`DomainRecordConflict`);
//! - an unknown domain is `InvalidDomainName.NoExist`, an unknown record id
//!   `DomainRecordNotBelongToUser`.
//!
//! The codes for a bad TTL (`InvalidTTL`), priority (`InvalidPriority`),
//! value (`InvalidValue`), host (`InvalidRR`) and type (`InvalidType`) are
//! this fake's; the documentation does not list them for these actions.
//! Records are listed newest first (`Direction=DESC`, the default) and paged.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{json, Value};

use crate::api::ApiRecord;

/// An error answer: HTTP status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    pub status: u16,
    pub code: String,
    pub message: String,
}

pub fn err(status: u16, code: &str, message: impl Into<String>) -> ApiErr {
    ApiErr {
        status,
        code: code.into(),
        message: message.into(),
    }
}

/// Record types the fake accepts.
const TYPES: [&str; 10] = [
    "A",
    "AAAA",
    "CNAME",
    "MX",
    "TXT",
    "SRV",
    "CAA",
    "NS",
    "REDIRECT_URL",
    "FORWARD_URL",
];

/// A record write: the fields of Add/UpdateDomainRecord.
#[derive(Debug, Clone)]
pub struct Fields {
    pub rr: String,
    pub rtype: String,
    pub value: String,
    pub ttl: Option<u32>,
    pub priority: Option<u32>,
    pub line: Option<String>,
}

#[derive(Debug)]
pub struct Store {
    pub min_ttl: u32,
    pub domains: BTreeMap<String, Vec<ApiRecord>>,
    next_id: u64,
    /// Successful writes, for tests.
    pub writes: u64,
}

impl Store {
    pub fn new(min_ttl: u32) -> Store {
        Store {
            min_ttl,
            domains: BTreeMap::new(),
            next_id: 100_000_000_000_000_000,
            writes: 0,
        }
    }

    pub fn add_domain(&mut self, name: &str) {
        self.domains.entry(name.to_ascii_lowercase()).or_default();
    }

    fn domain_mut(&mut self, name: &str) -> Result<&mut Vec<ApiRecord>, ApiErr> {
        self.domains
            .get_mut(&name.to_ascii_lowercase())
            .ok_or_else(|| {
                err(
                    400,
                    "InvalidDomainName.NoExist",
                    "The specified domain name does not exist. Refresh the page and try again.",
                )
            })
    }

    fn domain_of(&self, id: &str) -> Option<String> {
        self.domains
            .iter()
            .find(|(_, recs)| recs.iter().any(|r| r.record_id == id))
            .map(|(d, _)| d.clone())
    }

    pub fn describe(
        &self,
        domain: &str,
        page: u64,
        size: u64,
        ascending: bool,
        visible: impl Fn(&str) -> bool,
    ) -> Result<Value, ApiErr> {
        let recs = self
            .domains
            .get(&domain.to_ascii_lowercase())
            .ok_or_else(|| {
                err(
                    400,
                    "InvalidDomainName.NoExist",
                    "The specified domain name does not exist. Refresh the page and try again.",
                )
            })?;
        let mut sorted: Vec<&ApiRecord> = recs.iter().filter(|r| visible(&r.record_id)).collect();
        // Ids grow with time: newest first unless ASC.
        sorted.sort_by_key(|r| r.record_id.parse::<u128>().unwrap_or(0));
        if !ascending {
            sorted.reverse();
        }
        let start = ((page - 1) * size) as usize;
        let page_recs: Vec<Value> = sorted
            .iter()
            .skip(start)
            .take(size as usize)
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("record serialises");
                v["DomainName"] = json!(domain.to_ascii_lowercase());
                v["Weight"] = json!(1);
                v
            })
            .collect();
        Ok(json!({
            "TotalCount": sorted.len(),
            "PageNumber": page,
            "PageSize": size,
            "DomainRecords": {"Record": page_recs},
        }))
    }

    pub fn add(&mut self, domain: &str, f: Fields) -> Result<String, ApiErr> {
        let min_ttl = self.min_ttl;
        let rec = validate(&f, min_ttl)?;
        let recs = self.domain_mut(domain)?;
        check_against(recs, &rec, None)?;
        self.next_id += 1;
        let id = self.next_id.to_string();
        let recs = self.domain_mut(domain)?;
        recs.push(ApiRecord {
            record_id: id.clone(),
            ..rec
        });
        self.writes += 1;
        Ok(id)
    }

    pub fn update(&mut self, id: &str, f: Fields) -> Result<(), ApiErr> {
        let domain = self.domain_of(id).ok_or_else(not_found)?;
        let min_ttl = self.min_ttl;
        let rec = validate(&f, min_ttl)?;
        let recs = self.domain_mut(&domain)?;
        let pos = recs
            .iter()
            .position(|r| r.record_id == id)
            .ok_or_else(not_found)?;
        if recs[pos].locked {
            return Err(err(
                400,
                "DomainRecordLocked",
                "The DNS record is locked and cannot be modified.",
            ));
        }
        let same = {
            let old = &recs[pos];
            same_data(old, &rec) && old.ttl == rec.ttl && old.priority == rec.priority
        };
        if same {
            return Err(err(
                400,
                "DomainRecordDuplicate",
                "The DNS record already exists.",
            ));
        }
        check_against(recs, &rec, Some(id))?;
        let status = recs[pos].status.clone();
        recs[pos] = ApiRecord {
            record_id: id.to_string(),
            status,
            ..rec
        };
        self.writes += 1;
        Ok(())
    }

    pub fn delete(&mut self, id: &str) -> Result<(), ApiErr> {
        let domain = self.domain_of(id).ok_or_else(not_found)?;
        let recs = self.domain_mut(&domain)?;
        recs.retain(|r| r.record_id != id);
        self.writes += 1;
        Ok(())
    }
}

fn not_found() -> ApiErr {
    err(
        400,
        "DomainRecordNotBelongToUser",
        "The DNS record does not exist or does not belong to the current user.",
    )
}

fn host_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Checks one record's fields; returns it as stored (id to be set).
fn validate(f: &Fields, min_ttl: u32) -> Result<ApiRecord, ApiErr> {
    let rtype = f.rtype.to_ascii_uppercase();
    if !TYPES.contains(&rtype.as_str()) {
        return Err(err(
            400,
            "InvalidType",
            format!("The record type {} is not supported.", f.rtype),
        ));
    }
    let rr = f.rr.to_ascii_lowercase();
    let rr_ok = rr == "@"
        || (!rr.is_empty()
            && rr.split('.').enumerate().all(|(i, l)| {
                (i == 0 && l == "*")
                    || (!l.is_empty()
                        && l.len() <= 63
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            }));
    if !rr_ok {
        return Err(err(
            400,
            "InvalidRR",
            format!(
                "The host record {:?} is invalid (IDN labels must be punycode).",
                f.rr
            ),
        ));
    }
    let ttl = f.ttl.unwrap_or(600);
    if ttl < min_ttl || ttl > 86_400 {
        return Err(err(
            400,
            "InvalidTTL",
            format!("The TTL {ttl} is out of the range of this edition ({min_ttl}-86400)."),
        ));
    }
    let line = f.line.clone().unwrap_or_else(|| "default".into());
    let value = f.value.trim().to_string();
    let bad = || {
        err(
            400,
            "InvalidValue",
            format!("The value {:?} is invalid for a {rtype} record.", f.value),
        )
    };
    let mut priority = None;
    match rtype.as_str() {
        "A" => {
            value.parse::<Ipv4Addr>().map_err(|_| bad())?;
        }
        "AAAA" => {
            value.parse::<Ipv6Addr>().map_err(|_| bad())?;
        }
        "CNAME" | "NS" if !host_ok(value.trim_end_matches('.')) => return Err(bad()),
        "MX" => {
            if !host_ok(value.trim_end_matches('.')) {
                return Err(bad());
            }
            let p = f.priority.ok_or_else(|| {
                err(
                    400,
                    "MissingPriority",
                    "Priority is mandatory for MX records.",
                )
            })?;
            if !(1..=50).contains(&p) {
                return Err(err(
                    400,
                    "InvalidPriority",
                    format!("The MX priority {p} is out of range (1-50)."),
                ));
            }
            priority = Some(p);
        }
        "SRV" => {
            let parts: Vec<&str> = value.split_whitespace().collect();
            let nums_ok = parts.len() == 4 && parts[..3].iter().all(|n| n.parse::<u16>().is_ok());
            if !nums_ok || !host_ok(parts[3].trim_end_matches('.')) {
                return Err(bad());
            }
        }
        "CAA" => {
            let parts: Vec<&str> = value.splitn(3, ' ').collect();
            if parts.len() != 3 || parts[0].parse::<u8>().is_err() || !parts[2].starts_with('"') {
                return Err(bad());
            }
        }
        "TXT" if value.is_empty() => return Err(bad()),
        _ => {}
    }
    Ok(ApiRecord {
        record_id: String::new(),
        rr,
        rtype,
        value,
        ttl,
        priority,
        line,
        status: "ENABLE".into(),
        locked: false,
    })
}

fn norm_value(r: &ApiRecord) -> String {
    match r.rtype.as_str() {
        "CNAME" | "NS" | "MX" => r.value.trim_end_matches('.').to_ascii_lowercase(),
        _ => r.value.clone(),
    }
}

fn same_data(a: &ApiRecord, b: &ApiRecord) -> bool {
    a.rr.eq_ignore_ascii_case(&b.rr)
        && a.rtype == b.rtype
        && a.line == b.line
        && norm_value(a) == norm_value(b)
}

/// Duplicate and CNAME rules against the other records of the domain.
fn check_against(recs: &[ApiRecord], rec: &ApiRecord, except: Option<&str>) -> Result<(), ApiErr> {
    for other in recs.iter().filter(|r| Some(r.record_id.as_str()) != except) {
        if same_data(other, rec) {
            return Err(err(
                400,
                "DomainRecordDuplicate",
                "The DNS record already exists.",
            ));
        }
        let same_host = other.rr.eq_ignore_ascii_case(&rec.rr) && other.line == rec.line;
        if same_host && (other.rtype == "CNAME" || rec.rtype == "CNAME") {
            return Err(err(
                400,
                "DomainRecordConflict",
                format!(
                    "The DNS record conflicts with the existing {} record of {}.",
                    other.rtype, other.rr
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rr: &str, t: &str, v: &str, p: Option<u32>) -> Fields {
        Fields {
            rr: rr.into(),
            rtype: t.into(),
            value: v.into(),
            ttl: None,
            priority: p,
            line: None,
        }
    }

    #[test]
    fn rules() {
        let mut s = Store::new(600);
        s.add_domain("example.com");
        let id = s
            .add("example.com", f("@", "MX", "mx.example.com", Some(10)))
            .unwrap();
        assert_eq!(
            s.add("example.com", f("@", "MX", "MX.example.com", Some(20)))
                .unwrap_err()
                .code,
            "DomainRecordDuplicate"
        );
        assert_eq!(
            s.add("example.com", f("@", "MX", "b.example.com", Some(0)))
                .unwrap_err()
                .code,
            "InvalidPriority"
        );
        assert_eq!(
            s.add("example.com", f("@", "MX", "b.example.com", Some(51)))
                .unwrap_err()
                .code,
            "InvalidPriority"
        );
        assert_eq!(
            s.add("example.com", f("@", "MX", "b.example.com", None))
                .unwrap_err()
                .code,
            "MissingPriority"
        );
        let mut low = f("x", "A", "192.0.2.1", None);
        low.ttl = Some(60);
        assert_eq!(s.add("example.com", low).unwrap_err().code, "InvalidTTL");
        assert_eq!(
            s.add("example.com", f("邮件", "A", "192.0.2.1", None))
                .unwrap_err()
                .code,
            "InvalidRR"
        );
        assert!(s
            .add("example.com", f("xn--fiqs8s", "A", "192.0.2.1", None))
            .is_ok());
        assert_eq!(
            s.add("nope.com", f("@", "A", "192.0.2.1", None))
                .unwrap_err()
                .code,
            "InvalidDomainName.NoExist"
        );
        s.add("example.com", f("www", "A", "192.0.2.1", None))
            .unwrap();
        assert_eq!(
            s.add("example.com", f("www", "CNAME", "a.example.net", None))
                .unwrap_err()
                .code,
            "DomainRecordConflict"
        );
        s.add("example.com", f("alias", "CNAME", "a.example.net", None))
            .unwrap();
        assert_eq!(
            s.add("example.com", f("alias", "TXT", "x", None))
                .unwrap_err()
                .code,
            "DomainRecordConflict"
        );
        assert_eq!(
            s.update(&id, f("@", "MX", "mx.example.com", Some(10)))
                .unwrap_err()
                .code,
            "DomainRecordDuplicate"
        );
        s.update(&id, f("@", "MX", "mx.example.com", Some(5)))
            .unwrap();
        assert_eq!(
            s.update("1", f("@", "MX", "mx.example.com", Some(5)))
                .unwrap_err()
                .code,
            "DomainRecordNotBelongToUser"
        );
        s.delete(&id).unwrap();
        assert_eq!(
            s.delete(&id).unwrap_err().code,
            "DomainRecordNotBelongToUser"
        );
        let page = s.describe("example.com", 1, 2, false, |_| true).unwrap();
        assert_eq!(page["TotalCount"], 3);
        assert_eq!(page["DomainRecords"]["Record"].as_array().unwrap().len(), 2);
        assert_eq!(
            page["DomainRecords"]["Record"][0]["RR"], "alias",
            "newest first"
        );
    }
}
