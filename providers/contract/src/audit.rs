//! Named checks of the values a DNS provider cannot store, run by the engine
//! at `validate` and `plan` time, before anything is written — in the
//! manner of DNSControl's `auditrecords` and `pkg/rejectif`.
//!
//! A provider lists its [`Limit`]s in [`crate::DnsCapabilities::limits`],
//! each a generic [`Check`] with the vendor's words it comes from and the
//! date it was last checked. A value a provider cannot hold is then a
//! plan-time problem with the fix, never a failed apply half-way through a
//! zone. The checks are deliberately few and generic; a provider with a
//! rule of its own (Alidns reading MX priority 1 of Microsoft's hosts back
//! as 0) expresses it through the parameters.

use serde::Serialize;

use crate::dns::{RData, RecordSet, RecordType};

/// One limit of a provider, with where it is known from.
#[derive(Debug, Clone, Serialize)]
pub struct Limit {
    pub check: Check,
    /// The vendor's document (or observation) the limit comes from.
    pub source: &'static str,
    /// When the source was last read (YYYY-MM-DD).
    pub verified: &'static str,
}

/// A generic rule about record values.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// A null MX (`0 .`, RFC 7505) cannot be stored.
    MxNull,
    /// MX preferences must lie in `min..=max`. A preference below `min`
    /// is allowed only for exchanges ending in one of `below_min_for`,
    /// which the provider writes as `min` and reads back as given.
    MxPreference {
        min: u16,
        max: u16,
        below_min_for: &'static [&'static str],
    },
    /// An SRV record with the target `.` ("no service", RFC 2782) cannot
    /// be stored.
    SrvNullTarget,
    /// Each TXT value (all its strings together) may hold at most `max`
    /// bytes of text.
    TxtValueBytes { max: usize },
    /// Each value's RDATA on the wire may be at most `max` bytes.
    RdataWireBytes { max: usize },
    /// All values of one record set together may hold at most `max`
    /// characters of content.
    SetContentChars { max: usize },
    /// CAA tags the provider takes.
    CaaTags { allowed: &'static [&'static str] },
}

impl Limit {
    /// Why `set` breaks this limit, with the fix, or `None`.
    pub fn problem(&self, set: &RecordSet) -> Option<String> {
        self.check
            .problem(set)
            .map(|p| format!("{p} (source: {}, checked {})", self.source, self.verified))
    }
}

impl Check {
    /// Why `set` breaks this check, with the fix, or `None`.
    pub fn problem(&self, set: &RecordSet) -> Option<String> {
        match self {
            Check::MxNull => set.values.iter().find_map(|v| match v {
                RData::Mx { exchange, .. } if is_root(exchange) => Some(
                    "a null MX (`0 .`, RFC 7505) cannot be stored; to say the domain takes no mail, \
                     serve the zone from a provider that stores null MX, or remove the MX set and \
                     publish `v=spf1 -all`"
                        .to_string(),
                ),
                _ => None,
            }),
            Check::MxPreference {
                min,
                max,
                below_min_for,
            } => set.values.iter().find_map(|v| match v {
                // A null MX is [`Check::MxNull`]'s business.
                RData::Mx { exchange, .. } if is_root(exchange) => None,
                RData::Mx {
                    preference,
                    exchange,
                } => {
                    let exempt = *preference < *min
                        && below_min_for
                            .iter()
                            .any(|s| exchange.ends_with(s.trim_start_matches('.')));
                    ((*preference < *min && !exempt) || *preference > *max).then(|| {
                        format!(
                            "MX preference {preference} ({exchange}) is outside the {min}–{max} this \
                             provider stores; use a preference from {min} to {max} (the order of the \
                             MX hosts is all that matters)"
                        )
                    })
                }
                _ => None,
            }),
            Check::SrvNullTarget => set.values.iter().find_map(|v| match v {
                RData::Srv { target, .. } if is_root(target) => Some(
                    "an SRV record with target `.` (\"no service\", RFC 2782) cannot be stored; \
                     remove the record set instead"
                        .to_string(),
                ),
                _ => None,
            }),
            Check::TxtValueBytes { max } => set.values.iter().find_map(|v| match v {
                RData::Txt { chunks } => {
                    let len: usize = chunks.iter().map(String::len).sum();
                    (len > *max).then(|| {
                        format!(
                            "a TXT value of {len} bytes is longer than the {max} this provider \
                             stores; shorten it (a 2048-bit DKIM key fits; 4096-bit ones may not)"
                        )
                    })
                }
                _ => None,
            }),
            Check::RdataWireBytes { max } => set.values.iter().find_map(|v| {
                let len = wire_len(v);
                (len > *max).then(|| {
                    format!(
                        "a {} value of {len} bytes on the wire is longer than the {max} this \
                         provider stores; shorten it",
                        set.rtype
                    )
                })
            }),
            Check::SetContentChars { max } => {
                let len: usize = set
                    .values
                    .iter()
                    .map(|v| v.presentation().chars().count())
                    .sum();
                (len > *max).then(|| {
                    format!(
                        "the values of this set hold {len} characters together, more than the \
                         {max} this provider stores for one name and type; use fewer or shorter values"
                    )
                })
            }
            Check::CaaTags { allowed } => set.values.iter().find_map(|v| match v {
                RData::Caa { tag, .. } if !allowed.iter().any(|a| a.eq_ignore_ascii_case(tag)) => {
                    Some(format!(
                        "CAA tag `{tag}` is not one this provider takes ({}); use one of those",
                        allowed.join(", ")
                    ))
                }
                _ => None,
            }),
        }
    }
}

fn is_root(name: &str) -> bool {
    name.is_empty() || name == "."
}

/// The RDATA length of a value on the wire (RFC 1035 §3.3), names
/// uncompressed.
fn wire_len(v: &RData) -> usize {
    let name = |n: &str| {
        let n = n.trim_end_matches('.');
        if n.is_empty() {
            1
        } else {
            n.len() + 2
        }
    };
    match v {
        RData::A { .. } => 4,
        RData::Aaaa { .. } => 16,
        RData::Cname { target } | RData::Ns { target } => name(target),
        RData::Mx { exchange, .. } => 2 + name(exchange),
        RData::Txt { chunks } => chunks.iter().map(|c| c.len() + 1).sum::<usize>().max(1),
        RData::Srv { target, .. } => 6 + name(target),
        RData::Caa { tag, value, .. } => 2 + tag.len() + value.len(),
        RData::Other { text, .. } => text.len(),
    }
}

/// Whether a record set of type `rtype` can be touched by `check` at all
/// (for listing which limits apply to a type).
pub fn applies_to(check: &Check, rtype: &RecordType) -> bool {
    match check {
        Check::MxNull | Check::MxPreference { .. } => *rtype == RecordType::Mx,
        Check::SrvNullTarget => *rtype == RecordType::Srv,
        Check::TxtValueBytes { .. } => *rtype == RecordType::Txt,
        Check::CaaTags { .. } => *rtype == RecordType::Caa,
        Check::RdataWireBytes { .. } | Check::SetContentChars { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rtype: RecordType, values: &[&str]) -> RecordSet {
        RecordSet {
            name: "example.com".into(),
            rtype: rtype.clone(),
            ttl: 300,
            values: values
                .iter()
                .map(|v| RData::parse(&rtype, v).unwrap())
                .collect(),
        }
    }

    #[test]
    fn null_mx_is_named() {
        let s = set(RecordType::Mx, &["0 ."]);
        assert!(Check::MxNull.problem(&s).unwrap().contains("null MX"));
        assert!(Check::MxNull
            .problem(&set(RecordType::Mx, &["10 mx.example.net."]))
            .is_none());
    }

    #[test]
    fn mx_preference_range_with_an_exemption_below_the_minimum() {
        let c = Check::MxPreference {
            min: 1,
            max: 50,
            below_min_for: &[".mail.protection.outlook.com"],
        };
        assert!(c
            .problem(&set(RecordType::Mx, &["0 mx.example.net."]))
            .is_some());
        assert!(c
            .problem(&set(RecordType::Mx, &["51 mx.example.net."]))
            .is_some());
        assert!(c
            .problem(&set(RecordType::Mx, &["50 mx.example.net."]))
            .is_none());
        assert!(c
            .problem(&set(
                RecordType::Mx,
                &["0 contoso-com.mail.protection.outlook.com."]
            ))
            .is_none());
    }

    #[test]
    fn txt_and_wire_lengths() {
        let long = "a".repeat(600);
        let s = RecordSet {
            name: "x.example.com".into(),
            rtype: RecordType::Txt,
            ttl: 300,
            values: vec![RData::txt(&long)],
        };
        assert!(Check::TxtValueBytes { max: 511 }.problem(&s).is_some());
        assert!(Check::TxtValueBytes { max: 1000 }.problem(&s).is_none());
        // 600 bytes in 3 strings: 603 bytes of RDATA.
        assert!(Check::RdataWireBytes { max: 602 }.problem(&s).is_some());
        assert!(Check::RdataWireBytes { max: 603 }.problem(&s).is_none());
    }

    #[test]
    fn srv_null_target_and_caa_tags() {
        let s = set(RecordType::Srv, &["0 0 0 ."]);
        assert!(Check::SrvNullTarget.problem(&s).is_some());
        let c = set(RecordType::Caa, &["0 issue \"letsencrypt.org\""]);
        assert!(Check::CaaTags {
            allowed: &["issue", "issuewild", "iodef"]
        }
        .problem(&c)
        .is_none());
        assert!(Check::CaaTags {
            allowed: &["iodef"]
        }
        .problem(&c)
        .is_some());
    }
}
