//! Reads a zone file into the contract's record sets.
//!
//! The file is split into entries by [`crate::entries`], handed to
//! hickory-proto's zone-file parser (which resolves `$ORIGIN`, `$TTL`,
//! relative names, `@`, blank owners and TTL/class defaults), and the result
//! is converted to [`RecordSet`]s grouped by (name, type). Record types the
//! contract models are converted to typed [`RData`]; SOA becomes
//! [`RData::Other`] from hickory's fields; every other type is passed through
//! hickory as a placeholder and keeps its record data exactly as written, so
//! that writing the file back loses nothing and does not depend on which
//! types hickory can parse.

use std::collections::BTreeMap;
use std::path::Path;

use hickory_proto::rr::{self as hrr, Name};
use hickory_proto::serialize::txt::{parse_ttl, Parser};
use mailform_contract::name::normalize_name;
use mailform_contract::{ProviderError, RData, RecordSet, RecordType};

use crate::entries::{decode_bare, quote_bytes, split_entries, Entry, Token};

/// The types converted through hickory's own parser. Everything else is
/// carried as written.
const PARSED_TYPES: [&str; 9] = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "SOA"];

/// Marks the HINFO records that stand in for types carried as written. All
/// real HINFO records are themselves carried as written, so every HINFO
/// hickory sees is a placeholder; the marker only guards against mistakes.
const PLACEHOLDER: &str = "\u{1}mailform-placeholder";

const CLASSES: [&str; 5] = ["IN", "CH", "HS", "CS", "NONE"];

/// Parses the text of the zone file of `zone` (named `file` in messages).
pub(crate) fn parse_zone(
    text: &str,
    zone: &str,
    file: &Path,
) -> Result<Vec<RecordSet>, ProviderError> {
    let at = |line: usize, message: &str| {
        ProviderError::Parse(format!("{}:{line}: {message}", file.display()))
    };
    let entries = split_entries(text).map_err(|e| at(e.line, &e.message))?;
    let prepared = prepare(&entries, zone).map_err(|(line, m)| at(line, &m))?;
    let origin = Name::from_ascii(format!("{zone}."))
        .map_err(|e| ProviderError::Rejected(format!("invalid zone name {zone:?}: {e}")))?;

    let parsed = match run_hickory(&prepared.lines, prepared.lines.len(), &origin) {
        Ok(parsed) => parsed,
        Err(full_error) => {
            let (line, message) = locate_error(&prepared.lines, &origin, full_error);
            return Err(at(line, &message));
        }
    };

    let mut grouped: BTreeMap<(String, RecordType), (u32, Vec<RData>)> = BTreeMap::new();
    for set in parsed.values() {
        for record in set.records_without_rrsigs() {
            let name = name_of(&record.name);
            let rdata = convert(&record.data, &prepared.carried)
                .map_err(|m| ProviderError::Parse(format!("{}: {name}: {m}", file.display())))?;
            // RFC 2181 5.2: records of one set with different TTLs are to be
            // treated as if all had the lowest.
            let entry = grouped
                .entry((name, rdata.rtype()))
                .or_insert((record.ttl, Vec::new()));
            entry.0 = entry.0.min(record.ttl);
            if !entry.1.iter().any(|v| v.canonical() == rdata.canonical()) {
                entry.1.push(rdata);
            }
        }
    }
    Ok(grouped
        .into_iter()
        .map(|((name, rtype), (ttl, values))| RecordSet {
            name,
            rtype,
            ttl,
            values,
        })
        .collect())
}

/// The text handed to hickory, one line per entry, and the record data of
/// the entries carried as written.
struct Prepared {
    /// (line in the file, text for hickory)
    lines: Vec<(usize, String)>,
    /// (type mnemonic, record data as written)
    carried: Vec<(String, String)>,
}

fn prepare(entries: &[Entry], zone: &str) -> Result<Prepared, (usize, String)> {
    let mut lines = Vec::with_capacity(entries.len());
    let mut carried = Vec::new();
    // Tracked only to expand `@` inside record data, which hickory's lexer
    // refuses there.
    let mut origin = format!("{zone}.");

    for entry in entries.iter().filter(|e| !e.tokens.is_empty()) {
        let err = |m: String| (entry.line, m);
        let words: Vec<&str> = entry
            .tokens
            .iter()
            .map(|t| match t {
                Token::Bare(w) => w.as_str(),
                Token::Quoted(_) => "",
            })
            .collect();

        if !entry.blank_owner && words[0].starts_with('$') {
            let directive = words[0].to_ascii_uppercase();
            let unsupported = match directive.as_str() {
                "$ORIGIN" | "$TTL" => None,
                "$INCLUDE" => Some(
                    "$INCLUDE is not supported in a zone file mailform manages: \
                     mailform writes the whole file back and would inline the included \
                     records; merge them into this file"
                        .to_string(),
                ),
                "$GENERATE" => Some(
                    "$GENERATE is not supported in a zone file mailform manages: mailform \
                     writes the whole file back and would expand the generated records; \
                     write them out, or keep them in a zone mailform does not manage"
                        .to_string(),
                ),
                _ => Some(format!(
                    "the directive {directive} is not supported (mailform reads $ORIGIN and $TTL)"
                )),
            };
            if let Some(message) = unsupported {
                return Err(err(message));
            }
            let arg = match (entry.tokens.get(1), entry.tokens.len()) {
                (Some(Token::Bare(a)), 2) => a.as_str(),
                _ => return Err(err(format!("{directive} takes exactly one argument"))),
            };
            match directive.as_str() {
                "$ORIGIN" => {
                    origin = if arg.ends_with('.') {
                        arg.to_string()
                    } else {
                        // hickory would take a relative $ORIGIN as absolute;
                        // RFC 1035 appends the current origin.
                        format!("{arg}.{origin}")
                    };
                    lines.push((entry.line, format!("$ORIGIN {origin}")));
                }
                "$TTL" => {
                    parse_ttl(arg).map_err(|e| err(format!("invalid $TTL: {e}")))?;
                    lines.push((entry.line, format!("$TTL {arg}")));
                }
                _ => {}
            }
            continue;
        }

        let mut i = 0;
        let mut out = String::new();
        if entry.blank_owner {
            out.push(' ');
        } else {
            let Token::Bare(owner) = &entry.tokens[0] else {
                return Err(err("an owner name cannot be a quoted string".into()));
            };
            out.push_str(owner);
            i = 1;
        }
        while i < entry.tokens.len() {
            let w = words[i];
            let upper = w.to_ascii_uppercase();
            if !w.is_empty() && parse_ttl(w).is_ok() {
                out.push(' ');
                out.push_str(w);
            } else if CLASSES.contains(&upper.as_str()) {
                if upper != "IN" {
                    return Err(err(format!("class {upper} is not supported, only IN")));
                }
                out.push_str(" IN");
            } else {
                break;
            }
            i += 1;
        }
        let Some(Token::Bare(rtype)) = entry.tokens.get(i) else {
            return Err(err("missing record type".into()));
        };
        let rtype = rtype.to_ascii_uppercase();
        let rdata = &entry.tokens[i + 1..];
        if rdata.is_empty() {
            return Err(err(format!("{rtype} record without data")));
        }

        if PARSED_TYPES.contains(&rtype.as_str()) {
            out.push(' ');
            out.push_str(&rtype);
            let text_data = rtype == "TXT" || rtype == "CAA";
            for token in rdata {
                out.push(' ');
                match token {
                    Token::Bare(w) if text_data => {
                        let bytes = decode_bare(w).map_err(err)?;
                        out.push_str(&quote_for_hickory(&bytes).map_err(err)?);
                    }
                    Token::Bare(w) if w == "@" => out.push_str(&origin),
                    Token::Bare(w) => out.push_str(w),
                    Token::Quoted(bytes) => out.push_str(&quote_for_hickory(bytes).map_err(err)?),
                }
            }
        } else {
            let text: Vec<String> = rdata
                .iter()
                .map(|t| match t {
                    Token::Bare(w) => w.clone(),
                    Token::Quoted(bytes) => quote_bytes(bytes),
                })
                .collect();
            out.push_str(&format!(" HINFO \"{PLACEHOLDER}\" \"{}\"", carried.len()));
            carried.push((rtype, text.join(" ")));
        }
        lines.push((entry.line, out));
    }
    Ok(Prepared { lines, carried })
}

/// Quotes text for hickory's lexer, which decodes `\"` and `\\` correctly
/// but not `\DDD`; the bytes must therefore be UTF-8 and are written raw.
fn quote_for_hickory(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "text data that is not UTF-8 is not supported".to_string())?;
    Ok(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

type HickorySets = BTreeMap<hrr::RrKey, hrr::RecordSet>;

fn run_hickory(
    lines: &[(usize, String)],
    count: usize,
    origin: &Name,
) -> Result<HickorySets, String> {
    let mut text = String::new();
    for (_, line) in &lines[..count] {
        text.push_str(line);
        text.push('\n');
    }
    Parser::new(text, None, Some(origin.clone()))
        .parse()
        .map(|(_, sets)| sets)
        .map_err(|e| e.to_string())
}

/// hickory's errors carry no position. Every prefix of the entries is a
/// complete zone text, and one fails exactly when it holds the failing
/// entry, so a binary search over prefixes finds that entry's line.
fn locate_error(lines: &[(usize, String)], origin: &Name, full_error: String) -> (usize, String) {
    let (mut ok, mut bad) = (0, lines.len());
    let mut message = full_error;
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        match run_hickory(lines, mid, origin) {
            Ok(_) => ok = mid,
            Err(m) => {
                bad = mid;
                message = m;
            }
        }
    }
    let line = lines.get(bad.saturating_sub(1)).map_or(1, |(l, _)| *l);
    (line, message)
}

/// A hickory name as the contract writes names.
fn name_of(name: &Name) -> String {
    normalize_name(&name.to_lowercase().to_ascii())
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

fn convert(data: &hrr::RData, carried: &[(String, String)]) -> Result<RData, String> {
    Ok(match data {
        hrr::RData::A(a) => RData::A { address: a.0 },
        hrr::RData::AAAA(a) => RData::Aaaa { address: a.0 },
        hrr::RData::CNAME(c) => RData::Cname {
            target: name_of(&c.0),
        },
        hrr::RData::NS(n) => RData::Ns {
            target: name_of(&n.0),
        },
        hrr::RData::MX(mx) => RData::Mx {
            preference: mx.preference,
            exchange: name_of(&mx.exchange),
        },
        hrr::RData::SRV(srv) => RData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: name_of(&srv.target),
        },
        hrr::RData::TXT(txt) => RData::Txt {
            chunks: txt
                .txt_data
                .iter()
                .map(|c| utf8(c, "TXT data"))
                .collect::<Result<_, _>>()?,
        },
        hrr::RData::CAA(caa) => {
            let tag = caa.tag.to_ascii_lowercase();
            // RFC 8659 4.1.1: letters and digits only. Any other tag (a
            // space, a `;`, a control character) cannot be written back as
            // the same record, so it is refused rather than mangled.
            if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "CAA tag {tag:?} is not ASCII letters and digits (RFC 8659), e.g. \
                     `0 issue \"letsencrypt.org\"`"
                ));
            }
            RData::Caa {
                flags: caa.flags(),
                tag,
                value: utf8(&caa.value, "CAA value")?,
            }
        }
        hrr::RData::SOA(soa) => RData::Other {
            rtype: "SOA".to_string(),
            text: format!(
                "{}. {}. {} {} {} {} {}",
                name_of(&soa.mname),
                name_of(&soa.rname),
                soa.serial,
                soa.refresh,
                soa.retry,
                soa.expire,
                soa.minimum
            ),
        },
        hrr::RData::HINFO(h) if h.cpu.as_ref() == PLACEHOLDER.as_bytes() => {
            let (rtype, text) = std::str::from_utf8(&h.os)
                .ok()
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| carried.get(i))
                .ok_or("internal error: lost a record carried as written")?;
            RData::Other {
                rtype: rtype.clone(),
                text: text.clone(),
            }
        }
        other => {
            return Err(format!(
                "internal error: unexpected {} record",
                other.record_type()
            ))
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn parse(text: &str) -> Result<Vec<RecordSet>, ProviderError> {
        parse_zone(text, "example.com", Path::new("zones/example.com.zone"))
    }

    fn find<'a>(sets: &'a [RecordSet], name: &str, rtype: &str) -> &'a RecordSet {
        sets.iter()
            .find(|s| s.name == name && s.rtype == RecordType::parse(rtype))
            .unwrap_or_else(|| panic!("no {name} {rtype} in {sets:#?}"))
    }

    fn set(name: &str, rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet::parse(name, rtype, ttl, values).unwrap()
    }

    pub(crate) const DKIM: &str = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwq7m4b0Lk0Qe3bEj8ce2CkmTQTz1y1sEJ9w4b8ZPjzYGkO1QfCjxg4pdUnS2t0PyN1l7JfYvMuVYmbo5c1F9L1q3jX0Ff8HlHcE6nE0Y6JzR3a2DpvRk9j8q7gM9Lw2Dz7iK4oXbG+3q8sS2H0n6X5wPZg0dZcG1pM7YqzBvN6bQIDAQAB";

    /// A hand-written zone with the constructs real files have.
    pub(crate) const REALISTIC: &str = include_str!("../tests/data/example.com.zone");

    #[test]
    fn parses_a_realistic_zone() {
        let sets = parse(REALISTIC).unwrap();
        let expected = [
            set(
                "example.com",
                "SOA",
                3600,
                &["ns1.example.net. hostmaster.example.com. 2024061502 7200 3600 1209600 300"],
            ),
            set(
                "example.com",
                "NS",
                3600,
                &["ns1.example.net.", "ns2.example.net."],
            ),
            set(
                "example.com",
                "MX",
                300,
                &["10 mx1.example.com.", "20 mx2.example.com."],
            ),
            set(
                "example.com",
                "TXT",
                3600,
                &[r#""v=spf1 include:_spf.google.com ~all""#],
            ),
            set("www.example.com", "A", 600, &["192.0.2.10", "192.0.2.11"]),
            set("www.example.com", "AAAA", 600, &["2001:db8::10"]),
            set(
                "mail.example.com",
                "CNAME",
                3600,
                &["ghs.googlehosted.com."],
            ),
            set(
                "_dmarc.example.com",
                "TXT",
                3600,
                &[r#""v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com""#],
            ),
            set(
                "_submission._tcp.example.com",
                "SRV",
                3600,
                &["0 1 587 smtp.example.com."],
            ),
            set(
                "example.com",
                "CAA",
                3600,
                &[
                    r#"0 issue "letsencrypt.org""#,
                    r#"0 iodef "mailto:security@example.com""#,
                ],
            ),
            set(
                "host.example.com",
                "SSHFP",
                3600,
                &["1 1 123456789abcdef67890123456789abcdef67890"],
            ),
            set("mx1.example.com", "A", 3600, &["192.0.2.25"]),
            set(
                "example.com",
                "LOC",
                3600,
                &["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"],
            ),
            set("ptr.sub.example.com", "PTR", 3600, &["target.example.org."]),
            set(
                "note.sub.example.com",
                "TXT",
                3600,
                &[r#""café" "plain word""#],
            ),
        ];
        for want in &expected {
            let got = find(&sets, &want.name, want.rtype.as_str());
            assert!(got.same_as(want), "got {got:#?}\nwant {want:#?}");
        }
        let dkim = find(&sets, "google._domainkey.example.com", "TXT");
        assert_eq!(dkim.ttl, 300);
        let RData::Txt { chunks } = &dkim.values[0] else {
            panic!("{dkim:?}")
        };
        assert_eq!(chunks, &[DKIM[..200].to_string(), DKIM[200..].to_string()]);
        assert_eq!(sets.len(), expected.len() + 1);
        // Typed where the contract has a type, and in order of the file.
        assert_eq!(
            find(&sets, "www.example.com", "A").values[0],
            RData::A {
                address: Ipv4Addr::new(192, 0, 2, 10)
            }
        );
    }

    #[test]
    fn unknown_types_are_carried_as_written() {
        let sets = parse(
            "$TTL 300\n@ SOA ns1.example.net. h.example.com. 1 2 3 4 5\n\
             @ LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m\n\
             x TYPE65000 \\# 2 ABCD\n\
             y HINFO \"PC\" \"Linux\"\n\
             z 60 IN SPF \"v=spf1 -all\"\n",
        )
        .unwrap();
        let value = |name: &str, t: &str| find(&sets, name, t).values[0].presentation();
        assert_eq!(
            value("example.com", "LOC"),
            "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"
        );
        assert_eq!(value("x.example.com", "TYPE65000"), "\\# 2 ABCD");
        assert_eq!(value("y.example.com", "HINFO"), "\"PC\" \"Linux\"");
        assert_eq!(value("z.example.com", "SPF"), "\"v=spf1 -all\"");
        assert_eq!(find(&sets, "z.example.com", "SPF").ttl, 60);
    }

    #[test]
    fn at_in_record_data_means_the_origin() {
        let sets = parse("$TTL 300\n@ MX 10 @\nsub CNAME @\n").unwrap();
        assert_eq!(
            find(&sets, "example.com", "MX").values[0].presentation(),
            "10 example.com."
        );
        assert_eq!(
            find(&sets, "sub.example.com", "CNAME").values[0].presentation(),
            "example.com."
        );
    }

    #[test]
    fn differing_ttls_in_a_set_take_the_lowest() {
        let sets = parse("a 300 A 192.0.2.1\na 60 A 192.0.2.2\n").unwrap();
        let a = find(&sets, "a.example.com", "A");
        assert_eq!(a.ttl, 60);
        assert_eq!(a.values.len(), 2);
    }

    /// Directives mailform does not read say so in words, whatever their
    /// arguments (once: "$GENERATE takes exactly one argument").
    #[test]
    fn unsupported_directives_say_so() {
        for (text, want) in [
            (
                "$GENERATE 1-10 host$ A 192.0.2.$\n",
                "$GENERATE is not supported",
            ),
            ("$GENERATE\n", "$GENERATE is not supported"),
            ("$INCLUDE\n", "$INCLUDE is not supported"),
            ("$FOO bar\n", "the directive $FOO is not supported"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?} gave {err}");
            assert!(!err.contains("takes exactly one argument"), "{err}");
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            (
                "$TTL 300\nwww A 192.0.2.1\nbad A 300.1.1.1\nok A 192.0.2.2\n",
                3,
            ),
            (
                "$TTL 300\n\n@ SOA ns1 h (\n 1 2 3 4\n x )\nwww A 192.0.2.1\n",
                3,
            ),
            ("$TTL 300\nmx MX ten mail\n", 2),
            ("$TTL 300\na A 192.0.2.1\n$INCLUDE other.zone\n", 3),
            ("$TTL 300\na CH A 192.0.2.1\n", 2),
            ("$TTL 300\na A 192.0.2.1\nb TXT \"open\n", 3),
            ("$TTL 300\na\n", 2),
            (
                "$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ SOA ns1 h 2 2 3 4 5\n",
                3,
            ),
        ];
        for (text, line) in cases {
            let err = parse(text).unwrap_err();
            let ProviderError::Parse(message) = &err else {
                panic!("{err:?}")
            };
            assert!(
                message.starts_with(&format!("zones/example.com.zone:{line}: ")),
                "{text:?} gave {message}"
            );
        }
    }

    /// Found by the `zonefile_read` fuzz target: a CAA tag that is a space
    /// (`\032`) was read, then written back as a different record.
    #[test]
    fn a_caa_tag_that_is_not_letters_and_digits_is_refused() {
        for text in [
            "$TTL 300\n@0 CAA 0 \\032 c\n",
            "$TTL 300\n@ CAA 0 a\\000b c\n",
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(&err, ProviderError::Parse(m) if m.contains("CAA tag") && m.contains("RFC 8659")),
                "{text:?} gave {err:?}"
            );
        }
        assert!(parse("$TTL 300\n@ CAA 0 issueWild \"ca.example\"\n").is_ok());
    }

    #[test]
    fn crlf_files_and_relative_origins() {
        let text = "$TTL 300\r\n$ORIGIN mail\r\n@ A 192.0.2.1\r\nx TXT ( \"a\"\r\n \"b\" )\r\n";
        let sets = parse(text).unwrap();
        assert_eq!(
            find(&sets, "mail.example.com", "A").values[0].presentation(),
            "192.0.2.1"
        );
        assert_eq!(
            find(&sets, "x.mail.example.com", "TXT").values[0].presentation(),
            "\"a\" \"b\""
        );
    }

    #[test]
    fn empty_file_has_no_records() {
        assert!(parse("; nothing yet\n").unwrap().is_empty());
    }
}
