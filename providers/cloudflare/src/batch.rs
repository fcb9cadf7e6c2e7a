//! Turning record-set changes into Cloudflare record operations, and those
//! into batch requests.
//!
//! One change to a record set becomes deletes, patches and posts of single
//! records: a value that stays keeps its record (patched only if its TTL
//! changes); a value that changes is patched in place, so the record keeps
//! its id, comment and tags; what is left over is deleted or posted. A
//! record's proxy flag is never changed, and values added to a set of
//! proxied records are proxied too, so an apply never silently un-proxies a
//! name.
//!
//! Batches hold at most `limit` operations (Cloudflare counts each delete,
//! patch, put and post; 200 on the Free plan, 3,500 on paid plans —
//! <https://developers.cloudflare.com/dns/manage-dns-records/how-to/batch-record-changes/>).
//! Cloudflare runs a batch's deletes, then patches, then posts, in one
//! transaction
//! (<https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/batch/>),
//! so replacing an A record by a CNAME works within one batch. Across
//! batches it would not: a CNAME posted in one batch while the A it
//! replaces is deleted in the next is refused (81053). So all changes at one
//! name go into the same batch; only a single name with more operations
//! than the limit is split, its deletes first — the name may be briefly
//! empty between batches, but never holds a CNAME beside other data.

use std::collections::BTreeMap;

use mailform_contract::{DnsChange, ProviderError};

use crate::api::{BatchRequest, BodyWithId, IdOnly, Record, RecordBody};
use crate::convert::{body_for, live_ttl, proxiable, record_sets, to_rdata, AUTO_TTL};

/// One operation on one Cloudflare record.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Delete { id: String },
    Patch { id: String, body: RecordBody },
    Post { body: RecordBody },
}

impl Op {
    /// The order Cloudflare runs a batch in.
    fn rank(&self) -> u8 {
        match self {
            Op::Delete { .. } => 0,
            Op::Patch { .. } => 1,
            Op::Post { .. } => 2,
        }
    }
}

/// The operations that carry out `change`, given the live records of its
/// (name, type). Fails with a conflict when the live records are not what
/// the plan saw.
pub fn ops_for(change: &DnsChange, live: &[&Record]) -> Result<Vec<Op>, ProviderError> {
    let (name, rtype) = change.key();
    let owned: Vec<Record> = live.iter().map(|r| (*r).clone()).collect();
    let live_set = record_sets(&owned)?.into_iter().next();
    let changed = || {
        ProviderError::Conflict(format!(
            "{name} {rtype} changed in Cloudflare since the plan was made; run `mailform plan` again"
        ))
    };
    let proxied = live.iter().any(|r| r.proxied) && proxiable(&rtype);
    match change {
        DnsChange::Create { new } => {
            if live_set.is_some() {
                return Err(ProviderError::Conflict(format!(
                    "{name} {rtype} already exists in Cloudflare; it was created since the plan was made"
                )));
            }
            new.values
                .iter()
                .map(|v| {
                    Ok(Op::Post {
                        body: body_for(&name, v, new.ttl, false)?,
                    })
                })
                .collect()
        }
        DnsChange::Delete { old } => {
            if !live_set.is_some_and(|s| s.same_as(old)) {
                return Err(changed());
            }
            Ok(live
                .iter()
                .map(|r| Op::Delete { id: r.id.clone() })
                .collect())
        }
        DnsChange::Update { old, new } => {
            if !live_set.is_some_and(|s| s.same_as(old)) {
                return Err(changed());
            }
            let mut unmatched_live: Vec<&Record> = Vec::new();
            let mut wanted: Vec<Option<&mailform_contract::RData>> =
                new.values.iter().map(Some).collect();
            let mut ops = Vec::new();
            for rec in live {
                let canon = to_rdata(rec)?.canonical();
                match wanted
                    .iter()
                    .position(|w| w.is_some_and(|v| v.canonical() == canon))
                {
                    Some(i) => {
                        let value = wanted[i].take().expect("present");
                        if live_ttl(rec) != new.ttl {
                            ops.push(Op::Patch {
                                id: rec.id.clone(),
                                body: body_for(&name, value, ttl_for(new.ttl, rec), rec.proxied)?,
                            });
                        }
                    }
                    None => unmatched_live.push(rec),
                }
            }
            let mut added = wanted.into_iter().flatten();
            for rec in unmatched_live {
                match added.next() {
                    Some(value) => ops.push(Op::Patch {
                        id: rec.id.clone(),
                        body: body_for(&name, value, ttl_for(new.ttl, rec), rec.proxied)?,
                    }),
                    None => ops.push(Op::Delete { id: rec.id.clone() }),
                }
            }
            for value in added {
                ops.push(Op::Post {
                    body: body_for(&name, value, new.ttl, proxied)?,
                });
            }
            Ok(ops)
        }
    }
}

/// Keeps a record automatic when the file asks for what automatic means.
fn ttl_for(ttl: u32, rec: &Record) -> u32 {
    if rec.ttl == 1 && ttl == AUTO_TTL {
        1
    } else {
        ttl
    }
}

/// One batch request: its operations, each tagged with its change's index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub ops: Vec<(usize, Op)>,
}

impl Chunk {
    /// The indexes of the changes with operations in this chunk, in order.
    pub fn changes(&self) -> Vec<usize> {
        let mut seen: Vec<usize> = Vec::new();
        for (i, _) in &self.ops {
            if !seen.contains(i) {
                seen.push(*i);
            }
        }
        seen
    }

    /// The change a refusal of this chunk names, where Cloudflare's message
    /// says: an item position (`posts[2]`, counted as the request lists
    /// them) or the one name of a change in the chunk. `names[i]` is change
    /// `i`'s record name. Cloudflare's batch errors often name neither (the
    /// batch is refused as a whole); then `None`.
    pub fn blamed(&self, message: &str, names: &[String]) -> Option<usize> {
        for (kind, pick) in [("deletes[", 0u8), ("patches[", 1), ("posts[", 2)] {
            let Some(at) = message.find(kind) else {
                continue;
            };
            let digits: String = message[at + kind.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let Ok(n) = digits.parse::<usize>() else {
                continue;
            };
            let of_kind = self.ops.iter().filter(|(_, op)| {
                matches!(
                    (pick, op),
                    (0, Op::Delete { .. }) | (1, Op::Patch { .. }) | (2, Op::Post { .. })
                )
            });
            if let Some((i, _)) = of_kind.into_iter().nth(n) {
                return Some(*i);
            }
        }
        let lower = message.to_ascii_lowercase();
        let mentioned: Vec<usize> = self
            .changes()
            .into_iter()
            .filter(|i| {
                names.get(*i).is_some_and(|n| {
                    lower.match_indices(n.as_str()).any(|(at, _)| {
                        let before = lower[..at].chars().next_back();
                        let after = lower[at + n.len()..].chars().next();
                        let edge = |c: Option<char>| {
                            c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                        };
                        edge(before) && edge(after)
                    })
                })
            })
            .collect();
        // Two changes at the named name (an A and a TXT) leave it open.
        (mentioned.len() == 1).then(|| mentioned[0])
    }

    pub fn request(&self) -> BatchRequest {
        let mut req = BatchRequest::default();
        for (_, op) in &self.ops {
            match op.clone() {
                Op::Delete { id } => req.deletes.push(IdOnly { id }),
                Op::Patch { id, body } => req.patches.push(BodyWithId { id, body }),
                Op::Post { body } => req.posts.push(body),
            }
        }
        req
    }
}

/// The operations at one name: the index of its first change, and each
/// operation with its change's index.
type Unit = (usize, Vec<(usize, Op)>);

/// Packs the operations of each change (`ops[i]` for change `i`, whose name
/// is `names[i]`) into chunks of at most `limit` operations, keeping every
/// name in one chunk when it fits.
pub fn chunks(ops: &[Vec<Op>], names: &[String], limit: usize) -> Vec<Chunk> {
    let limit = limit.max(1);
    // Names in the order their first change comes.
    let mut units: BTreeMap<&str, Unit> = BTreeMap::new();
    for (i, (change_ops, name)) in ops.iter().zip(names).enumerate() {
        let unit = units.entry(name.as_str()).or_insert((i, Vec::new()));
        unit.1.extend(change_ops.iter().map(|op| (i, op.clone())));
    }
    let mut units: Vec<Unit> = units.into_values().collect();
    units.sort_by_key(|u| u.0);

    let mut out: Vec<Chunk> = Vec::new();
    let mut current = Chunk::default();
    for (_, mut unit) in units {
        if unit.is_empty() {
            continue;
        }
        if current.ops.len() + unit.len() > limit && !current.ops.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if unit.len() <= limit {
            current.ops.extend(unit);
            continue;
        }
        unit.sort_by_key(|(_, op)| op.rank());
        for piece in unit.chunks(limit) {
            if current.ops.len() + piece.len() > limit && !current.ops.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.ops.extend(piece.iter().cloned());
        }
    }
    if !current.ops.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::{RData, RecordSet, RecordType};

    fn rec(id: &str, rtype: &str, name: &str, content: &str, ttl: u32, proxied: bool) -> Record {
        Record {
            id: id.into(),
            rtype: rtype.into(),
            name: name.into(),
            content: content.into(),
            ttl,
            proxied,
            priority: None,
            data: None,
            comment: Some("keep me".into()),
            tags: vec![],
        }
    }

    fn set(name: &str, t: RecordType, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: t.clone(),
            ttl,
            values: values
                .iter()
                .map(|v| RData::parse(&t, v).unwrap())
                .collect(),
        }
    }

    #[test]
    fn update_patches_in_place_and_keeps_the_proxy_flag() {
        let a = rec("r1", "A", "www.example.com", "192.0.2.1", 1, true);
        let b = rec("r2", "A", "www.example.com", "192.0.2.2", 1, true);
        let old = set(
            "www.example.com",
            RecordType::A,
            300,
            &["192.0.2.1", "192.0.2.2"],
        );
        let new = set(
            "www.example.com",
            RecordType::A,
            300,
            &["192.0.2.1", "192.0.2.9", "192.0.2.10"],
        );
        let ops = ops_for(&DnsChange::Update { old, new }, &[&a, &b]).unwrap();
        assert_eq!(ops.len(), 2, "{ops:?}");
        let Op::Patch { id, body } = &ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(id, "r2");
        assert_eq!(
            (body.proxied, body.ttl, body.content.as_deref()),
            (Some(true), 1, Some("192.0.2.9"))
        );
        let Op::Post { body } = &ops[1] else { panic!() };
        assert_eq!(body.proxied, Some(true));
    }

    #[test]
    fn automatic_ttl_matches_300_and_other_ttls_patch() {
        let a = rec("r1", "TXT", "example.com", "\"v=spf1 -all\"", 1, false);
        let old = set("example.com", RecordType::Txt, 300, &["\"v=spf1 -all\""]);
        let new = set("example.com", RecordType::Txt, 3600, &["\"v=spf1 -all\""]);
        let ops = ops_for(
            &DnsChange::Update {
                old: old.clone(),
                new,
            },
            &[&a],
        )
        .unwrap();
        assert!(matches!(&ops[..], [Op::Patch { body, .. }] if body.ttl == 3600));
        let stale = set("example.com", RecordType::Txt, 300, &["\"v=spf1 mx -all\""]);
        let err = ops_for(&DnsChange::Delete { old: stale }, &[&a]).unwrap_err();
        assert!(matches!(err, ProviderError::Conflict(_)));
        let err = ops_for(&DnsChange::Create { new: old }, &[&a]).unwrap_err();
        assert!(matches!(err, ProviderError::Conflict(_)));
    }

    #[test]
    fn a_name_never_straddles_two_batches() {
        let post = |n: &str| Op::Post {
            body: body_for(n, &RData::txt("x"), 300, false).unwrap(),
        };
        let del = |id: &str| Op::Delete { id: id.into() };
        // Change 0 at a (2 ops), change 1 at b (1 op), change 2 at a again
        // (A → CNAME: delete + post), limit 3.
        let ops = vec![
            vec![post("a"), post("a")],
            vec![post("b")],
            vec![del("x"), post("a")],
        ];
        let names: Vec<String> = ["a", "b", "a"].iter().map(|s| s.to_string()).collect();
        let c = chunks(&ops, &names, 4);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].changes(), vec![0, 2]);
        assert_eq!(c[1].changes(), vec![1]);
        // One name larger than the limit: split, deletes first.
        let big = vec![vec![post("a"), post("a"), del("1"), del("2"), del("3")]];
        let c = chunks(&big, &["a".to_string()], 2);
        assert_eq!(c.len(), 3);
        assert!(c[0].ops.iter().all(|(_, o)| matches!(o, Op::Delete { .. })));
        assert!(c.iter().all(|c| c.ops.len() <= 2));
        let req = c[1].request();
        assert_eq!((req.deletes.len(), req.posts.len()), (1, 1));
    }
}
