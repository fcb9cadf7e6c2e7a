//! `mailform import`: the YAML that describes what is live today.
//!
//! The providers, defaults and each domain's bindings are copied from the
//! file as written (so `${env:...}` references stay references and no secret
//! is written out); records, mailboxes, aliases and groups come from the
//! live state. Passwords are never imported: they cannot be read back.

use serde_json::{json, Map, Value};

use mailform_contract::name::relative_name;
use mailform_contract::{GroupKind, MailboxKind, MailboxState, RData, RecordType};

use crate::config::compile::DEFAULT_TTL;
use crate::desired::Desired;
use crate::live::LiveState;

/// Record types the file format cannot declare are skipped; their names
/// are returned so the caller can say so.
pub struct Imported {
    pub yaml: String,
    pub skipped: Vec<String>,
}

/// `generate_passwords`: mail domains whose mailboxes get
/// `initial_password: generate` (their provider takes clear-text
/// passwords), so that applying the file to an empty tenant works.
pub fn to_yaml(
    source: &str,
    desired: &Desired,
    live: &LiveState,
    generate_passwords: &std::collections::BTreeSet<String>,
) -> Result<Imported, String> {
    let raw: Value = serde_saphyr::from_str(source).map_err(|e| e.to_string())?;
    let default_ttl = raw
        .pointer("/defaults/ttl")
        .and_then(Value::as_u64)
        .map(|t| t as u32)
        .unwrap_or(DEFAULT_TTL);
    let mut skipped = Vec::new();
    let mut out = Map::new();
    out.insert("version".into(), json!(1));
    if let Some(d) = raw.get("defaults") {
        out.insert("defaults".into(), d.clone());
    }
    out.insert(
        "providers".into(),
        raw.get("providers").cloned().unwrap_or(json!({})),
    );

    let mut domains = Map::new();
    if let Some(raw_domains) = raw.get("domains").and_then(Value::as_object) {
        for (key, body) in raw_domains {
            let ascii = crate::config::names::domain_to_ascii(key)
                .unwrap_or_else(|_| key.to_ascii_lowercase());
            let mut d = Map::new();
            for binding in ["dns", "mail"] {
                if let Some(b) = body.get(binding) {
                    d.insert(binding.into(), b.clone());
                }
            }
            let zone_ttl = body
                .pointer("/dns/ttl")
                .and_then(Value::as_u64)
                .map(|t| t as u32)
                .unwrap_or(default_ttl);
            if let Some(idx) = desired.zones.iter().position(|z| z.zone == ascii) {
                d.insert(
                    "records".into(),
                    records(&ascii, &live.zones[idx], zone_ttl, &mut skipped),
                );
            } else if let Some(r) = body.get("records") {
                d.insert("records".into(), r.clone());
            }
            domains.insert(key.clone(), Value::Object(d));
        }
    }
    out.insert("domains".into(), Value::Object(domains));

    let (mut mailboxes, mut aliases, mut groups) = (Map::new(), Map::new(), Map::new());
    for state in &live.mail {
        let mut mbs = state.mailboxes.clone();
        mbs.sort_by(|a, b| a.address.cmp(&b.address));
        for m in mbs {
            let mut o = Map::new();
            if let Some(n) = &m.display_name {
                o.insert("name".into(), json!(n));
            }
            if m.state != MailboxState::Active {
                o.insert("state".into(), json!(m.state.as_str()));
            }
            if let Some(s) = &m.successor {
                o.insert("successor".into(), json!(s));
            }
            if !m.aliases.is_empty() {
                o.insert("aliases".into(), json!(sorted(&m.aliases)));
            }
            if m.kind == MailboxKind::Shared {
                // Nobody signs in to a shared mailbox: no password either.
                o.insert("type".into(), json!(m.kind.as_str()));
                if !m.delegates.is_empty() {
                    o.insert("access".into(), json!(sorted(&m.delegates)));
                }
            } else if generate_passwords.contains(&state.domain) {
                o.insert("initial_password".into(), json!("generate"));
            }
            mailboxes.insert(m.address.clone(), Value::Object(o));
        }
        for a in &state.aliases {
            aliases.insert(a.address.clone(), json!({"to": sorted(&a.targets)}));
        }
        for g in &state.groups {
            let mut o = Map::new();
            if let Some(n) = &g.display_name {
                o.insert("name".into(), json!(n));
            }
            if g.kind != GroupKind::Default {
                o.insert("type".into(), json!(g.kind.as_str()));
            }
            o.insert("members".into(), json!(sorted(&g.members)));
            if !g.aliases.is_empty() {
                o.insert("aliases".into(), json!(sorted(&g.aliases)));
            }
            o.insert("allow_external".into(), json!(g.allow_external));
            groups.insert(g.address.clone(), Value::Object(o));
        }
    }
    for (name, map) in [
        ("mailboxes", mailboxes),
        ("aliases", aliases),
        ("groups", groups),
    ] {
        if !map.is_empty() {
            out.insert(name.into(), Value::Object(sort_map(map)));
        }
    }
    let body = serde_saphyr::to_string(&Value::Object(out)).map_err(|e| e.to_string())?;
    let yaml = format!(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/mailform/mailform/main/schemas/mailform.schema.json\n\
         # Written by `mailform import` from the live state. Passwords cannot be read back:\n\
         # `initial_password: generate` makes new ones if a mailbox must be created again\n\
         # (`apply --password-file`); for hash-only providers add `password_hash` first.\n{body}"
    );
    Ok(Imported { yaml, skipped })
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn sort_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn records(
    zone: &str,
    state: &mailform_contract::ZoneState,
    zone_ttl: u32,
    skipped: &mut Vec<String>,
) -> Value {
    let mut sets = state.records.clone();
    sets.sort_by_key(|a| a.key());
    let mut by_name: Map<String, Value> = Map::new();
    // The apex first, then names in order, as people write zones.
    sets.sort_by_key(|s| (s.name != zone, s.name.clone(), s.rtype.clone()));
    for set in sets {
        if set.rtype == RecordType::Soa {
            continue;
        }
        let rel = relative_name(&set.name, zone);
        if !RecordType::DECLARABLE.contains(&set.rtype) {
            skipped.push(format!("{rel} {} in {zone}", set.rtype));
            continue;
        }
        let mut values: Vec<Value> = set
            .values
            .iter()
            .map(|v| match v {
                RData::Txt { chunks } if chunks.len() == 1 => json!(chunks[0]),
                RData::Txt { chunks } => json!({"chunks": chunks}),
                other => json!(other.presentation()),
            })
            .collect();
        values.sort_by_key(|a| a.to_string());
        let value = match (values.len(), set.ttl == zone_ttl) {
            (1, true) => values.remove(0),
            (_, true) => Value::Array(values),
            (_, false) => json!({"ttl": set.ttl, "values": values}),
        };
        let entry = by_name.entry(rel).or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(set.rtype.as_str().to_string(), value);
        }
    }
    Value::Object(by_name)
}
