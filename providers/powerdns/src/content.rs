//! PowerDNS record content ↔ the contract's record data.
//!
//! PowerDNS keeps record content in zone-file presentation format: names
//! absolute with the trailing dot, the MX preference and SRV priority
//! inside the content, TXT as quoted character-strings (non-ASCII bytes as
//! `\DDD`). That is what [`RData::parse`] reads and [`RData::presentation`]
//! writes, so the mapping is those two plus names with the trailing dot;
//! spelling differences (case, `\DDD` vs UTF-8, IPv6 zero compression, TXT
//! chunking) vanish in [`RData::canonical`] and produce no diff.

use mailform_contract::name::normalize_name;
use mailform_contract::{ProviderError, RData, RecordSet, RecordType};

use crate::wire::{RRSet, Record};

/// The record sets of a zone from the server's RRsets. Disabled records are
/// not served, so they are left out (an RRset with only disabled records
/// reads as absent).
pub fn from_rrsets(zone: &str, rrsets: &[RRSet]) -> Result<Vec<RecordSet>, ProviderError> {
    let mut sets = Vec::with_capacity(rrsets.len());
    for r in rrsets {
        let rtype = RecordType::parse(&r.rtype);
        let name = normalize_name(&r.name);
        let values = r
            .records
            .iter()
            .filter(|rec| !rec.disabled)
            .map(|rec| {
                RData::parse(&rtype, &rec.content).map_err(|e| {
                    ProviderError::Parse(format!("PowerDNS zone {zone}, {name} {rtype}: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_empty() {
            continue;
        }
        sets.push(RecordSet {
            name,
            rtype,
            ttl: r.ttl.unwrap_or(0),
            values,
        });
    }
    Ok(sets)
}

/// The name as PowerDNS spells it: absolute with the trailing dot.
pub fn dotted(name: &str) -> String {
    format!("{}.", normalize_name(name))
}

/// A `REPLACE` of one RRset with `set`'s values.
pub fn replace(set: &RecordSet) -> RRSet {
    RRSet {
        name: dotted(&set.name),
        rtype: set.rtype.to_string(),
        ttl: Some(set.ttl),
        changetype: Some("REPLACE".into()),
        records: set
            .values
            .iter()
            .map(|v| Record {
                content: v.presentation(),
                disabled: false,
            })
            .collect(),
    }
}

/// A `DELETE` of the RRset at (name, type).
pub fn delete(name: &str, rtype: &RecordType) -> RRSet {
    RRSet {
        name: dotted(name),
        rtype: rtype.to_string(),
        ttl: None,
        changetype: Some("DELETE".into()),
        records: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrset(name: &str, t: &str, contents: &[&str]) -> RRSet {
        RRSet {
            name: name.into(),
            rtype: t.into(),
            ttl: Some(300),
            changetype: None,
            records: contents
                .iter()
                .map(|c| Record {
                    content: c.to_string(),
                    disabled: false,
                })
                .collect(),
        }
    }

    #[test]
    fn server_spellings_compare_equal_to_declared_values() {
        let live = from_rrsets(
            "example.com",
            &[
                rrset(
                    "Example.COM.",
                    "MX",
                    &["10 MX1.Example.com.", "20 mx2.example.com."],
                ),
                rrset(
                    "example.com.",
                    "TXT",
                    &[r#""v=spf1 " "-all""#, r#""\233\130\174""#],
                ),
                rrset("www.example.com.", "AAAA", &["2001:DB8:0:0::1"]),
                rrset("example.com.", "CAA", &[r#"0 issue "letsencrypt.org""#]),
            ],
        )
        .unwrap();
        let want = [
            RecordSet::parse(
                "example.com",
                "MX",
                300,
                &["20 mx2.example.com", "10 mx1.example.com"],
            )
            .unwrap(),
            RecordSet {
                name: "example.com".into(),
                rtype: RecordType::Txt,
                ttl: 300,
                values: vec![RData::txt("v=spf1 -all"), RData::txt("邮")],
            },
            RecordSet::parse("www.example.com", "AAAA", 300, &["2001:db8::1"]).unwrap(),
            RecordSet::parse("example.com", "CAA", 300, &[r#"0 issue "letsencrypt.org""#]).unwrap(),
        ];
        for (l, w) in live.iter().zip(&want) {
            assert!(l.same_as(w), "{l:?} vs {w:?}");
        }
    }

    #[test]
    fn disabled_records_are_not_served_and_not_read() {
        let mut r = rrset("a.example.com.", "A", &["192.0.2.1", "192.0.2.2"]);
        r.records[1].disabled = true;
        let live = from_rrsets("example.com", &[r.clone()]).unwrap();
        assert_eq!(live[0].values.len(), 1);
        r.records[0].disabled = true;
        assert!(from_rrsets("example.com", &[r]).unwrap().is_empty());
    }

    #[test]
    fn unreadable_content_fails_the_read() {
        let err = from_rrsets(
            "example.com",
            &[rrset("example.com.", "MX", &["mx.example.com."])],
        );
        assert!(matches!(err, Err(ProviderError::Parse(m)) if m.contains("example.com MX")));
    }

    #[test]
    fn writes_presentation_format_with_trailing_dots() {
        let set = RecordSet {
            name: "example.com".into(),
            rtype: RecordType::Txt,
            ttl: 60,
            values: vec![RData::txt("say \"hi\" é")],
        };
        let r = replace(&set);
        assert_eq!(r.name, "example.com.");
        assert_eq!(r.records[0].content, r#""say \"hi\" \195\169""#);
        let mx =
            replace(&RecordSet::parse("example.com", "MX", 60, &["10 mx.example.net"]).unwrap());
        assert_eq!(mx.records[0].content, "10 mx.example.net.");
        let json = serde_json::to_value(delete("www.example.com", &RecordType::A)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "www.example.com.", "type": "A", "changetype": "DELETE", "records": []})
        );
    }
}
