//! Record sets ↔ Alidns records.
//!
//! Alidns stores one record per value: `RR` (the host relative to the
//! domain, `@` for the apex, `*` for a wildcard), `Type`, `Value`, `TTL`,
//! `Priority` (MX only, 1–50) and `Line` (`default`). Value formats, from
//! "DNS record types" (<https://www.alibabacloud.com/help/doc-detail/29805.htm>):
//! host names without the trailing dot; MX carries its preference in
//! `Priority`; TXT is the bare text (no quotes; values read with quotes —
//! as some consoles and tools write them — are unquoted); SRV is
//! `priority weight port target`; CAA is `flags tag "value"`.
//!
//! Normalisation:
//! - **MX priority 0** (what Microsoft 365 publishes) cannot be stored: it
//!   is written as 1, and a priority-1 record whose exchange is a Microsoft
//!   365 host (`*.mail.protection.outlook.com`, `*.mx.microsoft`) reads back
//!   as 0, so the desired `0 contoso-com.mail.protection.outlook.com.` gives
//!   no change. (The contract has no hook to normalise the desired side, so
//!   the read side does it for the one exchange family that uses 0.)
//! - Preferences above 50, 0 for any other host, and a null MX cannot be
//!   stored: `audit` refuses them at plan time (the check in `wire` is a
//!   last guard).
//! - Names are sent as the engine gives them: IDN labels arrive as punycode
//!   (`xn--...`). Alibaba Cloud's documentation does not say how Alidns
//!   returns hosts of Chinese names, so a Unicode `RR` read back is
//!   converted to punycode too (`*` and `@` kept).

use std::collections::BTreeMap;

use mailform_contract::name::{absolute_name, in_zone, normalize_name, relative_name};
use mailform_contract::{ProviderError, RData, RecordSet, RecordType};

use crate::api::ApiRecord;

/// Highest MX priority Alidns stores.
pub const MAX_MX_PRIORITY: u16 = 50;

/// The record types mailform writes to Alidns.
pub fn record_types() -> Vec<RecordType> {
    vec![
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Srv,
        RecordType::Caa,
        RecordType::Ns,
    ]
}

/// What is sent for one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    pub rtype: String,
    pub value: String,
    pub priority: Option<u16>,
}

impl Wire {
    /// The key two wire values are compared by (host names case-folded).
    pub fn key(&self) -> String {
        let v = match self.rtype.as_str() {
            "CNAME" | "NS" | "MX" => self.value.to_ascii_lowercase(),
            _ => self.value.clone(),
        };
        format!("{} {} {v}", self.rtype, self.priority.map_or(-1, i32::from))
    }
}

/// The host names of Microsoft 365's exchanges, published with preference 0.
pub const M365_EXCHANGE_SUFFIXES: &[&str] = &[".mail.protection.outlook.com", ".mx.microsoft"];

fn is_m365_exchange(host: &str) -> bool {
    M365_EXCHANGE_SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// The `RR` of `name` in `zone`.
pub fn rr(name: &str, zone: &str) -> Result<String, ProviderError> {
    if !in_zone(name, zone) {
        return Err(ProviderError::Rejected(format!(
            "{name} is not inside zone {zone}"
        )));
    }
    Ok(relative_name(name, zone))
}

/// The absolute name of `rr` in `zone`. A host read back in Unicode (the
/// console accepts Chinese labels) is turned into punycode, the spelling
/// the engine uses; one that cannot be is kept as it is.
pub fn name(rr: &str, zone: &str) -> String {
    let rr = rr.trim();
    let ascii = if rr.is_ascii() {
        rr.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(rr).unwrap_or_else(|_| rr.to_lowercase())
    };
    absolute_name(&ascii, zone)
}

/// The value of a TXT record as Alidns stores it: the text, unquoted.
fn unquote_txt(value: &str) -> Vec<String> {
    let t = value.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        if let Ok(chunks) = mailform_contract::dns::parse_character_strings(t) {
            return vec![chunks.concat()];
        }
    }
    vec![value.to_string()]
}

/// One Alidns record as record data. `m365_zero`: read priority 1 of a
/// Microsoft 365 exchange as 0 (see the module doc).
pub fn rdata(rec: &ApiRecord, m365_zero: bool) -> Result<RData, ProviderError> {
    let t = RecordType::parse(&rec.rtype);
    let bad = |m: String| {
        ProviderError::Parse(format!(
            "Alidns record {} ({} {} {:?}): {m}",
            rec.record_id, rec.rr, rec.rtype, rec.value
        ))
    };
    Ok(match t {
        RecordType::Mx => {
            let exchange = normalize_name(rec.value.trim());
            let p = rec
                .priority
                .ok_or_else(|| bad("MX record without Priority".into()))?;
            let preference = u16::try_from(p).map_err(|_| bad("priority out of range".into()))?;
            let preference = if m365_zero && preference == 1 && is_m365_exchange(&exchange) {
                0
            } else {
                preference
            };
            RData::Mx {
                preference,
                exchange,
            }
        }
        RecordType::Txt => RData::Txt {
            chunks: mailform_contract::dns::split_txt(&unquote_txt(&rec.value).concat()),
        },
        RecordType::A
        | RecordType::Aaaa
        | RecordType::Cname
        | RecordType::Ns
        | RecordType::Srv
        | RecordType::Caa => RData::parse(&t, &rec.value).map_err(|e| bad(e.to_string()))?,
        _ => RData::Other {
            rtype: rec.rtype.to_ascii_uppercase(),
            text: rec.value.clone(),
        },
    })
}

/// Record data as sent: MX preference 0 becomes priority 1.
pub fn wire(rd: &RData) -> Result<Wire, ProviderError> {
    let w = |rtype: &str, value: String, priority: Option<u16>| Wire {
        rtype: rtype.to_string(),
        value,
        priority,
    };
    Ok(match rd {
        RData::A { address } => w("A", address.to_string(), None),
        RData::Aaaa { address } => w("AAAA", address.to_string(), None),
        RData::Cname { target } => w("CNAME", target.clone(), None),
        RData::Ns { target } => w("NS", target.clone(), None),
        RData::Mx {
            preference,
            exchange,
        } => {
            if *preference > MAX_MX_PRIORITY {
                return Err(ProviderError::Unsupported(format!(
                    "MX preference {preference} ({exchange}): Alidns stores MX priorities 1 to 50 only"
                )));
            }
            w("MX", exchange.clone(), Some((*preference).max(1)))
        }
        RData::Txt { chunks } => w("TXT", chunks.concat(), None),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => w("SRV", format!("{priority} {weight} {port} {target}"), None),
        RData::Caa { .. } => w("CAA", rd.presentation(), None),
        RData::Other { rtype, text } => w(rtype, text.clone(), None),
    })
}

/// The wire form of a live record, for comparison with desired values.
pub fn live_wire(rec: &ApiRecord) -> Result<Wire, ProviderError> {
    wire(&rdata(rec, false)?)
}

/// Live records grouped into record sets (managed records only). A set's
/// TTL is its records' lowest, so that mixed TTLs show as a change.
pub fn record_sets(zone: &str, records: &[ApiRecord]) -> Result<Vec<RecordSet>, ProviderError> {
    let mut sets: BTreeMap<(String, RecordType), RecordSet> = BTreeMap::new();
    for rec in records.iter().filter(|r| r.managed()) {
        let rd = rdata(rec, true)?;
        let key = (name(&rec.rr, zone), rd.rtype());
        let set = sets.entry(key.clone()).or_insert_with(|| RecordSet {
            name: key.0.clone(),
            rtype: key.1.clone(),
            ttl: rec.ttl,
            values: Vec::new(),
        });
        set.ttl = set.ttl.min(rec.ttl);
        set.values.push(rd);
    }
    Ok(sets.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rr: &str, t: &str, value: &str, priority: Option<u32>) -> ApiRecord {
        ApiRecord {
            record_id: "1".into(),
            rr: rr.into(),
            rtype: t.into(),
            value: value.into(),
            ttl: 600,
            priority,
            line: "default".into(),
            status: "ENABLE".into(),
            locked: false,
        }
    }

    fn parse(t: RecordType, v: &str) -> RData {
        RData::parse(&t, v).unwrap()
    }

    #[test]
    fn reads_every_mail_type() {
        let recs = vec![
            rec("@", "MX", "MXW.mxhichina.com", Some(5)),
            rec("@", "MX", "mxn.mxhichina.com.", Some(10)),
            rec(
                "@",
                "TXT",
                "\"v=spf1 include:spf.mxhichina.com -all\"",
                None,
            ),
            rec("_dmarc", "TXT", "v=DMARC1; p=none", None),
            rec("_imaps._tcp", "SRV", "0 1 993 imap.example.com", None),
            rec("@", "CAA", "0 issue \"letsencrypt.org\"", None),
            rec("autodiscover", "CNAME", "autodiscover.outlook.com", None),
            rec("*", "A", "192.0.2.1", None),
            rec("www", "REDIRECT_URL", "https://example.org", None),
        ];
        let sets = record_sets("example.com", &recs).unwrap();
        let find = |n: &str, t: RecordType| {
            sets.iter()
                .find(|s| s.name == n && s.rtype == t)
                .unwrap()
                .clone()
        };
        let mx = find("example.com", RecordType::Mx);
        assert_eq!(
            mx.canonical_values(),
            vec!["10 mxn.mxhichina.com.", "5 mxw.mxhichina.com."]
        );
        let spf = find("example.com", RecordType::Txt);
        assert_eq!(
            spf.values,
            vec![RData::txt("v=spf1 include:spf.mxhichina.com -all")]
        );
        assert_eq!(
            find("_dmarc.example.com", RecordType::Txt).values,
            vec![RData::txt("v=DMARC1; p=none")]
        );
        assert_eq!(
            find("_imaps._tcp.example.com", RecordType::Srv).values,
            vec![parse(RecordType::Srv, "0 1 993 imap.example.com.")]
        );
        assert_eq!(
            find("example.com", RecordType::Caa).values,
            vec![parse(RecordType::Caa, "0 issue \"letsencrypt.org\"")]
        );
        assert_eq!(
            find("*.example.com", RecordType::A).values,
            vec![parse(RecordType::A, "192.0.2.1")]
        );
        assert!(matches!(
            &find("www.example.com", RecordType::Other("REDIRECT_URL".into())).values[0],
            RData::Other { .. }
        ));
    }

    #[test]
    fn mx_priority_zero_is_one_on_alidns() {
        let m365 = parse(RecordType::Mx, "0 contoso-com.mail.protection.outlook.com.");
        let w = wire(&m365).unwrap();
        assert_eq!(
            (w.value.as_str(), w.priority),
            ("contoso-com.mail.protection.outlook.com", Some(1))
        );
        // Live priority 1 of a Microsoft 365 host reads as the 0 desired.
        let live = rec(
            "@",
            "MX",
            "contoso-com.mail.protection.outlook.com",
            Some(1),
        );
        assert_eq!(rdata(&live, true).unwrap(), m365);
        let desired = RecordSet {
            name: "example.com".into(),
            rtype: RecordType::Mx,
            ttl: 600,
            values: vec![m365],
        };
        assert!(record_sets("example.com", &[live]).unwrap()[0].same_as(&desired));
        // Other hosts keep 1 (Google's `1 smtp.google.com.`).
        let google = rec("@", "MX", "smtp.google.com", Some(1));
        assert_eq!(
            rdata(&google, true).unwrap(),
            parse(RecordType::Mx, "1 smtp.google.com.")
        );
        // Above 50 cannot be stored.
        assert!(matches!(
            wire(&parse(RecordType::Mx, "51 a.example.com.")),
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[test]
    fn values_are_written_as_alidns_wants_them() {
        let w = wire(&RData::Txt {
            chunks: vec!["v=DKIM1; p=".into(), "ABC".into()],
        })
        .unwrap();
        assert_eq!(w.value, "v=DKIM1; p=ABC");
        let w = wire(&parse(
            RecordType::Srv,
            "10 5 443 autodiscover.example.com.",
        ))
        .unwrap();
        assert_eq!(w.value, "10 5 443 autodiscover.example.com");
        let w = wire(&parse(RecordType::Cname, "Ghs.GoogleHosted.com.")).unwrap();
        assert_eq!(w.value, "ghs.googlehosted.com");
        assert_eq!(rr("example.com", "example.com").unwrap(), "@");
        assert_eq!(
            rr("xn--fiqs8s.example.com", "example.com").unwrap(),
            "xn--fiqs8s"
        );
        assert!(rr("other.org", "example.com").is_err());
        assert_eq!(name("WWW", "example.com"), "www.example.com");
        assert_eq!(name("邮件", "example.com"), "xn--5nq051n.example.com");
        assert_eq!(name("*.邮件", "example.com"), "*.xn--5nq051n.example.com");
        assert_eq!(name("@", "example.com"), "example.com");
        // A live value with quotes compares equal to the bare one.
        let live = rec("@", "TXT", "\"v=spf1 -all\"", None);
        assert_eq!(
            live_wire(&live).unwrap().key(),
            wire(&RData::txt("v=spf1 -all")).unwrap().key()
        );
    }

    #[test]
    fn unmanaged_lines_and_disabled_records_are_not_read() {
        let mut a = rec("www", "A", "192.0.2.1", None);
        a.line = "telecom".into();
        let mut b = rec("www", "A", "192.0.2.2", None);
        b.status = "DISABLE".into();
        assert!(record_sets("example.com", &[a, b]).unwrap().is_empty());
    }

    #[test]
    fn unreadable_values_fail_the_read() {
        assert!(matches!(
            record_sets("example.com", &[rec("@", "A", "not-an-ip", None)]),
            Err(ProviderError::Parse(_))
        ));
        assert!(record_sets("example.com", &[rec("@", "MX", "mx.example.com", None)]).is_err());
    }
}
