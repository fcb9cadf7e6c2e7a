//! The fake's zones and records, with Cloudflare's record rules.
//!
//! Semantics implemented from Cloudflare's documentation:
//! - record names may be given relative, `@` or absolute; stored absolute;
//! - TTL is 1 (automatic) or 60..=86400; proxied records are always
//!   automatic and only A, AAAA and CNAME can be proxied
//!   (<https://developers.cloudflare.com/dns/proxy-status/>);
//! - a CNAME cannot share its name with other records: creating one where
//!   records exist is 81053, adding a record where a CNAME exists is 81054
//!   (<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>);
//! - an identical record is refused with 81058;
//! - SRV and CAA are written through `data`, their `content` derived;
//! - a batch runs deletes, patches, puts, posts on a copy and replaces the
//!   zone only if every item succeeded
//!   (<https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/batch/>).

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;
use serde_json::{json, Map, Value};

/// An error answer: HTTP status, Cloudflare code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErr {
    pub status: u16,
    pub code: i64,
    pub message: String,
}

pub(crate) fn err(status: u16, code: i64, message: impl Into<String>) -> ApiErr {
    ApiErr {
        status,
        code,
        message: message.into(),
    }
}

const TYPES: [&str; 20] = [
    "A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR", "NS",
    "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI",
];

/// One stored record, serialised as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: String,
    pub content: String,
    pub ttl: u32,
    pub proxied: bool,
    pub proxiable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    pub comment: Option<String>,
    pub tags: Vec<String>,
    pub created_on: String,
    pub modified_on: String,
}

/// One zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub records: Vec<StoredRecord>,
}

/// Everything the fake holds.
#[derive(Debug, Default)]
pub struct Store {
    pub zones: Vec<Zone>,
    next_id: u64,
}

const TIMESTAMP: &str = "2024-01-01T00:00:00.000000Z";

impl Store {
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:032x}",
            0x00c0_ffee_0000_0000_u64 as u128 * (1 << 64) + self.next_id as u128
        )
    }

    pub fn add_zone(&mut self, name: &str) -> String {
        let id = self.new_id();
        self.zones.push(Zone {
            id: id.clone(),
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            records: Vec::new(),
        });
        id
    }

    pub fn zone(&self, id: &str) -> Result<&Zone, ApiErr> {
        self.zones.iter().find(|z| z.id == id).ok_or_else(|| {
            err(
                404,
                7003,
                format!(
                    "Could not route to /zones/{id}, perhaps your object identifier is invalid?"
                ),
            )
        })
    }

    pub fn zone_mut(&mut self, id: &str) -> Result<&mut Zone, ApiErr> {
        self.zones.iter_mut().find(|z| z.id == id).ok_or_else(|| {
            err(
                404,
                7003,
                format!(
                    "Could not route to /zones/{id}, perhaps your object identifier is invalid?"
                ),
            )
        })
    }

    pub fn zone_by_name(&self, name: &str) -> Option<&Zone> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.zones.iter().find(|z| z.name == name)
    }

    /// Creates a record in `zone_id` from a request body.
    pub fn create(&mut self, zone_id: &str, body: &Value) -> Result<StoredRecord, ApiErr> {
        let id = self.new_id();
        let zone = self.zone_mut(zone_id)?;
        let rec = build(&zone.name, id, body, None)?;
        check_conflicts(&zone.records, &rec)?;
        zone.records.push(rec.clone());
        Ok(rec)
    }

    /// Replaces (PUT) or merges into (PATCH) record `id`.
    pub fn update(
        &mut self,
        zone_id: &str,
        id: &str,
        body: &Value,
        merge: bool,
    ) -> Result<StoredRecord, ApiErr> {
        let zone = self.zone_mut(zone_id)?;
        update_in(&zone.name, &mut zone.records, id, body, merge)
    }

    pub fn delete(&mut self, zone_id: &str, id: &str) -> Result<StoredRecord, ApiErr> {
        let zone = self.zone_mut(zone_id)?;
        delete_in(&mut zone.records, id)
    }

    /// A batch, all or nothing. `fail_item` makes the item at that position
    /// (counting deletes, patches, puts, posts in order) fail as invalid.
    pub fn batch(
        &mut self,
        zone_id: &str,
        body: &Value,
        limit: usize,
        fail_item: Option<usize>,
    ) -> Result<Value, ApiErr> {
        let list = |k: &str| {
            body.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (deletes, patches, puts, posts) = (
            list("deletes"),
            list("patches"),
            list("puts"),
            list("posts"),
        );
        let total = deletes.len() + patches.len() + puts.len() + posts.len();
        if total > limit {
            return Err(err(400, 1004, format!(
                "DNS Validation Error: a batch may hold at most {limit} record changes on this plan, this one has {total}"
            )));
        }
        let mut ids: Vec<String> = (0..posts.len()).map(|_| self.new_id()).collect();
        let zone = self.zone_mut(zone_id)?;
        let mut records = zone.records.clone();
        let mut item = 0usize;
        let mut next = |what: &str, i: usize| -> Result<(), ApiErr> {
            let here = item;
            item += 1;
            if fail_item == Some(here) {
                return Err(err(
                    400,
                    9005,
                    format!("{what}[{i}]: Content for record is invalid (injected fault)"),
                ));
            }
            Ok(())
        };
        let at = |what: &str, i: usize, e: ApiErr| ApiErr {
            message: format!("{what}[{i}]: {}", e.message),
            ..e
        };
        let mut out = json!({"deletes": [], "patches": [], "puts": [], "posts": []});
        for (i, d) in deletes.iter().enumerate() {
            next("deletes", i)?;
            let id = d.get("id").and_then(Value::as_str).unwrap_or("");
            let gone = delete_in(&mut records, id).map_err(|e| at("deletes", i, e))?;
            push(&mut out, "deletes", &gone);
        }
        for (what, items, merge) in [("patches", &patches, true), ("puts", &puts, false)] {
            for (i, p) in items.iter().enumerate() {
                next(what, i)?;
                let id = p.get("id").and_then(Value::as_str).unwrap_or("");
                let r = update_in(&zone.name, &mut records, id, p, merge)
                    .map_err(|e| at(what, i, e))?;
                push(&mut out, what, &r);
            }
        }
        for (i, p) in posts.iter().enumerate() {
            next("posts", i)?;
            let rec = build(&zone.name, ids.remove(0), p, None).map_err(|e| at("posts", i, e))?;
            check_conflicts(&records, &rec).map_err(|e| at("posts", i, e))?;
            records.push(rec.clone());
            push(&mut out, "posts", &rec);
        }
        zone.records = records;
        Ok(out)
    }
}

fn push(out: &mut Value, key: &str, rec: &StoredRecord) {
    if let Some(a) = out.get_mut(key).and_then(Value::as_array_mut) {
        a.push(serde_json::to_value(rec).expect("record serialises"));
    }
}

fn delete_in(records: &mut Vec<StoredRecord>, id: &str) -> Result<StoredRecord, ApiErr> {
    let pos = records
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(|| err(404, 81044, "Record does not exist."))?;
    Ok(records.remove(pos))
}

fn update_in(
    zone: &str,
    records: &mut [StoredRecord],
    id: &str,
    body: &Value,
    merge: bool,
) -> Result<StoredRecord, ApiErr> {
    let pos = records
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(|| err(404, 81044, "Record does not exist."))?;
    let old = records[pos].clone();
    let rec = build(zone, id.to_string(), body, merge.then_some(&old))?;
    let others: Vec<StoredRecord> = records.iter().filter(|r| r.id != id).cloned().collect();
    check_conflicts(&others, &rec)?;
    records[pos] = rec.clone();
    Ok(rec)
}

/// A record from a request body; with `base`, fields the body leaves out
/// keep `base`'s values (PATCH).
fn build(
    zone: &str,
    id: String,
    body: &Value,
    base: Option<&StoredRecord>,
) -> Result<StoredRecord, ApiErr> {
    let invalid = |m: String| err(400, 1004, format!("DNS Validation Error: {m}"));
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("the body is not an object".into()))?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let rtype = s("type")
        .or_else(|| base.map(|b| b.rtype.clone()))
        .ok_or_else(|| invalid("type is required".into()))?
        .to_ascii_uppercase();
    if !TYPES.contains(&rtype.as_str()) {
        return Err(invalid(format!("unsupported record type {rtype}")));
    }
    let raw_name = s("name")
        .or_else(|| base.map(|b| b.name.clone()))
        .ok_or_else(|| invalid("name is required".into()))?;
    let name = absolute(&raw_name, zone);
    if !(name == zone || name.ends_with(&format!(".{zone}"))) {
        return Err(invalid(format!(
            "record name {raw_name} is outside the zone {zone}"
        )));
    }
    let proxiable = matches!(rtype.as_str(), "A" | "AAAA" | "CNAME");
    let proxied = obj
        .get("proxied")
        .and_then(Value::as_bool)
        .or_else(|| base.map(|b| b.proxied))
        .unwrap_or(false);
    if proxied && !proxiable {
        return Err(err(
            400,
            9004,
            format!("This record type cannot be proxied ({rtype})."),
        ));
    }
    let ttl = match obj.get("ttl") {
        Some(v) => v
            .as_f64()
            .ok_or_else(|| invalid("ttl must be a number".into()))? as i64,
        None => base.map_or(1, |b| b.ttl as i64),
    };
    if !(ttl == 1 || (60..=86_400).contains(&ttl)) {
        return Err(err(
            400,
            9021,
            "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.",
        ));
    }
    let priority = match obj.get("priority") {
        Some(v) => Some(
            v.as_f64()
                .filter(|p| (0.0..=65535.0).contains(p))
                .ok_or_else(|| invalid("priority must be 0..65535".into()))? as u16,
        ),
        None => base.and_then(|b| b.priority),
    };
    let data = obj
        .get("data")
        .cloned()
        .or_else(|| base.and_then(|b| b.data.clone()));
    let mut content = s("content")
        .or_else(|| base.map(|b| b.content.clone()))
        .unwrap_or_default();
    let mut priority_out = None;
    match rtype.as_str() {
        "A" => {
            content.parse::<Ipv4Addr>().map_err(|_| {
                err(
                    400,
                    9005,
                    "Content for A record is invalid. Must be a valid IPv4 address",
                )
            })?;
        }
        "AAAA" => {
            content.parse::<Ipv6Addr>().map_err(|_| {
                err(
                    400,
                    9006,
                    "Content for AAAA record is invalid. Must be a valid IPv6 address",
                )
            })?;
        }
        "CNAME" | "NS" | "PTR" => {
            content = content.trim_end_matches('.').to_ascii_lowercase();
            if !hostname(&content) || content == name {
                return Err(err(
                    400,
                    9007,
                    format!("Content for {rtype} record is invalid."),
                ));
            }
        }
        "MX" => {
            content = content.trim_end_matches('.').to_ascii_lowercase();
            if !(hostname(&content) || content.is_empty()) {
                return Err(err(400, 9007, "Content for MX record is invalid."));
            }
            priority_out =
                Some(priority.ok_or_else(|| invalid("MX records require a priority".into()))?);
        }
        "TXT" => {
            if content.is_empty() {
                return Err(invalid("TXT content is required".into()));
            }
            if content.starts_with('"') {
                let chunks = mailform_contract::dns::parse_character_strings(&content)
                    .map_err(|e| invalid(format!("TXT content: {e}")))?;
                if chunks.iter().any(|c| c.len() > 255) {
                    return Err(invalid(
                        "a quoted TXT string is longer than 255 bytes".into(),
                    ));
                }
            }
        }
        "SRV" => {
            let d = data
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| invalid("SRV records require data".into()))?;
            let n = |k: &str| {
                d.get(k)
                    .and_then(Value::as_f64)
                    .filter(|v| (0.0..=65535.0).contains(v))
                    .map(|v| v as u16)
            };
            let (Some(p), Some(w), Some(port)) = (n("priority"), n("weight"), n("port")) else {
                return Err(invalid(
                    "SRV data needs priority, weight and port from 0 to 65535".into(),
                ));
            };
            let target = d
                .get("target")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if !hostname(&target) && target != "." && !target.is_empty() {
                return Err(invalid("SRV target is not a hostname".into()));
            }
            content = format!("{w} {port} {target}");
            priority_out = Some(p);
        }
        "CAA" => {
            let d = data
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| invalid("CAA records require data".into()))?;
            let flags = d.get("flags").and_then(Value::as_f64).unwrap_or(0.0) as u8;
            let tag = d.get("tag").and_then(Value::as_str).unwrap_or("");
            if !matches!(tag, "issue" | "issuewild" | "iodef") {
                return Err(invalid(format!(
                    "CAA tag {tag:?} is not one of issue, issuewild, iodef"
                )));
            }
            let value = d.get("value").and_then(Value::as_str).unwrap_or("");
            content = format!("{flags} {tag} \"{value}\"");
        }
        _ => {}
    }
    let tags = match obj.get("tags") {
        Some(t) => t
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        None if base.is_some() => base.map(|b| b.tags.clone()).unwrap_or_default(),
        None => Vec::new(),
    };
    let comment = match obj.get("comment") {
        Some(c) => c.as_str().map(str::to_string),
        None => base.and_then(|b| b.comment.clone()),
    };
    Ok(StoredRecord {
        id,
        rtype: rtype.clone(),
        name,
        content,
        ttl: if proxied { 1 } else { ttl as u32 },
        proxied,
        proxiable,
        priority: priority_out,
        data: if matches!(rtype.as_str(), "SRV" | "CAA") {
            data
        } else {
            None
        },
        comment,
        tags,
        created_on: base.map_or(TIMESTAMP.to_string(), |b| b.created_on.clone()),
        modified_on: TIMESTAMP.to_string(),
    })
}

fn check_conflicts(others: &[StoredRecord], rec: &StoredRecord) -> Result<(), ApiErr> {
    let same_name: Vec<&StoredRecord> = others.iter().filter(|r| r.name == rec.name).collect();
    if rec.rtype == "CNAME" && !same_name.is_empty() {
        return Err(err(
            400,
            81053,
            "An A, AAAA, or CNAME record with that host already exists.",
        ));
    }
    if same_name.iter().any(|r| r.rtype == "CNAME") {
        return Err(err(
            400,
            81054,
            "A CNAME record with that host already exists.",
        ));
    }
    if same_name
        .iter()
        .any(|r| r.rtype == rec.rtype && r.content == rec.content && r.priority == rec.priority)
    {
        return Err(err(400, 81058, "An identical record already exists."));
    }
    Ok(())
}

fn absolute(name: &str, zone: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if n == "@" || n.is_empty() {
        zone.to_string()
    } else if n == zone || n.ends_with(&format!(".{zone}")) || name.ends_with('.') {
        n
    } else {
        format!("{n}.{zone}")
    }
}

fn hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        })
}

/// A record's JSON as the API returns it, with the zone it belongs to.
pub fn record_json(zone: &Zone, rec: &StoredRecord) -> Value {
    let mut v = serde_json::to_value(rec).expect("record serialises");
    if let Some(o) = v.as_object_mut() {
        o.insert("zone_id".into(), json!(zone.id));
        o.insert("zone_name".into(), json!(zone.name));
        o.insert("meta".into(), Value::Object(Map::new()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cname_rules_and_batch_atomicity() {
        let mut s = Store::default();
        let z = s.add_zone("example.com");
        s.create(
            &z,
            &json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1}),
        )
        .unwrap();
        let e = s
            .create(
                &z,
                &json!({"type": "CNAME", "name": "www", "content": "x.example.net", "ttl": 1}),
            )
            .unwrap_err();
        assert_eq!(e.code, 81053);
        let e = s
            .create(
                &z,
                &json!({"type": "A", "name": "www.example.com", "content": "192.0.2.1", "ttl": 1}),
            )
            .unwrap_err();
        assert_eq!(e.code, 81058);
        let before = s.zone(&z).unwrap().records.clone();
        let id = before[0].id.clone();
        // Delete + CNAME post in one batch works...
        s.batch(&z, &json!({"deletes": [{"id": id}], "posts": [{"type": "CNAME", "name": "www", "content": "x.example.net", "ttl": 300}]}), 200, None).unwrap();
        assert_eq!(s.zone(&z).unwrap().records[0].rtype, "CNAME");
        // ...and a bad item rolls the whole batch back.
        let snapshot = s.zone(&z).unwrap().records.clone();
        let e = s.batch(&z, &json!({"posts": [{"type": "TXT", "name": "a", "content": "x", "ttl": 300}, {"type": "A", "name": "b", "content": "nope", "ttl": 300}]}), 200, None).unwrap_err();
        assert_eq!(e.code, 9005);
        assert!(e.message.starts_with("posts[1]"));
        assert_eq!(s.zone(&z).unwrap().records, snapshot);
        let e = s
            .batch(
                &z,
                &json!({"posts": [{"type": "TXT", "name": "a", "content": "x", "ttl": 300}]}),
                200,
                Some(0),
            )
            .unwrap_err();
        assert_eq!(e.code, 9005);
        assert_eq!(s.zone(&z).unwrap().records, snapshot);
        assert!(s
            .batch(&z, &json!({"deletes": [{"id": "a"}, {"id": "b"}]}), 1, None)
            .is_err());
    }

    #[test]
    fn patch_keeps_comment_tags_and_proxy() {
        let mut s = Store::default();
        let z = s.add_zone("example.com");
        let r = s.create(&z, &json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1, "proxied": true, "comment": "web", "tags": ["team:web"]})).unwrap();
        let p = s.update(&z, &r.id, &json!({"type": "A", "name": "www.example.com", "content": "192.0.2.2", "ttl": 300}), true).unwrap();
        assert_eq!(
            (p.comment.as_deref(), p.tags.len(), p.proxied, p.ttl),
            (Some("web"), 1, true, 1)
        );
        let e = s
            .create(
                &z,
                &json!({"type": "TXT", "name": "t", "content": "x", "proxied": true}),
            )
            .unwrap_err();
        assert_eq!(e.code, 9004);
        let e = s
            .create(
                &z,
                &json!({"type": "TXT", "name": "t", "content": "x", "ttl": 30}),
            )
            .unwrap_err();
        assert_eq!(e.code, 9021);
    }
}
