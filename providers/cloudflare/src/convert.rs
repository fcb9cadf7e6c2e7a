//! Record sets ↔ Cloudflare records.
//!
//! A [`RecordSet`] (all records of one name and type) is N Cloudflare
//! records, each with its own id, TTL, proxy flag, comment and tags.
//! Reading groups them; writing turns one value into one record body.
//!
//! Normalisation, so that a live record equal in meaning to the desired one
//! gives no diff:
//! - `ttl: 1` means "automatic", which Cloudflare documents as 300 seconds
//!   (<https://developers.cloudflare.com/dns/manage-dns-records/reference/ttl/>);
//!   it reads as [`AUTO_TTL`], so a file that says `ttl: 300` matches, and
//!   `mailform import` writes 300. Proxied records are always automatic.
//! - Records of one set with different TTLs read as the smallest.
//! - Names are lower-cased, without the trailing dot.
//! - TXT content may be one unquoted string (Cloudflare splits it into
//!   255-byte strings when serving) or quoted character-strings
//!   (`"part1" "part2"`); both read as chunks, and comparison ignores
//!   chunking. mailform writes quoted strings of at most 255 bytes
//!   (<https://developers.cloudflare.com/dns/manage-dns-records/reference/dns-record-types/#txt>).
//! - MX preference is `priority`; SRV and CAA come from `data` when present,
//!   else from `content`.
//! - A proxied A/AAAA/CNAME reads as its origin value: what is compared is
//!   what the file declares, not the anycast addresses Cloudflare answers with.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use mailform_contract::dns::{parse_character_strings, split_txt};
use mailform_contract::name::normalize_name;
use mailform_contract::{ProviderError, RData, RecordSet, RecordType};

use crate::api::{Record, RecordBody};

/// What `ttl: 1` (automatic) reads as.
pub const AUTO_TTL: u32 = 300;

/// Whether Cloudflare can proxy records of this type.
pub fn proxiable(rtype: &RecordType) -> bool {
    matches!(rtype, RecordType::A | RecordType::Aaaa | RecordType::Cname)
}

/// A record's TTL in seconds, automatic mapped to [`AUTO_TTL`].
pub fn live_ttl(rec: &Record) -> u32 {
    if rec.ttl <= 1 || rec.proxied {
        AUTO_TTL
    } else {
        rec.ttl
    }
}

/// The record's name, normalised.
pub fn record_name(rec: &Record) -> String {
    normalize_name(&rec.name)
}

/// The record's type.
pub fn record_type(rec: &Record) -> RecordType {
    RecordType::parse(&rec.rtype)
}

/// The record's data.
pub fn to_rdata(rec: &Record) -> Result<RData, ProviderError> {
    let rtype = record_type(rec);
    let bad = |m: &str| {
        ProviderError::Parse(format!(
            "Cloudflare record {} {} {}: {m}",
            rec.name, rec.rtype, rec.id
        ))
    };
    let num = |v: Option<&Value>| v.and_then(Value::as_f64).map(|f| f as i64);
    let data = rec.data.as_ref();
    match rtype {
        RecordType::Txt => Ok(RData::Txt {
            chunks: decode_txt(&rec.content),
        }),
        RecordType::Mx => Ok(RData::Mx {
            preference: rec
                .priority
                .ok_or_else(|| bad("MX record without priority"))?,
            exchange: normalize_name(rec.content.trim()),
        }),
        RecordType::Srv => {
            if let Some(d) = data.filter(|d| d.get("target").is_some()) {
                let field = |k: &str| {
                    num(d.get(k))
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| bad(&format!("SRV data without a valid {k}")))
                };
                Ok(RData::Srv {
                    priority: field("priority").or_else(|e| rec.priority.ok_or(e))?,
                    weight: field("weight")?,
                    port: field("port")?,
                    target: normalize_name(d.get("target").and_then(Value::as_str).unwrap_or("")),
                })
            } else {
                // content is "weight port target", the priority beside it.
                let text = format!("{} {}", rec.priority.unwrap_or(0), rec.content);
                RData::parse(&RecordType::Srv, &text).map_err(|e| bad(&e.to_string()))
            }
        }
        RecordType::Caa => {
            if let Some(d) = data.filter(|d| d.get("tag").is_some()) {
                Ok(RData::Caa {
                    flags: num(d.get("flags"))
                        .and_then(|n| u8::try_from(n).ok())
                        .unwrap_or(0),
                    tag: d
                        .get("tag")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    value: d
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                })
            } else {
                RData::parse(&RecordType::Caa, &rec.content).map_err(|e| bad(&e.to_string()))
            }
        }
        RecordType::Other(t) => Ok(RData::Other {
            rtype: t,
            text: rec.content.trim().to_string(),
        }),
        other => RData::parse(&other, &rec.content).map_err(|e| bad(&e.to_string())),
    }
}

/// Groups records into record sets, sorted by (name, type).
pub fn record_sets(records: &[Record]) -> Result<Vec<RecordSet>, ProviderError> {
    let mut sets: BTreeMap<(String, RecordType), RecordSet> = BTreeMap::new();
    for rec in records {
        let key = (record_name(rec), record_type(rec));
        let value = to_rdata(rec)?;
        let ttl = live_ttl(rec);
        let set = sets.entry(key.clone()).or_insert_with(|| RecordSet {
            name: key.0.clone(),
            rtype: key.1.clone(),
            ttl,
            values: Vec::new(),
        });
        set.ttl = set.ttl.min(ttl);
        set.values.push(value);
    }
    Ok(sets.into_values().collect())
}

/// TXT content as character-strings: quoted strings when the content is
/// written that way, else the whole content as one text.
pub fn decode_txt(content: &str) -> Vec<String> {
    let t = content.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        if let Ok(chunks) = parse_character_strings(t) {
            return chunks;
        }
    }
    split_txt(content)
}

/// Character-strings as quoted TXT content: `"a" "b"`, escaping only `"`
/// and `\` so that non-ASCII text stays readable in the dashboard.
pub fn encode_txt(chunks: &[String]) -> String {
    let quote = |c: &str| format!("\"{}\"", c.replace('\\', "\\\\").replace('"', "\\\""));
    let chunks: Vec<String> = chunks.iter().flat_map(|c| split_txt(c)).collect::<Vec<_>>();
    if chunks.is_empty() {
        return "\"\"".to_string();
    }
    chunks
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body that writes `value` as one record of `name`. `proxied` is sent
/// only for types that can be proxied.
pub fn body_for(
    name: &str,
    value: &RData,
    ttl: u32,
    proxied: bool,
) -> Result<RecordBody, ProviderError> {
    let rtype = value.rtype();
    let mut body = RecordBody {
        rtype: rtype.as_str().to_string(),
        name: name.to_string(),
        content: None,
        // Cloudflare keeps proxied records automatic whatever is sent.
        ttl: if proxied && proxiable(&rtype) { 1 } else { ttl },
        proxied: proxiable(&rtype).then_some(proxied),
        priority: None,
        data: None,
    };
    match value {
        RData::A { address } => body.content = Some(address.to_string()),
        RData::Aaaa { address } => body.content = Some(address.to_string()),
        RData::Cname { target } | RData::Ns { target } => body.content = Some(target.clone()),
        RData::Mx {
            preference,
            exchange,
        } => {
            body.content = Some(if exchange.is_empty() {
                ".".into()
            } else {
                exchange.clone()
            });
            body.priority = Some(*preference);
        }
        RData::Txt { chunks } => body.content = Some(encode_txt(chunks)),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            body.data = Some(json!({
                "priority": priority, "weight": weight, "port": port,
                "target": if target.is_empty() { "." } else { target.as_str() },
            }))
        }
        RData::Caa { flags, tag, value } => {
            body.data = Some(json!({"flags": flags, "tag": tag, "value": value}))
        }
        RData::Other { rtype, text } => {
            return Err(ProviderError::Unsupported(format!(
                "mailform cannot write {rtype} records to Cloudflare ({name} {text})"
            )))
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rtype: &str, name: &str, content: &str, ttl: u32) -> Record {
        Record {
            id: "1".into(),
            rtype: rtype.into(),
            name: name.into(),
            content: content.into(),
            ttl,
            proxied: false,
            priority: None,
            data: None,
            comment: None,
            tags: vec![],
        }
    }

    #[test]
    fn txt_reads_quoted_and_unquoted_alike() {
        let long = "k".repeat(300);
        let quoted = decode_txt(&format!("\"{}\" \"{}\"", &long[..255], &long[255..]));
        let bare = decode_txt(&long);
        assert_eq!(quoted.concat(), long);
        assert_eq!(bare.concat(), long);
        assert!(bare.iter().all(|c| c.len() <= 255));
        assert_eq!(
            decode_txt("v=spf1 include:_spf.google.com ~all"),
            vec!["v=spf1 include:_spf.google.com ~all"]
        );
        assert_eq!(decode_txt(r#""say \"hi\"""#), vec![r#"say "hi""#]);
        let enc = encode_txt(std::slice::from_ref(&long));
        assert_eq!(decode_txt(&enc).concat(), long);
        assert_eq!(
            decode_txt(&encode_txt(&["a\"b\\c é".to_string()])),
            vec!["a\"b\\c é"]
        );
    }

    #[test]
    fn automatic_ttl_reads_as_300_and_sets_take_the_smallest() {
        let mut a = rec("A", "WWW.example.com", "192.0.2.1", 1);
        assert_eq!(live_ttl(&a), AUTO_TTL);
        a.ttl = 3600;
        a.proxied = true;
        assert_eq!(live_ttl(&a), AUTO_TTL);
        let sets = record_sets(&[
            rec("A", "www.example.com", "192.0.2.1", 600),
            rec("A", "www.example.com.", "192.0.2.2", 120),
        ])
        .unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].ttl, 120);
        assert_eq!(sets[0].name, "www.example.com");
    }

    #[test]
    fn structured_types_round_trip_through_bodies() {
        let cases = [
            (RecordType::Mx, "10 MX1.Example.com."),
            (RecordType::Srv, "0 5 443 autodiscover.example.com."),
            (RecordType::Caa, "0 issue \"letsencrypt.org\""),
            (RecordType::Txt, "\"v=DKIM1; k=rsa\" \"p=abc\""),
            (RecordType::Cname, "ghs.googlehosted.com."),
            (RecordType::Aaaa, "2001:db8::1"),
            (RecordType::Ns, "ns1.example.net."),
        ];
        for (t, text) in cases {
            let v = RData::parse(&t, text).unwrap();
            let b = body_for("x.example.com", &v, 300, false).unwrap();
            let back = Record {
                id: "1".into(),
                rtype: b.rtype.clone(),
                name: b.name.clone(),
                content: b.content.clone().unwrap_or_default(),
                ttl: b.ttl,
                proxied: false,
                priority: b.priority,
                data: b.data.clone(),
                comment: None,
                tags: vec![],
            };
            assert_eq!(
                to_rdata(&back).unwrap().canonical(),
                v.canonical(),
                "{text}"
            );
            assert_eq!(b.proxied.is_some(), proxiable(&t));
        }
    }

    #[test]
    fn srv_and_caa_read_from_content_without_data() {
        let mut s = rec(
            "SRV",
            "_imaps._tcp.example.com",
            "5 993 imap.example.com",
            300,
        );
        s.priority = Some(10);
        assert_eq!(
            to_rdata(&s).unwrap().presentation(),
            "10 5 993 imap.example.com."
        );
        let c = rec("CAA", "example.com", "0 issuewild \";\"", 300);
        assert_eq!(to_rdata(&c).unwrap().presentation(), "0 issuewild \";\"");
        let mx = rec("MX", "example.com", "mx.example.com", 300);
        assert!(
            to_rdata(&mx).is_err(),
            "MX without priority is unreadable, not guessed"
        );
    }

    #[test]
    fn proxied_is_kept_and_forces_automatic_ttl() {
        let v = RData::parse(&RecordType::A, "192.0.2.1").unwrap();
        let b = body_for("a.example.com", &v, 3600, true).unwrap();
        assert_eq!((b.proxied, b.ttl), (Some(true), 1));
        let t = RData::txt("x");
        assert_eq!(
            body_for("a.example.com", &t, 3600, true).unwrap().proxied,
            None
        );
    }
}
