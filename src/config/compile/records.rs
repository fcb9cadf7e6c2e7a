//! The `records:` section of a domain: names, types, TTLs and values
//! become record sets, with the checks RFC 1034/1035 impose on them (one
//! CNAME per name and nothing beside it, none at the apex, targets that are
//! host names in ASCII, TXT character-strings of at most 255 bytes, record
//! data of at most 65,535 bytes, no CNAME loops).

use std::collections::{BTreeMap, HashMap, HashSet};

use mailform_contract::dns::RData;
use mailform_contract::name::absolute_name;
use mailform_contract::{RecordSet, RecordType};
use serde_saphyr::Spanned;

use super::{check_ttl, resolve, Ctx};
use crate::config::diagnostic::{did_you_mean, key, Loc};
use crate::config::names::{check_record_name, check_target, TargetProblem};
use crate::config::records::{RecordSpec, RecordValue};
use crate::config::spanned_map::SpannedMap;
use crate::desired::{Declared, DesiredZone, Origin};

pub(super) fn compile_records(
    ctx: &mut Ctx,
    zone: &str,
    domain_path: &str,
    records: &SpannedMap<SpannedMap<RecordSpec>>,
    zone_ttl: u32,
) -> Vec<Declared<RecordSet>> {
    let mut out: Vec<Declared<RecordSet>> = Vec::new();
    let mut seen_names: HashMap<String, Loc> = HashMap::new();
    for (rel, name_loc, types) in records.iter() {
        let name_path = format!("{domain_path}.records.{}", key(rel));
        if let Err(e) = check_record_name(rel) {
            ctx.diags.error(
                name_loc,
                &name_path,
                format!("invalid record name `{rel}`: {e}"),
                Some("record names are relative to the domain: `@`, `www`, `_dmarc`, `selector1._domainkey`, `*.dev`".to_string()),
            );
            continue;
        }
        let abs = absolute_name(rel, zone);
        if let Some(first) = seen_names.insert(abs.clone(), name_loc) {
            ctx.diags.error(
                name_loc,
                &name_path,
                format!("record name `{rel}` is declared twice (first at line {}; names are case-insensitive)", first.line),
                Some("merge the two entries".to_string()),
            );
            continue;
        }
        let mut types_here: Vec<(RecordType, Loc)> = Vec::new();
        for (type_name, type_loc, spec) in types.iter() {
            let set_path = format!("{name_path}.{type_name}");
            let rtype = RecordType::parse(type_name);
            if !RecordType::DECLARABLE.contains(&rtype)
                || type_name != type_name.to_ascii_uppercase()
            {
                let known: Vec<&str> = RecordType::DECLARABLE.iter().map(|t| t.as_str()).collect();
                let fix = if RecordType::DECLARABLE.contains(&rtype) {
                    format!("write record types in upper case: `{}`", rtype.as_str())
                } else {
                    match did_you_mean(type_name, known.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? Record types: {}", known.join(", "))
                        }
                        None => format!("record types: {}", known.join(", ")),
                    }
                };
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!("unknown record type `{type_name}`"),
                    Some(fix),
                );
                continue;
            }
            let ttl = spec
                .ttl
                .as_ref()
                .map(|t| check_ttl(ctx, t, &format!("{set_path}.ttl")))
                .unwrap_or(zone_ttl);
            if spec.values.is_empty() {
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!("record set `{rel}` {type_name} has no values"),
                    Some("give at least one value, or remove the entry".to_string()),
                );
                continue;
            }
            let mut values = Vec::new();
            for v in &spec.values {
                if let Some(rdata) = compile_value(ctx, &rtype, v, &set_path) {
                    values.push(rdata);
                }
            }
            if values.len() != spec.values.len() {
                continue;
            }
            if rtype == RecordType::Cname && values.len() > 1 {
                ctx.diags.error(
                    type_loc,
                    &set_path,
                    format!(
                        "`{rel}` has {} CNAME values; a name can hold only one CNAME",
                        values.len()
                    ),
                    Some("keep one target".to_string()),
                );
                continue;
            }
            types_here.push((rtype.clone(), type_loc));
            out.push(Declared {
                item: RecordSet {
                    name: abs.clone(),
                    rtype,
                    ttl,
                    values,
                },
                origin: Origin {
                    loc: type_loc,
                    path: set_path,
                },
            });
        }
        if let Some((_, cname_loc)) = types_here.iter().find(|(t, _)| *t == RecordType::Cname) {
            if rel == "@" {
                ctx.diags.error(
                    *cname_loc,
                    &format!("{name_path}.CNAME"),
                    "a CNAME cannot be at the domain itself (`@`): the apex holds SOA and NS records",
                    Some("use A/AAAA records at `@`, or a provider's CNAME-flattening record type".to_string()),
                );
            } else if types_here.len() > 1 {
                let others: Vec<&str> = types_here
                    .iter()
                    .filter(|(t, _)| *t != RecordType::Cname)
                    .map(|(t, _)| t.as_str())
                    .collect();
                ctx.diags.error(
                    *cname_loc,
                    &format!("{name_path}.CNAME"),
                    format!("`{rel}` has a CNAME beside other data ({}); RFC 1034 allows nothing else at a CNAME's name", others.join(", ")),
                    Some("remove the CNAME, or move the other records to another name".to_string()),
                );
            }
        }
    }
    out
}

fn compile_value(
    ctx: &mut Ctx,
    rtype: &RecordType,
    value: &Spanned<RecordValue>,
    path: &str,
) -> Option<RData> {
    let rdata = parse_value(ctx, rtype, value, path)?;
    match check_rdata(&rdata) {
        Ok(()) => Some(rdata),
        Err((message, fix)) => {
            ctx.diags.error(Loc::of(value), path, message, Some(fix));
            None
        }
    }
}

/// RDLENGTH is 16 bits (RFC 1035 §3.2.1): a zone holding a record with
/// more data does not load at all.
const MAX_RDATA: usize = 65_535;

/// Checks what [`RData::parse`] leaves open: that the host names in the
/// data are names a zone file holds as written (so the value read back is
/// the value declared), and that the data fits in one record. Returns the
/// message and the fix.
pub(super) fn check_rdata(rdata: &RData) -> Result<(), (String, String)> {
    let rtype = rdata.rtype();
    if let Some(target) = target_of(rdata) {
        match check_target(target) {
            Ok(()) => {}
            Err(TargetProblem::NotAscii { ascii: Some(ascii) }) => {
                return Err((
                    format!("{rtype} target `{target}` is not ASCII: DNS carries host names in their xn-- (punycode) form, and a zone holding the raw UTF-8 serves other bytes than the file declares"),
                    format!("write `{}`, and check that the xn-- form names the host you meant (a look-alike letter from another script makes a different name)", with_target(rdata, &ascii).presentation()),
                ));
            }
            Err(TargetProblem::NotAscii { ascii: None }) => {
                return Err((
                    format!("{rtype} target `{target}` is not ASCII, nor a valid internationalised domain name"),
                    "write the host name in ASCII, with internationalised labels in their xn-- (punycode) form".to_string(),
                ));
            }
            Err(TargetProblem::Syntax(e)) => {
                return Err((
                    format!("{rtype} target `{target}` is not a host name a zone can hold: {e}"),
                    example_for(&rtype).to_string(),
                ));
            }
        }
    }
    let len = wire_len(rdata);
    if len > MAX_RDATA {
        let strings = match rdata {
            RData::Txt { chunks } => format!(" ({} strings)", chunks.len()),
            _ => String::new(),
        };
        return Err((
            format!("{rtype} value is {len} bytes on the wire{strings}; one record holds at most {MAX_RDATA} bytes of data (RFC 1035 §3.2.1), and a zone with a larger record does not load at all"),
            "shorten it, or spread the text over several values (each value is its own record)".to_string(),
        ));
    }
    Ok(())
}

/// The host name a record points at, if its type has one.
fn target_of(rdata: &RData) -> Option<&str> {
    match rdata {
        RData::Cname { target } | RData::Ns { target } | RData::Srv { target, .. } => Some(target),
        RData::Mx { exchange, .. } => Some(exchange),
        _ => None,
    }
}

fn with_target(rdata: &RData, name: &str) -> RData {
    let mut out = rdata.clone();
    match &mut out {
        RData::Cname { target } | RData::Ns { target } | RData::Srv { target, .. } => {
            *target = name.to_string()
        }
        RData::Mx { exchange, .. } => *exchange = name.to_string(),
        _ => {}
    }
    out
}

/// The length of the record's data in wire format, for the types whose
/// data the file can make long.
fn wire_len(rdata: &RData) -> usize {
    match rdata {
        RData::Txt { chunks } => chunks.iter().map(|c| 1 + c.len()).sum(),
        RData::Caa { tag, value, .. } => 2 + tag.len() + value.len(),
        _ => 0,
    }
}

/// A CNAME to itself, or a chain of CNAMEs in the file that comes back to
/// where it started: resolvers give up on such a name (SERVFAIL). The
/// chain may cross zones of the file.
pub(super) fn check_cname_loops(ctx: &mut Ctx, zones: &[DesiredZone]) {
    let cnames: BTreeMap<&str, (&str, &Origin)> = zones
        .iter()
        .flat_map(|z| z.records.iter())
        .filter_map(|d| match d.item.values.first() {
            Some(RData::Cname { target }) if d.item.rtype == RecordType::Cname => {
                Some((d.item.name.as_str(), (target.as_str(), &d.origin)))
            }
            _ => None,
        })
        .collect();
    // Each name has at most one CNAME, so every chain is a path that
    // either ends or enters a cycle; names already walked are not walked
    // again, which keeps this linear.
    let mut done: HashSet<&str> = HashSet::new();
    for start in cnames.keys() {
        let mut chain: Vec<&str> = Vec::new();
        let mut at = *start;
        while !done.contains(at) {
            let Some((target, _)) = cnames.get(at) else {
                break;
            };
            done.insert(at);
            chain.push(at);
            at = target;
        }
        let Some(pos) = chain.iter().position(|n| *n == at) else {
            continue;
        };
        let cycle = &chain[pos..];
        let last = cycle[cycle.len() - 1];
        let origin = cnames[last].1;
        let (message, fix) = if cycle.len() == 1 {
            (
                format!("`{last}` is a CNAME to itself: resolvers give up on it"),
                "point it at the host that serves the name, or remove the CNAME".to_string(),
            )
        } else {
            let mut names: Vec<&str> = cycle.to_vec();
            names.push(at);
            (
                format!(
                    "CNAME loop: {}; resolvers give up on every name in it",
                    names.join(" → ")
                ),
                "point one of them at a host that has A/AAAA records".to_string(),
            )
        };
        ctx.diags
            .error(origin.loc, &origin.path, message, Some(fix));
    }
}

fn parse_value(
    ctx: &mut Ctx,
    rtype: &RecordType,
    value: &Spanned<RecordValue>,
    path: &str,
) -> Option<RData> {
    let loc = Loc::of(value);
    match &value.value {
        RecordValue::Chunks(chunks) => {
            if *rtype != RecordType::Txt {
                ctx.diags.error(
                    loc,
                    path,
                    format!("`chunks` is only for TXT records, not {rtype}"),
                    Some(format!(
                        "write the {rtype} value as one string: {}",
                        example_for(rtype)
                    )),
                );
                return None;
            }
            let mut resolved = Vec::new();
            for (i, c) in chunks.iter().enumerate() {
                let text = resolve(ctx, &c.value, Loc::of(c), path)?;
                if text.len() > 255 {
                    ctx.diags.error(
                        Loc::of(c),
                        path,
                        format!("TXT chunk {} is {} bytes long; one DNS character-string holds at most 255", i + 1, text.len()),
                        Some("split it into more chunks of at most 255 bytes each".to_string()),
                    );
                    return None;
                }
                resolved.push(text);
            }
            Some(RData::Txt { chunks: resolved })
        }
        RecordValue::Text(raw) => {
            let text = resolve(ctx, raw, loc, path)?;
            if *rtype == RecordType::Txt {
                if text.len() > 255 {
                    let chunks = mailform_contract::dns::split_txt(&text);
                    ctx.diags.error(
                        loc,
                        path,
                        format!("TXT value is {} bytes long and not split; one DNS character-string holds at most 255 bytes", text.len()),
                        Some(format!(
                            "write it as `{{chunks: [...]}}` with {} strings of at most 255 bytes each (DKIM keys usually need this)",
                            chunks.len()
                        )),
                    );
                    return None;
                }
                return Some(RData::Txt { chunks: vec![text] });
            }
            let target_is_ip =
                |t: &str| t.trim_end_matches('.').parse::<std::net::IpAddr>().is_ok();
            let last = text.split_whitespace().last().unwrap_or("");
            match rtype {
                RecordType::Mx if target_is_ip(last) => {
                    ctx.diags.lint(
                        &crate::lint::rules::MX_TARGET_IP,
                        None,
                        loc,
                        path,
                        format!("MX record points at the IP address `{last}`; an MX must name a host"),
                        format!("point it at a host name, e.g. `10 mail.example.com.`, and give that host an A record for {last}"),
                    );
                    return None;
                }
                RecordType::Cname | RecordType::Ns | RecordType::Srv if target_is_ip(last) => {
                    ctx.diags.error(
                        loc,
                        path,
                        format!("{rtype} target `{last}` is an IP address; it must be a host name"),
                        Some(if *rtype == RecordType::Cname {
                            "use an A or AAAA record for an address".to_string()
                        } else {
                            "name a host that has an A/AAAA record".to_string()
                        }),
                    );
                    return None;
                }
                _ => {}
            }
            match RData::parse(rtype, &text) {
                Ok(r) => Some(r),
                Err(e) => {
                    ctx.diags
                        .error(loc, path, e.0, Some(example_for(rtype).to_string()));
                    None
                }
            }
        }
    }
}

pub(super) fn example_for(rtype: &RecordType) -> &'static str {
    match rtype {
        RecordType::A => "write an IPv4 address, e.g. `192.0.2.10`",
        RecordType::Aaaa => "write an IPv6 address, e.g. `2001:db8::10`",
        RecordType::Cname => "write one host name, e.g. `ghs.googlehosted.com.`",
        RecordType::Ns => "write one host name, e.g. `ns1.example.net.`",
        RecordType::Mx => "write `<preference> <host>`, e.g. `10 mx1.example.com.`",
        RecordType::Srv => {
            "write `<priority> <weight> <port> <target>`, e.g. `0 1 443 autodiscover.example.com.`"
        }
        RecordType::Caa => "write `<flags> <tag> \"<value>\"`, e.g. `0 issue \"letsencrypt.org\"`",
        _ => "see the record type's zone-file notation",
    }
}
