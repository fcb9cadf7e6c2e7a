//! Changes → DNS UPDATE messages (RFC 2136) whose prerequisites make each
//! change conditional on the state the plan saw:
//!
//! | change | prerequisite (§2.4) | update (§2.5) |
//! |---|---|---|
//! | create | RRset does not exist (§2.4.3: class NONE, no data) | add the new RRs |
//! | update | RRset exists, value dependent (§2.4.2: the old RRs, class IN, TTL 0) | delete the RRset (class ANY), add the new RRs |
//! | delete | RRset exists, value dependent | delete the RRset |
//!
//! The server checks every prerequisite before it changes anything and
//! applies the message all or nothing (§3.2, §3.4). One message per zone
//! apply; only when the changes do not fit one TCP message (64 KiB) are
//! they split, on change boundaries, into several messages — each atomic
//! on its own.
//!
//! The value-dependent prerequisite compares data, not TTLs (§2.4.2 says
//! TTL 0): a TTL-only edit made behind mailform's back is not detected.

use std::ops::Range;

use hickory_proto::op::{Message, MessageType, OpCode, Query, UpdateMessage};
use hickory_proto::rr::{DNSClass, Record};
use hickory_proto::serialize::binary::BinEncodable;
use mailform_contract::{DnsChange, ProviderError, RecordSet};

use crate::convert::{to_name, to_records, to_type};

/// The largest DNS message over TCP is 65535 bytes; this much is kept free
/// for the header, the zone section and the TSIG record.
pub const MAX_MESSAGE: usize = 65535 - 1024;

/// One UPDATE message (unsigned) and the changes it carries.
pub struct Batch {
    pub changes: Range<usize>,
    pub message: Message,
}

/// A change's prerequisite and update records.
struct Parts {
    prerequisites: Vec<Record>,
    updates: Vec<Record>,
}

impl Parts {
    /// An upper bound of the bytes these records take in a message (name
    /// compression only makes it smaller).
    fn size(&self) -> usize {
        self.prerequisites
            .iter()
            .chain(&self.updates)
            .map(|r| r.to_bytes().map(|b| b.len()).unwrap_or(usize::MAX / 4))
            .sum()
    }
}

fn rrset_marker(set: &RecordSet, class: DNSClass) -> Result<Record, ProviderError> {
    let mut r = Record::update0(to_name(&set.name)?, 0, to_type(&set.rtype)?);
    r.dns_class = class;
    Ok(r)
}

fn parts(change: &DnsChange) -> Result<Parts, ProviderError> {
    Ok(match change {
        DnsChange::Create { new } => Parts {
            prerequisites: vec![rrset_marker(new, DNSClass::NONE)?],
            updates: to_records(new, new.ttl)?,
        },
        DnsChange::Update { old, new } => {
            let mut updates = vec![rrset_marker(old, DNSClass::ANY)?];
            updates.extend(to_records(new, new.ttl)?);
            Parts {
                prerequisites: to_records(old, 0)?,
                updates,
            }
        }
        DnsChange::Delete { old } => Parts {
            prerequisites: to_records(old, 0)?,
            updates: vec![rrset_marker(old, DNSClass::ANY)?],
        },
    })
}

fn new_message(zone: &str) -> Result<Message, ProviderError> {
    let mut m = Message::query();
    m.metadata.message_type = MessageType::Query;
    m.metadata.op_code = OpCode::Update;
    m.metadata.recursion_desired = false;
    let mut q = Query::new();
    q.set_name(to_name(zone)?)
        .set_query_class(DNSClass::IN)
        .set_query_type(hickory_proto::rr::RecordType::SOA);
    m.add_zone(q);
    Ok(m)
}

/// The messages for `changes`, in order, none larger than `limit` bytes of
/// records. Fails with the index of a change that cannot be expressed or
/// does not fit even alone.
pub fn build(
    zone: &str,
    changes: &[DnsChange],
    limit: usize,
) -> Result<Vec<Batch>, (usize, ProviderError)> {
    let mut batches = Vec::new();
    let mut current = new_message(zone).map_err(|e| (0, e))?;
    let mut start = 0;
    let mut used = 0;
    for (i, change) in changes.iter().enumerate() {
        let p = parts(change).map_err(|e| (i, e))?;
        let size = p.size();
        if size > limit {
            return Err((
                i,
                ProviderError::Unsupported(format!(
                    "{} {}: the change needs {size} bytes, more than one DNS UPDATE message can carry",
                    change.key().0,
                    change.key().1
                )),
            ));
        }
        if used + size > limit {
            batches.push(Batch {
                changes: start..i,
                message: std::mem::replace(&mut current, new_message(zone).map_err(|e| (i, e))?),
            });
            start = i;
            used = 0;
        }
        used += size;
        current.add_pre_requisites(p.prerequisites);
        current.add_updates(p.updates);
    }
    if start < changes.len() {
        batches.push(Batch {
            changes: start..changes.len(),
            message: current,
        });
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailform_contract::RecordSet;

    fn a(name: &str, ip: &str) -> RecordSet {
        RecordSet::parse(name, "A", 300, &[ip]).unwrap()
    }

    #[test]
    fn prerequisites_follow_rfc2136() {
        let changes = vec![
            DnsChange::Create {
                new: a("new.example.com", "192.0.2.1"),
            },
            DnsChange::Update {
                old: a("www.example.com", "192.0.2.2"),
                new: a("www.example.com", "192.0.2.3"),
            },
            DnsChange::Delete {
                old: a("old.example.com", "192.0.2.4"),
            },
        ];
        let batches = build("example.com", &changes, MAX_MESSAGE).unwrap();
        assert_eq!(batches.len(), 1);
        let m = &batches[0].message;
        assert_eq!(m.metadata.op_code, OpCode::Update);
        // Zone section.
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name().to_ascii(), "example.com.");
        // Prerequisites (answer section): NONE marker, then two value-dependent RRs.
        let pre = &m.answers;
        assert_eq!(pre.len(), 3);
        assert_eq!((pre[0].dns_class, pre[0].ttl), (DNSClass::NONE, 0));
        assert_eq!(
            (pre[1].dns_class, pre[1].ttl, pre[1].name.to_ascii()),
            (DNSClass::IN, 0, "www.example.com.".into())
        );
        assert_eq!(pre[2].name.to_ascii(), "old.example.com.");
        // Updates (authority section): add; delete-RRset + add; delete-RRset.
        let up = &m.authorities;
        assert_eq!(up.len(), 4);
        assert_eq!((up[0].dns_class, up[0].ttl), (DNSClass::IN, 300));
        assert_eq!(up[1].dns_class, DNSClass::ANY);
        assert_eq!(up[2].dns_class, DNSClass::IN);
        assert_eq!(up[3].dns_class, DNSClass::ANY);
        // It encodes.
        assert!(m.to_vec().unwrap().len() < 512);
    }

    #[test]
    fn splits_on_change_boundaries_only_when_needed() {
        let changes: Vec<DnsChange> = (0..3000)
            .map(|i| DnsChange::Create {
                new: a(&format!("host{i}.example.com"), "192.0.2.1"),
            })
            .collect();
        let batches = build("example.com", &changes, MAX_MESSAGE).unwrap();
        assert!(batches.len() > 1, "3000 creates exceed one message");
        let mut next = 0;
        for b in &batches {
            assert_eq!(b.changes.start, next);
            next = b.changes.end;
            assert!(b.message.to_vec().unwrap().len() <= 65535 - 1024);
        }
        assert_eq!(next, changes.len());
        assert_eq!(
            build("example.com", &changes[..100], MAX_MESSAGE)
                .unwrap()
                .len(),
            1
        );
        let err = build("example.com", &changes[..2], 10).err().unwrap();
        assert_eq!(err.0, 0);
    }
}
