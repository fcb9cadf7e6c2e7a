//! Renders record sets as a zone file in one deterministic layout, so that
//! the same zone always gives the same bytes and diffs of the file in git
//! show only what changed.
//!
//! Layout: a header comment, `$ORIGIN`, `$TTL`, the SOA, the apex NS, then
//! every other set ordered by name (DNS order: parents before children) and
//! type. Every line carries its owner and TTL, so no line depends on the one
//! before it.

use std::cmp::Ordering;

use mailform_contract::dns::split_txt;
use mailform_contract::name::relative_name;
use mailform_contract::{RData, RecordSet, RecordType};

pub(crate) const HEADER: &str =
    "; managed by mailform — edits to record sets mailform manages will be overwritten";

/// The zone file text for `sets` of `zone`.
pub(crate) fn render(zone: &str, default_ttl: u32, sets: &[RecordSet]) -> String {
    let mut ordered: Vec<&RecordSet> = sets.iter().filter(|s| !s.values.is_empty()).collect();
    ordered.sort_by(|a, b| order(zone, a, b));

    let owners: Vec<String> = ordered
        .iter()
        .map(|s| relative_name(&s.name, zone))
        .collect();
    // Aligned columns make the file readable; capped so that one long DKIM
    // selector does not push every line to the right.
    let width = owners.iter().map(String::len).max().unwrap_or(1).min(32);

    let mut out = format!("{HEADER}\n$ORIGIN {zone}.\n$TTL {default_ttl}\n\n");
    for (set, owner) in ordered.iter().zip(&owners) {
        let mut seen: Vec<String> = Vec::new();
        for value in &set.values {
            // A duplicate value would be dropped by the server with a warning.
            let canonical = value.canonical();
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            out.push_str(&format!(
                "{owner:<width$} {ttl:>7} IN {rtype:<6} {data}\n",
                ttl = set.ttl,
                rtype = set.rtype.as_str(),
                data = rdata_text(value),
            ));
        }
    }
    out
}

/// The record data as written: TXT chunks longer than the 255 bytes a
/// character-string can hold are split, which does not change the value.
fn rdata_text(value: &RData) -> String {
    match value {
        RData::Txt { chunks } if chunks.iter().any(|c| c.len() > 255) => RData::Txt {
            chunks: chunks.iter().flat_map(|c| split_txt(c)).collect(),
        }
        .presentation(),
        other => other.presentation(),
    }
}

/// SOA, then apex NS, then by name and type.
fn order(zone: &str, a: &RecordSet, b: &RecordSet) -> Ordering {
    let rank = |s: &RecordSet| match (&s.rtype, s.name == zone) {
        (RecordType::Soa, true) => 0,
        (RecordType::Ns, true) => 1,
        _ => 2,
    };
    rank(a)
        .cmp(&rank(b))
        .then_with(|| name_order(&a.name, &b.name))
        .then_with(|| a.rtype.as_str().cmp(b.rtype.as_str()))
}

/// DNS order: compare labels from the right, so that a name's children
/// follow it.
fn name_order(a: &str, b: &str) -> Ordering {
    a.rsplit('.').cmp(b.rsplit('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet::parse(name, rtype, ttl, values).unwrap()
    }

    #[test]
    fn canonical_layout() {
        let sets = vec![
            set("www.example.com", "A", 600, &["192.0.2.10"]),
            set(
                "example.com",
                "MX",
                300,
                &["10 mx1.example.com", "20 mx2.example.net."],
            ),
            set("a.www.example.com", "TXT", 300, &["\"x\" \"y\""]),
            set(
                "example.com",
                "NS",
                3600,
                &["ns1.example.net", "ns2.example.net"],
            ),
            set(
                "example.com",
                "SOA",
                3600,
                &["ns1.example.net. hostmaster.example.com. 2024061501 7200 3600 1209600 300"],
            ),
            set("b.example.com", "CNAME", 300, &["www.example.com"]),
        ];
        let expected = "\
; managed by mailform — edits to record sets mailform manages will be overwritten
$ORIGIN example.com.
$TTL 3600

@        3600 IN SOA    ns1.example.net. hostmaster.example.com. 2024061501 7200 3600 1209600 300
@        3600 IN NS     ns1.example.net.
@        3600 IN NS     ns2.example.net.
@         300 IN MX     10 mx1.example.com.
@         300 IN MX     20 mx2.example.net.
b         300 IN CNAME  www.example.com.
www       600 IN A      192.0.2.10
a.www     300 IN TXT    \"x\" \"y\"
";
        assert_eq!(render("example.com", 3600, &sets), expected);
        let mut shuffled = sets.clone();
        shuffled.reverse();
        assert_eq!(render("example.com", 3600, &shuffled), expected);
    }

    #[test]
    fn long_txt_chunks_are_split_and_duplicates_dropped() {
        let long = "k".repeat(300);
        let sets = vec![RecordSet {
            name: "example.com".into(),
            rtype: RecordType::Txt,
            ttl: 300,
            values: vec![
                RData::Txt {
                    chunks: vec![long.clone()],
                },
                RData::txt(&long),
            ],
        }];
        let text = render("example.com", 3600, &sets);
        let line = text.lines().last().unwrap();
        assert_eq!(text.lines().count(), 5);
        assert!(line.ends_with(&format!("\"{}\" \"{}\"", "k".repeat(255), "k".repeat(45))));
    }

    #[test]
    fn names_outside_the_zone_stay_absolute() {
        let sets = vec![set("other.org", "A", 60, &["192.0.2.1"])];
        assert!(render("example.com", 3600, &sets).contains("\nother.org.      60 IN A "));
    }
}
