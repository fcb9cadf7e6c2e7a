//! DNS live state and changes: record sets keyed by (name, type).
//!
//! Values are held typed ([`RData`]) and compared through
//! [`RData::canonical`], so that two spellings that mean the same thing — a
//! TXT value split into different 255-byte chunks, a target with or without
//! the trailing dot, upper-case names, another order of values — compare
//! equal and produce no change.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::name::normalize_name;

/// A DNS record type. The types mail needs are named; anything else a zone
/// holds (PTR, DS, SSHFP, ...) is carried as [`RecordType::Other`] so that a
/// provider can read and write it back untouched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Srv,
    Caa,
    Ns,
    Soa,
    Other(String),
}

impl RecordType {
    /// The types a mailform YAML file can declare.
    pub const DECLARABLE: [RecordType; 8] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Srv,
        RecordType::Caa,
        RecordType::Ns,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Srv => "SRV",
            RecordType::Caa => "CAA",
            RecordType::Ns => "NS",
            RecordType::Soa => "SOA",
            RecordType::Other(s) => s,
        }
    }

    /// Parses a type mnemonic, case-insensitively.
    pub fn parse(s: &str) -> RecordType {
        match s.to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            "CNAME" => RecordType::Cname,
            "MX" => RecordType::Mx,
            "TXT" => RecordType::Txt,
            "SRV" => RecordType::Srv,
            "CAA" => RecordType::Caa,
            "NS" => RecordType::Ns,
            "SOA" => RecordType::Soa,
            other => RecordType::Other(other.to_string()),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RecordType> for String {
    fn from(t: RecordType) -> String {
        t.as_str().to_string()
    }
}

impl From<String> for RecordType {
    fn from(s: String) -> RecordType {
        RecordType::parse(&s)
    }
}

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
pub enum RData {
    A {
        address: Ipv4Addr,
    },
    Aaaa {
        address: Ipv6Addr,
    },
    /// Names are absolute, lower-case, without the trailing dot.
    Cname {
        target: String,
    },
    Ns {
        target: String,
    },
    Mx {
        preference: u16,
        exchange: String,
    },
    /// A TXT record as its character-strings (each at most 255 bytes).
    /// Chunking does not take part in comparison.
    Txt {
        chunks: Vec<String>,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Caa {
        flags: u8,
        tag: String,
        value: String,
    },
    /// Any other type, in presentation format (as in a zone file).
    Other {
        rtype: String,
        text: String,
    },
}

/// Error from parsing presentation-format record data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RDataParseError(pub String);

impl RData {
    pub fn rtype(&self) -> RecordType {
        match self {
            RData::A { .. } => RecordType::A,
            RData::Aaaa { .. } => RecordType::Aaaa,
            RData::Cname { .. } => RecordType::Cname,
            RData::Ns { .. } => RecordType::Ns,
            RData::Mx { .. } => RecordType::Mx,
            RData::Txt { .. } => RecordType::Txt,
            RData::Srv { .. } => RecordType::Srv,
            RData::Caa { .. } => RecordType::Caa,
            RData::Other { rtype, .. } => RecordType::parse(rtype),
        }
    }

    /// A TXT value split into character-strings of at most 255 bytes, never
    /// inside a UTF-8 sequence.
    pub fn txt(value: &str) -> RData {
        RData::Txt {
            chunks: split_txt(value),
        }
    }

    /// The string two values are compared by: equal canonical strings mean
    /// the same record data.
    pub fn canonical(&self) -> String {
        match self {
            RData::Txt { chunks } => chunks.concat(),
            RData::Other { text, .. } => text.split_whitespace().collect::<Vec<_>>().join(" "),
            other => other.presentation(),
        }
    }

    /// The value in zone-file presentation format, names fully qualified
    /// with the trailing dot (`10 mx1.example.com.`).
    pub fn presentation(&self) -> String {
        match self {
            RData::A { address } => address.to_string(),
            RData::Aaaa { address } => address.to_string(),
            RData::Cname { target } | RData::Ns { target } => fqdn(target),
            RData::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", fqdn(exchange)),
            RData::Txt { chunks } => {
                if chunks.is_empty() {
                    "\"\"".to_string()
                } else {
                    chunks
                        .iter()
                        .map(|c| quote_txt(c))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", fqdn(target)),
            RData::Caa { flags, tag, value } => {
                format!("{flags} {} {}", tag.to_ascii_lowercase(), quote_txt(value))
            }
            RData::Other { text, .. } => text.clone(),
        }
    }

    /// Parses presentation-format data for `rtype`. Names must be absolute
    /// (a trailing dot is optional).
    pub fn parse(rtype: &RecordType, text: &str) -> Result<RData, RDataParseError> {
        let err = |m: &str| RDataParseError(format!("invalid {rtype} value {text:?}: {m}"));
        let fields: Vec<&str> = text.split_whitespace().collect();
        let name = |s: &str| -> Result<String, RDataParseError> {
            let n = normalize_name(s);
            if n.is_empty() && s != "." {
                return Err(err("empty name"));
            }
            Ok(n)
        };
        match rtype {
            RecordType::A => Ok(RData::A {
                address: text
                    .trim()
                    .parse()
                    .map_err(|_| err("not an IPv4 address"))?,
            }),
            RecordType::Aaaa => Ok(RData::Aaaa {
                address: text
                    .trim()
                    .parse()
                    .map_err(|_| err("not an IPv6 address"))?,
            }),
            RecordType::Cname | RecordType::Ns => {
                if fields.len() != 1 {
                    return Err(err("expected one domain name"));
                }
                let target = name(fields[0])?;
                Ok(if *rtype == RecordType::Cname {
                    RData::Cname { target }
                } else {
                    RData::Ns { target }
                })
            }
            RecordType::Mx => {
                let [pref, host] = fields[..] else {
                    return Err(err(
                        "expected `<preference> <host>`, e.g. `10 mx1.example.com.`",
                    ));
                };
                Ok(RData::Mx {
                    preference: pref
                        .parse()
                        .map_err(|_| err("preference must be a number from 0 to 65535"))?,
                    exchange: name(host)?,
                })
            }
            RecordType::Srv => {
                let [p, w, port, target] = fields[..] else {
                    return Err(err("expected `<priority> <weight> <port> <target>`"));
                };
                let num = |s: &str| {
                    s.parse::<u16>().map_err(|_| {
                        err("priority, weight and port must be numbers from 0 to 65535")
                    })
                };
                Ok(RData::Srv {
                    priority: num(p)?,
                    weight: num(w)?,
                    port: num(port)?,
                    target: name(target)?,
                })
            }
            RecordType::Txt => Ok(RData::Txt {
                chunks: parse_character_strings(text).map_err(|m| err(&m))?,
            }),
            RecordType::Caa => {
                let mut parts = text.trim().splitn(3, char::is_whitespace);
                let (Some(flags), Some(tag), Some(value)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(err(
                        "expected `<flags> <tag> <value>`, e.g. `0 issue \"letsencrypt.org\"`",
                    ));
                };
                let value = parse_character_strings(value.trim()).map_err(|m| err(&m))?;
                Ok(RData::Caa {
                    flags: flags
                        .parse()
                        .map_err(|_| err("flags must be a number from 0 to 255"))?,
                    tag: tag.to_ascii_lowercase(),
                    value: value.concat(),
                })
            }
            RecordType::Soa | RecordType::Other(_) => Ok(RData::Other {
                rtype: rtype.as_str().to_string(),
                text: text.trim().to_string(),
            }),
        }
    }
}

fn fqdn(name: &str) -> String {
    if name.is_empty() {
        ".".to_string()
    } else {
        format!("{name}.")
    }
}

/// Splits a TXT value into chunks of at most 255 bytes on UTF-8 boundaries.
pub fn split_txt(value: &str) -> Vec<String> {
    if value.is_empty() {
        return vec![String::new()];
    }
    let mut chunks = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(255);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        chunks.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    chunks
}

/// Quotes one character-string for a zone file, escaping `"` and `\` and
/// writing bytes outside printable ASCII as `\DDD`.
pub fn quote_txt(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// Parses zone-file character-strings: quoted (`"a b" "c"`) or bare words,
/// with `\"`, `\\` and `\DDD` escapes.
pub fn parse_character_strings(text: &str) -> Result<Vec<String>, String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut buf: Vec<u8> = Vec::new();
        let mut closed = !quoted;
        while i < bytes.len() {
            let b = bytes[i];
            if quoted && b == b'"' {
                closed = true;
                i += 1;
                break;
            }
            if !quoted && b.is_ascii_whitespace() {
                break;
            }
            if b == b'\\' {
                let digits = &bytes[i + 1..bytes.len().min(i + 4)];
                if digits.len() == 3 && digits.iter().all(u8::is_ascii_digit) {
                    let v: u32 = std::str::from_utf8(digits)
                        .unwrap_or("0")
                        .parse()
                        .unwrap_or(0);
                    if v > 255 {
                        return Err(format!("escape \\{v} is out of range"));
                    }
                    buf.push(v as u8);
                    i += 4;
                    continue;
                }
                if let Some(&next) = bytes.get(i + 1) {
                    buf.push(next);
                    i += 2;
                    continue;
                }
                return Err("dangling backslash".into());
            }
            buf.push(b);
            i += 1;
        }
        if !closed {
            return Err("unterminated quoted string".into());
        }
        out.push(String::from_utf8(buf).map_err(|_| "TXT data is not valid UTF-8".to_string())?);
    }
    if out.is_empty() {
        out.push(String::new());
    }
    Ok(out)
}

/// All records of one (name, type) at one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    /// Absolute, lower-case, no trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: RecordType,
    pub ttl: u32,
    pub values: Vec<RData>,
}

impl RecordSet {
    /// A set from presentation-format values, e.g.
    /// `RecordSet::parse("example.com", "MX", 300, &["10 mx1.example.com."])`.
    pub fn parse(
        name: &str,
        rtype: &str,
        ttl: u32,
        values: &[&str],
    ) -> Result<RecordSet, RDataParseError> {
        let rtype = RecordType::parse(rtype);
        Ok(RecordSet {
            name: normalize_name(name),
            values: values
                .iter()
                .map(|v| RData::parse(&rtype, v))
                .collect::<Result<_, _>>()?,
            rtype,
            ttl,
        })
    }

    /// The sorted, de-duplicated canonical values: what a set is compared by.
    pub fn canonical_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self.values.iter().map(RData::canonical).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether two sets mean the same records with the same TTL.
    pub fn same_as(&self, other: &RecordSet) -> bool {
        self.name == other.name
            && self.rtype == other.rtype
            && self.ttl == other.ttl
            && self.canonical_values() == other.canonical_values()
    }

    pub fn key(&self) -> (String, RecordType) {
        (self.name.clone(), self.rtype.clone())
    }
}

/// What a DNS provider holds for one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneState {
    /// The zone name, absolute, lower-case, no trailing dot.
    pub zone: String,
    /// False when the provider has no such zone yet; applying creates it.
    pub exists: bool,
    /// Every record set in the zone, SOA included, in any order.
    pub records: Vec<RecordSet>,
}

/// One change to one record set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum DnsChange {
    Create { new: RecordSet },
    Update { old: RecordSet, new: RecordSet },
    Delete { old: RecordSet },
}

impl DnsChange {
    /// The (name, type) the change is about.
    pub fn key(&self) -> (String, RecordType) {
        match self {
            DnsChange::Create { new } | DnsChange::Update { new, .. } => new.key(),
            DnsChange::Delete { old } => old.key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_chunking_does_not_change_meaning() {
        let long = "k".repeat(600);
        let a = RData::txt(&long);
        let RData::Txt { chunks } = &a else { panic!() };
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.len() <= 255));
        let b = RData::Txt {
            chunks: vec![long[..100].to_string(), long[100..].to_string()],
        };
        assert_eq!(a.canonical(), b.canonical());
    }

    #[test]
    fn split_respects_utf8() {
        let v = "邮".repeat(200);
        for c in split_txt(&v) {
            assert!(c.len() <= 255);
        }
        assert_eq!(split_txt(&v).concat(), v);
    }

    #[test]
    fn presentation_round_trips() {
        let cases = [
            (RecordType::Mx, "10 MX1.Example.com."),
            (
                RecordType::Txt,
                r#""v=spf1 -all" "with \"quote\" and \\ and \195\169""#,
            ),
            (RecordType::Srv, "10 5 443 autodiscover.example.com."),
            (RecordType::Caa, r#"0 issue "letsencrypt.org""#),
            (RecordType::Aaaa, "2001:db8::1"),
        ];
        for (t, text) in cases {
            let r = RData::parse(&t, text).unwrap();
            let again = RData::parse(&t, &r.presentation()).unwrap();
            assert_eq!(r, again, "{text}");
        }
        let RData::Txt { chunks } = RData::parse(&RecordType::Txt, r#""a\"b" "é""#).unwrap()
        else {
            panic!()
        };
        assert_eq!(chunks, vec!["a\"b".to_string(), "é".to_string()]);
    }

    #[test]
    fn set_comparison_ignores_order_and_case() {
        let a = RecordSet {
            name: "example.com".into(),
            rtype: RecordType::Mx,
            ttl: 300,
            values: vec![
                RData::parse(&RecordType::Mx, "10 a.example.com").unwrap(),
                RData::parse(&RecordType::Mx, "20 b.example.com").unwrap(),
            ],
        };
        let mut b = a.clone();
        b.values.reverse();
        b.values[0] = RData::parse(&RecordType::Mx, "20 B.EXAMPLE.COM.").unwrap();
        assert!(a.same_as(&b));
        b.ttl = 600;
        assert!(!a.same_as(&b));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(RData::parse(&RecordType::A, "300.1.1.1").is_err());
        assert!(RData::parse(&RecordType::Mx, "mx.example.com").is_err());
        assert!(RData::parse(&RecordType::Txt, "\"open").is_err());
    }
}
