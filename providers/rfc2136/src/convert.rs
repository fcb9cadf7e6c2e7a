//! hickory-proto records ↔ the contract's record sets.
//!
//! Reading maps the types mailform declares to typed [`RData`] and keeps
//! every other type (SOA, PTR, DS, ...) in presentation format. Writing
//! builds hickory's typed data directly for the declarable types — TXT
//! from its exact bytes, so no zone-file lexer sits in between (hickory's
//! mishandles `\DDD` escapes) — and goes through hickory's presentation
//! parser only for CAA and other types.

use std::collections::BTreeMap;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SRV, TXT};
use hickory_proto::rr::{Name, RData as HRData, Record, RecordType as HType};
use mailform_contract::name::normalize_name;
use mailform_contract::{ProviderError, RData, RecordSet, RecordType};

/// The name in mailform's form: lower-case, no trailing dot.
pub fn name_of(name: &Name) -> String {
    normalize_name(&name.to_ascii())
}

/// A mailform name as an absolute hickory name.
pub fn to_name(name: &str) -> Result<Name, ProviderError> {
    Name::from_ascii(format!("{}.", normalize_name(name)))
        .map_err(|e| ProviderError::Rejected(format!("{name:?} is not a DNS name: {e}")))
}

/// The contract's data for one record read from the server.
pub fn from_record(zone: &str, r: &Record) -> Result<RData, ProviderError> {
    let bad = |m: String| {
        ProviderError::Parse(format!(
            "zone {zone}, {} {}: {m}",
            name_of(&r.name),
            r.record_type()
        ))
    };
    Ok(match &r.data {
        HRData::A(a) => RData::A { address: a.0 },
        HRData::AAAA(a) => RData::Aaaa { address: a.0 },
        HRData::CNAME(c) => RData::Cname {
            target: name_of(&c.0),
        },
        HRData::NS(n) => RData::Ns {
            target: name_of(&n.0),
        },
        HRData::MX(mx) => RData::Mx {
            preference: mx.preference,
            exchange: name_of(&mx.exchange),
        },
        HRData::SRV(srv) => RData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: name_of(&srv.target),
        },
        HRData::TXT(txt) => RData::Txt {
            chunks: txt
                .txt_data
                .iter()
                .map(|c| {
                    String::from_utf8(c.to_vec()).map_err(|_| bad("TXT data is not UTF-8".into()))
                })
                .collect::<Result<_, _>>()?,
        },
        HRData::CAA(caa) => RData::Caa {
            flags: if caa.issuer_critical { 128 } else { 0 } | caa.reserved_flags,
            tag: caa.tag.to_ascii_lowercase(),
            value: String::from_utf8(caa.value.clone())
                .map_err(|_| bad("CAA value is not UTF-8".into()))?,
        },
        other => RData::Other {
            rtype: r.record_type().to_string(),
            text: other.to_string(),
        },
    })
}

/// Record sets from the records of a transfer, grouped by (name, type) in
/// first-seen order. A set's TTL is its first record's (RFC 2181 §5.2
/// requires them equal).
pub fn group(zone: &str, records: &[Record]) -> Result<Vec<RecordSet>, ProviderError> {
    let mut index: BTreeMap<(String, RecordType), usize> = BTreeMap::new();
    let mut sets: Vec<RecordSet> = Vec::new();
    for r in records {
        let rdata = from_record(zone, r)?;
        let key = (
            name_of(&r.name),
            RecordType::parse(&r.record_type().to_string()),
        );
        match index.get(&key) {
            Some(&i) => sets[i].values.push(rdata),
            None => {
                index.insert(key.clone(), sets.len());
                sets.push(RecordSet {
                    name: key.0,
                    rtype: key.1,
                    ttl: r.ttl,
                    values: vec![rdata],
                });
            }
        }
    }
    Ok(sets)
}

/// hickory's type for a contract type.
pub fn to_type(t: &RecordType) -> Result<HType, ProviderError> {
    t.as_str().parse::<HType>().map_err(|_| {
        ProviderError::Unsupported(format!("record type {t} is not known to the DNS library"))
    })
}

/// hickory's data for one value.
pub fn to_rdata(v: &RData) -> Result<HRData, ProviderError> {
    Ok(match v {
        RData::A { address } => HRData::A(A(*address)),
        RData::Aaaa { address } => HRData::AAAA(AAAA(*address)),
        RData::Cname { target } => HRData::CNAME(CNAME(to_name(target)?)),
        RData::Ns { target } => HRData::NS(NS(to_name(target)?)),
        RData::Mx {
            preference,
            exchange,
        } => HRData::MX(MX::new(*preference, to_name(exchange)?)),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => HRData::SRV(SRV::new(*priority, *weight, *port, to_name(target)?)),
        RData::Txt { chunks } => HRData::TXT(TXT::from_bytes(
            chunks.iter().map(|c| c.as_bytes()).collect(),
        )),
        other => {
            let rtype = to_type(&other.rtype())?;
            HRData::try_from_str(rtype, &other.presentation()).map_err(|e| {
                ProviderError::Unsupported(format!(
                    "{} value {:?}: {e}",
                    other.rtype(),
                    other.presentation()
                ))
            })?
        }
    })
}

/// The records of a set, each with `ttl`.
pub fn to_records(set: &RecordSet, ttl: u32) -> Result<Vec<Record>, ProviderError> {
    let name = to_name(&set.name)?;
    set.values
        .iter()
        .map(|v| Ok(Record::from_rdata(name.clone(), ttl, to_rdata(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declarable_type_round_trips() {
        let sets = [
            RecordSet::parse(
                "example.com",
                "MX",
                300,
                &["10 MX1.example.com.", "20 mx2.example.com"],
            )
            .unwrap(),
            RecordSet::parse(
                "example.com",
                "TXT",
                300,
                &[r#""v=spf1 " "-all""#, r#""\233\130\174 \"q\" \\""#],
            )
            .unwrap(),
            RecordSet::parse("www.example.com", "A", 300, &["192.0.2.1"]).unwrap(),
            RecordSet::parse("www.example.com", "AAAA", 300, &["2001:db8::1"]).unwrap(),
            RecordSet::parse(
                "ad.example.com",
                "CNAME",
                300,
                &["autodiscover.outlook.com"],
            )
            .unwrap(),
            RecordSet::parse(
                "_s._tcp.example.com",
                "SRV",
                300,
                &["0 1 587 mail.example.com."],
            )
            .unwrap(),
            RecordSet::parse(
                "example.com",
                "CAA",
                300,
                &[
                    r#"0 issue "letsencrypt.org""#,
                    r#"128 iodef "mailto:x@example.com""#,
                ],
            )
            .unwrap(),
            RecordSet::parse("sub.example.com", "NS", 300, &["ns.sub.example.com."]).unwrap(),
        ];
        for set in &sets {
            let records = to_records(set, set.ttl).unwrap();
            let back = group("example.com", &records).unwrap();
            assert_eq!(back.len(), 1);
            assert!(back[0].same_as(set), "{:?}\n vs {set:?}", back[0]);
            if set.rtype == RecordType::Txt {
                // Chunk boundaries are kept exactly, not just the meaning.
                assert_eq!(back[0].values, set.values);
            }
        }
    }
}
